"""Helpers for tests and benchmarks that start real clouds (not used by the services)."""
