"""Tampering with the evidence archive, done the way a hostile officer with a shell would do it (sqlite3 on the
catalog, or psql as the PostgreSQL catalog's superuser; edits to the files): `xunlu verify` must name each change and exit 1. Archives are made with the
project's own code (import with the scripted transcriber, a correction, a signature, a marker, a closed
warning), copied per test; once on each catalog backend."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers.archive import make_wav, scripted_transcribe
from helpers.catalog import connection, query, set_schema_version, sql
from helpers.cli import ROOT, xunlu

from archive.audit import GENESIS, entry_hash
from archive.store import Archive

STARTED = "2026-11-21T09:30:00+08:00"


# -- the archive under attack ----------------------------------------------------------------------------
@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def template(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tamper")
    home = tmp / "home"
    url = request.getfixturevalue("postgres").new_database() if request.param == "postgresql" else None
    with pytest.MonkeyPatch.context() as env:
        if url:
            env.setenv("XUNLU_DATABASE_URL", url)
        else:
            env.delenv("XUNLU_DATABASE_URL", raising=False)
        return _make_template(home, tmp) + (url,)


def _make_template(home: Path, tmp: Path) -> tuple:
    from archive.transcripts import edit
    from service.importing import ImportRequest, import_file
    from supervise.session_info import sign
    from supervise.store import SessionInfo, WarningStore
    from supervise.types import Finding

    archive = Archive(home)
    first = make_wav(tmp, "a.wav")
    second = make_wav(tmp, "b.wav")
    with open(second, "ab") as f:
        f.write(b"\x00\x01")  # another SHA-256, same audio
    s1 = import_file(archive, ImportRequest(first, case_id="A-1", officers=("张三", "李四"), suspect="王五",
                                            speakers=("officer", "suspect"), started_at=STARTED, unit="刑侦大队",
                                            check_in="2026-11-21T08:00:00+08:00"), scripted_transcribe, "tester")
    edit(archive, s1.id, {0: "你叫什么"}, "张三", "听错")
    sign(archive, s1.id, "张三", "2026-11-21T12:00:00+08:00")
    archive.add_marker("张三", s1.id, 1.0, "承认")
    s2 = import_file(archive, ImportRequest(second, case_id="A-2", officers=("张三",), suspect="赵六",
                                            speakers=("officer", "suspect"), started_at=STARTED),
                     scripted_transcribe, "tester")
    store = WarningStore(archive)
    store.sync([Finding(s2.id, "too_few_officers", "red", "单人讯问"),
                Finding(s2.id, "unsigned_record", "yellow", "笔录未签名")],
               {s2.id: SessionInfo("刑侦大队", STARTED)})
    closed = next(w for w in store.list() if w.rule == "too_few_officers")
    store.close(closed.id, "第二名民警在场，登记遗漏", "supervisor")
    archive.close()
    return home, s1.id, s2.id, closed.id


@pytest.fixture
def world(template, tmp_path, monkeypatch, request):
    src, s1, s2, wid, url = template
    home = tmp_path / "home"
    shutil.copytree(src, home, symlinks=True)
    if url:   # the catalog is copied too: a database made from the template's
        monkeypatch.setenv("XUNLU_DATABASE_URL", request.getfixturevalue("postgres").new_database(like=url))
    else:
        monkeypatch.delenv("XUNLU_DATABASE_URL", raising=False)
    return home, s1, s2, wid


def writable(path: Path) -> Path:
    os.chmod(path, 0o600)
    return path


def altered(home: Path, *expected: str, args: tuple = ()) -> str:
    r = xunlu("verify", *args, home=home)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    for text in expected:
        assert text in r.stdout, f"{text!r} not named in:\n{r.stdout}"
    assert r.stdout.splitlines()[-1].startswith("ALTERED:")
    return r.stdout


def intact(home: Path, *args: str) -> str:
    r = xunlu("verify", *args, home=home)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("\n") == 1 and r.stdout.startswith("intact: "), r.stdout
    return r.stdout


def test_the_archive_as_made_verifies_with_a_signed_head(world):
    home, *_ = world
    out = intact(home)
    assert "head signed at entry" in out


# -- catalog rows changed by hand ---------------------------------------------------------------------------
@pytest.mark.parametrize("column,value", [
    ("case_id", "B-9"), ("suspect", "无名氏"), ("started_at", "2026-11-21T11:30:00+08:00"), ("duration", 1.5),
    ("officers", json.dumps(["张三", "孙七"], ensure_ascii=False)), ("status", "failed"), ("unit", "治安大队"),
    ("check_in_at", "2026-11-20T08:00:00+08:00"), ("signed_at", None), ("night_reason", "紧急"),
    ("room", "办公室"), ("error", "x")])
def test_a_changed_session_field_is_named(world, column, value):
    home, s1, *_ = world
    sql(home, f"UPDATE sessions SET {column} = ? WHERE id = ?", value, s1)
    altered(home, f"{s1}: session: {column} is ", "in the audit chain", "changed outside xunlu")


def test_an_edited_transcript_version_row_is_named(world):
    home, s1, *_ = world
    sql(home, "UPDATE transcripts SET author = '李四', reason = '原文如此' WHERE session_id = ? AND version = 2", s1)
    altered(home, f'{s1}: transcript v2: author is "李四" in the catalog but "张三" in the audit chain',
            f"{s1}: transcript v2: reason is")


def test_a_deleted_transcript_version_row_is_named(world):
    home, s1, *_ = world
    sql(home, "DELETE FROM transcripts WHERE session_id = ? AND version = 2", s1)
    altered(home, f"{s1}: transcript v2: in the audit chain (entry ", "gone from the catalog (deleted)")


def test_a_deleted_media_row_is_named(world):
    home, s1, *_ = world
    sql(home, "DELETE FROM media WHERE session_id = ? AND role = 'playable'", s1)
    altered(home, f"{s1}: media playable: in the audit chain", "(deleted)")


@pytest.mark.parametrize("keep_folder", [False, True])
def test_a_whole_session_removed_is_named(world, keep_folder):
    home, s1, *_ = world
    for table, column in (("transcripts", "session_id"), ("media", "session_id"), ("sessions", "id")):
        sql(home, f"DELETE FROM {table} WHERE {column} = ?", s1)
    if not keep_folder:
        from archive.fsutil import remove_tree

        remove_tree(home / "sessions" / s1)
    altered(home, f"{s1}: session deleted from the catalog: the audit chain holds it",
            "still there" if keep_folder else "gone too")


def test_a_row_added_by_hand_has_no_audit_entry(world):
    home, s1, s2, _ = world
    sql(home, "INSERT INTO sessions (id, status, created_at, officers) VALUES ('s-20990101-0001', 'complete', "
              "'2099-01-01T00:00:00+08:00', '[\"孙七\"]')")
    sql(home, "INSERT INTO transcripts (session_id, version, kind, path, sha256, created_at, author) "
              "SELECT session_id, 3, 'edit', path, sha256, created_at, '孙七' FROM transcripts "
              "WHERE session_id = ? AND version = 1", s2)
    altered(home, "s-20990101-0001: session: in the catalog with no audit entry",
            f"{s2}: transcript v3: in the catalog with no audit entry")


# -- warnings, supervision ---------------------------------------------------------------------------------
def test_a_closed_warning_reopened_deleted_or_closed_by_hand_is_named(world):
    home, _s1, s2, wid = world
    sql(home, "UPDATE warnings SET state = 'open', closed_at = NULL, closed_by = NULL, close_reason = NULL "
              "WHERE id = ?", wid)
    altered(home, f'{s2}: warning {wid}: state is "open" in the catalog but "closed" in the audit chain')
    sql(home, "DELETE FROM warnings WHERE id = ?", wid)
    altered(home, f"{s2}: warning {wid}: in the audit chain", "(deleted)")
    other = query(home, "SELECT id FROM warnings WHERE state = 'open'")[0][0]
    sql(home, "UPDATE warnings SET state = 'closed', closed_by = 'x', closed_at = 'now', close_reason = 'x' "
              "WHERE id = ?", other)
    altered(home, f"{s2}: warning {other}: in the catalog with no audit entry")


# -- files ------------------------------------------------------------------------------------------------
def test_an_edited_manifest_is_named(world):
    home, s1, *_ = world
    path = writable(home / "sessions" / s1 / "manifest.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    data["case_id"], data["officers"] = "B-9", ["孙七"]
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    altered(home, f"{s1}: manifest.json disagrees with the catalog (case_id, officers)")


@pytest.mark.parametrize("which", ["transcript", "original"])
def test_a_file_replaced_together_with_its_catalog_hash_is_named(world, which):
    home, s1, *_ = world
    folder = home / "sessions" / s1
    if which == "transcript":
        path = writable(folder / "transcripts" / "v1.json")
        path.write_text(path.read_text(encoding="utf-8").replace("我叫王五", "我叫赵六"), encoding="utf-8")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        sql(home, "UPDATE transcripts SET sha256 = ? WHERE session_id = ? AND version = 1", digest, s1)
        label = f"{s1}: transcript v1 transcripts/v1.json"
    else:
        rel = query(home, "SELECT path FROM media WHERE session_id = ? AND role = 'original'", s1)[0][0]
        path = writable(folder / rel)
        path.write_bytes(path.read_bytes()[:-4000])
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        sql(home, "UPDATE media SET sha256 = ?, size = ? WHERE session_id = ? AND role = 'original'", digest,
            path.stat().st_size, s1)
        label = f"{s1}: media original {rel}"
    altered(home, f"{label}: file replaced together with its sha256 in the catalog",
            "sha256 is ", "in the audit chain")


def test_a_file_the_catalog_does_not_know_is_named(world):
    home, s1, *_ = world
    folder = home / "sessions" / s1
    (folder / "transcripts" / "v9.json").write_text("{}", encoding="utf-8")
    (folder / "original" / "other.mp4").write_bytes(b"x" * 100)
    stray = home / "sessions" / "s-20200101-0001"
    stray.mkdir()
    (stray / "manifest.json").write_text("{}", encoding="utf-8")
    altered(home, f"{s1}: transcripts/v9.json: a file the catalog does not know",
            f"{s1}: original/other.mp4: a file the catalog does not know",
            "s-20200101-0001: a session folder the catalog does not know")


# -- the audit chain itself ---------------------------------------------------------------------------------
@pytest.mark.parametrize("also_the_key", [False, True])
def test_the_audit_table_and_head_deleted_are_named_and_stay_named(world, also_the_key):
    home, *_ = world
    sql(home, "DELETE FROM audit")
    (home / "audit-head.json").unlink()
    if also_the_key:
        (home / "keys" / "audit.key").unlink()
    altered(home, "the audit chain is empty but the catalog holds 2 session(s)",
            "session: in the catalog with no audit entry")
    # that verify wrote an entry (a new chain): the next one must still say what happened
    altered(home, "the chain was started again while the catalog held 2 session(s)",
            "session: in the catalog with no audit entry")


def test_the_head_deleted_is_named_and_stays_named(world):
    home, *_ = world
    (home / "audit-head.json").unlink()
    altered(home, "audit head file audit-head.json is missing")
    altered(home, "when it was written, audit head file audit-head.json is missing")


def _rewrite_chain(home: Path, drop: int, key_hex: str | None = None) -> None:
    """Delete entry `drop` and recompute the hashes after it, the way someone without the audit key can
    (SHA-256), or rewrite the whole chain under a key of one's own (`key_hex`) and put that key in place."""
    from archive.keys import AuditKey, head_message

    own = AuditKey(Path("own.key"), bytes.fromhex(key_hex)) if key_hex else None
    with connection(home) as conn, conn.write():
        rows = conn.execute("SELECT seq, at, actor, action, target, details, hash FROM audit ORDER BY seq").fetchall()
        conn.execute("DELETE FROM audit")
        prev, seq = GENESIS, 0
        for old_seq, at, actor, action, target, details, digest in rows:
            if old_seq == drop:
                continue
            seq += 1
            data = json.loads(details)
            if own is not None and action == "chain.keyed":
                data["key"] = own.id
            if own is not None or old_seq > drop:
                digest = entry_hash(seq, at, actor, action, target, data, prev, own)
            conn.execute("INSERT INTO audit VALUES (?,?,?,?,?,?,?,?)",
                         (seq, at, actor, action, target, json.dumps(data, ensure_ascii=False), prev, digest))
            prev = digest
    head = {"seq": seq, "hash": prev}
    if own is not None:
        at = query(home, "SELECT at FROM audit WHERE seq = ?", seq)[0][0]
        head.update(at=at, key=own.id, signature=own.mac(head_message(seq, prev, at)))
        writable(home / "keys" / "audit.key").write_text(key_hex + "\n")
    writable(home / "audit-head.json").write_text(json.dumps(head))


