"""Security headers on every answer. Pages may run only the project's own scripts and cannot be framed;
API answers (JSON, media, exports) are inert documents: were one opened as a page (an uploaded file named
evidence.html, say), no script in it would run, and browsers never guess another type (nosniff)."""
from __future__ import annotations

from typing import Any

PAGE_CSP = ("default-src 'self'; script-src 'self'; worker-src 'self' blob:; style-src 'self'; "
            "img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; font-src 'self'; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# Swagger UI (/docs) starts itself with an inline script and styles
DOCS_CSP = PAGE_CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'") \
                   .replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
API_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox"
COMMON = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
          "Cross-Origin-Opener-Policy": "same-origin"}


def headers_for(path: str) -> dict[str, str]:
    if path.startswith("/api/"):
        csp = API_CSP
    elif path == "/docs" or path.startswith("/docs/"):
        csp = DOCS_CSP
    else:
        csp = PAGE_CSP
    return {**COMMON, "Content-Security-Policy": csp}


class SecurityHeaders:
    """ASGI middleware adding `headers_for(path)` to every HTTP answer (it leaves WebSockets alone)."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers_for(scope["path"]).items()]

        async def with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [(k, v) for k, v in extra if k not in names]
            await send(message)

        await self.app(scope, receive, with_headers)
