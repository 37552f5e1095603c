"""Shared fixtures: a home folder, the catalog's backend (SQLite and PostgreSQL), and the real model. Plain helpers (speech clips, audio made in memory, the
`xunlu` command, fakes) live in tests/helpers/, imported as `from helpers.speech import read_wav`."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

# Files whose tests assert how soon something happens in real time (a frame within 40 ms, a page told within
# 2 s, a server answering within 0.8 s while a decode runs). scripts/test.sh runs them alone, after the rest
# has run on two workers, so that no other test's load decides them.
SOLO = {"test_auth_live_revocation.py", "test_capture_bench.py", "test_capture_live.py", "test_live_view_api.py",
        "test_live_view_browser.py", "test_live_worker.py", "test_multicam.py", "test_rtsp_cameras.py",
        "test_search_cli.py"}


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if item.path.name in SOLO:
            item.add_marker(pytest.mark.solo)


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
