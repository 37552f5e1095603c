"""`xunlu anchor`: print the audit chain's signed head, to be written down where the archive's users cannot
reach it (a printout in the case file, another machine). `xunlu verify --anchor LINE` then proves that the
chain still holds that entry, unchanged, and that nothing was cut after it."""
from __future__ import annotations

from typing import Optional

import typer

from archive.store import open_archive, system_actor
from cli.common import HomeOpt, handled
from core.config import home_dir


def anchor_cmd(home: Optional[str] = HomeOpt) -> None:
    """Print the signed head of the audit chain (entry, time, hash, signature) to keep elsewhere."""
    with handled():
        archive = open_archive(home_dir(home))
        try:
            anchor = archive.anchor(system_actor())
        finally:
            archive.close()
        typer.echo(anchor.line())
        typer.echo(f"xunlu: the audit chain's head is entry {anchor.seq} ({anchor.at}); keep this line outside the "
                   "archive (print it, send it to another machine): `xunlu verify --anchor LINE` proves that "
                   "nothing up to it was changed or cut", err=True)
