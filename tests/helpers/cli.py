"""The checkout root, the real `xunlu` command run the way a user does, and ffmpeg."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def xunlu(*args: str, home: Path, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real `xunlu` command the way a user does."""
    exe = Path(sys.executable).with_name("xunlu")
    full_env = {**os.environ, "XUNLU_HOME": str(home), **(env or {})}
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=timeout, env=full_env)


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)
