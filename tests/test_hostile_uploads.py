"""Hostile input, part 2: uploads to a real uvicorn server (cli.serve.start_in_thread) that are cut off
mid-transfer, declare or send more than --max-upload, are not media, or lie about their type. Each gets a 4xx
JSON {"detail": ...} (or, when the client hangs up, no answer at all) and leaves nothing behind: no new
session, no new file anywhere in the home folder, an audit chain that verifies, a server that still answers.

tests/test_api.py already covers in-process: an empty body, plain text, a too-large body, a truncated MP4
file, a multipart form, a missing filename. Here: the transfer itself misbehaves (raw sockets), chunked
bodies, and content whose name and Content-Type lie.
"""
from __future__ import annotations

import json
import os
import socket
import struct
import time
from pathlib import Path

import httpx
import pytest
from helpers.auth import add_users, fast_auth, http_client
from test_web_fakes import ScriptedTranscriber, make_video, script

from accounts.types import OFFICER
from archive.store import Archive

LIMIT_GB = 0.002                       # --max-upload-gb of the server under test
LIMIT = int(LIMIT_GB * 1024 ** 3)      # in bytes, as the server computes it
QUIET = {"catalog.sqlite-wal", "catalog.sqlite-shm", "catalog.sqlite-journal"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from api.server import ServeOptions, start_in_thread

    home = fast_auth(tmp_path_factory.mktemp("hostile-up-home"))
    media = tmp_path_factory.mktemp("hostile-up-media")
    clip = make_video(media / "clip.mp4", 2, size="160x90")
    running = start_in_thread(home, ServeOptions(port=0, max_upload_gb=LIMIT_GB),
                              transcriber=ScriptedTranscriber(script([(0.2, 1.5, "officer", "上传的录像")])))
    app = running.server.config.app
    add_users(app, ("zhangsan", OFFICER, "张三"))
    client = http_client(running.url, "zhangsan")
    try:
        yield {"url": running.url, "home": home, "client": client, "clip": clip, "media": media,
               "token": client.headers["Authorization"]}
    finally:
        client.close()
        running.stop()


def files_of(home: Path) -> set[str]:
    """Every file and folder under the home folder (its index and the SQLite side files aside: they change by
    design); an empty temp folder left behind counts too."""
    found = set()
    for folder, dirs, files in os.walk(home):  # unlike rglob, os.walk passes over a folder removed mid-walk
        for name in dirs + files:
            p = Path(folder) / name
            if p.name not in QUIET and "index" not in p.relative_to(home).parts[:1] and p != home / "uploads":
                found.add(str(p.relative_to(home)))
    return found


def sessions_of(client: httpx.Client) -> set[str]:
    r = client.get("/api/sessions")
    assert r.status_code == 200, r.text
    return {s["id"] for s in r.json()}


def assert_nothing_left(server, before_files: set[str], before_sessions: set[str]) -> None:
    """No new session, no new file (temp upload, half-kept original...), the chain verifies, still answering."""
    deadline = time.monotonic() + 10  # a hung-up upload is cleaned up when the server notices: give it a moment
    while True:
        extra = files_of(server["home"]) - before_files
        if not extra or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not extra, f"left behind in the home folder: {sorted(extra)}"
    assert sessions_of(server["client"]) == before_sessions
    from archive.verify import verify

    archive = Archive(server["home"])
    try:
        report = verify(archive)
    finally:
        archive.close()
    assert report.ok, report.problems
    assert server["client"].get("/api/auth/me").status_code == 200


def temp_folders(home: Path) -> list[Path]:
    return list((home / "uploads").glob(".up-*")) if (home / "uploads").is_dir() else []


def raw_request(url: str, head: str, body: bytes = b"", *, half_close: bool = False, close: bool = False,
                timeout: float = 20.0, home: Path | None = None) -> bytes:
    """Send `head` + `body` on a plain socket; then shut down our side (half_close), hang up (close), or
    neither; -> whatever the server answered before closing (b"" if nothing). With `home`, the cut comes
    only once the upload has reached the app (its temp folder exists)."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=timeout)
    try:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        if home is not None:
            deadline = time.monotonic() + 10
            while not temp_folders(home):
                assert time.monotonic() < deadline, "the upload never reached the app"
                time.sleep(0.02)
        if close:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST, at once
            return b""
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            answer += chunk
            if b"\r\n\r\n" in answer and _complete(answer):
                break
        return answer
    finally:
        sock.close()


def _complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def status_and_json(answer: bytes) -> tuple[int, dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body.decode("utf-8"))


def upload_head(server, filename: str, length: int | str, ctype: str = "application/octet-stream") -> str:
    host = server["url"].removeprefix("http://")
    return (f"POST /api/import?filename={filename} HTTP/1.1\nHost: {host}\nAuthorization: {server['token']}\n"
            f"Content-Type: {ctype}\nContent-Length: {length}\n")


@pytest.mark.timeout(60)
def test_a_body_shorter_than_its_content_length_leaves_nothing(server):
    """The client sends a third of what it declared and shuts its side: uvicorn reads that as a hang-up (no
    answer today; a 400 naming the truncation if one comes), and the half-received upload is removed."""
    before_files, before_sessions = files_of(server["home"]), sessions_of(server["client"])
    data = server["clip"].read_bytes()
    answer = raw_request(server["url"], upload_head(server, "cut.mp4", len(data)), data[: len(data) // 3],
                         half_close=True, home=server["home"])
    if answer:  # uvicorn reads the end of our side as a hang-up and may close without answering
        status, body = status_and_json(answer)
        assert status == 400 and "truncated" in body["detail"], answer[:300]
    assert_nothing_left(server, before_files, before_sessions)


@pytest.mark.timeout(60)
def test_a_client_that_hangs_up_mid_upload_leaves_nothing(server):
    before_files, before_sessions = files_of(server["home"]), sessions_of(server["client"])
    data = server["clip"].read_bytes()
    raw_request(server["url"], upload_head(server, "gone.mp4", LIMIT - 10), data, close=True, home=server["home"])
    assert_nothing_left(server, before_files, before_sessions)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("length", [LIMIT + 1, 10 ** 15])
def test_a_declared_length_over_the_limit_is_413_before_the_body(server, length):
    """The answer comes without sending a byte of body: the server does not wait for what it would refuse."""
    before_files, before_sessions = files_of(server["home"]), sessions_of(server["client"])
    answer = raw_request(server["url"], upload_head(server, "huge.mp4", length), b"", timeout=15)
    assert answer, "the server waited for a body it was going to refuse (or closed without an answer)"
    status, body = status_and_json(answer)
    assert status == 413 and "at most" in body["detail"], answer[:300]
    assert_nothing_left(server, before_files, before_sessions)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("length", ["-5", "12abc", "99999999999999999999999999", "10, 20"])
def test_a_content_length_that_is_not_a_length_is_400(server, length):
    """Refused by the HTTP layer itself (uvicorn's parser answers a plain-text 400 before the app runs)."""
    before_files, before_sessions = files_of(server["home"]), sessions_of(server["client"])
    answer = raw_request(server["url"], upload_head(server, "odd.mp4", length), b"0123456789", timeout=15)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]
    assert_nothing_left(server, before_files, before_sessions)


@pytest.mark.timeout(60)
def test_a_chunked_body_over_the_limit_is_413(server):
    """No Content-Length (chunked transfer): the limit is enforced while the body streams in."""
    before_files, before_sessions = files_of(server["home"]), sessions_of(server["client"])

    def body():
        block = b"\0" * 65536
        for _ in range(LIMIT // len(block) + 8):
            yield block

    try:
        r = server["client"].post("/api/import", params={"filename": "flood.mp4"}, content=body())
        assert r.status_code == 413 and "limit" in r.json()["detail"], r.text
    except httpx.RemoteProtocolError:
        pass  # the server answered 413 and closed while we were still sending: also a refusal
    assert_nothing_left(server, before_files, before_sessions)


def _png() -> bytes:
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\0" + b"\xff\x00\x00" * 8 for _ in range(8))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


LIARS = {
    # name: (filename, Content-Type, body) -- none of them is a recording
    "text named .mp4 sent as video/mp4": ("confession.mp4", "video/mp4", "我什么都没做。\n".encode() * 200),
    "an MP4 header then garbage": ("fake.mp4", "video/mp4",
                                   b"\0\0\0\x20ftypisom\0\0\x02\0isomiso2avc1mp41" + bytes(range(256)) * 40),
    "a WAV header without samples": ("empty.wav", "audio/wav",
                                     b"RIFF\x24\0\0\0WAVEfmt \x10\0\0\0\1\0\1\0\x80\x3e\0\0\0\x7d\0\0\2\0\x10\0"
                                     b"data\0\0\0\0"),
    "a picture named .mp3": ("photo.mp3", "audio/mpeg", _png()),
    "HTML named .mkv": ("page.mkv", "video/x-matroska", b"<html><body><script>alert(1)</script>" * 50),
    "a path that climbs out": ("../../../escape.mp4", "video/mp4", b"not a video at all" * 50),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", list(LIARS))
def test_content_that_is_not_media_whatever_it_claims_is_a_4xx(server, name):
    filename, ctype, data = LIARS[name]
    before_files, before_sessions = files_of(server["home"]), sessions_of(server["client"])
    outside = set(server["home"].parent.iterdir())
    r = server["client"].post("/api/import", params={"filename": filename}, content=data,
                              headers={"Content-Type": ctype})
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json") and r.json()["detail"]
    assert "Traceback" not in r.text and str(server["home"]) not in r.json()["detail"]  # no server paths
    assert set(server["home"].parent.iterdir()) == outside
    assert_nothing_left(server, before_files, before_sessions)


@pytest.mark.timeout(90)
def test_real_media_sent_as_text_plain_is_accepted_by_its_content(server):
    """The type header is not trusted either way: what counts is what ffmpeg finds in the bytes."""
    clip = make_video(server["media"] / "honest.mp4", 2, size="160x90", tone=False)
    outside = set(server["home"].parent.iterdir())
    r = server["client"].post("/api/import", params={"filename": "../../../notes.txt", "case": "H-1"},
                              content=clip.read_bytes(), headers={"Content-Type": "text/plain"})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert r.json()["source_name"] == "notes.txt" and set(server["home"].parent.iterdir()) == outside
    assert server["client"].get(f"/api/sessions/{sid}/media").content == clip.read_bytes()
    assert not any((server["home"] / "uploads").iterdir())
