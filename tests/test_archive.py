"""The evidence archive: sessions, import, transcript versions, exports, audit chain, verify, safety."""
import errno
import filecmp
import json
import stat

import pytest
from helpers.archive import make_mp4, make_wav, scripted_transcribe

from accounts.store import MIGRATIONS as USERS_MIGRATIONS
from accounts.store import UserStore
from archive import db, records
from archive.database import open_database, statements
from archive.media import is_browser_playable, is_fast_start, streams
from archive.store import Archive
from archive.transcripts import diff, edit, read_version
from archive.types import ArchiveError, Duplicate, NotFound
from archive.verify import verify
from service.exporting import export
from service.importing import ImportRequest, import_file


@pytest.fixture
def archive(tmp_path, catalog_backend):
    a = Archive(tmp_path / "home")
    yield a
    a.close()


def do_import(archive, path, **meta):
    return import_file(archive, ImportRequest(input=path, **meta), scripted_transcribe, "tester")


def test_catalog_is_sqlite_in_wal_mode_at_the_latest_schema_by_default(tmp_path, monkeypatch):
    monkeypatch.delenv("XUNLU_DATABASE_URL", raising=False)
    archive = Archive(tmp_path / "home")
    assert (tmp_path / "home" / "catalog.sqlite").is_file()
    assert archive.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.schema_version(archive.conn) == len(db.MIGRATIONS)
    archive.close()


def test_an_empty_database_is_migrated_to_the_latest_schema(tmp_path, catalog_backend):
    archive, users = Archive(tmp_path / "home"), UserStore(tmp_path / "home")
    assert db.schema_version(archive.conn) == len(db.MIGRATIONS) and archive.conn.backend == catalog_backend
    assert users.conn.schema_version() == len(USERS_MIGRATIONS)
    # one schema on both backends: every field of a session, media file and transcript version is a column
    assert archive.conn.columns("sessions") == {"id", *records.SESSION_FIELDS}
    assert archive.conn.columns("media") == {"session_id", *records.MEDIA_FIELDS}
    assert archive.conn.columns("transcripts") == {"session_id", *records.VERSION_FIELDS}
    assert {"seq", "prev_hash", "hash"} <= archive.conn.columns("audit")
    users.close()
    archive.close()
    again = Archive(tmp_path / "home")      # opening a current catalog changes nothing
    assert db.schema_version(again.conn) == len(db.MIGRATIONS) and again.list() == []
    again.close()


def test_an_older_home_folder_is_migrated_and_keeps_its_sessions(tmp_path, catalog_backend):
    home = tmp_path / "old"
    home.mkdir()
    conn = open_database(db.target(home), db.STORE, ArchiveError)
    with conn.write():
        for statement in statements(db.MIGRATIONS[0], conn.backend):
            conn.execute(statement)
        conn.set_schema_version(1)
        conn.execute("INSERT INTO sessions (id, status, created_at) VALUES ('s-20250101-0001', 'complete', 'x')")
    conn.close()
    archive = Archive(home)
    assert db.schema_version(archive.conn) == len(db.MIGRATIONS)
    assert archive.get("s-20250101-0001").status == "complete"
    assert archive.get("s-20250101-0001").language is None
    archive.close()


def test_import_keeps_the_original_byte_for_byte_read_only_and_hashed(archive, tmp_path):
    src = make_wav(tmp_path)
    session = do_import(archive, src, case_id="A-7", room="讯问室1", officers=("张三", "李四"), suspect="王五",
                        speakers=("officer", "suspect"), started_at="2026-11-21T09:30:00+08:00")
    assert session.status == "complete"
    assert (session.case_id, session.room, session.officers, session.suspect) == ("A-7", "讯问室1", ("张三", "李四"), "王五")
    assert session.speakers == ("officer", "suspect")
    assert session.started_at == "2026-11-21T09:30:00+08:00"
    assert session.duration == pytest.approx(5.0, abs=0.05)
    original = session.file("original")
    kept = archive.folder(session.id) / original.path
    assert filecmp.cmp(src, kept, shallow=False)
    assert not kept.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    import hashlib
    assert original.sha256 == hashlib.sha256(src.read_bytes()).hexdigest()
    manifest = json.loads((archive.folder(session.id) / "manifest.json").read_text())
    assert manifest["media"][0]["sha256"] in {m.sha256 for m in session.media}


def test_a_wav_gets_a_browser_playable_mp4(archive, tmp_path):
    session = do_import(archive, make_wav(tmp_path))
    playable = archive.folder(session.id) / session.file("playable").path
    s = streams(playable)
    assert "mp4" in s.container and s.audio == "aac" and s.video is None
    assert is_fast_start(playable) and is_browser_playable(playable)


def test_an_mp4_that_browsers_play_is_not_copied(archive, tmp_path):
    session = do_import(archive, make_mp4(tmp_path))
    assert session.file("playable") is None


