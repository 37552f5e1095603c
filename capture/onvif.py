"""The stream addresses of an ONVIF camera: its media service's GetProfiles, then GetStreamUri for each profile
(SOAP 1.2 over HTTP, ONVIF Media ver10), signed with a WS-Security UsernameToken digest when a user name and
password are given. Used by capture/discovery.py on the cameras that answered a WS-Discovery probe.

Whatever answers is a device on the network, not trusted: only http(s) URLs on an IP address of this site's
networks (private, link-local, loopback) are ever asked (`local_url`), a name that would go through DNS is
not, redirects are not followed, a reply over `MAX_REPLY` bytes is dropped, and XML with a DOCTYPE (entities)
is refused before it is parsed (`parse_xml`).
"""
from __future__ import annotations

import base64
import hashlib
import http.client
import ipaddress
import logging
import os
import ssl
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Optional
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from capture.sources import SourceError

log = logging.getLogger("xunlu.capture.onvif")

MAX_REPLY = 64 * 1024          # bytes: a camera's SOAP answer is a few KB
MAX_PROFILES = 8
MAX_URI = 500                  # the room editor's camera field holds 500 characters
STREAM_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://")
LOCAL_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "127.0.0.0/8",
    "fc00::/7", "fe80::/10", "::1/128"))

NS = {"s": "http://www.w3.org/2003/05/soap-envelope", "tt": "http://www.onvif.org/ver10/schema",
      "trt": "http://www.onvif.org/ver10/media/wsdl", "tds": "http://www.onvif.org/ver10/device/wsdl"}
_WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
_WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
_DIGEST = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
_BASE64 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-soap-message-security-1.0#Base64Binary"


@dataclass(frozen=True)
class Stream:
    profile: str               # the profile's name (e.g. MainStream), else its token
    uri: str                   # as the camera gives it, without credentials (rtsp://10.0.0.7:554/ch1)


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


class OnvifError(SourceError):
    """A camera that did not give its stream addresses (refused, unreachable, answered nonsense)."""

    code = "bad_source"       # a page meets it only when the probe cannot be sent at all


class LoginError(OnvifError):
    """A camera that wants a user name and password, or refused the ones given."""

    code = "bad_source"


# -- what may be asked, what may be read --------------------------------------------------------------------
def local_address(host: str) -> bool:
    """Whether `host` is an IP address literal on a private, link-local or loopback network."""
    try:
        ip = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return False              # a name: DNS could send the request anywhere
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip in net for net in LOCAL_NETWORKS if net.version == ip.version)


def local_url(url: str) -> bool:
    """Whether `url` is an http(s) URL on a local address (an XAddr this module may ask)."""
    try:
        parts = urlsplit(url)
        parts.port            # raises on a bad port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.username \
        and local_address(parts.hostname)


def parse_xml(data: bytes) -> ET.Element:
    """A reply's XML, refused when too large, with a DOCTYPE (entity expansion, external entities) or broken."""
    if len(data) > MAX_REPLY:
        raise OnvifError(f"reply of {len(data)} bytes is over {MAX_REPLY}")
    if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        raise OnvifError("reply declares a DOCTYPE or entities")
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise OnvifError(f"reply is not XML: {exc}") from None


def stream_uri(text: Optional[str]) -> Optional[str]:
    """A stream address fit to show and to put in a room: rtsp(s) or http(s), short, one token."""
    uri = (text or "").strip()
    if not uri.lower().startswith(STREAM_SCHEMES) or len(uri) > MAX_URI or any(c.isspace() or ord(c) < 32
                                                                                  for c in uri):
        return None
    return uri


