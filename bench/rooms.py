"""Many rooms benchmark: N rooms recording at once on one `xunlu serve` (files played live, two channels each),
M searchers and V viewers per room, with live ASR in the server's process and in worker processes, in one run.

    .venv/bin/python -m bench.rooms [--rooms 2] [--seconds 60] [--searchers 4] [--viewers 1]
                                    [--modes thread,process] [--think 1.0] [--home DIR]

1. A fresh home gets an archive to search (bench/load.py's: `--sessions` sessions of `--hours`, synthetic
   transcripts of the shared AISHELL sentences, indexed) and N rooms in its config.toml, each recording a
   two-channel WAV of its own: an interview built from ../shared/speech as bench/live.py builds it (officer on
   channel 0, suspect on 1, crosstalk, pauses; seed + room number), written to the work folder and played in
   real time (`-re`) by the recorder, as a microphone would deliver it.
2. For each mode of `--modes` (`thread`: XUNLU_LIVE_ASR=thread, the transcriber in a thread of the server;
   `process`: each live session's transcriber in a worker process of its own, service/live_asr.py), a
   `xunlu serve` is started on the same home, the N rooms are started at once through the web API
   (POST /api/sessions {"room": ...}), and until every session is complete:
   - `--viewers` WebSocket viewers per room follow its live transcript; the first one notes the wall time each
     final arrives and the status events (elapsed = audio captured);
   - `--searchers` HTTP clients loop: a search (`/api/search`), the session list (`/api/sessions`), and the live
     transcript of a room (open its WebSocket, wait for the snapshot, close), with 0 to 2 x `--think` s between.
3. Printed per mode and room: end of speech -> final text on the viewer (p50, p95, max over the room's
   utterances; the end of speech is the clip's, on the recording's clock, placed on the wall clock by the
   earliest `received - elapsed` of the status events, so the time audio spends in ffmpeg before it is counted
   as captured is left out), utterances without a final, the recorder's dropped audio frames and the worst lag
   (audit entry record.complete); per mode: request p50/p95/max by kind, errors, and CPU: the server's whole
   process tree (the server, its live workers and ffmpeg, children counted when they end) from the rooms'
   start to the last session's close, as cores (CPU s / wall s) and per room, with the split by process kind
   sampled every 0.5 s. Last line: one JSON object with every figure.

Environment: XUNLU_DATABASE_URL / XUNLU_BROKER_URL, when set, reach the server as they are (a cluster's
catalog). Progress on stderr.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Optional

from bench import load
from bench.common import SR, make_log, overlap, require_speech, write_wav

log = make_log("rooms")
MODES = ("thread", "process")


# -- CPU of the server's process tree ------------------------------------------------------------------------
def _stat(pid: int) -> Optional[tuple[int, float, float]]:
    """(ppid, own CPU s, CPU s of its ended children) of a process; None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick


def _kind(pid: int) -> str:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "?"
    if "service.live_worker" in cmd:
        return "live workers"
    if "ffmpeg" in cmd.split(" ", 1)[0]:
        return "ffmpeg"
    return "other"


class TreeCPU:
    """Samples the CPU of a process and its descendants every 0.5 s: the split by kind of process (a child's
    last 0.5 s before it ends is missed there; the total counts it, from the parent's ended-children time)."""

    def __init__(self, root: int):
        self.root = root
        self.start = _stat(root)
        self.seen: dict[int, tuple[str, float, float]] = {}   # pid -> (kind, CPU at first sight, latest CPU)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._sample(first=True)
        self._thread.start()

    def _sample(self, first: bool = False) -> set[int]:
        """Note the CPU of every descendant now -> their pids."""
        parents: dict[int, int] = {}
        cpu: dict[int, float] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                st = _stat(int(entry))
                if st is not None:
                    parents[int(entry)], cpu[int(entry)] = st[0], st[1]
        tree, grew = {self.root}, True
        while grew:
            more = {p for p, pp in parents.items() if pp in tree and p not in tree}
            tree |= more
            grew = bool(more)
        tree.discard(self.root)
        for pid in tree:
            kind, first_cpu, _ = self.seen.get(pid, (_kind(pid), cpu[pid] if first else 0.0, 0.0))
            self.seen[pid] = (kind, first_cpu, cpu[pid])
        return tree

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self._sample()

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        alive = self._sample()
        end = _stat(self.root)
        split: dict[str, float] = {"server": end[1] - self.start[1]}
        for kind, first, last in self.seen.values():
            split[kind] = split.get(kind, 0.0) + last - first
        # the root's own time and its ended children's (all of theirs), + what the live ones used since the start,
        # - what the children that were there at the start and have ended had used before it
        total = (end[1] + end[2]) - (self.start[1] + self.start[2])
        total += sum(last - first for pid, (_, first, last) in self.seen.items() if pid in alive)
        total -= sum(first for pid, (_, first, _) in self.seen.items() if pid not in alive)
        return {"total": round(total, 1), **{k: round(v, 1) for k, v in split.items()}}


