"""Domain errors of the ASR stage. The CLI turns each into one line on stderr and exit code 2."""


class XunluError(Exception):
    """Base of every error a user can cause and fix (bad input, missing model, ...)."""

    exit_code = 2


class InputError(XunluError):
    """The input file is missing, unreadable, not media, or has no audio."""


class OptionError(XunluError):
    """An option has a value that cannot be used (unknown language, bad speakers list, ...)."""
