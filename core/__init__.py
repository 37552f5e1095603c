"""What every stage shares: the error base, config.toml and the home folder, the transcript types."""
