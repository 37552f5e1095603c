"""Load benchmark: one live session, N WebSocket viewers and M clients searching and seeking, all at once,
against a real `xunlu serve` on 127.0.0.1.

    .venv/bin/python -m bench.load [--minutes 5] [--viewers 20] [--clients 20] [--quick] [--think 1.0]

1. A fresh home gets an archive of `--sessions` (default 6) sessions of `--hours` (default 1) each: a
   low-bitrate H.264/AAC MP4 made with ffmpeg lavfi (each session its own bytes) and a synthetic transcript
   of the shared AISHELL sentences (a segment every 4 s, word times), indexed as `xunlu reindex` does.
2. `xunlu serve` starts as a subprocess (the real model, bundled base on the CPU); clients log in.
3. Baseline: `--baseline` (default 100) searches one after another with nothing else running.
4. Under load, for `--minutes`: one live session records a WAV of the shared sentences played in real time
   (file as live) with the real model transcribing it; `--viewers` WebSocket viewers follow it; `--clients`
   httpx clients each loop: a search, then a seek into a hit's recording (a 256 KiB HTTP Range GET at the hit's
   place), then a think time of 0 to 2 x `--think` seconds (0 = closed loop, as fast as the server answers).
5. Printed: requests served, errors by kind, p50/p95/max per request kind, WebSocket messages received (by
   type), the live transcript's lag from the status events ("lag" = audio captured - audio transcribed; p50,
   p95, max), the baseline search p50/p95 from the same run, and the load average before and after (the
   machine may be shared). Last line: one JSON object with every figure.

`--quick`: 1 minute, 2 sessions of 20 minutes. Progress goes to stderr.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any, Optional

from bench.common import make_log, manifest

EXE = str(Path(sys.executable).with_name("xunlu"))
PASSWORD = "load-bench-77"
RANGE = 256 * 1024


log = make_log("load")


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def cpu_seconds(pid: Optional[int] = None) -> float:
    """CPU time (user + system) of a process (this one when None), in seconds."""
    if pid is None:
        t = os.times()
        return t.user + t.system
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def nearest_rank(values: list[float], p: float) -> Optional[float]:
    """The p-th percentile (0-100) as the value at the nearest rank (no interpolation); None without values."""
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(p / 100 * (len(s) - 1)))))]


def sentences() -> list[tuple[Path, str, float]]:
    return [(r.path, r.reference, r.duration) for r in manifest() if r.file.startswith("aishell/")]


# -- the archive -------------------------------------------------------------------------------------------
def make_media(path: Path, seconds: float) -> None:
    """A low-bitrate MP4 (160x120 at 2 fps, 24 kb/s AAC tone), fast start."""
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc2=size=160x120:rate=2:duration={seconds}", "-f", "lavfi", "-i",
                    f"sine=frequency=300:sample_rate=16000:duration={seconds}", "-c:v", "libx264", "-preset",
                    "ultrafast", "-g", "20", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "24k", "-ac", "1",
                    "-movflags", "+faststart", str(path)], check=True)


def synthetic_transcript(texts: list[str], seconds: float, rng: random.Random):
    from core.transcript import Segment, Transcript, Word

    segments, t, k = [], 1.0, 0
    while t + 3.5 < seconds:
        text = rng.choice(texts)
        step = 3.2 / len(text)
        words = tuple(Word(round(t + i * step, 2), round(t + (i + 1) * step, 2), ch, 0.9) for i, ch in enumerate(text))
        speaker = ("officer", "suspect")[k % 2]
        segments.append(Segment(k, round(t, 2), round(t + 3.2, 2), text, words, speaker, k % 2))
        t += 4.0
        k += 1
    return Transcript("zh", "synthetic", seconds, tuple(segments))


def build_archive(home: Path, sessions: int, hours: float, texts: list[str], seed: int) -> list[str]:
    from archive.fsutil import sha256_file
    from archive.store import open_archive
    from archive.transcripts import add_version
    from archive.types import MediaFile
    from service.indexing import rebuild

    rng = random.Random(seed)
    seconds = hours * 3600
    work = home / "bench-media"
    work.mkdir(parents=True, exist_ok=True)
    base = work / "base.mp4"
    t0 = time.monotonic()
    make_media(base, seconds)
    log(f"made a {seconds / 60:.0f}-minute MP4 ({base.stat().st_size / 1e6:.1f} MB) in {time.monotonic() - t0:.1f} s")
    ids = []
    with contextlib.closing(open_archive(home)) as archive:
        for i in range(sessions):
            with archive.new_session("bench", case_id=f"L-{i}", room="讯问室1", officers=("张三",),
                                     started_at=f"2026-11-{1 + i % 28:02d}T09:00:00+08:00") as session:
                sid = session.id
                rel = "original/recording.mp4"
                target = archive.folder(sid) / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(base), "-c", "copy",
                                "-metadata", f"comment=bench session {i}", "-movflags", "+faststart", str(target)],
                               check=True)
                os.chmod(target, 0o444)
                media = MediaFile("original", rel, sha256_file(target), target.stat().st_size)
                assert archive.claim_original(sid, media) is None
                add_version(archive, sid, synthetic_transcript(texts, seconds, rng), "asr", "bench", reason="bench")
                archive.update_session(sid, status="complete", duration=seconds)
                archive.write_manifest(sid)
            ids.append(sid)
        t0 = time.monotonic()
        n, segs = rebuild(home, archive)
        log(f"indexed {n} sessions, {segs} segments in {time.monotonic() - t0:.1f} s")
    shutil.rmtree(work, ignore_errors=True)
    return ids


def make_home(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text('device = "cpu"\ncompute_type = "int8"\n[auth]\nargon2_time_cost = 1\n'
                                      "argon2_memory_kib = 8192\nargon2_parallelism = 1\n", encoding="utf-8")
    from fastapi import FastAPI

    from api.auth import install

    app = FastAPI()
    install(app, home)
    for name, role in (("zhangsan", "officer"), ("jiandu", "supervisor")):
        if app.state.auth.store.get(name) is None:
            app.state.auth.add_user(name, role, PASSWORD, None)


def live_source(path: Path, seconds: float, items: list[tuple[Path, str, float]]) -> Path:
    """The shared sentences one after another (0.8 s apart) until `seconds`, as a 16 kHz mono WAV."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        total, i = 0.0, 0
        while total < seconds:
            clip, _, dur = items[i % len(items)]
            with wave.open(str(clip)) as w:
                out.writeframes(w.readframes(w.getnframes()))
            out.writeframes(b"\0\0" * int(0.8 * 16000))
            total += dur + 0.8
            i += 1
    return path


