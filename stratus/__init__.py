"""Stratus: a private cloud in one Python package, speaking the OpenStack APIs."""

__version__ = "0.1.0"
