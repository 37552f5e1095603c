"""RTSP as cameras speak it: which lower transport to ask for, and what a failed connection means.

A camera sends its RTP either interleaved in the RTSP connection (TCP) or as UDP datagrams (unicast or
multicast); many speak both, some only one (Debian's rtsp-server-perl answers a TCP SETUP with "400 Bad
Request", GStreamer's with "461 Unsupported transport"). The setting, per camera (a room's
`rtsp_transport`, `xunlu record --rtsp-transport`):

    auto           TCP first (no loss, passes NAT and firewalls), then UDP; the one that worked is tried first
                   when the camera has to be reconnected
    tcp, udp, udp_multicast   only that one

Pure functions: `check_transport` (a typed error for a wrong value), `order` (the transports to try),
`explain` (ffmpeg's last words -> a reason in words, and whether another transport may help).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from core.config import RTSP_TRANSPORTS, rtsp_transport
from core.errors import OptionError

TRANSPORTS = RTSP_TRANSPORTS
AUTO_ORDER = ("tcp", "udp")


class TransportError(OptionError):
    """An RTSP transport that is not one of TRANSPORTS."""

    code = "bad_rtsp_transport"


def check_transport(value: Optional[str]) -> Optional[str]:
    """The setting in its canonical form (None when not given); TransportError for anything else."""
    try:
        return rtsp_transport(value)
    except ValueError as exc:
        raise TransportError(f"{exc} (--rtsp-transport)") from None


def order(setting: Optional[str], learned: Optional[str] = None) -> tuple[str, ...]:
    """The transports to try, in order: the setting alone, or for `auto` TCP then UDP, the one that worked
    last time first."""
    setting = check_transport(setting) or "auto"
    if setting != "auto":
        return (setting,)
    if learned in AUTO_ORDER:
        return (learned,) + tuple(t for t in AUTO_ORDER if t != learned)
    return AUTO_ORDER


@dataclass(frozen=True)
class Failure:
    """Why a connection attempt failed, in words; `other_transport`: another transport may work."""

    reason: str
    other_transport: bool = False
    final: bool = False           # no point trying again (wrong password, no such stream)


_SIGNS: Sequence[tuple[tuple[str, ...], Failure]] = (
    (("401 unauthorized", "403 forbidden"),
     Failure("the camera refused the user name or password (401)", final=True)),
    (("404 not found",), Failure("the camera has no stream at this path (404)", final=True)),
    (("461 unsupported transport", "400 bad request", "protocol not supported", "unsupported transport"),
     Failure("the camera refused this RTSP transport", other_transport=True)),
    (("bind failed", "address already in use"),
     Failure("the multicast port the camera named is taken on this machine (another program holds it)",
             other_transport=True)),
    (("connection refused",), Failure("connection refused (nothing listens at that address and port)")),
    (("no route to host", "network is unreachable", "host is unreachable"), Failure("no route to the camera")),
    (("name or service not known", "temporary failure in name resolution", "failed to resolve"),
     Failure("the camera's host name cannot be resolved")),
    (("timed out", "timeout", "operation not permitted"), Failure("no answer (timed out)", other_transport=True)),
    (("invalid data found", "could not find codec parameters"),
     Failure("the stream cannot be read (no picture or sound ffmpeg understands)")),
)


def explain(lines: Sequence[str], transport: Optional[str] = None) -> Failure:
    """What ffmpeg's error lines say about a failed connection."""
    text = " ".join(lines).lower()
    for signs, failure in _SIGNS:
        if any(s in text for s in signs):
            return failure
    last = next((line.strip() for line in reversed(lines) if line.strip()), "")
    return Failure(last or "the stream ended before any data came", other_transport=transport is not None)
