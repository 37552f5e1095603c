"""An honest OpenAPI document: the error answers the API really gives, with the body they really have.

Every error is JSON {"detail": "...", "code": "...", "message": "..."} (api/routes/errors.py), a 422 included, where FastAPI's default document
promises its own list-of-objects shape. Every /api operation can answer 400 (a value that parses but makes no
sense), 401 (not logged in), 403 (not allowed), 404 (no such session, user, job...) and 422 (does not parse);
routes add their own (413, 415, 416...) with `responses=` in their decorator, described with `ERROR`.

Success answers are declared on the routes themselves (`response_model=` with the models of
api/routes/answers.py; `responses=`/`openapi_extra=` for files, Range headers and the upload body). `honest()`
is the one step left after FastAPI builds the document, for what a decorator cannot say: FastAPI answers every
error through our handlers (api/routes/errors.py), not through anything a route declares, so the Error body
of every 4xx/5xx, FastAPI's own 422 replaced, and the codes common to every /api operation (all but the
public login) are set here once rather than repeated on each of some fifty routes.
"""
from __future__ import annotations

from typing import Any

ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {"type": "string", "title": "Detail", "description": "what went wrong, in the operator's words"},
        "code": {"type": "string", "title": "Code", "description": "stable: no_source, not_found, login_wrong, ... "
                                                                  "(core/messages.py)"},
        "message": {"type": "string", "title": "Message",
                    "description": "what went wrong, for the person at the page, in the language of "
                                   "Accept-Language (zh, the default, or en)"},
    },
    "additionalProperties": True,   # 409 adds "session": the id of the session that holds the file
}
COMMON = {
    "400": "Bad request: a value that parses but makes no sense (an unknown status, a bad query or time)",
    "401": "Not logged in (no or an expired token or session cookie)",
    "403": "Logged in, but this user may not do this",
    "404": "No such session, file, user or job",
    "422": "The request does not parse: a missing or wrongly typed parameter, body that is not the JSON asked for",
}
PUBLIC = {("post", "/api/auth/login")}   # no login needed: no 401 for a missing token, no 403


def ERROR(description: str) -> dict[str, Any]:
    """A `responses=` entry of a route: {status: ERROR("why")}."""
    return {"description": description}  # honest() gives it the Error body


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def honest(spec: dict[str, Any]) -> dict[str, Any]:
    """Rewrite a FastAPI-generated document in place: the Error schema for every error, the common codes."""
    components = spec.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    for path, operations in spec.get("paths", {}).items():
        if not path.startswith("/api/"):
            continue
        for method, op in operations.items():
            responses = op.setdefault("responses", {})
            for code, description in COMMON.items():
                if (method, path) in PUBLIC and code in ("401", "403"):
                    continue
                current = responses.get(code)
                if current is None or code == "422":
                    responses[code] = _error_response(description)
            for code, answer in responses.items():
                if code.startswith(("4", "5")):
                    answer["content"] = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return spec


def install(app) -> None:
    """Make `app.openapi()` return the honest document (built once, on first request of /openapi.json)."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = honest(original())
        return app.openapi_schema

    app.openapi = openapi
