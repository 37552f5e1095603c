"""Every domain error mapped to an HTTP status in one place. Every error answer is JSON
{"detail": "...", "code": "...", "message": "..."}: `detail` the operator's words (unchanged, for scripts and
logs), `code` stable (core/errors.py), `message` the words for the person at the page, in the language the
request asks for (Accept-Language; Chinese by default; core/messages.py)."""
from __future__ import annotations

import logging
from typing import Any, Mapping, Optional

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.http_range import RangeNotSatisfiable
from archive.types import Duplicate
from core.errors import XunluError, code_of, params_of
from core.messages import language_of, message

log = logging.getLogger("xunlu.web")

# the code of an HTTP refusal that names none, by status
STATUS_CODES = {400: "bad_request", 401: "login_required", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_type",
                416: "range_not_satisfiable", 422: "invalid_request", 429: "too_many_requests",
                500: "internal_error", 503: "model_unavailable", 507: "disk_full"}


class ApiError(XunluError):
    """A route's own refusal: status, message and (for the pages) a stable code."""

    def __init__(self, status: int, message: str, code: Optional[str] = None,
                 params: Optional[Mapping[str, Any]] = None):
        super().__init__(message, code=code or STATUS_CODES.get(status, "error"), params=params)
        self.http_status = status

    @property
    def status(self) -> int:
        return self.http_status


class Refusal(HTTPException):
    """An HTTPException with a code, for routers that are also mounted without these handlers (the auth
    routes in tests): there FastAPI answers {"detail"} as before."""

    def __init__(self, status: int, detail: str, code: str, headers: Optional[dict[str, str]] = None,
                 params: Optional[Mapping[str, Any]] = None):
        super().__init__(status, detail, headers=headers)
        self.code = code
        self.params = dict(params or {})


def language(request: Optional[Request]) -> str:
    return language_of(request.headers.get("accept-language") if request is not None else None)


def body(status: int, detail: str, code: Optional[str] = None, lang: str = "zh",
         params: Optional[Mapping[str, Any]] = None, **extra) -> dict[str, Any]:
    """The error body: detail, code and the message in `lang`."""
    code = code or STATUS_CODES.get(status, "error")
    return {"detail": detail, "code": code, "message": message(code, lang, **dict(params or {})), **extra}


def _json(status: int, detail: str, code: Optional[str], lang: str, headers: Optional[dict[str, str]] = None,
          params: Optional[Mapping[str, Any]] = None, **extra) -> JSONResponse:
    return JSONResponse(body(status, detail, code, lang, params, **extra), status_code=status, headers=headers)


def status_of(exc: BaseException) -> int:
    """The HTTP status of an error: the one its type declares (core.errors.XunluError.http_status), else 500."""
    return exc.http_status if isinstance(exc, XunluError) else 500


def error_response(exc: BaseException, request: Optional[Request] = None) -> JSONResponse:
    status, lang = status_of(exc), language(request)
    if isinstance(exc, RangeNotSatisfiable):
        return _json(416, str(exc), code_of(exc), lang, {"Content-Range": f"bytes */{exc.size}"})
    if isinstance(exc, Duplicate):
        return _json(409, str(exc), code_of(exc), lang, params=params_of(exc), session=exc.session_id)
    if not isinstance(exc, XunluError):
        log.error("unexpected error", exc_info=exc)
        return _json(500, f"internal error ({type(exc).__name__}); see the server log", "internal_error", lang)
    return _json(status, str(exc), code_of(exc), lang, params=params_of(exc))


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(x) for x in err.get("loc", ()) if x not in ("body", "query", "path"))
        parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
    return "invalid request: " + "; ".join(parts)


def _http_code(exc: StarletteHTTPException, detail: str) -> str:
    if getattr(exc, "code", None):
        return exc.code  # a Refusal
    if exc.status_code == 401 and "登录已失效" in detail:
        return "login_expired"
    return STATUS_CODES.get(exc.status_code, "error")


def install(app: FastAPI) -> None:
    async def domain(request: Request, exc: Exception) -> JSONResponse:
        return error_response(exc, request)

    async def validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _json(422, _validation_message(exc), "invalid_request", language(request))

    async def http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        code = _http_code(exc, detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail, code = "not found: no such page or API route", "page_not_found"
        return _json(exc.status_code, detail, code, language(request), getattr(exc, "headers", None),
                     getattr(exc, "params", None))

    for kind in (XunluError, Exception):
        app.add_exception_handler(kind, domain)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http)
    from api.routes import openapi_errors

    openapi_errors.install(app)  # the document says so: every error is {"detail", "code", "message"}
