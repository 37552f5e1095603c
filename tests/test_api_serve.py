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

from conftest import xunlu

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
        clash = xunlu("serve", "--port", str(port), home=tmp_path / "home", timeout=60)
        assert clash.returncode == 2 and "cannot listen" in clash.stderr and "Traceback" not in clash.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "first run: user 'admin' created with password" in err and "Traceback" not in err
    assert (tmp_path / "home" / "catalog.sqlite").is_file()


def test_serve_bad_options(tmp_path):
    r = xunlu("serve", "--port", "70000", home=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    r = xunlu("serve", "--ssl-certfile", str(tmp_path / "cert.pem"), home=tmp_path)
    assert r.returncode == 2 and "--ssl-keyfile" in r.stderr
