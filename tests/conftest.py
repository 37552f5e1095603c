"""Shared fixtures: a home folder, the catalog's backend (SQLite and PostgreSQL), and the real model. Plain helpers (speech clips, audio made in memory, the
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


@pytest.fixture(scope="session")
def postgres():
    """One throwaway PostgreSQL server for the run (tests/helpers/postgres.py), started when a test first asks."""
    from helpers.postgres import Server

    server = Server().start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_backend(request, monkeypatch) -> str:
    """Run the test on both catalogs: the embedded SQLite file, and a fresh PostgreSQL database named by
    XUNLU_DATABASE_URL (inherited by the `xunlu` commands the test runs)."""
    if request.param == "postgresql":
        monkeypatch.setenv("XUNLU_DATABASE_URL", request.getfixturevalue("postgres").new_database())
    else:
        monkeypatch.delenv("XUNLU_DATABASE_URL", raising=False)
    return request.param
