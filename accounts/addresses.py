"""Client addresses: who is calling when a reverse proxy stands in front, and the key failed logins are counted
under. Pure functions, no I/O.

`X-Forwarded-For` is anyone's to write, so it counts only when the peer that sent the request is one of the
site's configured proxies (`[auth] trusted_proxies`, none by default): the client is then the right-most
address in the header that is not itself a trusted proxy (each proxy appends the address it saw). From any
other peer the header is ignored and the peer is the client.
"""
from __future__ import annotations

import ipaddress
from typing import Iterable, Optional, Sequence, Union

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """'10.0.0.5', '10.0.0.0/24', '::1' -> networks; ValueError names a value that is neither."""
    out = []
    for value in values:
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not an address")
        try:
            out.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an IP address or network ({exc})") from exc
    return tuple(out)


def _ip(value: Optional[str]):
    if not value:
        return None
    value = value.strip()
    if value.startswith("[") and "]" in value:          # [2001:db8::1]:443
        value = value[1:value.index("]")]
    elif value.count(":") == 1 and "." in value:        # 10.0.0.7:5123
        value = value.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return None
    mapped = getattr(ip, "ipv4_mapped", None)
    return mapped or ip


def is_trusted(address: Optional[str], proxies: Sequence[Network]) -> bool:
    ip = _ip(address)
    return ip is not None and any(ip.version == net.version and ip in net for net in proxies)


def client_address(peer: Optional[str], forwarded_for: Sequence[str], proxies: Sequence[Network]) -> Optional[str]:
    """The client behind `peer`: `forwarded_for` holds the X-Forwarded-For header values in order."""
    if not proxies or not forwarded_for or not is_trusted(peer, proxies):
        return peer
    hops = [h.strip() for value in forwarded_for for h in value.split(",") if h.strip()]
    for hop in reversed(hops):
        ip = _ip(hop)
        if ip is None:               # a hop a proxy did not write: stop trusting the chain here
            break
        if not is_trusted(str(ip), proxies):
            return str(ip)
        peer = str(ip)               # another trusted proxy: look one further left
    return peer


def address_key(address: Optional[str]) -> str:
    """What failed logins are counted under: the address itself, an IPv6 address's /64 (one host gets a whole
    /64 to pick from), '-' when unknown."""
    ip = _ip(address)
    if ip is None:
        return (address or "-")[:64]
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
