"""Sources (microphones, cameras, network streams, files) and the crash-safe recorder. See DESIGN.md."""
