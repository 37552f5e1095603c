"""What every command shares: the --home option, one-line errors with their exit codes, lists, output files."""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Iterator, Optional, Union

import typer

from core.errors import OptionError, XunluError

log = logging.getLogger("xunlu.cli")

HomeOpt = typer.Option(None, "--home", help="Home folder (default $XUNLU_HOME or ~/.local/share/xunlu).")
BrokerOpt = typer.Option(None, "--broker", metavar="URL",
                         help="Redis URL of the job queue (default $XUNLU_BROKER_URL, else [jobs] broker in "
                              "config.toml). With one, jobs run on `xunlu worker` processes; without, here.")


def fail(message: str, code: int = 2) -> None:
    typer.echo(f"xunlu: error: {message}", err=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def handled(interrupted: str = "interrupted") -> Iterator[None]:
    """Turn every domain error into one line on stderr and its exit code; never a traceback."""
    try:
        yield
    except XunluError as exc:
        fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        fail(interrupted, 130)


def split_names(value: Optional[str]) -> tuple[str, ...]:
    if not value:
        return ()
    names = tuple(v.strip() for v in value.split(","))
    if any(not n for n in names):
        raise OptionError(f"empty name in list '{value}'")
    return names


def check_output(fmt: str, output: Optional[Path]) -> None:
    if fmt == "docx" and output is None:
        raise OptionError("the DOCX 笔录 is a binary file: give -o FILE.docx")


def write_output(data: Union[str, bytes], output: Optional[Path]) -> None:
    """stdout, or the file written atomically (nothing appears at the path unless all of it is there)."""
    if output is None:
        if isinstance(data, bytes):
            raise OptionError("binary output needs -o FILE")
        sys.stdout.write(data)
        sys.stdout.flush()
        return
    target = output.expanduser()
    if target.is_dir():
        raise OptionError(f"output path is a directory: {output}")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise OptionError(f"output folder does not exist: {parent}")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def format_from_suffix(output: Optional[Path]) -> Optional[str]:
    if output is None:
        return None
    suffix = output.suffix.lower().lstrip(".")
    return suffix if suffix in ("json", "srt", "vtt", "txt", "docx") else None


def is_session_id(value: str) -> bool:
    from archive.store import SESSION_ID

    return bool(SESSION_ID.match(value))
