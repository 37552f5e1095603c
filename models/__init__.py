"""Speech-model store: resolves `base` from the PyPI model packages, a folder, or a hub name."""
