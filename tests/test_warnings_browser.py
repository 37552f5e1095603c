"""The warnings page in a real browser (Debian's Chromium through Playwright) against a real uvicorn server:
a supervisor logs in, sees red first, filters by unit, and closes a warning with a reason."""
from __future__ import annotations

import pytest
from helpers.auth import PASSWORD
from helpers.browser import VIEWPORT, browser_fixture, needs_chromium
from test_warnings_archive import make_session

from archive.store import Archive

pytestmark = [pytest.mark.timeout(180), needs_chromium]
browser = browser_fixture()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from accounts.config import load_settings
    from accounts.service import AuthService
    from api.server import ServeOptions, start_in_thread

    home = tmp_path_factory.mktemp("warn-web")
    (home / "config.toml").write_text("[auth]\nargon2_time_cost = 1\nargon2_memory_kib = 8192\n"
                                      "argon2_parallelism = 1\n", encoding="utf-8")
    archive = Archive(home)
    make_session(archive, started="2026-11-20T09:00:00+08:00", unit="刑侦大队")   # unsigned: yellow below
    bad = make_session(archive, notice=False, officers=("张三",), suspect="赵六", unit="经侦大队",
                       started="2026-11-21T09:00:00+08:00")
    archive.close()
    (home / "rules.toml").write_text("[unsigned_record]\nlevel = \"yellow\"\n", encoding="utf-8")
    AuthService(home, load_settings(home)).add_user("super", "supervisor", PASSWORD, "王法制员")
    server = start_in_thread(home, ServeOptions(port=0), transcriber=object())
    yield {"url": server.url, "bad": bad, "home": home}
    server.stop()


def test_supervisor_filters_and_closes_a_warning(browser, site):
    from playwright.sync_api import expect

    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    try:
        r = context.request.post(f"{site['url']}/api/auth/login",
                                 data={"username": "super", "password": PASSWORD, "cookie": True})
        assert r.ok, r.text()
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{site['url']}/warnings.html")
        rows = page.locator("#rows tr")
        expect(rows.first).to_be_visible()
        levels = rows.evaluate_all("rs => rs.map(r => r.dataset.level)")
        assert "red" in levels and "yellow" in levels
        assert levels == sorted(levels, key=lambda lv: lv != "red")          # red first
        expect(page.locator("#counts")).to_contain_text("红色")
        page.select_option("#unit", "经侦大队")
        expect(rows).to_have_count(3)                       # rights notice, one officer, unsigned
        page.select_option("#level", "red")
        expect(rows).to_have_count(2)
        assert set(rows.evaluate_all("rs => rs.map(r => r.dataset.level)")) == {"red"}
        link = rows.locator("td:nth-child(3) a").first                     # the rights notice's moment
        assert f"sid={site['bad']}&t=" in link.get_attribute("href")
        rows.first.locator("button").click()
        page.locator("#close-ok").click()                                    # no reason: refused
        expect(page.locator("#close-dialog")).to_be_visible()
        page.fill("#close-reason", "另一段录像中已告知")
        page.locator("#close-ok").click()
        expect(rows).to_have_count(1)
        page.select_option("#state", "closed")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("另一段录像中已告知")
        expect(page.locator("header .nav a[href='warnings.html']")).to_be_visible()   # supervisors only
        # a warning's moment opens the player on that session; the session list shows open warnings
        page.select_option("#state", "open")
        page.select_option("#level", "")
        href = rows.locator("td:nth-child(3) a").first.get_attribute("href")
        page.goto(f"{site['url']}/{href}")
        expect(page.locator(".pl-title")).to_have_text(site["bad"])
        expect(page.locator(".pl-lines .line").first).to_be_visible()
        badge = page.locator(f"#sessions li[data-session='{site['bad']}'] .warn-badge")
        expect(badge).to_be_visible()
        expect(badge.locator(".red")).to_have_text("1")     # the one-officer warning is still open
        assert not errors, errors
    finally:
        context.close()
    archive = Archive(site["home"])
    try:
        closes = [e for e in archive.audit_entries() if e.action == "warning.close"]
    finally:
        archive.close()
    assert len(closes) == 1 and closes[0].actor == "web:super"
