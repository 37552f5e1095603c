"""Every domain error mapped to an HTTP status in one place; every error answer is JSON {"detail": "..."}."""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.http_range import RangeNotSatisfiable
from archive.types import Duplicate
from core.errors import XunluError

log = logging.getLogger("xunlu.web")


class ApiError(XunluError):
    """A route's own refusal: status and message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.http_status = status

    @property
    def status(self) -> int:
        return self.http_status


def _json(status: int, message: str, headers: dict[str, str] | None = None, **extra) -> JSONResponse:
    return JSONResponse({"detail": message, **extra}, status_code=status, headers=headers)


def status_of(exc: BaseException) -> int:
    """The HTTP status of an error: the one its type declares (core.errors.XunluError.http_status), else 500."""
    return exc.http_status if isinstance(exc, XunluError) else 500


def error_response(exc: BaseException) -> JSONResponse:
    status = status_of(exc)
    if isinstance(exc, RangeNotSatisfiable):
        return _json(416, str(exc), {"Content-Range": f"bytes */{exc.size}"})
    if isinstance(exc, Duplicate):
        return _json(409, str(exc), session=exc.session_id)
    if not isinstance(exc, XunluError):
        log.error("unexpected error", exc_info=exc)
        return _json(500, f"internal error ({type(exc).__name__}); see the server log")
    return _json(status, str(exc))


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(x) for x in err.get("loc", ()) if x not in ("body", "query", "path"))
        parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
    return "invalid request: " + "; ".join(parts)


def install(app: FastAPI) -> None:
    async def domain(_request: Request, exc: Exception) -> JSONResponse:
        return error_response(exc)

    async def validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return _json(422, _validation_message(exc))

    async def http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = "not found: no such page or API route"
        return _json(exc.status_code, detail, getattr(exc, "headers", None))

    for kind in (XunluError, Exception):
        app.add_exception_handler(kind, domain)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http)
    from api.routes import openapi_errors

    openapi_errors.install(app)  # the document says so: every error is {"detail": "..."}
