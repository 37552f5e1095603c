"""The 讯问笔录 as PDF: the print view (player_web/static/record.html, A4, a signature line and 第 N 页 共 M 页
on every page) printed by Chromium through Playwright, on this machine and with no network: the page, its
script and style come from the static folder and the record from the caller, each answered by an intercepted
request; every other request is refused. One PDF at a time (each starts a browser, about 1-3 s).

Needs the `playwright` package and a Chromium (Debian's /usr/bin/chromium, or Playwright's own); without them
the export answers 503 and the print view still prints to PDF from the user's browser.
"""
from __future__ import annotations

import json
import logging
import mimetypes
import os
import shutil
import threading
from pathlib import Path
from typing import Any, Optional
from urllib.parse import urlsplit

from core.errors import XunluError

log = logging.getLogger("xunlu.record.pdf")
PAGES = Path(__file__).resolve().parents[1] / "player_web" / "static"
ORIGIN = "http://xunlu.print"  # never resolved: every request to it is answered here
CHROMIUMS = ("chromium", "chromium-browser", "google-chrome")
TIMEOUT_MS = 60_000
_one_at_a_time = threading.Lock()


class PdfUnavailable(XunluError):
    """This server cannot print PDFs (no Playwright or no Chromium)."""

    http_status = 503
    code = "pdf_unavailable"


def chromium() -> Optional[str]:
    """A Chromium to print with: $XUNLU_CHROMIUM, else one on PATH; None: Playwright's own, if installed."""
    chosen = os.environ.get("XUNLU_CHROMIUM")
    if chosen:
        return chosen
    return next((p for p in map(shutil.which, CHROMIUMS) if p), None)


def _static(path: str) -> Optional[Path]:
    """A file of the static folder for a URL path; None for anything outside it."""
    target = (PAGES / path.lstrip("/")).resolve()
    return target if target.is_file() and PAGES in target.parents else None


def render_pdf(record: dict[str, Any]) -> bytes:
    """The print view of `record` (service.record.content) as PDF bytes, A4."""
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise PdfUnavailable("PDF export needs the playwright package (pip install playwright) and Chromium; "
                             "the print view prints to PDF from the browser") from exc
    sid = str(record.get("session") or "")
    body = json.dumps(record, ensure_ascii=False)

    def answer(route) -> None:
        path = urlsplit(route.request.url).path
        if route.request.url.startswith(ORIGIN + "/api/sessions/") and path.endswith("/record"):
            route.fulfill(status=200, content_type="application/json; charset=utf-8", body=body)
            return
        found = _static(path) if route.request.url.startswith(ORIGIN + "/") else None
        if found is None:
            route.abort()
            return
        kind = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
        route.fulfill(status=200, content_type=kind, body=found.read_bytes())

    with _one_at_a_time:
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium(), args=["--disable-gpu", "--no-first-run"])
                try:
                    page = browser.new_page()
                    page.set_default_timeout(TIMEOUT_MS)
                    page.route("**/*", answer)
                    page.goto(f"{ORIGIN}/record.html?sid={sid}&version={record.get('version') or ''}&pdf=1")
                    page.wait_for_selector("body.ready")
                    data = page.pdf(format="A4", prefer_css_page_size=True, print_background=True)
                finally:
                    browser.close()
        except PlaywrightError as exc:
            log.error("PDF printing failed: %s", exc)
            raise PdfUnavailable(f"Chromium could not print the record ({str(exc).splitlines()[0]}); "
                                 "the print view prints to PDF from the browser") from exc
    log.info("笔录 of %s printed to PDF (%d bytes)", sid, len(data))
    return data
