"""A throwaway PostgreSQL server for the tests, from Debian's `postgresql` package (scripts/setup.sh installs it).

initdb into a fresh temporary folder, a password made for this run, the server on a unix socket in that folder
only (no TCP), on a free port number. PostgreSQL refuses to run as root: as root, the server runs as the
`postgres` system user the package creates, in a folder it owns. Each test gets a database of its own.
"""
from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Optional
from urllib.parse import quote

USER = "xunlu"


def bin_dir() -> Optional[Path]:
    """The newest installed server's programs (Debian keeps initdb and pg_ctl off the PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def _temp_parent(other_user: bool) -> str:
    """Where the server's folder goes: the temporary folder, unless the `postgres` user could not reach it or
    the socket's path would pass the kernel's limit (about 100 bytes)."""
    for parent in (tempfile.gettempdir(), "/tmp", "/var/tmp"):
        reachable = all(os.stat(p).st_mode & 0o001 for p in [parent, *map(str, Path(parent).parents)])
        if len(parent) < 60 and (reachable or not other_user):
            return parent
    raise RuntimeError("no temporary folder that the postgres user can reach")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self) -> None:
        programs = bin_dir()
        if programs is None:
            raise RuntimeError("PostgreSQL is not installed: run scripts/setup.sh (apt-get install postgresql)")
        self.bin = programs
        self.root = Path(tempfile.mkdtemp(prefix="xunlu-pg-", dir=_temp_parent(os.geteuid() == 0)))
        self.data = self.root / "data"
        self.socket_dir = self.root / "run"
        self.port = _free_port()
        self.password = secrets.token_urlsafe(18)
        self._as: list[str] = []
        self._count = 0
        if os.geteuid() == 0:
            self._as = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=120)
        if done.returncode:
            raise RuntimeError(f"{' '.join(args[:2])} failed: {done.stdout}\n{done.stderr}")

    def start(self) -> "Server":
        self.socket_dir.mkdir()
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n")
        os.chmod(pwfile, 0o600)
        if self._as:
            shutil.chown(self.root, "postgres", "postgres")
            for p in (self.socket_dir, pwfile):
                shutil.chown(p, "postgres", "postgres")
        try:
            self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", USER, "--pwfile", str(pwfile),
                      "--auth", "scram-sha-256", "-E", "UTF8", "--locale", "C", "--no-sync")
        finally:
            pwfile.unlink()
        options = (f"-k {self.socket_dir} -p {self.port} -c listen_addresses='' -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"), "-w",
                  "-t", "60", "-o", options, "start")
        return self

    def url(self, database: str = "postgres") -> str:
        return (f"postgresql://{USER}:{quote(self.password, safe='')}@/{database}"
                f"?host={quote(str(self.socket_dir), safe='')}&port={self.port}")

    def new_database(self, like: Optional[str] = None) -> str:
        """A fresh, empty database, or a copy of the database at URL `like` (whoever is still connected to it,
        such as a connection xunlu keeps for reuse, is disconnected first) -> its URL."""
        import psycopg
        from psycopg.conninfo import conninfo_to_dict

        self._count += 1
        name = f"t{self._count}_{secrets.token_hex(3)}"
        source = conninfo_to_dict(like)["dbname"] if like else None
        with psycopg.connect(self.url(), autocommit=True) as conn:
            if source:
                conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                             "AND pid <> pg_backend_pid()", (source,))
            conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{source}"' if source else ""))
        return self.url(name)

    def restart(self) -> None:
        """Stop the server (closing every connection) and start it again, as an operator's restart does."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"), "-w",
                  "-t", "60", "-m", "fast", "restart")

    def stop(self) -> None:
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
