"""The one error base. Every error a user can cause and fix (bad input, a missing model, an unknown session,
a full disk) is a `XunluError`: the CLI prints its message on one line and exits with `exit_code`; the HTTP
API answers `http_status` with {"detail": message} (api/routes/errors.py). Anything else is a bug: a 500 and
a traceback in the log."""
from __future__ import annotations


class XunluError(Exception):
    """Base of every error a user can cause and fix."""

    exit_code = 2
    http_status = 400


class InputError(XunluError):
    """The input file is missing, unreadable, not media, or has no audio."""

    http_status = 415


class TooLargeError(InputError):
    """The input is larger than this server accepts (a file that decodes to too many hours of audio)."""

    http_status = 413


class OptionError(XunluError):
    """An option has a value that cannot be used (unknown language, bad speakers list, ...)."""


def status_of(exc: BaseException) -> int:
    """The HTTP status of an error: the one its type declares, else 500 (a bug)."""
    return exc.http_status if isinstance(exc, XunluError) else 500
