"""The search page in a real browser: a hit found by sound carries a small 同音 mark with the text as the ASR
wrote it, and "exact only" leaves such hits out (and is kept in the page's address)."""
from __future__ import annotations

from helpers.auth import browser_login
from test_web_browser import SUPERVISOR, browser, page, site  # noqa: F401  (the same served site and browser)


def test_a_sound_alike_is_marked_and_exact_only_leaves_it_out(page, site):  # noqa: F811
    browser_login(page, site["url"], SUPERVISOR)
    page.goto(site["url"] + "/search.html")
    page.fill("#q", "wangxiaoming")  # typed in pinyin: 王小明 is found by sound
    page.press("#q", "Enter")
    hit = page.wait_for_selector("#results li.hit")
    assert hit.query_selector(".badge.sound").inner_text() == "同音 王小明"
    assert hit.query_selector("mark").inner_text() == "王小明"
    page.check("#exact")
    page.press("#q", "Enter")
    page.wait_for_selector("#results li.muted")  # no hit as written
    assert "exact=true" in page.url
    page.fill("#q", "王小明")
    page.press("#q", "Enter")
    hit = page.wait_for_selector("#results li.hit")
    assert hit.query_selector(".badge.sound") is None
