"""FastAPI app and the Typer CLI (`xunlu`)."""