def test_an_mp4_without_fast_start_is_remuxed(archive, tmp_path):
    src = make_mp4(tmp_path, faststart=False)
    assert not is_fast_start(src)
    session = do_import(archive, src)
    playable = archive.folder(session.id) / session.file("playable").path
    assert is_browser_playable(playable) and streams(playable).video == "h264"


def test_importing_the_same_file_twice_names_the_session_that_holds_it(archive, tmp_path):
    src = make_wav(tmp_path)
    first = do_import(archive, src)
    copy = tmp_path / "renamed.wav"
    copy.write_bytes(src.read_bytes())
    with pytest.raises(Duplicate, match=first.id):
        do_import(archive, copy)
    assert len(archive.list()) == 1


def test_transcript_versions_keep_v1_and_record_author_and_reason(archive, tmp_path):
    session = do_import(archive, make_wav(tmp_path))
    v1_path = archive.folder(session.id) / "transcripts" / "v1.json"
    v1_bytes = v1_path.read_bytes()
    v2 = edit(archive, session.id, {1: "我叫王武"}, author="张三", reason="姓名听错")
    assert (v2.version, v2.kind, v2.author, v2.reason, v2.parent) == (2, "edit", "张三", "姓名听错", 1)
    assert v1_path.read_bytes() == v1_bytes
    assert not v1_path.stat().st_mode & stat.S_IWUSR
    assert read_version(archive, session.id, 1).segments[1].text == "我叫王五"
    assert read_version(archive, session.id).segments[1].text == "我叫王武"
    assert read_version(archive, session.id).version == 2
    changes = diff(archive, session.id, 1, 2)
    assert "-#1" in changes and "我叫王五" in changes and "+#1" in changes and "我叫王武" in changes


def test_a_correction_needs_a_reason_and_a_real_change(archive, tmp_path):
    session = do_import(archive, make_wav(tmp_path))
    with pytest.raises(ArchiveError, match="reason"):
        edit(archive, session.id, {0: "新文本"}, author="张三", reason=" ")
    with pytest.raises(ArchiveError, match="nothing changed"):
        edit(archive, session.id, {0: "你叫什么名字"}, author="张三", reason="x")
    with pytest.raises(ArchiveError, match="no segment 9"):
        edit(archive, session.id, {9: "x"}, author="张三", reason="x")


def test_exports_in_every_text_format(archive, tmp_path):
    session = do_import(archive, make_wav(tmp_path), speakers=("officer", "suspect"))
    assert export(archive, session.id, "srt", None, "t").startswith("1\n00:00:00,500 --> 00:00:02,000\nofficer: ")
    assert export(archive, session.id, "vtt", None, "t").startswith("WEBVTT\n\n00:00:00.500 --> ")
    assert "suspect: 我叫王五" in export(archive, session.id, "txt", None, "t")
    assert json.loads(export(archive, session.id, "json", None, "t"))["session"] == session.id


def test_every_action_is_in_the_audit_chain(archive, tmp_path):
    session = do_import(archive, make_wav(tmp_path))
    edit(archive, session.id, {0: "你叫什么"}, author="张三", reason="r")
    export(archive, session.id, "txt", None, "李四")
    actions = [(e.actor, e.action) for e in archive.audit_entries()]
    for expected in [("tester", "session.create"), ("tester", "media.original"), ("tester", "transcript.version"),
                     ("tester", "import"), ("张三", "transcript.version"), ("李四", "export")]:
        assert expected in actions
    entries = list(archive.audit_entries())
    assert all(b.prev_hash == a.hash for a, b in zip(entries, entries[1:]))


def test_unknown_sessions_and_versions(archive, tmp_path):
    with pytest.raises(NotFound):
        archive.get("s-20990101-0001")
    with pytest.raises(NotFound):
        archive.get("../../etc")
    session = do_import(archive, make_wav(tmp_path))
    with pytest.raises(NotFound, match="no transcript version 7"):
        read_version(archive, session.id, 7)


def test_disk_full_during_import_is_a_clear_error_and_leaves_a_consistent_archive(archive, tmp_path, monkeypatch):
    import archive.fsutil as fsutil

    real_open = open

    def open_on_a_full_disk(path, mode="r", *args, **kwargs):
        if "w" in mode and "original" in str(path):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(fsutil, "open", open_on_a_full_disk, raising=False)
    with pytest.raises(ArchiveError, match="disk full"):
        do_import(archive, make_wav(tmp_path))
    [session] = archive.list()
    assert session.status == "failed" and "disk full" in session.error
    assert verify(archive).ok
    monkeypatch.undo()
    assert do_import(archive, make_wav(tmp_path, "again.wav")).status == "complete"  # a failed one holds nothing


def test_truncated_files_are_recognised(tmp_path):
    from archive.media import truncation

    mp4 = make_mp4(tmp_path)
    assert truncation(mp4) is None
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(mp4.read_bytes()[: mp4.stat().st_size // 2])
    assert "past the end" in truncation(cut)
    wav = make_wav(tmp_path)
    assert truncation(wav) is None
    short = tmp_path / "short.wav"
    short.write_bytes(wav.read_bytes()[:10000])
    assert "declares" in truncation(short)
