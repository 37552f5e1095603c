"""Child processes (ffmpeg) that never outlive us and that a terminal Ctrl-C does not reach directly.

Ctrl-C goes to the whole foreground process group; ffmpeg would stop on its own before we flushed the
audio still queued for it. So children get their own session, and we stop them in order. If we die
(kill -9, a crash), Linux sends them SIGTERM (PR_SET_PDEATHSIG), so nothing keeps writing into a session
folder that nobody watches. The death signal follows the thread that started the child: start children
from a thread that lives at least as long as they do.
"""
from __future__ import annotations

import ctypes
import shutil
import signal
import subprocess
import sys
from typing import Any

from capture.sources import SourceError

_PR_SET_PDEATHSIG = 1


def _death_signal():
    """A preexec function for Popen, with prctl looked up here (dlopen after fork could deadlock)."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def set_it() -> None:  # runs in the child, between fork and exec
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)

    return set_it


def ffmpeg_path() -> str:
    exe = shutil.which("ffmpeg")
    if not exe:
        raise SourceError("ffmpeg is not installed: run scripts/setup.sh (or apt-get install ffmpeg)")
    return exe


def popen(args: list[str], **kwargs: Any) -> subprocess.Popen:
    if args and args[0] == "ffmpeg":
        args = [ffmpeg_path(), *args[1:]]
    if sys.platform.startswith("linux"):
        preexec = _death_signal()
        if preexec is not None:
            kwargs.setdefault("preexec_fn", preexec)
    if sys.platform != "win32":
        kwargs.setdefault("start_new_session", True)
    return subprocess.Popen(args, **kwargs)


def interrupt(proc: subprocess.Popen, timeout: float = 15.0) -> int:
    """Ask ffmpeg to finish (SIGINT: it writes its trailers and playlist end), then insist."""
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGINT)
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()