# -- SOAP ---------------------------------------------------------------------------------------------------
def security_header(cred: Credentials, nonce: Optional[bytes] = None, created: Optional[str] = None) -> str:
    """WS-Security UsernameToken with PasswordDigest = Base64(SHA-1(nonce + created + password))."""
    nonce = nonce if nonce is not None else os.urandom(16)
    created = created or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = base64.b64encode(hashlib.sha1(nonce + created.encode() + cred.password.encode("utf-8")).digest())
    return (f'<Security s:mustUnderstand="1" xmlns="{_WSSE}"><UsernameToken>'
            f"<Username>{escape(cred.username)}</Username>"
            f'<Password Type="{_DIGEST}">{digest.decode()}</Password>'
            f'<Nonce EncodingType="{_BASE64}">{base64.b64encode(nonce).decode()}</Nonce>'
            f'<Created xmlns="{_WSU}">{created}</Created></UsernameToken></Security>')


def envelope(body: str, cred: Optional[Credentials] = None) -> bytes:
    header = f"<s:Header>{security_header(cred)}</s:Header>" if cred else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{NS["s"]}">{header}'
            f"<s:Body>{body}</s:Body></s:Envelope>").encode("utf-8")


def call(url: str, body: str, cred: Optional[Credentials], timeout: float) -> ET.Element:
    """POST one SOAP request to a local URL; the reply's Body. No redirects, at most MAX_REPLY bytes."""
    if not local_url(url):
        raise OnvifError(f"{url} is not an http(s) address on this site's network")
    parts = urlsplit(url)
    if parts.scheme == "https":
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE   # cameras' certificates are self-signed
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout,
                                                                        context=context)
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("POST", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), envelope(body, cred),
                     {"Content-Type": "application/soap+xml; charset=utf-8"})
        reply = conn.getresponse()
        data = reply.read(MAX_REPLY + 1)
        status = reply.status
    except (OSError, http.client.HTTPException) as exc:
        raise OnvifError(f"{url}: {exc}") from None
    finally:
        conn.close()
    if status in (401, 403):
        raise LoginError(f"{url}: the camera wants a user name and password")
    root = parse_xml(data)
    fault = root.find("s:Body/s:Fault", NS)
    if fault is not None:
        words = " ".join(t.strip() for t in fault.itertext() if t.strip())
        error = LoginError if "notauthorized" in words.lower().replace(" ", "") else OnvifError
        raise error(f"{url}: {words[:200]}")
    body_el = root.find("s:Body", NS)
    if status != 200 or body_el is None:
        raise OnvifError(f"{url}: HTTP {status}")
    return body_el


def media_address(device: str, cred: Optional[Credentials], timeout: float) -> str:
    """The media service of a device (GetCapabilities), else the device service itself; only on the same host."""
    try:
        body = call(device, f'<GetCapabilities xmlns="{NS["tds"]}"><Category>Media</Category></GetCapabilities>',
                    cred, timeout)
    except LoginError:
        raise
    except OnvifError:
        return device
    found = (body.findtext(".//tt:Media/tt:XAddr", None, NS) or "").strip()
    if found and local_url(found) and urlsplit(found).hostname == urlsplit(device).hostname:
        return found
    return device


def streams(device: str, cred: Optional[Credentials] = None, timeout: float = 2.0) -> tuple[Stream, ...]:
    """Each media profile's RTSP address (RTP unicast), asked of the device service at `device`."""
    media = media_address(device, cred, timeout)
    body = call(media, f'<GetProfiles xmlns="{NS["trt"]}"/>', cred, timeout)
    found: list[Stream] = []
    for profile in body.findall(".//trt:Profiles", NS)[:MAX_PROFILES]:
        token = profile.get("token") or ""
        if not token or len(token) > 64:
            continue
        setup = (f'<StreamSetup><Stream xmlns="{NS["tt"]}">RTP-Unicast</Stream><Transport xmlns="{NS["tt"]}">'
                 f"<Protocol>RTSP</Protocol></Transport></StreamSetup>")
        answer = call(media, f'<GetStreamUri xmlns="{NS["trt"]}">{setup}'
                             f"<ProfileToken>{escape(token)}</ProfileToken></GetStreamUri>", cred, timeout)
        uri = stream_uri(answer.findtext(".//trt:MediaUri/tt:Uri", None, NS))
        if uri:
            name = (profile.findtext("tt:Name", None, NS) or token).strip()[:64]
            found.append(Stream(name, uri))
    return tuple(found)
