"""The officer's and supervisor's day in a real browser (issue 19, points 4, 5 and 7), against a real server:
the import form's fields reach the player's header and the 笔录; the print view (A4, signature line and page
N of M on every page) and its PDF; the 笔录 confirmed signed from the player; search hits marked on a timeline
with next/previous keys; the word being spoken highlighted as the recording plays; a corrected line marked,
and two versions side by side."""
from __future__ import annotations

import pytest
from helpers.auth import add_users, browser_login, fast_auth, http_client
from helpers.browser import browser_fixture, logged_in, needs_chromium
from helpers.pdf import normal, page_texts
from test_record_api import RIGHTS, NamingTranscriber, stereo_video
from test_web_browser import OFFICER, SUPERVISOR
from test_web_fakes import INTERVIEW, FakeLive, make_video, script, seed_session

from archive.store import Archive
from asr.docx_record import PERSON_SIGN

pytestmark = [pytest.mark.timeout(240), needs_chromium]
browser = browser_fixture()
KEYS = script([(1.0, 3.0, "officer", "钥匙放在哪里"), (4.0, 6.0, "suspect", "我不知道什么钥匙"),
               (8.0, 10.0, "officer", "这是在你家找到的"), (11.0, 13.0, "suspect", "那把钥匙不是我的")])
LONG = script([(2.0 * i, 2.0 * i + 1.5, "officer" if i % 2 == 0 else "suspect",
                f"第{i}句 你在八月十一日晚上去了港口路的仓库吗 我没有去过那里") for i in range(70)])


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from api.server import ServeOptions, start_in_thread

    home = fast_auth(tmp_path_factory.mktemp("record-web-home"))
    media = tmp_path_factory.mktemp("record-web-media")
    archive = Archive(home)
    one = seed_session(archive, home, make_video(media / "one.mp4", 24, size="160x90"), RIGHTS, 24.0,
                       case_id="W-1", room="讯问室1", officers=("张三", "李四"), suspect="王小明",
                       started_at="2026-11-20T09:00:00+08:00")
    interview = seed_session(archive, home, make_video(media / "two.mp4", 18, size="160x90"), INTERVIEW, 18.0,
                             case_id="W-2", room="讯问室2", officers=("张三",), suspect="王小明",
                             started_at="2026-11-21T09:00:00+08:00")
    keys = seed_session(archive, home, make_video(media / "keys.mp4", 14, size="160x90"), KEYS, 14.0,
                        case_id="W-3", room="讯问室2", officers=("李四",), suspect="赵六",
                        started_at="2026-11-22T09:00:00+08:00")
    long = seed_session(archive, home, make_video(media / "long.mp4", 141, size="64x36", rate=2), LONG, 141.0,
                        case_id="W-4", room="讯问室1", officers=("张三",), suspect="钱七",
                        started_at="2026-11-22T14:00:00+08:00")
    archive.close()
    server = start_in_thread(home, ServeOptions(port=0), transcriber=NamingTranscriber(),
                             live=FakeLive(home, speed=4.0))
    add_users(server.server.config.app, (OFFICER, "officer", "张三"), (SUPERVISOR, "supervisor", "法制员"))
    officer, supervisor = http_client(server.url, OFFICER), http_client(server.url, SUPERVISOR)
    yield {"url": server.url, "home": home, "one": one, "interview": interview, "keys": keys, "long": long,
           "officer": officer, "sup": supervisor}
    officer.close()
    supervisor.close()
    server.stop()


@pytest.fixture
def page(browser, site):
    """The officer 张三's page, in the centre's time zone."""
    pg = logged_in(browser, site["url"], OFFICER, timeout_ms=20000, timezone_id="Asia/Shanghai")
    yield pg
    pg.context.close()
    assert pg.errors == [], pg.errors


def seeks(page) -> None:
    page.evaluate("() => { window.__seeks = []; document.addEventListener('seeked',"
                  " e => window.__seeks.push(e.target.currentTime), true); }")


