"""The `xunlu` command line (Typer): parses, calls `service`, turns domain errors into exit codes."""
