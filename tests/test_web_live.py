"""The console against the real live pipeline (api/live.py: capture, HLS, journal, index), in a real browser:
a file played as live. The first test replaces only the speech model with a beep detector (fast, exact
times); the second uses the real Whisper model on a Mandarin clip."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from helpers.auth import http_client
from helpers.browser import browser_fixture, logged_in, needs_chromium, room
from helpers.browser import serve as serve_site
from test_web_browser import video_state

from api.app import LiveBackend

pytestmark = [pytest.mark.timeout(240), needs_chromium]
CLIP = Path(__file__).resolve().parents[2] / "shared" / "speech" / "aishell" / "BAC009S0150W0122.wav"


class BeepLive(LiveBackend):
    """The real service.live with the beep detector of tests/helpers/capture_fakes.py in place of the model."""

    def start_live(self, home, archive, req, transcriber, actor):
        from helpers.capture_fakes import beep_stream

        from service.live import start_live

        return start_live(home, archive, req, transcriber, actor, stream=beep_stream())


browser = browser_fixture()


def serve(home: Path, live, transcriber):
    """The site with the officer 张三."""
    return serve_site(home, live, transcriber, users=[("zhangsan", "officer", "张三")])


def new_page(browser, url: str):
    """A page of the officer 张三, logged in: (its context, the page)."""
    page = logged_in(browser, url, "zhangsan")
    return page.context, page


def test_console_records_a_file_as_live_through_the_real_pipeline(browser, tmp_path):
    from helpers.capture_fakes import beep_flash_file

    source = tmp_path / "beeps.mp4"
    truth = beep_flash_file(source, seconds=9.0)
    room(tmp_path / "home", "讯问室5", audio=source)   # the room's source, as an administrator configures it
    server = serve(tmp_path / "home", BeepLive(), object())
    context, page = new_page(browser, server.url)
    try:
        page.goto(server.url + "/console.html")
        page.fill("#case", "L-1")
        page.fill("#room", "讯问室5")
        page.click("#start")
        page.wait_for_selector("#recording:not([hidden])")
        sid = page.locator("#rec-sid").inner_text()
        page.wait_for_selector(".pl-lines .line:not(.partial):has-text('嘀')")  # a final, live
        page.wait_for_function("() => document.querySelector('video.pl-video').readyState >= 2")
        assert page.locator(".pl-status").inner_text()  # elapsed and lag shown
        # the file ends: the session closes by itself and the console offers the recording for correction
        page.wait_for_selector("#start-form:not([hidden])", timeout=40000)
        page.wait_for_selector(".is-editable > .player")
        lines = page.locator(".pl-lines .line:not(.partial)")
        assert lines.count() == len(truth)
        starts = [float(x) for x in page.eval_on_selector_all(".pl-lines .line", "ns => ns.map(n => n.dataset.start)")]
        assert starts == pytest.approx(truth, abs=0.05)
        http = http_client(server.url, "zhangsan")
        session = http.get(f"/api/sessions/{sid}").json()
        assert session["status"] == "complete" and session["media_url"] and session["case_id"] == "L-1"
        # search lands on the third beep, one second before it
        page.goto(f"{server.url}/search.html?q=嘀")
        page.wait_for_selector("#results li.hit")
        hits = http.get("/api/search", params={"q": "嘀", "sort": "time"}).json()["hits"]
        third = sorted(hits, key=lambda h: h["start"])[2]
        page.evaluate("s => [...document.querySelectorAll('#results li.hit')]"
                      ".find(n => Math.abs(parseFloat(n.dataset.start) - s) < 0.001).click()", third["start"])
        page.wait_for_function("() => { const v = document.querySelector('video.pl-video');"
                               " return v.readyState >= 1 && v.currentTime > 0; }")
        t = video_state(page)["t"]
        assert third["start"] - 1.05 <= t <= third["start"]
    finally:
        context.close()
        server.stop()


@pytest.mark.model
def test_console_live_mandarin_with_the_real_model(browser, tmp_path, transcriber):
    source = tmp_path / "clip.wav"  # the clip, then 3 s of silence so that the utterance is final
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(CLIP), "-af", "apad=pad_dur=3",
                    str(source)], check=True)
    room(tmp_path / "home", "讯问室6", audio=source, video="lavfi:testsrc2=size=320x180:rate=10")
    server = serve(tmp_path / "home", None, transcriber)
    context, page = new_page(browser, server.url)
    try:
        page.goto(server.url + "/console.html")
        page.fill("#room", "讯问室6")
        page.click("#start")
        page.wait_for_selector("#recording:not([hidden])")
        line = page.wait_for_selector(".pl-lines .line:not(.partial):has-text('经济')", timeout=60000)
        assert "上涨" in line.inner_text()  # 就是根据经济体自身情况决定房价上涨或者下跌
        page.click("#stop")
        page.wait_for_selector(".is-editable > .player", timeout=60000)
        assert page.locator(".pl-vlabel").inner_text().startswith("v1")
    finally:
        context.close()
        server.stop()
