"""bench/web.py's live-view sections (issue 19, point 8): how far behind the room a viewer's live video runs,
and how soon a new live session shows in the supervisor's list.

video: the real service.live records a file played in real time (shared source: its own audio and video
clock) of numbered flashes (tests/helpers/live_video.py); the supervisor's page (search.html?sid=) stamps
each flash its player shows with the wall-clock time it was to be displayed. The flash was produced at the
session's first audio sample (its started_at, on the same machine's clock) + its time in the file.
Delay = seen - produced.
"baseline" replays the settings before issue 19 in the same run (2 s segments and keyframes, hls.js held 2
segments behind the live edge, the playlist reloaded once a target duration: no blocking reload); "now" the
current ones.

list: a supervisor's search page is open; an officer starts a live session through the API; the time from
the start request's answer to the session's line in the page's list (a MutationObserver stamp). "baseline":
the page without its push channel (the watch WebSocket refused), i.e. the 15 s poll it falls back to.
"""
from __future__ import annotations

import contextlib
import functools
import time
from typing import Any, Callable, Optional

from tests.helpers.live_video import FRAME_WATCH, delays_of

OLD_SEGMENT_S = 2.0
OLD_HLS = "{ liveSyncDurationCount: 2, lowLatencyMode: false }"   # the player's live settings before issue 19


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
        page.route("**/js/player_live.js", _old_hls)
        page.route("**/live/index.m3u8*", _no_blocking_reload)
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
    stalls = page.evaluate("() => window.__stalls")
    ctx.close()
    started = officer.get(f"/api/sessions/{sid}").json()["started_at"]
    seen = delays_of(flashes, truth, started)
    log(f"video {'baseline' if baseline else 'now'}: {sid}, {len(seen)} of {len(truth)} flashes seen: "
        + ", ".join(f"{k}:{d:.2f}" for k, d in sorted(seen.items())))
    return {"session": sid, "flashes": len(truth), "seen": len(seen), "stalls": stalls,
            "delays": [round(d, 3) for _, d in sorted(seen.items())], "started_at": started}


def _no_blocking_reload(route) -> None:
    """The playlist as before issue 19: no EXT-X-SERVER-CONTROL, so hls.js reloads it once a target duration."""
    response = route.fetch()
    body = "".join(line for line in response.text().splitlines(keepends=True)
                   if not line.startswith("#EXT-X-SERVER-CONTROL"))
    route.fulfill(response=response, body=body)


def _old_hls(route) -> None:
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
        page.add_init_script(f"({NO_PUSH})()")
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
        page.wait_for_timeout(int(gap_s * 1000))   # a recording stopped in its first second is not one
        officer.post(f"/api/sessions/{sid}/stop")
        waits.append(got)
        log(f"list {'baseline' if baseline else 'now'} {i + 1}/{n}: {sid} listed after {got} s")
        page.wait_for_timeout(1000)
    ctx.close()
    return {"starts": n, "waits": waits, "never": sum(w is None for w in waits)}
