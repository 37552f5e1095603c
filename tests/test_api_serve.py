"""`xunlu serve` as a user runs it: a real process answering HTTP, first-run admin, port clash, bad options."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from helpers.cli import xunlu

EXE = str(Path(sys.executable).with_name("xunlu"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.timeout(120)
def test_serve_answers_and_stops_cleanly(tmp_path):
    port = free_port()
    env = {**os.environ, "XUNLU_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen([EXE, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        password = None
        for line in proc.stderr:  # printed before the server listens; stdin is no terminal: generated
            if "first run" in line and "password" in line:
                password = line.split("password", 1)[1].split()[0]
                break
        assert password, "no first-run admin password on stderr"
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/console.html", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "xunlu serve did not answer"
                time.sleep(0.3)
        assert r.status_code == 200 and "讯问控制台" in r.text
        assert httpx.get(f"http://127.0.0.1:{port}/openapi.json").json()["info"]["title"] == "讯录 xunlu"
        assert httpx.get(f"http://127.0.0.1:{port}/api/sessions").status_code == 401  # a login is needed
        r = httpx.post(f"http://127.0.0.1:{port}/api/auth/login", json={"username": "admin", "password": password})
        assert r.status_code == 200 and r.json()["user"]["role"] == "admin", r.text
        me = httpx.get(f"http://127.0.0.1:{port}/api/auth/me", headers={"Authorization": f"Bearer {r.json()['token']}"})
        assert me.status_code == 200 and me.json()["user"]["username"] == "admin"
        clash = xunlu("serve", "--port", str(port), home=tmp_path / "home", timeout=60)
        assert clash.returncode == 2 and "cannot listen" in clash.stderr and "Traceback" not in clash.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert (tmp_path / "home" / "catalog.sqlite").is_file()


def test_serve_bad_options(tmp_path):
    r = xunlu("serve", "--port", "70000", home=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    r = xunlu("serve", "--ssl-certfile", str(tmp_path / "cert.pem"), home=tmp_path)
    assert r.returncode == 2 and "--ssl-keyfile" in r.stderr


def test_serve_runs_the_daily_summary_thread_and_stops_it(tmp_path):
    import threading

    from cli.serve import _daily_summary

    summary = _daily_summary(tmp_path / "home")
    assert summary is not None
    assert any(t.name == "xunlu-daily-summary" and t.is_alive() for t in threading.enumerate())
    summary.stop()
    assert not any(t.name == "xunlu-daily-summary" and t.is_alive() for t in threading.enumerate())