# -- the rooms' sources ------------------------------------------------------------------------------------
def make_rooms(home: Path, n: int, seconds: float, seed: int) -> dict[str, list]:
    """N rooms in config.toml, each with a two-channel interview of its own -> room -> its utterances."""
    from bench.live import build_interview

    rooms = {}
    lines = []
    for i in range(n):
        audio, utts = build_interview(seconds / 60.0, seed + i)
        path = home / "bench-rooms" / f"room-{i + 1}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_wav(path, audio.astype("float32"))
        name = f"讯问室{i + 1}"
        rooms[name] = utts
        lines += [f'[rooms."{name}"]', f'audio = "{path}"', 'speakers = "officer,suspect"', ""]
        log(f"{name}: {audio.shape[1] / SR:.1f} s, {len(utts)} utterances")
    with open(home / "config.toml", "a", encoding="utf-8") as f:
        f.write("\n" + "\n".join(lines))
    return rooms


# -- one mode ----------------------------------------------------------------------------------------------
class Room:
    def __init__(self, name: str, sid: str):
        self.name, self.sid = name, sid
        self.finals: list[tuple[float, dict]] = []     # (wall time received, segment)
        self.zero: Optional[float] = None              # wall time of the recording's first sample (estimate)
        self.closed = asyncio.Event()


async def follow(url: str, room: Room, token: str, stats: load.Stats, record: bool) -> None:
    import websockets

    ws_url = url.replace("http://", "ws://") + f"/api/sessions/{room.sid}/live"
    try:
        async with websockets.connect(ws_url, additional_headers={"Authorization": token}, open_timeout=30,
                                      max_size=1 << 22) as ws:
            async for raw in ws:
                now = time.monotonic()
                event = json.loads(raw)
                kind = event.get("type", "?")
                stats.ws_messages[kind] += 1
                if record and kind == "final":
                    room.finals.append((now, event["segment"]))
                elif record and kind == "status" and event.get("recording"):
                    zero = now - float(event.get("elapsed", 0.0))
                    room.zero = zero if room.zero is None else min(room.zero, zero)
                elif kind in ("error", "alarm"):
                    stats.error(f"ws:{kind} {event.get('detail') or event.get('message')}")
                elif kind == "stopped":
                    stats.ws_viewers_done += 1
                    return
    except Exception as exc:
        stats.error(f"ws:{type(exc).__name__}")


async def open_live(url: str, sid: str, token: str, stats: load.Stats) -> None:
    """The live transcript as a page opens it: the WebSocket, up to its snapshot."""
    import websockets

    t0 = time.perf_counter()
    try:
        async with websockets.connect(url.replace("http://", "ws://") + f"/api/sessions/{sid}/live",
                                      additional_headers={"Authorization": token}, open_timeout=30,
                                      max_size=1 << 22) as ws:
            first = json.loads(await asyncio.wait_for(ws.recv(), 30))
    except Exception as exc:
        stats.error(f"live transcript:{type(exc).__name__}")
        return
    if first.get("type") != "snapshot":
        stats.error(f"live transcript:{first.get('type')}")
        return
    stats.latency["live transcript"].append((time.perf_counter() - t0) * 1000)


async def searcher(url: str, rooms: list[Room], queries: list[str], stats: load.Stats, think: float,
                   seed: int) -> None:
    import httpx

    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        await load.login(client, "jiandu")
        token = client.headers["Authorization"]
        while not all(r.closed.is_set() for r in rooms):
            await load.timed_search(client, stats, rng.choice(queries))
            t0 = time.perf_counter()
            try:
                r = await client.get("/api/sessions", params={"limit": 50})
                if r.status_code == 200:
                    stats.latency["session list"].append((time.perf_counter() - t0) * 1000)
                else:
                    stats.error(f"session list:HTTP {r.status_code}")
            except Exception as exc:
                stats.error(f"session list:{type(exc).__name__}")
            live = [r for r in rooms if not r.closed.is_set()]
            if live:
                await open_live(url, rng.choice(live).sid, token, stats)
            if think:
                await asyncio.sleep(rng.uniform(0, 2 * think))


