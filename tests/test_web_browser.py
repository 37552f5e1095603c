"""The web app in a real browser (Debian's Chromium through Playwright) against a real uvicorn server:
one-key start with live text, correction, search landing before the word, remote live watching, seeking in
a one-hour recording, the language toggle and the 1366x768 layout.

Screenshots for the README: XUNLU_SCREENSHOTS=docs/screenshots .venv/bin/pytest tests/test_web_browser.py -k screenshots
"""
from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import httpx
import pytest
from helpers.auth import PASSWORD, add_users, browser_login, fast_auth, http_client
from helpers.browser import VIEWPORT, browser_fixture, logged_in, needs_chromium
from test_web_fakes import INTERVIEW, FakeLive, ScriptedTranscriber, ffmpeg, make_video, script, seed_session

from archive.store import Archive

pytestmark = [pytest.mark.timeout(240), needs_chromium]
HOUR = 3600
OFFICER, SUPERVISOR = "zhangsan", "fazhi"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from api.server import ServeOptions, start_in_thread

    home = tmp_path_factory.mktemp("web-home")
    (home / "config.toml").write_text('[rooms."讯问室3"]\naudio = "pulse:room3"\nvideo = "rtsp://cam3/stream"\n'
                                      'speakers = ["officer", "suspect"]\n', encoding="utf-8")
    fast_auth(home)
    media = tmp_path_factory.mktemp("web-media")
    archive = Archive(home)
    video = make_video(media / "interview.mp4", 18)
    one = seed_session(archive, home, video, INTERVIEW, 18.0, case_id="A-001", room="讯问室1",
                       officers=("张三", "李四"), suspect="王小明", started_at="2026-11-20T09:00:00+08:00")
    hour = media / "hour.mp4"  # one hour, 16x16 at 1 fps, silent audio: about 0.3 MB
    ffmpeg("-f", "lavfi", "-i", f"color=c=gray:s=16x16:r=1:d={HOUR}", "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono",
           "-t", str(HOUR), "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-pix_fmt", "yuv420p",
           "-c:a", "aac", "-b:a", "8k", "-movflags", "+faststart", str(hour))
    long_one = seed_session(archive, home, hour, script([(5.0, 8.0, "officer", "现在开始讯问"),
                                                         (3000.0, 3003.0, "suspect", "钥匙放在保险柜里")]),
                            float(HOUR), case_id="H-001", room="讯问室2", started_at="2026-11-19T08:00:00+08:00")
    archive.close()
    live = FakeLive(home, speed=2.0, media=video, media_seconds=18.0)
    uploads = ScriptedTranscriber(script([(0.5, 2.0, "officer", "外来录像已经导入")]))
    server = start_in_thread(home, ServeOptions(port=0, audio="lavfi:sine"), transcriber=uploads, live=live)
    app = server.server.config.app
    # 张三 questions (an officer of session one, not of the one-hour session); 法制员 supervises everything
    add_users(app, (OFFICER, "officer", "张三"), (SUPERVISOR, "supervisor", "法制员"))
    officer, supervisor = http_client(server.url, OFFICER), http_client(server.url, SUPERVISOR)
    yield {"url": server.url, "home": home, "one": one, "hour": long_one, "live": live, "video": video,
           "app": app, "officer": officer, "sup": supervisor}
    for sid in list(live.running):
        live.running[sid].stop()
    officer.close()
    supervisor.close()
    server.stop()


browser = browser_fixture()


@pytest.fixture
def page(browser, site):
    """A page of the officer 张三, logged in (tests switch with browser_login(page, url, SUPERVISOR))."""
    pg = logged_in(browser, site["url"], OFFICER, timeout_ms=20000)
    yield pg
    pg.context.close()
    assert pg.errors == [], pg.errors


def video_state(page) -> dict:
    return page.evaluate("() => { const v = document.querySelector('video.pl-video');"
                         " return {t: v.currentTime, ready: v.readyState, paused: v.paused, src: v.currentSrc}; }")


