"""What a server does with its home folder when it starts: sessions a crash left unfinished are marked
failed, uploads a dead server left are removed, and in the background recordings a crash interrupted are
closed from their segments and the search index catches up with the archive."""
from __future__ import annotations

import contextlib
import logging
import threading
from pathlib import Path
from typing import Any, Callable

from archive.store import open_archive
from core.proc import pid_alive
from service.importing import drop_stale_uploads
from service.indexing import repair_index
from service.live import recover_recordings
from service.live_finish import pending

log = logging.getLogger("xunlu.startup")


def tidy_home(home: Path) -> None:
    """Mark failed what an earlier crash left unfinished; drop uploads nothing will finish. Logged."""
    with contextlib.closing(open_archive(home)) as archive:
        for sid in archive.recover():
            log.warning("session %s was interrupted before it was finished; marked failed", sid)
    for name in drop_stale_uploads(home):
        log.warning("removed %s: an upload interrupted when the server stopped", name)
    for path in drop_dead_temp_files(home):
        log.warning("removed %s: a write interrupted when its process stopped", path)


def drop_dead_temp_files(home: Path) -> list[Path]:
    """Temp files in session folders whose writing process is gone (a killed import's half-made copy)."""
    dropped = []
    with contextlib.closing(open_archive(home)) as archive:
        for session in archive.list():
            for path, pid in archive.paths(session.id).temp_files():
                if not pid_alive(pid):
                    path.unlink(missing_ok=True)
                    dropped.append(path)
    return dropped



def recover_in_background(home: Path, transcriber: Callable[[], Any], actor: str = "system:serve") -> None:
    """Recordings a crash interrupted (segments on disk, writer gone) are closed in a thread: media joined
    from the segments, the transcript completed with `transcriber()` (loaded only when there is one)."""
    with contextlib.closing(open_archive(home)) as archive:
        if not pending(archive):
            return

    def run() -> None:
        try:
            with contextlib.closing(open_archive(home)) as archive:
                for sid in recover_recordings(home, archive, transcriber(), actor,
                                              say=lambda m: log.warning("%s", m)):
                    log.warning("session %s recovered from its segments", sid)
        except Exception:
            log.exception("recovering interrupted recordings failed; run xunlu recover")

    threading.Thread(target=run, name="xunlu-recover", daemon=True).start()


def repair_index_in_background(home: Path) -> None:
    """A crash between saving a transcript version and indexing it leaves the index behind the archive:
    such sessions are indexed again in a thread."""
    def run() -> None:
        try:
            with contextlib.closing(open_archive(home)) as archive:
                repair_index(home, archive, lambda m: log.warning("%s", m))
        except Exception:
            log.exception("checking the search index against the archive failed; run xunlu reindex")

    threading.Thread(target=run, name="xunlu-index-repair", daemon=True).start()
