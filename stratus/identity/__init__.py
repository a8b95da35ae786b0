"""The identity service: Keystone v3 compatible projects, users, roles, tokens and catalog."""