def test_console_start_live_marker_stop_correct(page, site):
    from playwright.sync_api import expect

    page.goto(site["url"] + "/console.html")
    expect(page.locator("#start-form h1")).to_have_text("开始讯问")  # Chinese by default (once the page has set it)
    page.fill("#room", "讯问室3")
    page.dispatch_event("#room", "change")  # a configured room brings its microphone and camera
    page.fill("#case", "C-777")
    page.fill("#officers", "张三，李四")
    page.fill("#suspect", "赵六")
    page.click("#start")
    page.wait_for_selector("#recording:not([hidden])")
    sid = page.locator("#rec-sid").inner_text()
    req = site["live"].requests[-1]
    assert req.officers == ("张三", "李四") and req.room == "讯问室3" and req.suspect == "赵六"
    assert (req.audio, req.video, req.speakers) == ("pulse:room3", "rtsp://cam3/stream", ("officer", "suspect"))
    # a partial (greyed) and then the final text of the first utterance appear live
    partial = page.wait_for_selector(".pl-lines .line.partial", timeout=15000)
    assert partial.evaluate("n => getComputedStyle(n).fontStyle") == "italic"
    page.wait_for_selector(f".pl-lines .line:not(.partial):has-text('{INTERVIEW[0].text}')", timeout=15000)
    page.wait_for_selector(f".pl-lines .line:not(.partial):has-text('{INTERVIEW[1].text}')", timeout=15000)
    assert page.locator(".badge.live").is_visible()
    page.wait_for_selector(".pl-warnings .warn-live")  # the officer sees the session's live warnings
    # live video through hls.js
    page.wait_for_function("() => document.querySelector('video.pl-video').readyState >= 2", timeout=20000)
    page.fill(".pl-marker-label", "否认在场")
    page.click(".pl-marker")
    page.wait_for_selector(".markers li:has-text('否认在场')")
    page.click("#stop")
    page.wait_for_selector("#start-form:not([hidden])")
    page.wait_for_selector(".is-editable > .player")
    assert page.locator(".pl-vlabel").inner_text().startswith("v1")
    assert page.locator(".badge.live").is_hidden()
    page.wait_for_selector(".pl-tabs .tab[data-tab='audit'][hidden]", state="attached")  # officers: no audit tab
    # correct line 1: a new version; v1 stays
    line = page.locator(".pl-lines .line[data-id='1']")
    line.locator(".txt").dblclick()
    page.wait_for_selector(".edit-input")
    was_paused = video_state(page)["paused"]
    page.press(".edit-input", "Control+Space")  # play/pause without leaving the text being corrected
    page.wait_for_function(f"() => document.querySelector('video.pl-video').paused === {str(not was_paused).lower()}")
    page.fill(".edit-input", "这句不要")
    page.press(".edit-input", "Escape")   # Esc cancels the correction: nothing saved, the line as it was
    page.wait_for_selector(".edit-input", state="detached")
    assert page.locator(".pl-lines .line[data-id='1'] .txt").inner_text() == INTERVIEW[1].text
    line.locator(".txt").dblclick()
    page.fill(".edit-input", "我叫王晓明")
    page.fill(".pl-reason", "姓名听错")
    page.press(".edit-input", "Enter")
    page.wait_for_selector(".pl-vlabel:has-text('v2')")
    assert page.locator(".pl-reason").input_value() == ""   # the next correction gives its own reason
    assert page.locator(".pl-lines .line[data-id='1'] .txt").inner_text() == "我叫王晓明"
    versions = site["officer"].get(f"/api/sessions/{sid}/transcript/versions").json()
    assert [(v["version"], v["kind"]) for v in versions] == [(1, "asr"), (2, "edit")]
    assert versions[1]["reason"] == "姓名听错"
    assert site["officer"].get(f"/api/sessions/{sid}/transcript?version=1").json()["segments"][1]["text"] == \
        INTERVIEW[1].text
    # the versions tab shows both, and what changed
    page.click(".pl-tabs .tab[data-tab='versions']")
    page.locator(".pl-tab-body button:has-text('与上一版比较')").click()
    page.wait_for_selector("pre.diff .add:has-text('我叫王晓明')")
    assert INTERVIEW[1].text in page.locator("pre.diff .del").all_inner_texts()[-1]
    # exports of the latest version
    href = page.locator(".pl-exports a[data-format='docx']").get_attribute("href")
    r = page.request.get(site["url"] + href)  # with the page's login cookie
    assert r.status == 200 and r.body()[:2] == b"PK"
    # keys while correcting: Esc plays/pauses, F1 goes back 2 s
    page.locator(".pl-lines .line[data-id='1'] .time").click()
    page.wait_for_function("() => !document.querySelector('video.pl-video').paused")
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.querySelector('video.pl-video').paused")
    before = video_state(page)["t"]
    assert before >= INTERVIEW[1].start - 0.01
    page.keyboard.press("F1")
    page.wait_for_function(f"() => Math.abs(document.querySelector('video.pl-video').currentTime - {before - 2}) < 0.3")