# -- the server --------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(home: Path, port: int) -> subprocess.Popen:
    import httpx

    out = open(home / "serve.log", "ab")
    proc = subprocess.Popen([EXE, "serve", "--port", str(port)], env={**os.environ, "XUNLU_HOME": str(home)},
                            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"http://127.0.0.1:{port}/login.html", timeout=2).status_code == 200:
                return proc
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    raise SystemExit(f"xunlu serve did not start; see {home / 'serve.log'}")


def stop_server(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


# -- the load ------------------------------------------------------------------------------------------------
class Stats:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = collections.defaultdict(list)
        self.errors: collections.Counter = collections.Counter()
        self.ws_messages: collections.Counter = collections.Counter()
        self.lags: list[float] = []
        self.ws_viewers_done = 0

    def error(self, kind: str) -> None:
        self.errors[kind] += 1


async def login(client, username: str) -> None:
    r = await client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    r.raise_for_status()
    client.headers["Authorization"] = f"Bearer {r.json()['token']}"


async def timed_search(client, stats: Stats, q: str, kind: str = "search") -> list[dict]:
    t0 = time.perf_counter()
    try:
        r = await client.get("/api/search", params={"q": q, "limit": 20})
    except Exception as exc:
        stats.error(f"{kind}:{type(exc).__name__}")
        return []
    stats.latency[kind].append((time.perf_counter() - t0) * 1000)
    if r.status_code != 200:
        stats.error(f"{kind}:HTTP {r.status_code}")
        return []
    return r.json()["hits"]


async def seek(client, stats: Stats, hit: dict, sizes: dict[str, int], durations: dict[str, float]) -> None:
    sid = hit["session"]
    size = sizes.get(sid)
    if size is None:
        return
    offset = int(size * min(1.0, hit["start"] / max(durations.get(sid, 1.0), 1.0)))
    offset = max(0, min(offset, size - RANGE))
    t0 = time.perf_counter()
    try:
        r = await client.get(f"/api/sessions/{sid}/media", headers={"Range": f"bytes={offset}-{offset + RANGE - 1}"})
    except Exception as exc:
        stats.error(f"media:{type(exc).__name__}")
        return
    stats.latency["media range"].append((time.perf_counter() - t0) * 1000)
    if r.status_code != 206 or len(r.content) != RANGE:
        stats.error(f"media:HTTP {r.status_code} ({len(r.content)} bytes)")


async def client_loop(url: str, queries: list[str], stats: Stats, sizes, durations, until: float, think: float,
                      seed: int) -> None:
    import httpx

    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        await login(client, "jiandu")
        while time.monotonic() < until:
            hits = await timed_search(client, stats, rng.choice(queries))
            if hits:
                await seek(client, stats, rng.choice(hits), sizes, durations)
            if think:
                await asyncio.sleep(rng.uniform(0, 2 * think))


async def viewer(url: str, sid: str, token: str, stats: Stats, until: float, record_lag: bool) -> None:
    import websockets

    ws_url = url.replace("http://", "ws://") + f"/api/sessions/{sid}/live"
    try:
        async with websockets.connect(ws_url, additional_headers={"Authorization": token}, open_timeout=30,
                                      max_size=1 << 22) as ws:
            while True:
                remaining = until + 120 - time.monotonic()
                if remaining <= 0:
                    stats.error("ws:no stop event")
                    return
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout=remaining)
                except websockets.ConnectionClosedOK:
                    return
                event = json.loads(raw)
                kind = event.get("type", "?")
                stats.ws_messages[kind] += 1
                if kind == "status" and record_lag and event.get("recording"):
                    stats.lags.append(float(event.get("lag", 0.0)))
                elif kind in ("error", "alarm"):
                    stats.error(f"ws:{kind} {event.get('detail') or event.get('message')}")
                elif kind == "stopped":
                    stats.ws_viewers_done += 1
                    return
    except Exception as exc:
        stats.error(f"ws:{type(exc).__name__}")