async def run_rooms(url: str, args, names: list[str], queries: list[str], stats: load.Stats,
                    server_pid: int) -> tuple[list[Room], dict, float]:
    import httpx

    async with httpx.AsyncClient(base_url=url, timeout=60) as officer:
        await load.login(officer, "zhangsan")
        token = officer.headers["Authorization"]
        cpu = TreeCPU(server_pid)
        start = time.monotonic()
        rooms = []
        for i, name in enumerate(names):
            r = await officer.post("/api/sessions", json={"room": name, "case_id": f"ROOMS-{i + 1}"})
            r.raise_for_status()
            rooms.append(Room(name, r.json()["id"]))
        log(f"{len(rooms)} rooms recording: {', '.join(r.sid for r in rooms)}")
        viewers = [asyncio.create_task(follow(url, room, token, stats, k == 0))
                   for room in rooms for k in range(args.viewers)]
        searchers = [asyncio.create_task(searcher(url, rooms, queries, stats, args.think, k))
                     for k in range(args.searchers)]
        deadline = start + args.seconds * 3 + 300
        while time.monotonic() < deadline and not all(r.closed.is_set() for r in rooms):
            await asyncio.sleep(0.5)
            for room in rooms:
                if not room.closed.is_set():
                    s = (await officer.get(f"/api/sessions/{room.sid}")).json()
                    if s.get("status") in ("complete", "failed"):
                        room.closed.set()
        wall = time.monotonic() - start
        for room in rooms:
            room.closed.set()
        await asyncio.gather(*searchers)
        await asyncio.wait(viewers, timeout=30)
    return rooms, cpu.stop(), wall


def per_room(room: Room, utts: list, audit: dict) -> dict:
    latencies, missing = [], 0
    for u in utts:
        got = [t for t, s in room.finals if s["channel"] == u.channel and overlap(u.onset, u.offset, s["start"], s["end"]) > 0]
        if not got or room.zero is None:
            missing += 1
            continue
        latencies.append(max(got) - (room.zero + u.offset))
    q = {p: (round(load.nearest_rank(latencies, p), 2) if latencies else None) for p in (50, 95)}
    return {"room": room.name, "session": room.sid, "utterances": len(utts), "without_final": missing,
            "finals": len(room.finals), "final_p50_s": q[50], "final_p95_s": q[95],
            "final_max_s": round(max(latencies), 2) if latencies else None,
            "dropped_frames": audit.get("dropped"), "overflows": audit.get("overflows"),
            "max_lag_s": audit.get("max_lag"), "ended": audit.get("ended")}


def wait_for_server(proc: subprocess.Popen, url: str, logfile: Path) -> None:
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/login.html", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"xunlu serve did not start; see {logfile}")


