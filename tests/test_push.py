"""`xunlu push SESSION --to URL`: a room recorder's home hands a finished session to the centre's home through
a real uvicorn server; the centre re-hashes every file before the session enters its catalog, a cut-off push
goes on where it stopped, a repeated push changes nothing, a file changed on the way is refused."""
from __future__ import annotations

import hashlib
import json
import os
import time

import pytest
from helpers.auth import PASSWORD, http_client
from helpers.browser import serve
from helpers.capture_fakes import beep_flash_file, beep_stream
from helpers.cli import xunlu

from archive.store import open_archive
from archive.verify import verify
from service.live import RecordRequest, start_live

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def room_home(tmp_path_factory):
    """The room recorder's home: one finished live session with a correction (v2) and a marker."""
    from archive.transcripts import edit

    home = tmp_path_factory.mktemp("room") / "home"
    src = home.parent / "beeps.mp4"
    beep_flash_file(src, seconds=6.0, period=1.5, first=0.5, size="640x480")
    archive = open_archive(home)
    live = start_live(home, archive, RecordRequest(audio=str(src), realtime=False, case_id="A-7", room="讯问室3",
                                                   officers=("张三", "李四"), suspect="王五"),
                      None, "web:zhangsan", stream=beep_stream())
    assert live.wait(60)
    sid = live.stop().id
    edit(archive, sid, {1: "你叫什么名字"}, "web:zhangsan", "听错")
    archive.add_marker("web:zhangsan", sid, 2.0, "告知权利")
    archive.close()
    return home, sid


@pytest.fixture()
def centre(tmp_path):
    server = serve(tmp_path / "centre", users=[("room3", "officer", None), ("jiandu", "supervisor", None)])
    yield tmp_path / "centre", server
    server.stop()


def _token(url: str, user: str = "room3") -> str:
    from service.push import login

    return login(url, user, PASSWORD)


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Cut(Exception):
    pass


def test_a_push_cut_off_goes_on_where_it_stopped_and_arrives_whole(room_home, centre):
    from service.push import PushOptions, push

    home, sid = room_home
    centre_home, server = centre
    options = PushOptions(url=server.url, token=_token(server.url), origin="room-3", chunk_bytes=16 * 1024)
    room = open_archive(home)
    sent_before_cut = []

    def cut_after_three_chunks(done: int, total: int) -> None:
        sent_before_cut.append(done)
        if len(sent_before_cut) == 3:
            raise Cut()

    with pytest.raises(Cut):
        push(room, sid, options, "system:room", cut_after_three_chunks)
    here = open_archive(centre_home)
    assert here.list() == []                                    # nothing half-arrived in the catalog
    result = push(room, sid, options, "system:room")
    assert result.had == sent_before_cut[-1] > 0                # resumed where it stopped
    total = sum(m.size for m in room.get(sid).media) + sum(
        room.paths(sid).file(t.path).stat().st_size for t in room.get(sid).transcripts)
    assert result.had + result.sent == total and not result.already

    theirs, mine = here.get(result.centre_session), room.get(sid)
    assert theirs.status == "complete" and (theirs.case_id, theirs.room, theirs.officers, theirs.suspect) == \
        ("A-7", "讯问室3", ("张三", "李四"), "王五")
    assert theirs.file("original").sha256 == mine.file("original").sha256 == \
        _sha(here.paths(theirs.id).file(theirs.file("original").path))          # the recording, byte for byte
    assert [(t.version, t.kind, t.author, t.reason) for t in theirs.transcripts] == \
        [(t.version, t.kind, f"room-3/{t.author}", t.reason) for t in mine.transcripts]   # the room's people
    for t in mine.transcripts:                                  # the same text and times under the centre's id
        a = json.loads(room.paths(sid).file(t.path).read_text())
        b = json.loads(here.paths(theirs.id).file(t.path).read_text())
        assert b.pop("session") == theirs.id and a.pop("session") == sid and a == b
    assert [(e.details["at"], e.details["label"], e.actor) for e in here.markers(theirs.id)] == \
        [(2.0, "告知权利", "room-3/web:zhangsan")]
    assert verify(here, [theirs.id]).ok and verify(room, [sid]).ok
    received = [e for e in here.audit_entries(theirs.id) if e.action == "session.received"]
    assert len(received) == 1 and received[0].actor == "web:room3"
    assert received[0].details["room_session"] == sid and received[0].details["origin"] == "room-3"
    assert {f["sha256"] for f in received[0].details["files"]} >= {mine.file("original").sha256}
    # the room's own trail of the session travels into the centre's chain, entry by entry with its room hash
    trail = received[0].details["room_trail"]
    room_entries = [e for e in room.audit_entries(sid) if e.action != "session.pushed"]
    assert [(e["seq"], e["action"], e["target"], e["actor"], e["hash"]) for e in trail] == \
        [(e.seq, e.action, e.target, e.actor, e.hash) for e in room_entries]
    assert {"record.start", "record.complete", "marker"} <= {e["action"] for e in trail}
    assert any(e["action"].startswith("transcript") and e["actor"] == "web:zhangsan" for e in trail), trail
    pushed = [e for e in room.audit_entries(sid) if e.action == "session.pushed"]
    assert len(pushed) == 1 and pushed[0].details["centre_session"] == theirs.id
    assert pushed[0].details["resumed_from"] == result.had
    assert not any((centre_home / "staging" / "push").glob("*/*.part"))   # the staging copy is gone
    hits = http_client(server.url, "jiandu").get("/api/search", params={"q": "名字"}).json()["hits"]
    assert [h["session"] for h in hits] == [theirs.id]             # searchable at the centre

    # the command line, run again: the centre holds it already; nothing is sent, nothing is added
    again = xunlu("push", sid, "--to", server.url, "--user", "room3", home=home,
                  env={"XUNLU_PUSH_PASSWORD": PASSWORD})
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == theirs.id and "already holds" in again.stderr
    assert [s.id for s in here.list()] == [theirs.id]
    assert sum(e.action == "session.pushed" for e in room.audit_entries(sid)) == 2
    assert any(e.action == "push.repeated" for e in here.audit_entries(theirs.id))

    # --pending (for a timer): only what this centre has not had yet
    nothing = xunlu("push", "--pending", "--to", server.url, "--user", "room3", home=home,
                    env={"XUNLU_PUSH_PASSWORD": PASSWORD})
    assert nothing.returncode == 0 and nothing.stdout == "" and "already" in nothing.stderr
    live = start_live(home, room, RecordRequest(audio=str(home.parent / "beeps.mp4"), realtime=False), None,
                      "web:zhangsan", stream=beep_stream())
    assert live.wait(60) and live.stop().status == "complete"
    news = xunlu("push", "--pending", "--to", server.url, "--user", "room3", home=home,
                 env={"XUNLU_PUSH_PASSWORD": PASSWORD})
    assert news.returncode == 0, news.stderr
    [(sent, there)] = [line.split("\t") for line in news.stdout.splitlines()]
    assert sent == live.session_id and {s.id for s in here.list()} == {theirs.id, there}
    room.close()
    here.close()