async def run_load(url: str, args, queries: list[str], sizes, durations, source: Path, stats: Stats) -> dict:
    import httpx

    async with httpx.AsyncClient(base_url=url, timeout=60) as officer:
        await login(officer, "zhangsan")
        seconds = args.minutes * 60
        r = await officer.post("/api/sessions", json={"case_id": "LOAD", "room": "讯问室1",
                                                     "duration": seconds + 5})
        r.raise_for_status()
        sid = r.json()["id"]
        log(f"live session {sid} started; {args.viewers} viewers, {args.clients} clients for {args.minutes:g} min")
        token = officer.headers["Authorization"]
        start = time.monotonic()
        until = start + seconds
        tasks = [asyncio.create_task(viewer(url, sid, token, stats, until, i == 0)) for i in range(args.viewers)]
        tasks += [asyncio.create_task(client_loop(url, queries, stats, sizes, durations, until, args.think, i))
                  for i in range(args.clients)]
        await asyncio.gather(*tasks[args.viewers:])
        await asyncio.sleep(max(0.0, until - time.monotonic()))  # with no clients: the live session alone
        wall = time.monotonic() - start
        log("clients done; stopping the live session")
        r = await officer.post(f"/api/sessions/{sid}/stop", timeout=300)
        if r.status_code not in (200, 409):
            stats.error(f"stop:HTTP {r.status_code}")
        await asyncio.gather(*tasks[:args.viewers])
        session = (await officer.get(f"/api/sessions/{sid}")).json()
        r = await officer.get(f"/api/sessions/{sid}/transcript")
        finals = r.json().get("segments", []) if r.status_code == 200 else []
    return {"session": sid, "wall_s": round(wall, 1), "status": session["status"],
            "recorded_s": session.get("duration"), "finals": len(finals)}


async def baseline(url: str, queries: list[str], n: int, stats: Stats) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        await login(client, "jiandu")
        for q in queries[:5]:  # warm-up: the searcher opens once per process
            await timed_search(client, stats, q, "warm-up")
        for i in range(n):
            await timed_search(client, stats, queries[i % len(queries)], "search (no load)")