def test_search_lands_one_second_before_the_word(page, site):
    browser_login(page, site["url"], SUPERVISOR)
    page.goto(site["url"] + "/search.html")
    page.fill("#q", "王小明")
    page.press("#q", "Enter")
    first = page.wait_for_selector("#results li.hit")
    assert first.query_selector("mark").inner_text() == "王小明"
    hit = site["sup"].get("/api/search", params={"q": "王小明"}).json()["hits"][0]
    # where each seek lands (media events do not bubble, but a capturing listener on the document sees them):
    # the player starts playing after the jump, so currentTime read later has moved on
    page.evaluate("() => { window.__seeks = []; document.addEventListener('seeked',"
                  " e => window.__seeks.push(e.target.currentTime), true); }")
    first.click()
    page.wait_for_function("() => window.__seeks.length > 0")
    landed = page.evaluate("() => window.__seeks[0]")
    assert hit["start"] - 1.0 - 0.05 <= landed <= hit["start"], (landed, hit)
    page.wait_for_function("() => !document.querySelector('video.pl-video').paused")  # and it plays from there
    page.wait_for_selector(".pl-lines .line.hitline .w.hit")  # the transcript may come after the video
    marked = page.locator(".pl-lines .line.hitline .w.hit").all_inner_texts()
    assert "".join(marked) == "王小明"
    # a second hit in the same recording: the player jumps without reloading
    page.fill("#q", "仓库")
    page.press("#q", "Enter")
    page.wait_for_selector("#results li.hit .snippet:has-text('港口路')")
    warehouse = next(h for h in site["sup"].get("/api/search", params={"q": "仓库"}).json()["hits"]
                     if h["session"] == site["one"])
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url) if "/transcript" in r.url else None)
    page.evaluate("() => { window.__seeks = []; }")
    page.evaluate("s => [...document.querySelectorAll('#results li.hit')].find(n => n.dataset.session === s).click()",
                  site["one"])
    page.wait_for_function(f"() => window.__seeks.some(t => Math.abs(t - {warehouse['start'] - 1}) < 0.05)")
    assert "".join(page.locator(".pl-lines .line.hitline .w.hit").all_inner_texts()) == "仓库"
    assert fetched == []  # same recording: no reload of its transcript
    # the transcript pane follows playback, and a click on a line seeks there
    page.evaluate("() => { document.querySelector('video.pl-video').currentTime = 9.6; }")
    page.wait_for_selector(".pl-lines .line.current[data-id='3']")
    page.locator(".pl-lines .line[data-id='4']").click()
    page.wait_for_selector(".pl-lines .line.current[data-id='4']")
    # versions and the audit trail are viewable
    page.click(".pl-tabs .tab[data-tab='audit']")
    page.wait_for_selector("table.audit tr[data-action='session.create'] td.action:has-text('新建讯问录像')")
    page.click(".pl-tabs .tab[data-tab='versions']")
    page.wait_for_selector(".pl-tab-body table.grid a:has-text('v1')")


def test_remote_viewer_watches_a_live_session(page, site):
    started = site["officer"].post("/api/sessions", json={"case_id": "R-1", "room": "讯问室4"}).json()
    sid = started["id"]
    browser_login(page, site["url"], SUPERVISOR)  # the supervisor watches from elsewhere
    try:
        page.goto(f"{site['url']}/search.html?sid={sid}")
        page.wait_for_selector(".badge.live:visible")
        page.wait_for_selector(".pl-warnings .warn-live")  # the session's live warnings box
        page.wait_for_selector(f".pl-lines .line:not(.partial):has-text('{INTERVIEW[0].text}')", timeout=15000)
        page.wait_for_function("() => { const v = document.querySelector('video.pl-video');"
                               " return v.readyState >= 2 && v.currentTime > 0; }", timeout=20000)
        assert "blob:" in video_state(page)["src"]  # hls.js feeding MSE
    finally:
        site["officer"].post(f"/api/sessions/{sid}/stop")
    page.wait_for_function("() => document.querySelector('.badge.live').hidden", timeout=15000)
    assert page.locator(".pl-warnings .warn-live").count() == 0  # gone with the recording
    page.wait_for_selector(".pl-vlabel:has-text('v1')")


