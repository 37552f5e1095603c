"""ONVIF cameras on the network, found by WS-Discovery (SOAP-over-UDP 2005/04, the version ONVIF uses): one
Probe for `dn:NetworkVideoTransmitter` sent to 239.255.255.250:3702 (or to given addresses: a camera on
another subnet answers a unicast probe), the ProbeMatches collected for `timeout` seconds, then each camera's
stream addresses asked of its media service (capture/onvif.py).

    cams = discover(DiscoveryOptions(timeout=2, username="admin", password="..."))
    [Camera(address="http://10.0.0.7/onvif/device_service", name="Room 1", streams=(Stream("main", "rtsp://..."),))]

Written on the standard library (socket, xml.etree): the probe is one datagram and its answer a few elements,
and the bounds below are ours to hold. Answers are untrusted: one over MAX_REPLY bytes, not XML, with a
DOCTYPE, or not relating to our probe is ignored; at most `max_devices` cameras and MAX_DATAGRAMS datagrams
are read; a camera is kept only for an XAddr that is an http(s) URL on a private, link-local or loopback IP
address (onvif.local_url), and only such an address is ever asked for anything.
"""
from __future__ import annotations

import ipaddress
import logging
import select
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from typing import Optional
from urllib.parse import unquote, urlsplit

from capture import onvif
from capture.onvif import Credentials, LoginError, OnvifError, Stream

log = logging.getLogger("xunlu.capture.discovery")

MULTICAST = ("239.255.255.250", 3702)
MAX_DATAGRAMS = 1024           # read per discovery, whatever answers
LOOKUP_TIME = 10.0             # seconds for asking every camera its stream addresses, all together
_WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
_WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
_NS = {"s": onvif.NS["s"], "d": _WSD, "a": _WSA}
_SCOPE = "onvif://www.onvif.org/"


@dataclass(frozen=True)
class DiscoveryOptions:
    timeout: float = 2.0                              # seconds to listen for answers to the probe
    targets: tuple[tuple[str, int], ...] = (MULTICAST,)
    username: Optional[str] = None                    # for GetProfiles/GetStreamUri (WS-Security digest)
    password: Optional[str] = None
    streams: bool = True                              # ask each camera for its stream addresses
    max_devices: int = 64


@dataclass(frozen=True)
class Match:
    """One ProbeMatch as it came: nothing in it is checked yet."""
    endpoint: str                  # urn:uuid:... (the device's stable id)
    xaddrs: tuple[str, ...]
    scopes: tuple[str, ...]
    sender: str                    # the IP address the answer came from


