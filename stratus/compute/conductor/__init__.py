"""The conductor: builds, resizes, and what agents report."""