def test_seek_in_a_one_hour_recording(page, site):
    ranges: list[str] = []
    browser_login(page, site["url"], SUPERVISOR)
    page.on("request", lambda r: ranges.append(r.headers.get("range", "")) if r.url.endswith("/media") else None)
    page.goto(f"{site['url']}/search.html?q=保险柜")
    page.wait_for_selector("#results li.hit").click()
    page.wait_for_function("() => { const v = document.querySelector('video.pl-video');"
                           " return v.readyState >= 2 && v.duration > 3500; }")
    state = video_state(page)
    word = site["sup"].get("/api/search", params={"q": "保险柜"}).json()["hits"][0]["start"]
    assert word > 3000 and word - 1.0 - 0.05 <= state["t"] <= word, (state, word)
    assert any(r.startswith("bytes=") for r in ranges)
    # HTTP Range on the same file: the bytes at an offset deep in the file, nothing more
    url = f"/api/sessions/{site['hour']}/media"
    size = int(site["sup"].head(url).headers["content-length"])
    r = site["sup"].get(url, headers={"Range": f"bytes={size - 4096}-{size - 1}"})
    assert r.status_code == 206 and len(r.content) == 4096
    assert r.headers["content-range"] == f"bytes {size - 4096}-{size - 1}/{size}"


def test_language_toggle_and_layout_fit(page, site):
    from playwright.sync_api import expect

    page.goto(f"{site['url']}/search.html?sid={site['one']}")
    page.wait_for_selector(".pl-lines .line")
    assert page.locator("header .nav a[href='search.html']").inner_text() == "检索回放"
    page.click("#lang")
    expect(page.locator("header .nav a[href='search.html']")).to_have_text("Search & playback")
    expect(page.locator(".pl-tabs .tab[data-tab='audit']")).to_have_text("Audit trail")
    page.reload()
    expect(page.locator("#go")).to_have_text("Search")  # the choice is remembered
    page.click("#lang")
    expect(page.locator("#go")).not_to_have_text("Search")
    # 1366x768: video, transcript and search box all on screen, no page scroll (here and on the console)
    page.goto(f"{site['url']}/console.html?sid={site['one']}")
    page.wait_for_selector(".pl-lines .line")
    for selector in ("#start", "video.pl-video", ".pl-lines", ".pl-exports", ".pl-hint"):
        box = page.locator(selector).bounding_box()
        assert box and box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= 1366 + 1 \
            and box["y"] + box["height"] <= 768 + 1, (selector, box)
    assert page.evaluate("() => document.documentElement.scrollHeight") <= 768
    page.goto(f"{site['url']}/search.html?sid={site['one']}")
    page.wait_for_selector(".pl-lines .line")
    for selector in ("video.pl-video", ".pl-lines", "#q", ".pl-exports"):
        box = page.locator(selector).bounding_box()
        assert box and box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= 1366 + 1 \
            and box["y"] + box["height"] <= 768 + 1, (selector, box)
    assert page.evaluate("() => document.documentElement.scrollHeight") <= 768


def test_api_docs_render_offline(page, site):
    """/docs uses the vendored Swagger UI: no request leaves the server."""
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(site["url"]) else None)
    page.goto(site["url"] + "/docs")
    page.wait_for_selector(".opblock-summary-path:has-text('/api/sessions/{sid}/media')")
    assert outside == []


def test_many_viewers_get_every_segment(site):
    """25 WebSocket viewers of one live session over real sockets: each gets the snapshot and every final."""
    import asyncio

    import websockets

    sid = site["officer"].post("/api/sessions", json={"case_id": "V-25"}).json()["id"]
    auth = {"Authorization": site["sup"].headers["Authorization"]}
    url = site["url"].replace("http://", "ws://") + f"/api/sessions/{sid}/live"

    async def viewer() -> list[dict]:
        got: list[dict] = []
        async with websockets.connect(url, additional_headers=auth) as ws:
            async for message in ws:
                event = json.loads(message)
                if event["type"] in ("snapshot", "final"):
                    got.extend(event.get("segments", [])) if event["type"] == "snapshot" else got.append(event["segment"])
                if len({s["id"] for s in got}) >= 3:
                    return got
        return got

    async def all_viewers():
        return await asyncio.wait_for(asyncio.gather(*(viewer() for _ in range(25))), 30)

    from concurrent.futures import ThreadPoolExecutor

    try:  # in a thread of its own: Playwright's sync API keeps an event loop running in this one
        with ThreadPoolExecutor(1) as pool:
            results = pool.submit(asyncio.run, all_viewers()).result()
    finally:
        site["officer"].post(f"/api/sessions/{sid}/stop")
    texts = [[s["text"] for s in {x["id"]: x for x in got}.values()][:3] for got in results]
    assert all(t == [seg.text for seg in INTERVIEW[:3]] for t in texts), texts