def test_the_import_forms_fields_reach_the_player_header_and_the_record(page, site, tmp_path):
    clip = stereo_video(tmp_path / "外来录像.mp4")
    page.goto(site["url"] + "/console.html")
    page.click("#import summary")
    page.set_input_files("#import-file", str(clip))
    page.fill("#import-case", "W-9")
    page.fill("#import-room", "讯问室3")
    page.fill("#import-officers", "张三、李四")
    page.fill("#import-recorder", "李四")
    page.fill("#import-suspect", "孙八")
    page.click("#import-identity summary")
    page.select_option("#import-gender", "男")
    page.fill("#import-birth", "1988-05-06")
    page.fill("#import-idno", "居民身份证 110101198805061234")
    page.fill("#import-address", "港口路 8 号")
    page.fill("#import-started", "2026-11-23T14:05:00")
    page.fill("#import-checkin", "2026-11-23T08:30:00")
    page.fill("#import-ch0", "officer")
    page.fill("#import-ch1", "suspect")
    page.select_option("#import-language", "zh")
    page.fill("#import-vocabulary", "孙八\n港口路")
    page.click("#import-go")
    page.wait_for_selector(".pl-lines .line:has-text('我叫王小明')")
    sid = page.locator(".pl-title").inner_text()
    meta = page.locator(".pl-meta").inner_text()
    for shown in ("W-9", "讯问室3", "张三、李四", "李四", "孙八"):
        assert shown in meta, (shown, meta)
    assert "null" not in meta and "undefined" not in meta
    assert page.locator(".pl-lines .line .spk").all_inner_texts() == ["民警", "被讯问人"]   # not ch0 / ch1
    s = site["officer"].get(f"/api/sessions/{sid}").json()
    assert s["started_at"] == "2026-11-23T14:05:00+08:00" and s["language"] == "zh"
    assert s["check_in_at"] == "2026-11-23T08:30:00+08:00" and s["unit"] is None
    assert (s["suspect_gender"], s["suspect_birth"], s["vocabulary"]) == ("男", "1988-05-06", ["孙八", "港口路"])
    # the print view: the 笔录 with every header field, opened beside the player
    with page.context.expect_page() as opened:
        page.click(".pl-exports a[data-format='print']")
    record = opened.value
    record.wait_for_selector("body.ready")
    assert record.locator("h1").inner_text() == "讯问笔录（第1次）"
    fields = dict(x.split("：", 1) for x in record.locator(".fields .field").all_inner_texts())
    assert fields["讯问地点"] == "讯问室3" and fields["讯问人"] == "张三、李四" and fields["记录人"] == "李四"
    assert fields["讯问时间"].startswith("2026年11月23日 14时05分 至")
    assert fields["被讯问人"] == "孙八　性别：男　出生日期：1988年05月06日（38岁）"
    assert fields["身份证件种类及号码"] == "居民身份证 110101198805061234"
    assert record.locator(".closing .statement").inner_text() == "以上笔录我已看过（向我宣读过），和我说的相符。"
    # printed: A4, and at the foot of every page the signature line and 第 N 页 共 M 页 (CSS page margin boxes)
    rules = record.evaluate("""() => [...document.styleSheets].flatMap(s => [...s.cssRules])
        .filter(r => r instanceof CSSPageRule).map(r => r.cssText).join('\\n')""")
    assert "size: a4" in rules.lower() and "counter(pages)" in rules and PERSON_SIGN in rules
    record.emulate_media(media="print")
    assert record.locator("#record-tools").is_hidden()


