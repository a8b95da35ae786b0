"""The ``stratus`` command: run, bootstrap and operate the cloud."""
