"""Clients of the other services' REST APIs (image, network)."""