def test_import_a_recording_from_the_console(page, site, tmp_path):
    clip = make_video(tmp_path / "外来.mp4", 3, size="160x90")
    page.goto(site["url"] + "/console.html")
    page.click("#import summary")
    page.set_input_files("#import-file", str(clip))
    page.fill("#import-case", "I-9")
    page.click("#import-go")
    page.wait_for_selector(".pl-lines .line:has-text('外来录像已经导入')")
    sid = page.locator(".pl-title").inner_text()
    session = site["officer"].get(f"/api/sessions/{sid}").json()
    assert session["case_id"] == "I-9" and session["source_name"].endswith(".mp4")
    assert "张三" in session["officers"]  # who imported it took part
    assert site["officer"].get(session["media_url"]).content == clip.read_bytes()
    notes = tmp_path / "notes.mp4"
    notes.write_text("这不是录像" * 100, encoding="utf-8")
    page.set_input_files("#import-file", str(notes))
    page.click("#import-go")
    page.wait_for_selector(".toast.error:has-text('notes.mp4')")  # the server's reason, shown to the officer


def test_each_role_lands_on_its_own_home(browser, site):
    """A supervisor sent to the officer console (a link, an old bookmark) lands on search instead; the site's
    root sends each role to its home; no page asks the server for a favicon it does not have."""
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    page = context.new_page()
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    try:
        page.goto(f"{site['url']}/login.html?next=console.html")
        page.fill("#username", SUPERVISOR)
        page.fill("#password", PASSWORD)
        page.click("#login-go")
        page.wait_for_url("**/search.html")
        page.goto(f"{site['url']}/")
        page.wait_for_url("**/search.html")
        context.clear_cookies()
        page.goto(f"{site['url']}/login.html?next=search.html")
        page.fill("#username", OFFICER)
        page.fill("#password", PASSWORD)
        page.click("#login-go")
        page.wait_for_url("**/search.html")   # a page an officer works in: kept
        page.goto(f"{site['url']}/")
        page.wait_for_url("**/console.html")
        assert not [u for u in missing if "favicon" in u], missing
    finally:
        context.close()


