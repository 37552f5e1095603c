"""`xunlu verify`: any flipped byte, changed transcript line or touched audit entry is caught and named."""
import os

import pytest
from helpers.archive import make_wav, scripted_transcribe
from helpers.catalog import query
from helpers.catalog import sql as db_exec
from helpers.cli import xunlu

from archive.store import Archive
from service.importing import ImportRequest, import_file


@pytest.fixture
def imported(tmp_path, catalog_backend):
    home = tmp_path / "home"
    archive = Archive(home)
    session = import_file(archive, ImportRequest(input=make_wav(tmp_path)), scripted_transcribe, "tester")
    archive.close()
    return home, session


def flip_byte(path, offset):
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x01]))


def check(home, *args):
    return xunlu("verify", *args, home=home)


def test_an_intact_archive_passes_with_a_one_line_summary(imported):
    home, session = imported
    result = check(home)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("\n") == 1 and result.stdout.startswith("intact: 1 session(s)")


@pytest.mark.parametrize("role", ["original", "playable"])
def test_a_flipped_byte_in_any_media_file_is_caught(imported, role):
    home, session = imported
    media = session.file(role)
    flip_byte(home / "sessions" / session.id / media.path, 5000)
    result = check(home, session.id)
    assert result.returncode == 1
    assert f"{session.id}: media {role} {media.path}: content changed" in result.stdout


def test_a_changed_transcript_line_is_caught(imported):
    home, session = imported
    path = home / "sessions" / session.id / "transcripts" / "v1.json"
    os.chmod(path, 0o644)
    path.write_text(path.read_text(encoding="utf-8").replace("我叫王五", "我叫赵六"), encoding="utf-8")
    result = check(home)
    assert result.returncode == 1
    assert "transcript v1 transcripts/v1.json: content changed" in result.stdout


def test_a_deleted_media_file_is_caught(imported):
    home, session = imported
    original = home / "sessions" / session.id / session.file("original").path
    original.unlink()
    result = check(home)
    assert result.returncode == 1 and "missing" in result.stdout


def test_an_edited_audit_entry_is_caught(imported):
    home, _ = imported
    db_exec(home, "UPDATE audit SET actor = 'someone-else' WHERE seq = 2")
    result = check(home)
    assert result.returncode == 1
    assert "audit entry 2" in result.stdout and "altered" in result.stdout


def test_a_deleted_audit_entry_is_caught(imported):
    home, _ = imported
    db_exec(home, "DELETE FROM audit WHERE seq = 3")
    result = check(home)
    assert result.returncode == 1
    assert "audit entry 3: missing (deleted)" in result.stdout


def test_cutting_the_newest_audit_entries_is_caught(imported):
    home, _ = imported
    last = query(home, "SELECT MAX(seq) FROM audit")[0][0]
    db_exec(home, "DELETE FROM audit WHERE seq = ?", last)
    result = check(home)
    assert result.returncode == 1
    assert "entries were removed from the end" in result.stdout


def test_reordered_audit_entries_are_caught(imported):
    home, _ = imported
    rows = {r[0]: r[1:] for r in query(home, "SELECT seq, at, actor, action, target, details FROM audit "
                                             "WHERE seq IN (2, 3)")}
    for seq, other in ((2, 3), (3, 2)):
        db_exec(home, "UPDATE audit SET at=?, actor=?, action=?, target=?, details=? WHERE seq=?", *rows[other], seq)
    result = check(home)
    assert result.returncode == 1 and "audit entry 2" in result.stdout


def test_verify_of_an_unknown_session_is_exit_2(imported):
    home, _ = imported
    result = check(home, "s-20990101-0042")
    assert result.returncode == 2 and "no session s-20990101-0042" in result.stderr
    assert "Traceback" not in result.stderr
