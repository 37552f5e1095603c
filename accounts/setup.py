"""The first admin, demo logins, and the bind-address warning."""
from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Optional

from accounts.service import AuthService
from accounts.types import ADMIN, OFFICER, SUPERVISOR, User

DEMO_USERS = (("officer1", OFFICER, "张警官"), ("officer2", OFFICER, "李警官"),
              ("supervisor", SUPERVISOR, "王法制员"))


def ensure_admin(home: Path, password: Optional[str] = None,
                 service: Optional[AuthService] = None) -> tuple[Optional[User], Optional[str]]:
    """First run: when there are no users at all, create `admin` with this password or a generated one.
    Returns (the new admin, the generated password) or (None, None) when users exist. The caller shows the
    generated password once; only its Argon2 hash is kept."""
    service = service or AuthService(home)
    if service.store.count():
        return None, None
    return service.add_user("admin", ADMIN, password, display_name=None, actor="system:first-run")


def ensure_demo_users(home: Path, service: Optional[AuthService] = None) -> list[tuple[str, str, Optional[str]]]:
    """`xunlu demo`: two officers and a supervisor. Returns (name, role, password) for each user it made
    (password None for one that already existed: its password is not known any more)."""
    service = service or AuthService(home)
    made = []
    for name, role, display in DEMO_USERS:
        if service.store.get(name) is None:
            _, password = service.add_user(name, role, None, display, actor="system:demo")
            made.append((name, role, password))
        else:
            made.append((name, role, None))
    return made


def bind_warning(host: str, tls: bool) -> Optional[str]:
    """The warning `xunlu serve` prints when it listens beyond this machine without TLS, else None."""
    if tls:
        return None
    name = host.strip("[]")
    try:
        loopback = ipaddress.ip_address(name).is_loopback
    except ValueError:
        loopback = name == "localhost"
    if loopback:
        return None
    return (f"警告 warning: listening on {host} without TLS: passwords, session cookies and evidence cross the "
            "network unencrypted. Serve behind HTTPS (--ssl-certfile/--ssl-keyfile or a TLS proxy), or bind "
            "to 127.0.0.1.")
