"""The administrator's day and the officer's errors in a real browser (Debian's Chromium through Playwright)
against a real uvicorn server: the admin lands on the admin page, adds, disables and resets a user, sets up
a room, reads the audit trail by name and in words, exports it as CSV, checks the archive and sees the
centre's time zone; in English every title and tab is English. An officer's refused start and a search with
its dates the wrong way round are told in Chinese, with no command-line flag. The jobs tab follows a running
job to its end; the room editor edits a room's several cameras and their picture-in-picture."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers.auth import PASSWORD, add_users, browser_login, fast_auth
from helpers.browser import VIEWPORT, browser_fixture, needs_chromium
from test_warnings_archive import make_session

from archive.store import Archive
from core.config import read

pytestmark = [pytest.mark.timeout(180), needs_chromium]
FLAG = re.compile(r"(^|\s)--?[a-z]")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from api.server import ServeOptions, start_in_thread

    home = fast_auth(tmp_path_factory.mktemp("admin-web"))
    archive = Archive(home)
    sid = make_session(archive, started="2026-11-21T00:32:00+00:00")      # 08:32 in Beijing
    archive.close()
    server = start_in_thread(home, ServeOptions(port=0), transcriber=object())   # no server audio or video
    app = server.server.config.app
    add_users(app, ("root", "admin", "李管理员"), ("zhangsan", "officer", "张三"), ("fazhi", "supervisor", "王法制员"))
    yield {"url": server.url, "home": home, "sid": sid, "app": app}
    server.stop()


browser = browser_fixture()


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport=VIEWPORT, locale="zh-CN", timezone_id="UTC",
                              accept_downloads=True)
    yield ctx
    ctx.close()


def test_the_admin_pages(context, site):
    from playwright.sync_api import expect

    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: d.accept())
    page.set_default_timeout(20000)
    expect.set_options(timeout=20000)   # two shared cores: the first search builds the index
    base = site["url"]
    page.goto(f"{base}/login.html?next=search.html")      # not an admin's page: to the admin's home instead
    page.fill("#username", "root")
    page.fill("#password", PASSWORD)
    page.click("#login-go")
    page.wait_for_url("**/admin.html")
    assert page.title() == "系统管理 · 讯录"
    expect(page.locator("header .nav a[href='admin.html']")).to_be_visible()
    expect(page.locator("header .nav a[href='console.html']")).to_be_hidden()   # not an admin's work
    # users: add one (a password is generated and shown once), reset it, disable it
    page.fill("#new-username", "wangwu")
    page.fill("#new-display", "王五")
    page.select_option("#new-role", "officer")
    page.click("#user-add")
    expect(page.locator("#secret")).to_contain_text("wangwu")
    row = page.locator("#user-rows tr[data-user='wangwu']")
    expect(row.locator(".state")).to_have_text("待确认：办案民警")    # no rights until a second person confirms
    row.locator("button.reset").click()
    expect(page.locator("#secret")).to_contain_text("wangwu")
    row.locator("button.disable").click()
    expect(row.locator(".state")).to_have_text("已停用")
    # rooms: a room with the test signal and a network camera, written to config.toml
    page.click("[data-tab='rooms']")
    page.fill("#room-name", "讯问室5")
    page.fill("#room-audio", "test")
    page.fill("#room-video", "rtsp://10.1.1.5/stream1")
    page.fill("#room-speakers", "officer,suspect")
    page.click("#room-save")
    expect(page.locator("#room-rows tr[data-room='讯问室5']")).to_contain_text("rtsp://10.1.1.5/stream1")
    assert read(site["home"]).rooms["讯问室5"].video == "rtsp://10.1.1.5/stream1"
    page.fill("#room-name", "客厅")
    page.fill("#room-audio", "/home/secret.wav")                      # a file: refused, in Chinese
    page.click("#room-save")
    expect(page.locator(".toast.error")).to_contain_text("设备")
    # the audit trail: names, actions in words, filters
    page.click("[data-tab='audit']")
    rows = page.locator("#audit-rows tr")
    expect(rows.first).to_be_visible()
    added = page.locator("#audit-rows tr[data-action='user.add']").first      # newest first: the admin's
    expect(added.locator(".who")).to_have_text("李管理员")
    expect(added.locator(".what")).to_have_text("新增用户")
    expect(added.locator(".target")).to_have_text("王五 (wangwu)")
    asr = page.locator("#audit-rows tr[data-action='transcript.version']")
    expect(asr.locator(".who")).to_have_text("系统（语音识别）")
    assert "{" not in page.locator("#audit-rows").inner_text()        # words, not JSON
    create = page.locator("#audit-rows tr[data-action='session.create'] .details")
    expect(create).to_contain_text("开始时间：2026-11-21 08:32:00")       # the centre's clock, not UTC
    page.select_option("#audit-action", "config.room")
    page.click("#audit-go")
    expect(rows).to_have_count(1)
    expect(rows.first.locator(".what")).to_have_text("修改讯问室设置")
    with page.expect_download() as download:
        page.click("#audit-csv")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert text.startswith("\ufeff序号,时间,操作人") and "修改讯问室设置" in text and "李管理员" in text
    # the integrity check of the whole archive
    page.click("[data-tab='verify']")
    expect(page.locator("#verify-last")).to_be_visible()
    page.click("#verify-go")
    expect(page.locator("#verify-result .verify-ok")).to_contain_text("完整")
    expect(page.locator("#verify-last")).to_contain_text("李管理员")
    # the centre's time zone: Beijing time by default, whatever the browser's own (UTC here)
    page.click("[data-tab='centre']")
    expect(page.locator("#centre-zone")).to_have_value("Asia/Shanghai")
    expect(page.locator("#centre-now")).to_contain_text("UTC+08:00")
    # English: the title, the tabs and the table heads follow
    page.click("#lang")
    expect(page.locator("[data-tab='users']")).to_have_text("Users")
    assert page.title() == "Administration · xunlu"
    page.click("[data-tab='audit']")
    expect(page.locator("#audit-rows tr").first).to_be_visible()
    expect(page.locator("#audit-rows tr[data-action='config.room'] .what").first).to_have_text("Room settings changed")
    assert not re.search(r"[\u4e00-\u9fff]", page.locator(".admin-tabs").inner_text())
    assert not errors, errors


def test_the_jobs_tab_and_a_room_with_several_cameras(context, site):
    import time

    from playwright.sync_api import expect

    from core.cameras import PipLayout, RoomCamera
    from core.config import Room
    from core.config_edit import set_room
    from core.errors import InputError
    from service.jobs import Job

    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_default_timeout(20000)
    expect.set_options(timeout=20000)
    jobs = site["app"].state.jobs
    running = jobs.add(Job("job-running", state="running", kind="import", target="room7.mp4", progress=0.25,
                           owner="web:zhangsan"))
    broken = jobs.add(Job("job-failed", kind="reindex", target="*", owner="system:cli"))
    broken.fail(InputError("no audio"))
    browser_login(page, site["url"], "root")
    page.goto(f"{site['url']}/admin.html#jobs")
    row = page.locator("#job-rows tr[data-job='job-running']")
    expect(row.locator(".state")).to_have_text("运行中")
    expect(row.locator(".kind")).to_have_text("导入录像")
    expect(row.locator(".job-pct")).to_have_text("25%")
    assert row.locator("progress").evaluate("p => p.value") == 0.25
    expect(row.locator(".who")).to_have_text("zhangsan")
    expect(page.locator("#job-rows tr[data-job='job-failed'] .job-error")).to_contain_text("文件无法读取")
    running.progress, running.state, running.ended_at = 1.0, "done", time.time()     # the page reads it again
    expect(row).to_have_attribute("data-state", "done", timeout=10000)
    expect(row.locator(".state")).to_have_text("已完成")
    # a room with two cameras (one with a password) and a picture-in-picture, from config.toml
    wide = "rtsp://admin:wide-secret@10.0.0.7/ch1"
    set_room(site["home"], "讯问室8", Room(audio="test", cameras=(RoomCamera("全景", wide),
                                                                RoomCamera("特写", "rtsp://10.0.0.8/ch1", "udp")),
                                        pip=PipLayout("全景", "特写", "bottom-left", 0.25)))
    page.click("[data-tab='rooms']")
    room = page.locator("#room-rows tr[data-room='讯问室8']")
    expect(room).to_contain_text("全景: rtsp://admin:***@10.0.0.7/ch1")
    room.locator("button.edit").click()
    cams = page.locator("#room-cameras .camera-row")
    expect(cams).to_have_count(2)
    expect(page.locator("#room-pip")).to_be_visible()
    expect(page.locator("#pip-position")).to_have_value("bottom-left")
    expect(page.locator("#pip-main")).to_have_value("全景")
    expect(cams.nth(1).locator(".camera-transport")).to_have_value("udp")
    assert "wide-secret" not in page.content()
    page.click("#camera-add")
    expect(cams).to_have_count(3)
    cams.nth(2).locator(".camera-name").fill("门口")
    cams.nth(2).locator(".camera-url").fill("rtsp://10.0.0.10/ch1")
    page.select_option("#pip-main", "门口")
    page.click("#room-save")
    expect(page.locator(".toast", has_text="讯问室8")).to_be_visible()
    saved = read(site["home"]).rooms["讯问室8"]
    assert [c.video for c in saved.cameras] == [wide, "rtsp://10.0.0.8/ch1", "rtsp://10.0.0.10/ch1"]
    assert saved.cameras[1].rtsp_transport == "udp" and saved.pip == PipLayout("门口", "特写", "bottom-left", 0.25)
    # down to one camera: the room's video, its password kept; no picture-in-picture
    expect(page.locator("#room-rows tr[data-room='讯问室8'] td.cameras")).to_contain_text("门口")   # listed again
    page.locator("#room-rows tr[data-room='讯问室8'] button.edit").click()
    expect(cams).to_have_count(3)
    cams.nth(2).locator(".camera-remove").click()
    cams.nth(1).locator(".camera-remove").click()
    expect(page.locator("#room-pip")).to_be_hidden()
    expect(cams.first.locator(".camera-name")).to_be_hidden()
    page.click("#room-save")
    expect(page.locator("#room-rows tr[data-room='讯问室8'] td.cameras")).to_have_text("rtsp://admin:***@10.0.0.7/ch1")
    saved = read(site["home"]).rooms["讯问室8"]
    assert (saved.video, saved.cameras, saved.pip) == (wide, (), None)
    assert not errors, errors


def test_web_errors_are_in_chinese_without_command_line_flags(context, site):
    from playwright.sync_api import expect

    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_default_timeout(20000)
    expect.set_options(timeout=20000)   # two shared cores: the first search builds the index
    browser_login(page, site["url"], "zhangsan")
    page.goto(f"{site['url']}/console.html")
    page.wait_for_selector("#who .user")
    # live transcription cannot detect the language: the console does not offer it
    assert "auto" not in page.locator("#language option").evaluate_all("os => os.map(o => o.value)")
    page.click("#start")                                          # no room, no source, none on the server
    toast = page.locator(".toast.error").first
    expect(toast).to_contain_text("没有可录制的音视频源")
    said = toast.inner_text()
    assert not FLAG.search(said) and "no source" not in said and "/api/" not in said, said
    page.goto(f"{site['url']}/search.html")
    # times are on the centre's clock (Beijing), not the browser's (UTC here): stored as 00:32+00:00
    expect(page.locator(f"#sessions li[data-session='{site['sid']}']")).to_contain_text("2026/11/21 08:32:00")
    page.fill("#q", "经过")
    page.fill("#since", "2026-11-22")
    page.fill("#until", "2026-11-21")
    page.click("#go")
    toast = page.locator(".toast.error", has_text="日期")
    expect(toast).to_contain_text("开始日期晚于结束日期")
    assert "--since" not in toast.inner_text() and "until" not in toast.inner_text()
    assert not errors, errors


def test_english_mode_titles_the_warnings_page_in_english(context, site):
    from playwright.sync_api import expect

    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_default_timeout(20000)
    expect.set_options(timeout=20000)   # two shared cores: the first search builds the index
    browser_login(page, site["url"], "fazhi")
    page.goto(f"{site['url']}/warnings.html")
    row = page.locator("#rows tr[data-level='red']", has_text="笔录无签名").first   # unsigned: red
    expect(row).to_be_visible()
    assert page.title() == "监督预警 · 讯录"
    page.click("#lang")
    expect(page.locator("#rows tr", has_text="Record not signed").first).to_be_visible()
    assert page.title() == "Warnings · xunlu"
    assert "Record not signed" in page.locator("#rule").inner_text()
    assert not errors, errors