def test_an_entry_deleted_and_the_chain_recomputed_without_the_key_is_named(world):
    home, s1, *_ = world
    marker = query(home, "SELECT seq FROM audit WHERE action = 'marker'")[0][0]
    _rewrite_chain(home, marker)
    altered(home, f"audit entries {marker}-", "hashes recomputed without the audit key",
            "audit head file audit-head.json is not signed")


def test_a_chain_rewritten_under_a_key_of_ones_own_is_caught_by_an_anchor(world):
    home, *_ = world
    r = xunlu("anchor", home=home)
    assert r.returncode == 0, r.stderr
    line = r.stdout.strip()
    assert line.startswith("xunlu-anchor seq=") and "sig=" in line and "keep this line" in r.stderr
    marker = query(home, "SELECT seq FROM audit WHERE action = 'marker'")[0][0]
    _rewrite_chain(home, marker, key_hex=os.urandom(32).hex())
    intact(home)   # consistent under the forger's key: only what was written down elsewhere can tell
    altered(home, "its signature does not match this archive's audit key", "the chain was rewritten",
            args=("--anchor", line))


def test_an_anchor_holds_and_proves_what_was_cut_after_it(world, tmp_path):
    home, *_ = world
    first = xunlu("anchor", home=home).stdout.strip()
    kept_head = (home / "audit-head.json").read_text()
    seq = int(first.split("seq=")[1].split()[0])
    saved = tmp_path / "anchors.txt"
    saved.write_text(first + "\n")
    assert "anchor(s) at entry" in intact(home, "--anchor", str(saved))
    later = xunlu("anchor", home=home).stdout.strip()
    # cut everything after the first anchor and put back the head of that time: consistent again...
    sql(home, "DELETE FROM audit WHERE seq > ?", seq)
    writable(home / "audit-head.json").write_text(kept_head)
    intact(home)
    # ...but not with the later anchor, kept elsewhere
    altered(home, f"anchor at entry {seq + 2}", "cut off after the anchor was taken", args=("--anchor", later))
    forged = later.replace("hash=", "hash=0")
    altered(home, "its signature does not match", args=("--anchor", forged))
    bad = xunlu("verify", "--anchor", "not an anchor", home=home)
    assert bad.returncode == 2 and "no anchor in it" in bad.stderr


