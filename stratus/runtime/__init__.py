"""The runtime every service shares: config, database, message bus, REST conventions, runner."""
