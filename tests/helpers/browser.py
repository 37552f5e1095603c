"""What the real-browser tests share: Debian's Chromium through Playwright, a served site with its users, and
logged-in pages that collect the page's script errors.

    pytestmark = [pytest.mark.timeout(240), needs_chromium]
    browser = browser_fixture()                      # a module's fixture: one Chromium for the module
    server = serve(home, live=..., users=[("zhangsan", "officer", "张三")])
    page = logged_in(browser, server.url, "zhangsan")   # page.errors: uncaught errors of the page
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Optional

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--autoplay-policy=no-user-gesture-required"]
VIEWPORT = {"width": 1366, "height": 768}
needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is not installed")


def browser_fixture(scope: str = "module"):
    """A pytest fixture: one headless Chromium (Playwright's sync API) for the module's tests."""

    @pytest.fixture(scope=scope)
    def browser():
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            yield b
            b.close()

    return browser


def serve(home: Path, live: Any = None, transcriber: Any = None, users: Iterable[tuple[str, str, Optional[str]]] = (),
          **options):
    """A real uvicorn server on a free port for `home` (cheap Argon2), with `users` (name, role, display name)
    whose password is helpers.auth.PASSWORD; `options` go to ServeOptions (audio, video, language, ...)."""
    from api.server import ServeOptions, start_in_thread
    from helpers.auth import add_users, fast_auth

    server = start_in_thread(fast_auth(home), ServeOptions(port=0, **options),
                             transcriber=object() if transcriber is None else transcriber, live=live)
    add_users(server.server.config.app, *users)
    return server


def logged_in(browser, base_url: str, username: str, timeout_ms: int = 30000, **context_options):
    """A new page of `username`, logged in, 1366x768, Chinese, dialogs accepted; `page.errors` lists the
    page's uncaught script errors (close it with page.context.close())."""
    from helpers.auth import browser_login

    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN", **context_options)
    page = context.new_page()
    browser_login(page, base_url, username)
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on("dialog", lambda d: d.accept())
    page.set_default_timeout(timeout_ms)
    return page


def room(home: Path, name: str, **devices) -> None:
    """A room in <home>/config.toml with its sources: a web request may record only from configured ones."""
    home.mkdir(parents=True, exist_ok=True)
    lines = [f'[rooms."{name}"]'] + [f'{k} = "{v}"' for k, v in devices.items()]
    with open(home / "config.toml", "a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