def test_a_missing_or_other_audit_key_is_named_and_writes_are_refused(world):
    home, s1, *_ = world
    key = home / "keys" / "audit.key"
    real = key.read_text()
    key.unlink()
    altered(home, "the audit key", "is missing")
    r = xunlu("transcript", "edit", s1, "-s", "0", "-t", "改", "--reason", "r", "--author", "张三", home=home)
    assert r.returncode == 2 and "audit key" in r.stderr and "missing" in r.stderr
    assert not key.exists(), "a new key was made for a keyed chain"
    key.write_text(os.urandom(32).hex() + "\n")
    altered(home, "is not the key this chain was keyed with")
    writable(key).write_text(real)
    intact(home)


# -- a crash between a row and its entry, between the commit and the file ---------------------------------
KILLER = textwrap.dedent("""
    import os, sys, time
    sys.path[:0] = [{root!r}, {tests!r}]
    from pathlib import Path
    import archive.audit as audit, archive.transcripts as transcripts
    from archive.store import Archive
    from archive.transcripts import edit

    where = sys.argv[3]
    if where == "entry":          # the version row is inserted, its audit entry is next
        real = audit.Ledger._insert
        def insert(self, actor, action, target, details):
            if action == "transcript.version":
                print("HERE", flush=True); time.sleep(60)
            return real(self, actor, action, target, details)
        audit.Ledger._insert = insert
    else:                         # committed, the file not yet renamed into place
        class Os:
            def __getattr__(self, name): return getattr(os, name)
            def replace(self, a, b):
                print("HERE", flush=True); time.sleep(60)
        transcripts.os = Os()
    edit(Archive(Path(sys.argv[1])), sys.argv[2], {{0: "被杀死前的更正"}}, "张三", "crash")
""")


