"""The search index on either backend, for tests that run on both: the Whoosh folder in a home (the default), or
PostgreSQL (`XUNLU_SEARCH=postgresql` with the catalog's `XUNLU_DATABASE_URL`), which index.manager picks when
`SearchIndex(home)` is made. The environment is set only while the index is made: the index keeps its URL."""
from __future__ import annotations

from pathlib import Path

import pytest

from index.manager import SEARCH_ENV, SearchIndex

BACKENDS = ("whoosh", "postgresql")


def open_index(backend: str, home: Path, request) -> SearchIndex:
    """`SearchIndex(home)` on `backend`; for PostgreSQL, on a fresh database of the run's server (the
    `postgres` fixture, started when first asked for)."""
    with pytest.MonkeyPatch.context() as env:
        if backend == "postgresql":
            env.setenv("XUNLU_DATABASE_URL", request.getfixturevalue("postgres").new_database())
            env.setenv(SEARCH_ENV, "postgresql")
        else:
            env.delenv(SEARCH_ENV, raising=False)
        index = SearchIndex(home)
    assert index.backend == backend
    return index
