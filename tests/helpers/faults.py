"""For the fault tests and bench/load.py: a real `xunlu serve` process in its own home (own process group, so
it can be killed with SIGKILL like a power cut), users made beforehand, speech files with known text."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Optional

import httpx
import pytest

EXE = str(Path(sys.executable).with_name("xunlu"))
PASSWORD = "correct-horse-77"
OFFICER, SUPERVISOR = "zhangsan", "jiandu"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_home(home: Path, model_dir: Optional[Path] = None) -> Path:
    """A home with the (already assembled) model named by path, cheap Argon2, an officer and a supervisor."""
    home.mkdir(parents=True, exist_ok=True)
    lines = ['device = "cpu"', 'compute_type = "int8"']
    if model_dir is not None:
        lines.insert(0, f'model = "{model_dir}"')
    (home / "config.toml").write_text("\n".join(lines) + "\n[auth]\nargon2_time_cost = 1\n"
                                      "argon2_memory_kib = 8192\nargon2_parallelism = 1\n", encoding="utf-8")
    from fastapi import FastAPI

    from api.auth import install

    app = FastAPI()
    install(app, home)
    for name, role, display in ((OFFICER, "officer", "张三"), (SUPERVISOR, "supervisor", "监督员")):
        if app.state.auth.store.get(name) is None:
            app.state.auth.add_user(name, role, PASSWORD, display)
    return home


def ffmpeg_pids(home: Path) -> list[int]:
    """ffmpeg processes writing into `home` (the recorder's children)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmd and cmd[0].endswith(b"ffmpeg") and any(str(home).encode() in part for part in cmd):
            found.append(int(entry.name))
    return found


class Server:
    """`xunlu serve` as a separate process group; its output goes to `<home>/serve.log`."""

    def __init__(self, home: Path, port: Optional[int] = None):
        self.home = Path(home)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = self.home / "serve.log"
        self.proc: Optional[subprocess.Popen] = None

    def start(self, timeout: float = 90.0) -> "Server":
        env = {**os.environ, "XUNLU_HOME": str(self.home)}
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([EXE, "serve", "--port", str(self.port)], env=env, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(self.url + "/login.html", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"xunlu serve exited ({self.proc.returncode}): {self.log_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"xunlu serve did not answer in {timeout:.0f} s: {self.log_text()[-2000:]}")
            time.sleep(0.2)

    def log_text(self) -> str:
        return self.log.read_text("utf-8", "replace") if self.log.is_file() else ""

    def kill9(self, children_timeout: float = 30.0) -> None:
        """SIGKILL the server's whole process group (uvicorn, model threads, index workers); wait until the
        recorder's ffmpeg (own session, stopped by the kernel's parent-death signal) has gone too."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        deadline = time.monotonic() + children_timeout
        while ffmpeg_pids(self.home):
            if time.monotonic() > deadline:
                raise AssertionError(f"ffmpeg still running after the server was killed: {ffmpeg_pids(self.home)}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def client(self, username: str = OFFICER, timeout: float = 60.0) -> httpx.Client:
        client = httpx.Client(base_url=self.url, timeout=timeout)
        r = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
        r.raise_for_status()
        client.headers["Authorization"] = f"Bearer {r.json()['token']}"
        return client


def speech_file(path: Path, clips: list[Path], gap_s: float = 0.8, rate: int = 16000) -> Path:
    """The clips one after another with `gap_s` of silence between them, as a mono 16 kHz WAV."""
    import wave

    import numpy as np

    parts = []
    for clip in clips:
        with wave.open(str(clip)) as w:
            assert w.getframerate() == rate and w.getsampwidth() == 2, f"{clip}: not 16-bit {rate} Hz"
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, w.getnchannels())[:, 0]
        parts += [pcm, np.zeros(int(gap_s * rate), dtype="<i2")]
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.concatenate(parts).astype("<i2").tobytes())
    return path


def journal(folder: Path) -> list[dict]:
    path = folder / "live" / "transcript.jsonl"
    if not path.is_file():
        return []
    out = []
    for line in path.read_text("utf-8", "replace").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass  # a line torn by the kill
    return out


def playlist_seconds(live_dir: Path) -> float:
    """Seconds of complete segments the live playlist lists."""
    path = live_dir / "index.m3u8"
    if not path.is_file():
        return 0.0
    return sum(float(line.split(":", 1)[1].split(",")[0]) for line in path.read_text().splitlines()
               if line.startswith("#EXTINF:"))


def media_seconds(path: Path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                          str(path)], capture_output=True, text=True, check=True).stdout
    return float(out.strip())


def wait_for(predicate, timeout: float, what: str, every: float = 0.25):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


@pytest.fixture
def small_disk(tmp_path):
    """A 400 KiB tmpfs mounted where the first session of today records its segments."""
    day = datetime.now().astimezone().strftime("%Y%m%d")
    live = tmp_path / "home" / "sessions" / f"s-{day}-0001" / "live"
    live.mkdir(parents=True)
    if os.geteuid() != 0:
        pytest.skip("simulating a full disk needs a small tmpfs mount, and mounting needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(live)], capture_output=True,
                       text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill up ({r.stderr.strip()})")
    yield live
    subprocess.run(["umount", "-l", str(live)], capture_output=True)