@dataclass(frozen=True)
class Camera:
    address: str                   # its device service (http://10.0.0.7/onvif/device_service)
    host: str
    endpoint: str
    name: Optional[str]            # from onvif://www.onvif.org/name/... scopes
    hardware: Optional[str]        # from onvif://www.onvif.org/hardware/...
    streams: tuple[Stream, ...] = ()
    problem: Optional[str] = None  # why there are no stream addresses
    needs_login: bool = False      # the camera wants a (another) user name and password

    @property
    def guess(self) -> str:
        """Where a camera's RTSP server usually is, when it did not say."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"rtsp://{host}:554/"


def probe_message(message_id: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{_NS["s"]}" xmlns:a="{_WSA}" '
            f'xmlns:d="{_WSD}" xmlns:dn="http://www.onvif.org/ver10/network/wsdl"><s:Header>'
            f"<a:MessageID>{message_id}</a:MessageID>"
            f'<a:To s:mustUnderstand="true">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>'
            f'<a:Action s:mustUnderstand="true">{_WSD}/Probe</a:Action></s:Header>'
            f"<s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body></s:Envelope>"
            ).encode("utf-8")


def parse_matches(data: bytes, message_id: str, sender: str) -> list[Match]:
    """The ProbeMatches of one datagram answering `message_id`; OnvifError when it is not one."""
    root = onvif.parse_xml(data)
    related = (root.findtext("s:Header/a:RelatesTo", None, _NS) or "").strip()
    if related and related != message_id:
        raise OnvifError("an answer to another probe")
    found = []
    for m in root.findall("s:Body/d:ProbeMatches/d:ProbeMatch", _NS)[:16]:
        xaddrs = tuple((m.findtext("d:XAddrs", "", _NS) or "").split())[:8]
        scopes = tuple((m.findtext("d:Scopes", "", _NS) or "").split())[:64]
        endpoint = (m.findtext("a:EndpointReference/a:Address", "", _NS) or "").strip()[:200]
        found.append(Match(endpoint or " ".join(xaddrs), xaddrs, scopes, sender))
    return found


def _scope(scopes: tuple[str, ...], kind: str) -> Optional[str]:
    words = [unquote(s[len(_SCOPE) + len(kind) + 1:]) for s in scopes if s.startswith(f"{_SCOPE}{kind}/")]
    text = " ".join(w for w in words if w).replace("_", " ")
    text = "".join(c for c in text if c.isprintable())[:100].strip()
    return text or None


def camera_of(match: Match) -> Optional[Camera]:
    """The camera a match describes, at its first local XAddr (the one on the sender's address first);
    None when it gives no address this module may ask."""
    usable = [x for x in match.xaddrs if onvif.local_url(x)]
    if not usable:
        log.info("ignored a camera at %s: no XAddr on a local http(s) address (%s)", match.sender,
                 " ".join(match.xaddrs)[:200])
        return None
    usable.sort(key=lambda x: urlsplit(x).hostname != match.sender)
    address = usable[0]
    return Camera(address, urlsplit(address).hostname or "", match.endpoint, _scope(match.scopes, "name"),
                  _scope(match.scopes, "hardware"))


def probe(options: DiscoveryOptions) -> list[Camera]:
    """The cameras that answered within `options.timeout` seconds, without their stream addresses."""
    message_id = f"uuid:{uuid.uuid4()}"
    message = probe_message(message_id)
    cams: dict[str, Camera] = {}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        sock.bind(("", 0))
        sent = 0
        for target in options.targets:
            try:
                sock.sendto(message, target)
                sent += 1
            except OSError as exc:
                log.warning("could not send the WS-Discovery probe to %s:%s: %s", *target, exc)
        if not sent:
            raise OnvifError("could not send the WS-Discovery probe (no network?)")
        deadline = time.monotonic() + max(0.0, options.timeout)
        for _ in range(MAX_DATAGRAMS):
            left = deadline - time.monotonic()
            if left <= 0 or len(cams) >= options.max_devices:
                break
            if not select.select([sock], [], [], left)[0]:
                break
            data, (sender, _port) = sock.recvfrom(onvif.MAX_REPLY + 1)
            try:
                matches = parse_matches(data, message_id, sender)
            except OnvifError as exc:
                log.info("ignored an answer from %s: %s", sender, exc)
                continue
            for m in matches:
                cam = camera_of(m)
                if cam and cam.endpoint not in cams and len(cams) < options.max_devices:
                    cams[cam.endpoint] = cam
    return list(cams.values())


def _with_streams(cam: Camera, cred: Optional[Credentials], timeout: float) -> Camera:
    try:
        found = onvif.streams(cam.address, cred, timeout)
    except LoginError:
        words = "the camera refused the user name and password" if cred else "the camera wants a user name and password"
        return replace(cam, problem=words, needs_login=True)
    except OnvifError as exc:
        return replace(cam, problem=str(exc))
    return replace(cam, streams=found, problem=None if found else "the camera gave no stream address")


def _order(cam: Camera):
    try:
        return (0, ipaddress.ip_address(cam.host.split("%", 1)[0]).packed, cam.address)
    except ValueError:
        return (1, b"", cam.address)


def discover(options: DiscoveryOptions = DiscoveryOptions()) -> list[Camera]:
    """Probe, then ask every camera found for its stream addresses (in parallel, LOOKUP_TIME at most)."""
    cams = probe(options)
    if options.streams and cams:
        cred = Credentials(options.username, options.password or "") if options.username else None
        timeout = min(max(options.timeout, 1.0), 5.0)
        pool = ThreadPoolExecutor(max_workers=min(8, len(cams)), thread_name_prefix="xunlu-onvif")
        futures = [pool.submit(_with_streams, cam, cred, timeout) for cam in cams]
        wait(futures, timeout=LOOKUP_TIME)
        pool.shutdown(wait=False, cancel_futures=True)
        cams = [f.result() if f.done() and not f.cancelled() else replace(cam, problem="no answer in time")
                for f, cam in zip(futures, cams)]
    return sorted(cams, key=_order)