def run_mode(mode: str, home: Path, args, rooms: dict[str, list], queries: list[str]) -> dict:
    from archive.store import open_archive

    port = load.free_port()
    env = {**os.environ, "XUNLU_HOME": str(home), "XUNLU_LIVE_ASR": mode}
    out = open(home / f"serve-{mode}.log", "ab")
    proc = subprocess.Popen([load.EXE, "serve", "--port", str(port)], env=env, stdin=subprocess.DEVNULL,
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(proc, url, home / f"serve-{mode}.log")
        stats = load.Stats()
        asyncio.run(load.baseline(url, queries, 10, stats))       # the searcher opens once per process
        load_start = load.load_average()
        gen0 = load.cpu_seconds()
        done, cpu, wall = asyncio.run(run_rooms(url, args, list(rooms), queries, stats, proc.pid))
        loadgen = round(load.cpu_seconds() - gen0, 1)
    finally:
        load.stop_server(proc)
    with contextlib.closing(open_archive(home)) as archive:
        audits = {r.sid: next((e.details for e in archive.audit_entries(r.sid) if e.action == "record.complete"), {})
                  for r in done}
    per = [per_room(r, rooms[r.name], audits[r.sid]) for r in done]
    requests = {}
    for kind in ("search", "session list", "live transcript"):
        v = stats.latency.get(kind, [])
        requests[kind] = {"n": len(v), "p50_ms": round(load.nearest_rank(v, 50), 1) if v else None,
                          "p95_ms": round(load.nearest_rank(v, 95), 1) if v else None,
                          "max_ms": round(max(v), 1) if v else None}
    return {"mode": mode, "wall_s": round(wall, 1), "load_start": load_start, "load_end": load.load_average(),
            "rooms": per, "requests": requests, "errors": dict(stats.errors),
            "ws_messages": dict(stats.ws_messages), "viewers_saw_stop": stats.ws_viewers_done,
            "cpu_s": cpu, "cores": round(cpu["total"] / wall, 2), "cores_per_room": round(cpu["total"] / wall / len(per), 2),
            "loadgen_cpu_s": loadgen}


def report(args, results: list[dict]) -> None:
    print(f"\nRooms: {args.rooms} rooms x {args.seconds:g} s (2 channels each, played live), {args.searchers} "
          f"searchers (think 0-{2 * args.think:g} s), {args.viewers} viewer(s) per room; {os.cpu_count()} CPUs")
    for res in results:
        print(f"\n== live ASR: {res['mode']} ({'in the server' if res['mode'] == 'thread' else 'worker processes'}); "
              f"{res['wall_s']:.0f} s from start to the last close; load average {res['load_start']} -> "
              f"{res['load_end']}")
        print(f"{'room':<8}{'session':<18}{'utts':>5}{'no final':>9}{'p50 s':>7}{'p95 s':>7}{'max s':>7}"
              f"{'dropped':>8}{'max lag':>8}  ended")
        for r in res["rooms"]:
            print(f"{r['room']:<8}{r['session']:<18}{r['utterances']:>5}{r['without_final']:>9}"
                  f"{str(r['final_p50_s']):>7}{str(r['final_p95_s']):>7}{str(r['final_max_s']):>7}"
                  f"{str(r['dropped_frames']):>8}{str(r['max_lag_s']):>8}  {r['ended']}")
        for kind, q in res["requests"].items():
            print(f"  {kind:<16} n {q['n']:>4}  p50 {q['p50_ms']} ms  p95 {q['p95_ms']} ms  max {q['max_ms']} ms")
        print(f"  errors: {sum(res['errors'].values())} {res['errors'] or ''}; viewers that saw the stop: "
              f"{res['viewers_saw_stop']}/{args.rooms * args.viewers}")
        cpu = res["cpu_s"]
        split = ", ".join(f"{k} {v}" for k, v in cpu.items() if k != "total")
        print(f"  CPU: server tree {cpu['total']} s over {res['wall_s']:.0f} s = {res['cores']} cores, "
              f"{res['cores_per_room']} per room (sampled split: {split}); load generator {res['loadgen_cpu_s']} s")
    print(json.dumps({"rooms": args.rooms, "seconds": args.seconds, "searchers": args.searchers,
                      "viewers": args.viewers, "think": args.think, "cpus": os.cpu_count(), "results": results},
                     ensure_ascii=False))


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rooms", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=60.0, help="length of each room's interview")
    ap.add_argument("--searchers", type=int, default=4)
    ap.add_argument("--viewers", type=int, default=1, help="WebSocket viewers per room")
    ap.add_argument("--think", type=float, default=1.0, help="mean think time of a searcher between rounds (s)")
    ap.add_argument("--modes", default=",".join(MODES), help="live ASR: thread, process or both (thread,process)")
    ap.add_argument("--sessions", type=int, default=2, help="archived sessions to search")
    ap.add_argument("--hours", type=float, default=1 / 3, help="length of each archived session")
    ap.add_argument("--home", type=Path, help="work folder (default: a temporary one, removed)")
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args(argv)
    require_speech(ap)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not modes or set(modes) - set(MODES) or args.rooms < 1 or args.seconds < 10:
        ap.error("--modes takes thread and/or process; --rooms at least 1; --seconds at least 10")
    rng = random.Random(args.seed)
    texts = [t for _, t, _ in load.sentences()]
    queries = load.make_queries(texts, rng)
    temp = None
    home = args.home
    if home is None:
        temp = tempfile.mkdtemp(prefix="xunlu-rooms-")
        home = Path(temp)
    log(f"home {home}; {os.cpu_count()} CPUs; load average {load.load_average()}")
    try:
        load.make_home(home)
        from models.store import assemble_base

        assemble_base(home)
        load.build_archive(home, args.sessions, args.hours, texts, args.seed)
        rooms = make_rooms(home, args.rooms, args.seconds, args.seed)
        results = []
        for mode in modes:
            log(f"mode {mode}: starting xunlu serve")
            results.append(run_mode(mode, home, args, rooms, queries))
    finally:
        if temp:
            shutil.rmtree(temp, ignore_errors=True)
    report(args, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