def test_a_file_changed_on_the_way_is_refused_and_nothing_is_catalogued(room_home, centre):
    from service.push import _files

    home, sid = room_home
    centre_home, server = centre
    room = open_archive(home)
    manifest, files = _files(room, sid)
    http = http_client(server.url, "room3")
    bad_list = http.post("/api/push", json={"origin": "x", "manifest": manifest, "files": files[:-1]})
    assert bad_list.status_code == 400 and bad_list.json()["code"] == "push_bad_list"
    state = http.post("/api/push", json={"origin": "x", "manifest": manifest, "files": files}).json()
    upload = state["upload"]
    for index, f in enumerate(files):
        data = bytearray((room.folder(sid) / f["path"]).read_bytes())
        if f["path"].startswith("original/"):
            data[len(data) // 2] ^= 0xFF                    # one byte flipped in transit
        early = http.put(f"/api/push/{upload}/files/{index}", params={"offset": 1}, content=bytes(data))
        assert early.status_code == 409 and early.json()["code"] == "push_offset"
        r = http.put(f"/api/push/{upload}/files/{index}", params={"offset": 0}, content=bytes(data),
                     headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 200 and r.json()["received"] == f["size"], r.text
    done = http.post(f"/api/push/{upload}/commit")
    assert done.status_code == 400 and done.json()["code"] == "push_hash_mismatch", done.text
    refused = http_client(server.url, "jiandu").post("/api/push", json={"origin": "x", "manifest": manifest,
                                                                      "files": files})
    assert refused.status_code == 403                       # only an account that may import pushes
    here = open_archive(centre_home)
    assert here.list() == []
    assert [e.details["file"] for e in here.audit_entries(f"push/{upload}") if e.action == "push.rejected"] == \
        [manifest["media"][0]["path"]]
    room.close()
    here.close()


def test_push_refuses_what_it_cannot_send(room_home, tmp_path):
    home, sid = room_home
    bad = xunlu("push", sid, "--to", "ftp://centre", "--token", "t", home=home)
    assert bad.returncode == 2 and "http" in bad.stderr and "Traceback" not in bad.stderr
    unreachable = xunlu("push", sid, "--to", "http://127.0.0.1:9", "--token", "t", home=home)
    assert unreachable.returncode == 1 and "cannot reach the centre" in unreachable.stderr
    assert "run the same command again" in unreachable.stderr


def test_staging_left_by_an_abandoned_push_goes_after_a_week(tmp_path):
    from service import receive

    root = receive.staging(tmp_path)
    old, fresh = root / ("a" * 32), root / ("b" * 32)
    for folder in (old, fresh):
        folder.mkdir(parents=True)
        (folder / "0000.part").write_bytes(b"x")
    week_ago = time.time() - 8 * 24 * 3600
    for path in (old / "0000.part", old):
        os.utime(path, (week_ago, week_ago))
    assert receive.tidy(tmp_path) == 1
    assert not old.exists() and (fresh / "0000.part").is_file()