@pytest.mark.parametrize("where", ["entry", "rename"])
def test_kill_9_between_a_version_row_and_its_entry_or_file_leaves_a_whole_archive(world, tmp_path, where):
    home, s1, *_ = world
    script = tmp_path / "killer.py"
    script.write_text(KILLER.format(root=str(ROOT), tests=str(ROOT / "tests")))
    proc = subprocess.Popen([sys.executable, str(script), str(home), s1, where], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "HERE"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    versions = [v for (v,) in query(home, "SELECT version FROM transcripts WHERE session_id = ?", s1)]
    entries = [t for (t,) in query(home, "SELECT target FROM audit WHERE action = 'transcript.version'")]
    if where == "entry":   # rolled back: neither the row nor the entry
        assert versions == [1, 2] and f"{s1}/v3" not in entries
        intact(home)
    else:                  # committed together; the file is put in place from its pending copy
        assert versions == [1, 2, 3] and f"{s1}/v3" in entries
        r = xunlu("verify", home=home)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "put in place from its pending copy" in r.stderr
        assert json.loads((home / "sessions" / s1 / "transcripts" / "v3.json").read_text())["segments"][0][
            "text"] == "被杀死前的更正"
        intact(home)


# -- file modes ---------------------------------------------------------------------------------------------
def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def catalog_private(home: Path) -> bool:
    """The SQLite catalog is the owner's only; a PostgreSQL catalog leaves no catalog file in the home."""
    if os.environ.get("XUNLU_DATABASE_URL"):
        return not (home / "catalog.sqlite").exists()
    return mode(home / "catalog.sqlite") == 0o600


def test_the_archive_is_private_and_evidence_read_only(world):
    home, s1, *_ = world
    folder = home / "sessions" / s1
    original = next((folder / "original").iterdir())
    assert mode(home) == 0o700 and mode(home / "sessions") == 0o700 and mode(folder) == 0o700
    assert mode(original) == 0o400 and mode(folder / "transcripts" / "v1.json") == 0o400
    assert mode(folder / "media" / "playable.mp4") == 0o400
    assert mode(folder / "manifest.json") == 0o600 and catalog_private(home)
    assert mode(home / "keys") == 0o700 and mode(home / "keys" / "audit.key") == 0o600
    assert mode(home / "audit-head.json") == 0o600
    for sub in ("original", "transcripts", "media"):
        assert mode(folder / sub) == 0o700


def test_an_older_world_readable_archive_is_made_private_when_opened(world):
    home, s1, *_ = world
    for path in [home, *home.rglob("*")]:
        if path.is_dir():
            os.chmod(path, 0o755)
        elif path.parent.name in ("original", "transcripts", "media"):
            os.chmod(path, 0o444)
        else:
            os.chmod(path, 0o644)
    Archive(home).close()
    folder = home / "sessions" / s1
    assert mode(home) == 0o700 and mode(home / "sessions") == 0o700 and mode(folder / "original") == 0o700
    assert mode(next((folder / "original").iterdir())) == 0o400 and mode(folder / "manifest.json") == 0o600
    assert catalog_private(home) and mode(home / "keys" / "audit.key") == 0o600
    intact(home)


# -- an archive made before the chain was keyed --------------------------------------------------------------
def test_an_older_unkeyed_archive_is_keyed_on_first_open_and_then_guarded(world):
    home, s1, *_ = world
    # what an older xunlu left: no key, an unsigned head, plain SHA-256 entries without records
    with connection(home) as conn, conn.write():
        rows = conn.execute("SELECT seq, at, actor, action, target, details FROM audit ORDER BY seq").fetchall()
        conn.execute("DELETE FROM audit")
        prev, seq = GENESIS, 0
        for _old, at, actor, action, target, details in rows:
            if action in ("chain.keyed", "session.set", "media.add"):
                continue
            data = json.loads(details)
            data.pop("record", None)
            seq += 1
            digest = entry_hash(seq, at, actor, action, target, data, prev)
            conn.execute("INSERT INTO audit VALUES (?,?,?,?,?,?,?,?)",
                         (seq, at, actor, action, target, json.dumps(data, ensure_ascii=False), prev, digest))
            prev = digest
        conn.execute("DROP INDEX audit_action")
    set_schema_version(home, 3)
    (home / "keys" / "audit.key").unlink()
    writable(home / "audit-head.json").write_text(json.dumps({"seq": seq, "hash": prev}))

    archive = Archive(home)
    keyed = [e for e in archive.audit_entries() if e.action == "chain.keyed"]
    baseline = [e for e in archive.audit_entries() if e.action == "catalog.baseline"]
    archive.close()
    assert len(keyed) == 1 and keyed[0].seq == seq + 1 and keyed[0].details["unkeyed_head"] == {"seq": seq,
                                                                                                "hash": prev}
    assert {e.target for e in baseline} == {s1, world[2]}
    assert (home / "keys" / "audit.key").is_file() and "signature" in json.loads((home / "audit-head.json").read_text())
    intact(home)
    sql(home, "UPDATE sessions SET case_id = 'B-9' WHERE id = ?", s1)            # a change after the upgrade
    sql(home, "UPDATE audit SET actor = 'someone' WHERE seq = 2")                   # an old entry
    altered(home, f"{s1}: session: case_id is", "audit entry 2 (", "content altered")
