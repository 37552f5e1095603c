"""The officer console in a real browser when the disk fills up during a recording: the alarm is shown at once,
and the session is closed with what was recorded (the real live pipeline; a beep detector stands in for the
model)."""
from __future__ import annotations

import pytest
from helpers.browser import browser_fixture, needs_chromium, room
from helpers.faults import small_disk  # noqa: F401  (a fixture)
from test_web_live import BeepLive, new_page, serve

pytestmark = [pytest.mark.timeout(180), needs_chromium]
browser = browser_fixture()


def test_console_shows_the_disk_full_alarm(browser, tmp_path, small_disk):  # noqa: F811
    from helpers.capture_fakes import beep_flash_file

    source = tmp_path / "beeps.mp4"
    beep_flash_file(source, seconds=40.0, size="160x120")
    room(tmp_path / "home", "讯问室7", audio=source)
    server = serve(tmp_path / "home", BeepLive(), object())
    context, page = new_page(browser, server.url)
    try:
        page.goto(server.url + "/console.html")
        page.fill("#case", "F-6")
        page.fill("#room", "讯问室7")
        page.click("#start")
        page.wait_for_selector("#recording:not([hidden])")
        alarm = page.wait_for_selector(".pl-alarm:not([hidden])", timeout=60000)
        text = alarm.inner_text()
        assert "告警" in text and "服务器磁盘已满" in text, text      # by its code, in the page's language
        assert alarm.get_attribute("data-code") == "disk_full" and "disk full" not in text
        assert "disk full" in alarm.get_attribute("title")       # the operator's words, on hover
        assert alarm.get_attribute("role") == "alert"
        # the session closes by itself with what was recorded, and the console offers it for correction
        page.wait_for_selector("#start-form:not([hidden])", timeout=60000)
        from helpers.auth import http_client

        sid = small_disk.parent.name
        session = http_client(server.url, "zhangsan").get(f"/api/sessions/{sid}").json()
        assert session["status"] == "complete" and session["duration"] >= 2.0, session
    finally:
        context.close()
        server.stop()
