"""bench/web.py's live-view sections (issue 19, point 8): how far behind the room a viewer's live video runs,
and how soon a new live session shows in the supervisor's list.

video: the real service.live records a file played in real time (shared source: its own audio and video
clock); the picture is black with a white flash every `period` seconds whose bottom band carries the flash's
number in binary (black blocks = 1 bits), so a frame read in the browser says which flash it is. The
supervisor's page (search.html?sid=) is watched with requestVideoFrameCallback: each presented frame is
drawn onto a small canvas; the first lit frame of a flash is stamped with the wall-clock time it was to be
displayed (performance.timeOrigin + expectedDisplayTime). The flash was produced at the session's first
audio sample (its started_at, on the same machine's clock) + its time in the file. Delay = seen - produced.
"baseline" replays the settings before issue 19 in the same run (2 s segments and keyframes, hls.js held 2
segments behind the live edge); "now" the current ones.

list: a supervisor's search page is open; an officer starts a live session through the API; the time from
the start request's answer to the session's line in the page's list (a MutationObserver stamp). "baseline":
the page without its push channel (the watch WebSocket refused), i.e. the 15 s poll it falls back to.
"""
from __future__ import annotations

import contextlib
import functools
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Optional

BITS = 6
OLD_SEGMENT_S = 2.0
OLD_HLS = "{ liveSyncDurationCount: 2 }"   # the player's live settings before issue 19


def numbered_flashes(path: Path, seconds: float, period: float = 2.0, first: float = 2.0,
                     size: tuple[int, int] = (320, 240), fps: int = 25) -> list[float]:
    """Black video, a white flash of 2 frames at first, first + period, ..., numbered in its bottom band;
    a 60 ms beep with each (the beep detector's finals). Returns the flash times."""
    import subprocess

    w, h = size
    on = f"between(mod(t-{first}\\,{period})\\,0\\,0.079)*gte(t\\,{first - 0.001})"
    k = f"floor((t-{first - 0.001})/{period})"
    boxes = [f"drawbox=x=0:y=0:w={w}:h={h}:t=fill:c=white:enable='{on}'"]
    for b in range(BITS):
        boxes.append(f"drawbox=x={b * w // BITS}:y={h * 3 // 4}:w={w // BITS}:h={h // 4}:t=fill:c=black:"
                     f"enable='{on}*mod(floor({k}/{2 ** b})\\,2)'")
    beep = f"between(mod(t-{first}\\,{period})\\,0\\,0.06)*gte(t\\,{first - 0.001})"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y",
                    "-f", "lavfi", "-i", f"color=c=black:s={w}x{h}:r={fps}," + ",".join(boxes),
                    "-f", "lavfi", "-i", f"aevalsrc='if({beep}\\,0.5*sin(2*PI*1000*t)\\,0)':s=48000:c=mono",
                    "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-g", str(fps),
                    "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path)], check=True)
    times, t = [], first
    while t < seconds - 0.2:
        times.append(round(t, 3))
        t += period
    return times


# each presented frame of the player's video, on a 32x24 canvas: a lit frame after a dark one is a flash
FRAME_WATCH = """() => {
  window.__flashes = [];
  const W = 32, H = 24, BITS = %d;
  const canvas = document.createElement('canvas'); canvas.width = W; canvas.height = H;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  let lit = false, video = null;
  const look = (now, meta) => {
    try {
      ctx.drawImage(video, 0, 0, W, H);
      const px = ctx.getImageData(0, 0, W, H).data;
      let sum = 0;
      for (let y = 0; y < H * 3 / 4 - 1; y++) for (let x = 0; x < W; x++) sum += px[(y * W + x) * 4];
      const bright = sum / ((H * 3 / 4 - 1) * W) > 128;
      if (bright && !lit) {
        let k = 0;
        for (let b = 0; b < BITS; b++) {
          const x = Math.floor((b + 0.5) * W / BITS), y = Math.floor(H * 7 / 8);
          if (px[(y * W + x) * 4] < 128) k |= 1 << b;
        }
        window.__flashes.push({k, wall: performance.timeOrigin + meta.expectedDisplayTime, media: meta.mediaTime,
                               now: Date.now()});
      }
      lit = bright;
    } catch (e) { /* not decodable yet */ }
    video.requestVideoFrameCallback(look);
  };
  const attach = () => {
    video = document.querySelector('video.pl-video');
    if (!video) { setTimeout(attach, 50); return; }
    video.requestVideoFrameCallback(look);
  };
  attach();
}""" % BITS


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


@contextlib.contextmanager
def old_segments():
    """While entered, a live session's recorder writes the segments of before issue 19 (2 s, keyframe every
    2 s): service.live builds its RecorderOptions from capture.recorder when the session starts."""
    import capture.recorder as recorder

    original = recorder.RecorderOptions
    recorder.RecorderOptions = functools.partial(original, segment_seconds=OLD_SEGMENT_S)
    try:
        yield
    finally:
        recorder.RecorderOptions = original


