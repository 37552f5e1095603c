"""Helpers shared by the tests (plain modules, not fixtures; pytest fixtures and hooks stay in tests/conftest.py).

pytest's default "prepend" import mode puts tests/ (the folder of the rootmost conftest.py, which has no
__init__.py) on sys.path, so tests import these as `from helpers.speech import read_wav`. Scripts run in a
subprocess put the tests folder on sys.path themselves and import them the same way; bench/, run from the
repository root, imports them as `tests.helpers...` (modules inside the package import each other relatively).

- speech.py: the shared speech clips (SPEECH, manifest) and audio made in memory (RATE, read_wav, write_wav,
  room_tone)
- cli.py: the checkout root (ROOT), the real `xunlu` command (xunlu) and ffmpeg
- archive.py: a scripted transcriber and media made with ffmpeg, for archive tests
- auth.py: cheap Argon2 settings, an app with the auth layer, logins
- capture_fakes.py: a beep detector standing in for the live transcriber, and PulseAudio helpers
- faults.py: a real `xunlu serve` process in its own home, users made beforehand, for the fault tests
- search_backends.py: the search index on the Whoosh folder or on PostgreSQL, for tests run on both
"""
