"""Shared fixtures: a home folder and the real model. Plain helpers (speech clips, audio made in memory, the
`xunlu` command, fakes) live in tests/helpers/, imported as `from helpers.speech import read_wav`."""
from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def home(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("xunlu-home")
    os.environ["XUNLU_HOME"] = str(path)
    return path


@pytest.fixture(scope="session")
def transcriber(home):
    from asr.pipeline import load_transcriber

    return load_transcriber("base", home, device="cpu", compute_type="int8")