def test_the_pdf_has_the_signature_line_and_page_n_of_m_on_every_page(site):
    r = site["officer"].get(f"/api/sessions/{site['long']}/export", params={"format": "pdf"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf" and r.content[:5] == b"%PDF-"
    assert "filename*=UTF-8''" in r.headers["content-disposition"]
    pages = page_texts(r.content)
    assert len(pages) >= 2
    for n, text in enumerate(pages, 1):
        flat = normal(text)
        assert normal(f"第 {n} 页 共 {len(pages)} 页") in flat, (n, flat[:200])
        assert normal(PERSON_SIGN) in flat
    everything = normal("".join(pages))
    assert normal("讯问笔录（第1次）") in everything and normal("讯问地点：讯问室1") in everything
    assert normal("以上笔录我已看过（向我宣读过），和我说的相符。") in everything
    assert normal("第69句") in everything   # the last line too
    trail = site["sup"].get(f"/api/sessions/{site['long']}/audit").json()
    assert any(e["action"] == "export" and e["details"].get("format") == "pdf" for e in trail)


def test_the_officer_completes_the_header_in_the_print_view(page, site):
    page.goto(f"{site['url']}/record.html?sid={site['interview']}")
    page.wait_for_selector("body.ready")
    assert page.locator(".field[data-name='记录人']").count() == 0   # a session started without it
    page.click("#record-edit")
    page.fill("#record-header input[name='recorder']", "李四")
    page.select_option("#record-header select[name='suspect_gender']", "男")
    page.click("#record-header button[type='submit']")
    page.wait_for_selector(".field[data-name='记录人']:has-text('李四')")
    assert "性别：男" in page.locator(".field[data-name='被讯问人']").inner_text()
    browser_login(page, site["url"], SUPERVISOR)   # supervisors read the record; they do not write it
    page.reload()
    page.wait_for_selector("body.ready")
    assert page.locator("#record-edit").is_hidden()


def test_the_officer_confirms_the_record_signed_in_the_player(page, site):
    page.goto(f"{site['url']}/console.html?sid={site['one']}")
    page.wait_for_selector(".pl-lines .line")
    assert "null" not in page.locator(".pl-meta").inner_text()   # no 记录人 given: left out, not printed "null"
    page.click(".pl-sign-open")
    assert page.locator(".pl-sign-signer").input_value() == "王小明"   # the person questioned signs
    page.click(".pl-sign-go")
    page.wait_for_selector(".pl-facts .fact.signed:has-text('王小明')")
    sig = site["officer"].get(f"/api/sessions/{site['one']}").json()["signature"]
    assert sig["by"] == "web:zhangsan" and sig["signer"] == "王小明" and sig["at"]
    assert page.locator(".pl-sign-open").count() == 0
    # a supervisor sees who signed, and no button: confirming is the officers'
    browser_login(page, site["url"], SUPERVISOR)
    page.goto(f"{site['url']}/search.html?sid={site['one']}")
    page.wait_for_selector(".pl-facts .fact.signed:has-text('王小明')")
    page.goto(f"{site['url']}/search.html?sid={site['interview']}")
    page.wait_for_selector(".pl-facts .fact.unsigned")
    assert page.locator(".pl-sign-open").count() == 0


def test_hits_are_marked_on_the_timeline_and_n_p_go_to_the_next_and_previous(page, site):
    browser_login(page, site["url"], SUPERVISOR)
    page.goto(f"{site['url']}/search.html?q=钥匙")
    hits = [h for h in site["sup"].get("/api/search", params={"q": "钥匙"}).json()["hits"] if h["session"] == site["keys"]]
    starts = sorted(h["start"] for h in hits)
    assert len(starts) == 3
    page.wait_for_selector(f"#results li.hit[data-session='{site['keys']}']")
    seeks(page)
    page.evaluate("s => [...document.querySelectorAll('#results li.hit')].filter(n => n.dataset.session === s)"
                  ".sort((a, b) => a.dataset.start - b.dataset.start)[0].click()", site["keys"])
    page.wait_for_function("() => document.querySelector('video.pl-video').readyState >= 1")
    marks = page.locator(".pl-hitbar .pl-hitmark")
    marks.first.wait_for()
    assert [float(x) for x in page.eval_on_selector_all(".pl-hitmark", "ns => ns.map(n => n.dataset.start)")] == starts
    lefts = page.eval_on_selector_all(".pl-hitmark", "ns => ns.map(n => parseFloat(n.style.left))")
    assert all(abs(left - 100 * s / 14.0) < 1.5 for left, s in zip(lefts, starts)), lefts   # where they are said
    assert page.locator(".pl-hit-label").inner_text() == "1/3"
    page.evaluate("() => document.activeElement.blur()")   # out of the search box: the keys are the player's
    page.keyboard.press("n")
    page.wait_for_function(f"() => window.__seeks.some(t => Math.abs(t - {starts[1] - 1}) < 0.05)")
    assert page.locator(".pl-hit-label").inner_text() == "2/3"
    assert page.locator(".pl-hitmark.active").get_attribute("data-start") == str(starts[1])
    assert "".join(page.locator(".pl-lines .line.hitline .w.hit").all_inner_texts()) == "钥匙"
    page.keyboard.press("n")
    page.wait_for_selector(".pl-hit-label:has-text('3/3')")
    page.keyboard.press("p")
    page.wait_for_selector(".pl-hit-label:has-text('2/3')")
    page.evaluate("() => { window.__seeks = []; }")
    page.locator(".pl-hitmark").first.click()   # a mark plays its hit
    page.wait_for_function(f"() => window.__seeks.some(t => Math.abs(t - {max(0, starts[0] - 1)}) < 0.05)")
    assert page.locator(".pl-hit-label").inner_text() == "1/3"


def test_the_word_being_spoken_is_highlighted_as_it_plays(page, site):
    page.goto(f"{site['url']}/console.html?sid={site['interview']}")
    page.wait_for_selector("video.pl-video", state="attached")
    page.wait_for_function("() => document.querySelector('video.pl-video').readyState >= 2")
    page.wait_for_selector(".pl-lines .line[data-id='3'] .w")
    # "我在港口路的仓库一直到九点" is said from 9.0 to 12.0 s, one character every 3/13 s: 港 from 9.46 s
    page.evaluate("() => { document.querySelector('video.pl-video').currentTime = 9.5; }")
    page.wait_for_selector(".pl-lines .line.current[data-id='3'] .w.now:text-is('港')")
    assert page.locator(".pl-lines .w.now").count() == 1
    # every word highlighted from here on, in order (a word is highlighted for less than a quarter second)
    page.evaluate("""() => { window.__words = []; new MutationObserver(ms => ms.forEach(m => {
        if (m.target.classList.contains('now')) window.__words.push(m.target.textContent); }))
      .observe(document.querySelector('.pl-lines'), {attributes: true, attributeFilter: ['class'], subtree: true}); }""")
    page.evaluate("() => document.querySelector('video.pl-video').play()")
    page.wait_for_function("() => document.querySelector('video.pl-video').currentTime > 12.2", timeout=15000)
    page.evaluate("() => document.querySelector('video.pl-video').pause()")
    said = "".join(page.evaluate("() => window.__words"))
    assert "我在港口路的仓库一直到九点"[3:] in said, said   # it moved on word by word as it was said


def test_a_corrected_line_is_marked_and_the_versions_compare_side_by_side(page, site):
    page.goto(f"{site['url']}/console.html?sid={site['interview']}")
    page.wait_for_selector(".is-editable > .player")
    assert page.locator(".pl-lines .line.corrected").count() == 0
    page.locator(".pl-lines .line[data-id='1'] .txt").dblclick()
    page.fill(".edit-input", "我叫王晓明")
    page.fill(".pl-reason", "姓名听错")
    page.press(".edit-input", "Enter")
    page.wait_for_selector(".pl-vlabel:has-text('v2')")
    line = page.locator(".pl-lines .line.corrected")
    line.wait_for()
    assert line.count() == 1 and line.get_attribute("data-id") == "1"
    assert "我叫王小明" in line.get_attribute("title")     # what the recognition wrote
    page.click(".pl-tabs .tab[data-tab='versions']")
    page.locator(".pl-tab-body button:has-text('与上一版比较')").click()
    row = page.locator("table.diff-side tr[data-id='1']")
    row.wait_for()
    assert row.locator("td.a").inner_text() == "我叫王小明" and row.locator("td.b").inner_text() == "我叫王晓明"
    assert row.locator("td.a del").inner_text() == "小" and row.locator("td.b ins").inner_text() == "晓"
    assert page.locator("table.diff-side th").all_inner_texts()[1:] == ["v1", "v2"]
    page.wait_for_selector("pre.diff .add:has-text('我叫王晓明')")   # the unified diff is still there
    page.click(".pl-tab-body table.grid a:has-text('v1')")   # version 1 is the recognition's own: nothing marked
    page.wait_for_selector(".pl-vlabel:has-text('v1')")
    assert page.locator(".pl-lines .line.corrected").count() == 0