def make_queries(texts: list[str], rng: random.Random, n: int = 200) -> list[str]:
    out = []
    for _ in range(n):
        text = rng.choice(texts)
        k = rng.choice((2, 2, 3, 4))
        i = rng.randrange(0, max(1, len(text) - k))
        out.append(text[i:i + k])
    return out


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--viewers", type=int, default=20)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--think", type=float, default=1.0, help="mean think time of a client between actions (s)")
    ap.add_argument("--sessions", type=int, default=6, help="archived sessions to search and seek in")
    ap.add_argument("--hours", type=float, default=1.0, help="length of each archived session")
    ap.add_argument("--baseline", type=int, default=100, help="searches with no load")
    ap.add_argument("--quick", action="store_true", help="1 minute, 2 sessions of 20 minutes")
    ap.add_argument("--home", type=Path, help="work folder (default: a temporary one, removed)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    if args.quick:
        args.minutes, args.sessions, args.hours = 1.0, 2, 1 / 3
    rng = random.Random(args.seed)
    items = sentences()
    texts = [t for _, t, _ in items]
    queries = make_queries(texts, rng)
    temp = None
    home = args.home
    if home is None:
        temp = tempfile.mkdtemp(prefix="xunlu-load-")
        home = Path(temp)
    load_before = load_average()
    log(f"home {home}; {os.cpu_count()} CPUs; load average {load_before}")
    proc = None
    try:
        make_home(home)
        from models.store import assemble_base

        assemble_base(home)
        ids = build_archive(home, args.sessions, args.hours, texts, args.seed)
        sizes = {sid: (home / "sessions" / sid / "original" / "recording.mp4").stat().st_size for sid in ids}
        durations = {sid: args.hours * 3600 for sid in ids}
        source = live_source(home / "live-source.wav", args.minutes * 60 + 10, items)
        # a web request records only from a room's configured sources (never a path it names)
        with open(home / "config.toml", "a", encoding="utf-8") as f:
            f.write(f'[rooms."讯问室1"]\naudio = "{source}"\n')
        port = free_port()
        proc = start_server(home, port)
        url = f"http://127.0.0.1:{port}"
        stats = Stats()
        asyncio.run(baseline(url, queries, args.baseline, stats))
        load_start = load_average()
        cpu0 = (cpu_seconds(proc.pid), cpu_seconds())
        live = asyncio.run(run_load(url, args, queries, sizes, durations, source, stats))
        live["server_cpu_s"] = round(cpu_seconds(proc.pid) - cpu0[0], 1)
        live["loadgen_cpu_s"] = round(cpu_seconds() - cpu0[1], 1)
        load_after = load_average()
    finally:
        if proc is not None:
            stop_server(proc)
        if temp:
            shutil.rmtree(temp, ignore_errors=True)
    report(args, stats, live, {"before": load_before, "load_start": load_start, "after": load_after})
    return 0


def report(args, stats: Stats, live: dict, loads: dict) -> None:
    kinds = [k for k in stats.latency if k != "warm-up" and stats.latency[k]]
    served = sum(len(stats.latency[k]) for k in kinds if k != "search (no load)")
    wall = live["wall_s"]
    print(f"\nLoad: 1 live session (real model), {args.viewers} WebSocket viewers, {args.clients} clients "
          f"(search + 256 KiB Range seek, think 0-{2 * args.think:g} s) for {wall:.0f} s; "
          f"{args.sessions} archived sessions of {args.hours * 60:.0f} min; {os.cpu_count()} CPUs")
    print(f"load average: before {loads['before']}, at load start {loads['load_start']}, after {loads['after']}")
    print(f"requests served under load: {served} ({served / max(wall, 1e-9):.1f}/s); "
          f"errors: {sum(stats.errors.values())}")
    for kind, n in stats.errors.most_common():
        print(f"  error {kind}: {n}")
    print(f"{'request':<20}{'n':>7}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    figures: dict[str, Any] = {}
    for kind in kinds:
        v = stats.latency[kind]
        row = {"n": len(v), "p50_ms": round(nearest_rank(v, 50), 1), "p95_ms": round(nearest_rank(v, 95), 1), "max_ms": round(max(v), 1)}
        figures[kind] = row
        print(f"{kind:<20}{row['n']:>7}{row['p50_ms']:>10}{row['p95_ms']:>10}{row['max_ms']:>10}")
    lag = {"n": len(stats.lags), "p50_s": nearest_rank(stats.lags, 50), "p95_s": nearest_rank(stats.lags, 95),
           "max_s": max(stats.lags) if stats.lags else None}
    print(f"WebSocket messages received: {sum(stats.ws_messages.values())} "
          f"({', '.join(f'{k} {n}' for k, n in stats.ws_messages.most_common())}); "
          f"viewers that saw the stop: {stats.ws_viewers_done}/{args.viewers}")
    print(f"live lag (captured - transcribed, status events while recording): p50 {lag['p50_s']} s, "
          f"p95 {lag['p95_s']} s, max {lag['max_s']} s")
    print(f"CPU during the load: server {live['server_cpu_s']} s, load generator {live['loadgen_cpu_s']} s "
          f"(over {wall:.0f} s and the stop; 2 cores = {2 * wall:.0f} s)")
    print(f"live session {live['session']}: {live['status']}, {live['recorded_s']} s recorded, {live['finals']} "
          "final segments")
    print(json.dumps({"minutes": args.minutes, "viewers": args.viewers, "clients": args.clients, "think": args.think,
                      "cpus": os.cpu_count(), "load": loads, "served": served, "errors": dict(stats.errors),
                      "latency": figures, "ws_messages": dict(stats.ws_messages), "lag": lag, "live": live},
                     ensure_ascii=False))


if __name__ == "__main__":
    sys.exit(main())
