"""Virt drivers: what the compute agent runs servers with."""
