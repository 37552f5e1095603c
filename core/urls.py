"""Credentials out of every text a person or a file may see: a camera URL carries its user name and password
(rtsp://admin:12345@10.0.0.7/Streaming/Channels/101), and that URL ends up in logs, the audit trail, the
session's record and error messages. `redact` is the one place that hides them:

    rtsp://admin:12345@10.0.0.7/ch1            -> rtsp://admin:***@10.0.0.7/ch1
    rtsp://0f3a9c@cam/ch1 (a token, no colon)  -> rtsp://***@cam/ch1
    http://cam/video?user=admin&password=12345 -> http://cam/video?user=admin&password=***

It works on any text (an ffmpeg error line quoting the URL, a list of sources), not only on a bare URL, and a
text with nothing to hide comes back unchanged. `is_redacted` tells whether a value is such a masked form.
"""
from __future__ import annotations

import re

MASK = "***"
# scheme://authority: the userinfo is what comes before the authority's last "@" (a password may hold "@")
_AUTHORITY = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<authority>[^\s/?#\"'<>]*@[^\s/?#\"'<>@]*)")
_SECRET_PARAM = re.compile(r"(?P<key>[?&;](?:password|passwd|pass|pwd|secret|token|auth|key|signature|sig)=)"
                           r"(?P<value>[^&#\s\"'<>]+)", re.IGNORECASE)


def _userinfo(m: re.Match) -> str:
    info, _, host = m.group("authority").rpartition("@")
    user, sep, _password = info.partition(":")
    if not sep:                       # no colon: the whole userinfo may be a secret token
        info = MASK if user else ""
    else:
        info = f"{user}:{MASK}"
    return f"{m.group('scheme')}{info}@{host}"


def redact(text: str) -> str:
    """`text` with the password of every URL in it (and secret query parameters) replaced by ***."""
    if not text or ("@" not in text and "=" not in text):
        return text
    text = _AUTHORITY.sub(_userinfo, text)
    return _SECRET_PARAM.sub(lambda m: m.group("key") + MASK, text)


def is_redacted(value: str) -> bool:
    """Whether `value` is a masked form (holds *** where a password was)."""
    return MASK in (value or "") and redact(value) == value