def video_delay(browser, url: str, officer, room: str, seconds: float, truth: list[float], baseline: bool,
                log: Callable[[str], None], login: Callable[[Any], None]) -> dict:
    """One live session of the numbered-flash file watched by a supervisor's page; per flash seen, its
    delay (seen - produced)."""
    ctx = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = ctx.new_page()
    login(page)
    if baseline:
        page.route("**/js/player_live.js", functools.partial(_old_hls, url))
    page.add_init_script(f"document.addEventListener('DOMContentLoaded', {FRAME_WATCH})")
    with old_segments() if baseline else contextlib.nullcontext():
        r = officer.post("/api/sessions", json={"case_id": "W-VIDEO", "room": room})
    if r.status_code != 201:
        raise SystemExit(f"the live session did not start: {r.status_code} {r.text[:300]}")
    sid = r.json()["id"]
    page.goto(f"{url}/search.html?sid={sid}")
    deadline = time.monotonic() + seconds + 30
    while time.monotonic() < deadline:
        page.wait_for_timeout(500)
        if officer.get(f"/api/sessions/{sid}").json()["status"] != "recording":
            break
    flashes = page.evaluate("() => window.__flashes")
    ctx.close()
    started = officer.get(f"/api/sessions/{sid}").json()["started_at"]
    t0 = epoch(started)
    seen: dict[int, float] = {}
    for f in flashes:
        if 0 <= f["k"] < len(truth) and f["k"] not in seen:
            seen[f["k"]] = f["wall"] / 1000 - (t0 + truth[f["k"]])
    log(f"video {'baseline' if baseline else 'now'}: {sid}, {len(seen)} of {len(truth)} flashes seen: "
        + ", ".join(f"{k}:{d:.2f}" for k, d in sorted(seen.items())))
    return {"session": sid, "flashes": len(truth), "seen": len(seen),
            "delays": [round(d, 3) for _, d in sorted(seen.items())], "started_at": started}


def _old_hls(url: str, route) -> None:
    """Serve player_live.js with the hls.js settings of before issue 19."""
    import re

    response = route.fetch()
    body = response.text()
    changed = re.sub(r"export const LIVE_HLS = \{[^}]*\};", f"export const LIVE_HLS = {OLD_HLS};", body, count=1)
    if changed == body:
        raise SystemExit("player_live.js has no LIVE_HLS settings to replace")
    route.fulfill(response=response, body=changed)


# -- the supervisor's list ----------------------------------------------------------------------------------
LIST_WATCH = """() => {
  window.__listed = {};
  const scan = () => {
    const now = Date.now();
    for (const n of document.querySelectorAll('#sessions li[data-session]')) {
      if (!(n.dataset.session in window.__listed)) window.__listed[n.dataset.session] = now;
    }
  };
  new MutationObserver(scan).observe(document.documentElement, {childList: true, subtree: true});
}"""

NO_PUSH = """() => {
  const Real = window.WebSocket;
  window.WebSocket = function (url, ...rest) {
    if (String(url).includes('/api/sessions/watch')) url = String(url).replace('/api/sessions/watch', '/api/nowhere');
    return new Real(url, ...rest);
  };
  window.WebSocket.prototype = Real.prototype;
  Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
}"""


def list_push(browser, url: str, officer, room: str, n: int, baseline: bool, log: Callable[[str], None],
              login: Callable[[Any], None], gap_s: float = 3.0) -> dict:
    """n live sessions started one after another while a supervisor's search page is open: seconds from
    each start's answer to its line in the page's list."""
    ctx = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = ctx.new_page()
    login(page)
    if baseline:
        page.add_init_script(NO_PUSH)
    page.add_init_script(f"document.addEventListener('DOMContentLoaded', {LIST_WATCH})")
    page.goto(f"{url}/search.html")
    page.wait_for_selector("#sessions", state="attached")
    page.wait_for_timeout(1500)
    waits: list[Optional[float]] = []
    for i in range(n):
        r = officer.post("/api/sessions", json={"case_id": f"W-LIST-{i}", "room": room})
        answered = time.time()
        if r.status_code != 201:
            raise SystemExit(f"the live session did not start: {r.status_code} {r.text[:300]}")
        sid = r.json()["id"]
        got = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            listed = page.evaluate("s => window.__listed[s] || null", sid)
            if listed:
                got = round(listed / 1000 - answered, 3)
                break
            page.wait_for_timeout(50)
        officer.post(f"/api/sessions/{sid}/stop")
        waits.append(got)
        log(f"list {'baseline' if baseline else 'now'} {i + 1}/{n}: {sid} listed after {got} s")
        page.wait_for_timeout(int(gap_s * 1000))
    ctx.close()
    return {"starts": n, "waits": waits, "never": sum(w is None for w in waits)}


def setup_room(home: Path, name: str, source: Path) -> None:
    """The room whose source is the file (a web request records only from configured sources)."""
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "config.toml", "a", encoding="utf-8") as f:
        f.write(f'[rooms."{name}"]\naudio = "{source}"\n')
