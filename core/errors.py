"""The one error base. Every error a user can cause and fix (bad input, a missing model, an unknown session,
a full disk) is a `XunluError`: the CLI prints its message on one line and exits with `exit_code`; the HTTP
API answers `http_status` with {"detail": message, "code": code, "message": words in the user's language}
(api/routes/errors.py, core/messages.py). Anything else is a bug: a 500 and a traceback in the log.

`code` is stable: pages and scripts may rely on it. Each class declares one; a raise site that users meet on
the web may name a more precise one (`OptionError("...", code="live_needs_language")`), with `params` for the
words of its message (`params={"session": sid}`). The message itself (`str(exc)`) stays the operator's: it
may name command-line flags and paths, and is never what a page shows."""
from __future__ import annotations

from typing import Any, Mapping, Optional


class XunluError(Exception):
    """Base of every error a user can cause and fix."""

    exit_code = 2
    http_status = 400
    code = "error"

    def __init__(self, *args: Any, code: Optional[str] = None, params: Optional[Mapping[str, Any]] = None):
        super().__init__(*args)
        if code is not None:
            self.code = code
        self.params: dict[str, Any] = dict(params or {})


class InputError(XunluError):
    """The input file is missing, unreadable, not media, or has no audio."""

    http_status = 415
    code = "bad_input"


class TooLargeError(InputError):
    """The input is larger than this server accepts (a file that decodes to too many hours of audio)."""

    http_status = 413
    code = "too_large"


class OptionError(XunluError):
    """An option has a value that cannot be used (unknown language, bad speakers list, ...)."""

    code = "bad_option"


def status_of(exc: BaseException) -> int:
    """The HTTP status of an error: the one its type declares, else 500 (a bug)."""
    return exc.http_status if isinstance(exc, XunluError) else 500


def code_of(exc: BaseException) -> str:
    """The stable code of an error: the one it carries, else `internal_error` (a bug)."""
    if not isinstance(exc, XunluError):
        return "internal_error"
    return getattr(exc, "code", None) or "error"


def params_of(exc: BaseException) -> dict[str, Any]:
    """The words an error's message is made of (`{}` when none)."""
    return dict(getattr(exc, "params", None) or {})
