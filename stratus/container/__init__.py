"""The container service (Zun v1): containers scheduled onto hosts that run Docker."""
