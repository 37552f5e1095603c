"""scripts/cluster.sh: PostgreSQL and Redis from Debian's packages, a server and two workers on one home; an
import queued through it runs on one of the cluster's workers and lands in the PostgreSQL catalog; a second
start changes nothing; stop leaves nothing running."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import httpx
import pytest
from helpers.cli import ROOT, xunlu
from helpers.speech import SPEECH

pytestmark = pytest.mark.timeout(300)
SCRIPT = ROOT / "scripts" / "cluster.sh"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cluster(command: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), command], capture_output=True, text=True, env=env, timeout=240)


def _cluster_env(text: str) -> dict[str, str]:
    """The variables of `cluster.sh env` (lines `export NAME=VALUE`, values quoted for bash)."""
    out = {}
    for line in text.splitlines():
        if line.startswith("export "):
            name, _, value = line[len("export "):].partition("=")
            out[name] = subprocess.run(["bash", "-c", f"printf %s {value}"], capture_output=True, text=True).stdout
    return out


def _pids(state: Path) -> dict[str, int]:
    return {p.stem: int(p.read_text()) for p in (state / "run").glob("*.pid") if p.stem != "redis"}


def test_cluster_starts_serves_a_queued_import_from_postgresql_and_stops():
    state = Path(tempfile.mkdtemp(prefix="xunlu-cluster-"))   # not under pytest's folder: PostgreSQL's user must pass
    web, pg, rds = _free_port(), _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("XUNLU_")}
    env |= {"XUNLU_CLUSTER_DIR": str(state), "XUNLU_CLUSTER_PORT": str(web), "XUNLU_CLUSTER_PG_PORT": str(pg),
            "XUNLU_CLUSTER_REDIS_PORT": str(rds), "XUNLU_CLUSTER_STOP_WAIT": "20"}
    pids: dict[str, int] = {}
    try:
        started = _cluster("start", env)
        assert started.returncode == 0, started.stderr
        status = _cluster("status", env)
        assert status.returncode == 0, status.stdout + status.stderr
        assert len([line for line in status.stdout.splitlines() if line.startswith("worker-")]) == 2
        assert httpx.get(f"http://127.0.0.1:{web}/login.html", timeout=10).status_code == 200

        cluster = _cluster_env(_cluster("env", env).stdout)
        assert cluster["XUNLU_DATABASE_URL"].startswith("postgresql://xunlu:")
        assert cluster["XUNLU_BROKER_URL"].startswith("redis://:")
        assert f"127.0.0.1:{pg}/" in cluster["XUNLU_DATABASE_URL"]
        home = Path(cluster["XUNLU_HOME"])
        assert not (state / "home").exists() or home == state / "home"
        for name in ("pg-admin", "pg-xunlu", "redis"):   # passwords for this user only
            assert (state / "secrets" / name).stat().st_mode & 0o077 == 0

        clip = SPEECH / "aishell" / "BAC009S0150W0001.wav"
        imported = xunlu("import", str(clip), "--case", "CL-1", home=home, env=cluster, timeout=180)
        assert imported.returncode == 0, imported.stderr
        sid = imported.stdout.strip().splitlines()[-1]
        jobs = xunlu("jobs", "--json", home=home, env=cluster, timeout=60)
        assert jobs.returncode == 0, jobs.stderr
        job = next(j for j in map(json.loads, jobs.stdout.splitlines()) if j["kind"] == "import")
        assert job["state"] == "done" and job["session"] == sid, job
        assert job["worker"].endswith(("-cluster-1", "-cluster-2")), job   # run by one of the cluster's workers
        # the catalog is PostgreSQL's: the session is there, and no SQLite catalog was made in the home
        import psycopg

        with psycopg.connect(cluster["XUNLU_DATABASE_URL"]) as conn:
            row = conn.execute("SELECT status FROM sessions WHERE id = %s", (sid,)).fetchone()
        assert row == ("complete",)
        assert not (home / "catalog.sqlite").exists()

        pids = _pids(state)
        again = _cluster("start", env)    # all running: nothing new is started
        assert again.returncode == 0, again.stderr
        assert _pids(state) == pids
    finally:
        stopped = _cluster("stop", env)
        after = _cluster("status", env)
        shutil.rmtree(state, ignore_errors=True)
    assert stopped.returncode == 0, stopped.stderr
    assert after.returncode == 3 and "running" not in after.stdout, after.stdout
    for pid in pids.values():
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