def test_login_page_and_back_to_the_page_asked_for(browser, site):
    """Anonymous: a page sends the browser to login.html?next=...; a wrong password is refused in Chinese; the
    right one lands on the page first asked for, with the user named in the header; logging out (a POST with
    the CSRF header from the cookie) ends the login."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{site['url']}/search.html?sid={site['one']}&t=7")
        page.wait_for_url("**/login.html?next=*")
        expect(page.locator("#login-form h1")).to_have_text("登录讯录")
        page.fill("#username", OFFICER)
        page.fill("#password", "not-the-password")
        page.click("#login-go")
        page.wait_for_selector("#login-error:has-text('用户名或密码错误')")
        page.fill("#password", PASSWORD)
        page.click("#login-go")
        page.wait_for_url(f"**/search.html?sid={site['one']}&t=7")
        page.wait_for_selector("#who .user:has-text('张三')")
        assert page.locator("header .nav a[href='warnings.html']").is_hidden()  # officers have no warnings page
        page.wait_for_function("() => { const v = document.querySelector('video.pl-video');"
                               " return v.readyState >= 1 && Math.abs(v.currentTime - 7) < 0.05; }")  # ?t= seeks
        csrf = [c for c in context.cookies() if c["name"] == "xunlu_csrf"]
        assert csrf and not csrf[0]["httpOnly"]
        assert [c for c in context.cookies() if c["name"] == "xunlu_session"][0]["httpOnly"]
        page.click("#logout")
        page.wait_for_url("**/login.html?next=*")
        assert page.request.get(site["url"] + "/api/auth/me").status == 401
        # the English toggle works here too, and ?next= never leaves the site
        page.click("#lang")
        expect(page.locator("#login-go")).to_have_text("Log in")
        page.goto(f"{site['url']}/login.html?next=https://example.org/x")
        page.fill("#username", SUPERVISOR)
        page.fill("#password", PASSWORD)
        page.click("#login-go")
        page.wait_for_url("**/search.html")  # a supervisor's home page
        page.wait_for_selector("header .nav a[href='warnings.html']:visible")
    finally:
        context.close()
    assert errors == [], errors


def test_pages_send_the_csrf_header(page, site):
    """A write from a page (a marker) carries X-CSRF-Token; the same write without it is refused."""
    sent: list[dict] = []
    page.on("request", lambda r: sent.append(r.headers) if r.method == "POST" and "/markers" in r.url else None)
    page.goto(f"{site['url']}/console.html?sid={site['one']}")
    page.wait_for_selector(".pl-lines .line")
    page.evaluate("() => { document.querySelector('video.pl-video').currentTime = 3; }")
    page.fill(".pl-marker-label", "核对")
    page.click(".pl-marker")
    page.wait_for_selector(".markers li:has-text('核对')")
    assert sent and sent[-1].get("x-csrf-token")
    r = page.request.post(f"{site['url']}/api/sessions/{site['one']}/markers", data={"at": 1.0, "label": "x"})
    assert r.status == 403  # the cookie alone is not enough


def test_bad_input_answers_json_and_the_server_keeps_serving(site):
    base = site["url"]
    host, port = base.split("//")[1].split(":")
    # an upload cut off half way
    with socket.create_connection((host, int(port))) as s:
        s.sendall(b"POST /api/import?filename=cut.mp4 HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                  b"Content-Length: 1000000\r\n\r\n" + b"\0" * 5000)
    for path, code in (("/api/sessions/s-20990101-0001", 404), ("/api/search?q=(", 400),
                       ("/api/sessions/nope/media", 404)):
        r = site["sup"].get(path)
        assert r.status_code == code and r.json()["detail"]
    r = site["sup"].get(f"/api/sessions/{site['one']}/media", headers={"Range": "bytes=99999999-"})
    assert r.status_code == 416 and r.json()["detail"]
    deadline = time.monotonic() + 5
    while any((site["home"] / "uploads").glob("*")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any((site["home"] / "uploads").glob("*"))  # the cut upload left nothing behind
    assert site["sup"].get("/api/sessions").status_code == 200
    assert httpx.get(base + "/api/sessions").status_code == 401
    assert httpx.get(base + "/docs").status_code == 200 and "openapi" in httpx.get(base + "/openapi.json").text


@pytest.mark.skipif(not os.environ.get("XUNLU_SCREENSHOTS"), reason="set XUNLU_SCREENSHOTS=folder to write them")
def test_screenshots(browser, site):
    out = Path(os.environ["XUNLU_SCREENSHOTS"])
    out.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    pg = context.new_page()
    browser_login(pg, site["url"], OFFICER)
    site["live"].speed = 1.0  # real time, so that the clock and the line times agree in the picture
    sid = site["officer"].post("/api/sessions", json={"case_id": "A-2026-117", "room": "讯问室1",
                                                          "officers": ["张三", "李四"], "suspect": "王小明"}).json()["id"]
    try:
        pg.goto(f"{site['url']}/console.html?sid={sid}")
        pg.wait_for_selector(f".pl-lines .line:not(.partial):has-text('{INTERVIEW[2].text}')", timeout=30000)
        pg.wait_for_function("() => document.querySelector('video.pl-video').readyState >= 2", timeout=20000)
        pg.fill(".pl-marker-label", "否认在场")
        pg.click(".pl-marker")
        pg.wait_for_selector(".markers li")
        pg.wait_for_selector(f".pl-lines .line:not(.partial):has-text('{INTERVIEW[3].text}')", timeout=30000)
        pg.wait_for_selector(".pl-lines .line.partial", timeout=30000)  # the next utterance, still greyed
        pg.screenshot(path=str(out / "console.png"))
    finally:
        site["officer"].post(f"/api/sessions/{sid}/stop")
        site["live"].speed = 2.0
    browser_login(pg, site["url"], SUPERVISOR)
    pg.goto(f"{site['url']}/search.html?q=仓库")
    pg.wait_for_selector("#results li.hit").click()
    pg.wait_for_selector(".pl-lines .line.hitline")
    pg.wait_for_function("() => document.querySelector('video.pl-video').readyState >= 2")
    pg.screenshot(path=str(out / "search.png"))
    context.close()
