"""Clients of the services' REST APIs that more than one service uses (principle 4)."""
