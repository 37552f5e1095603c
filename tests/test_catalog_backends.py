"""The catalog, users and audit chain on either backend: the embedded SQLite file, or a centre's PostgreSQL
database (`XUNLU_DATABASE_URL`). Writers in several processes at once keep one unbroken, strictly ordered
audit chain; a database that cannot be reached is one clear line that never shows the password."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time

from helpers.cli import ROOT, xunlu

from archive.audit import check_chain
from archive.postgres import pyformat
from archive.store import Archive
from archive.verify import verify

WRITER = textwrap.dedent("""
    import os, sys, time
    sys.path[:0] = [{root!r}]
    from pathlib import Path
    from archive.store import Archive

    home, name, go, count = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
    archive = Archive(home)
    print("READY", flush=True)
    while not go.exists():
        time.sleep(0.005)
    for i in range(count):
        if i % 10 == 0:   # the next session id of the day is taken under the same lock
            with archive.new_session(name, case_id=name) as session:
                print(session.id, flush=True)
        archive.audit(name, "test.append", name, {{"i": i}})
    archive.close()
""")


def _write_at_once(script, homes, count) -> list[str]:
    """One writer process per home, started together -> the session ids they made."""
    go = script.with_name("go")
    writers = [subprocess.Popen([sys.executable, str(script), str(home), name, str(go), str(count)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for name, home in zip(("a", "b"), homes)]
    for w in writers:        # both connected and waiting
        assert w.stdout.readline().strip() == "READY", w.stderr.read()
    go.touch()
    outputs = [w.communicate(timeout=300) for w in writers]
    for w, (_, err) in zip(writers, outputs):
        assert w.returncode == 0, err
    return [line for out, _ in outputs for line in out.split()]


def _chain_of_both(archive, count) -> list:
    entries = list(archive.audit_entries())
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert all(b.prev_hash == a.hash for a, b in zip(entries, entries[1:]))
    appended = [e for e in entries if e.action == "test.append"]
    assert len(appended) == 2 * count
    for name in ("a", "b"):   # each writer's entries in the order it wrote them
        assert [e.details["i"] for e in appended if e.actor == name] == list(range(count))
    assert {e.actor for e in appended[: count // 2]} == {"a", "b"}, "the writers did not overlap"
    report = check_chain(archive.conn, archive.head_file)
    assert not report.problems and report.entries == len(entries)
    return entries


def test_two_processes_appending_at_once_keep_one_valid_chain(tmp_path, catalog_backend):
    home = tmp_path / "home"
    Archive(home).close()
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(root=str(ROOT)))
    count = 60
    sessions = _write_at_once(script, [home, home], count)
    assert len(sessions) == 2 * count // 10 and len(set(sessions)) == len(sessions)   # no id taken twice
    archive = Archive(home)
    try:
        entries = _chain_of_both(archive, count)
        assert check_chain(archive.conn, archive.head_file).head == entries[-1].seq
        assert verify(archive).ok
    finally:
        archive.close()


def test_two_nodes_with_their_own_homes_append_to_one_postgresql_chain_in_strict_order(tmp_path, postgres,
                                                                                         monkeypatch):
    """Two servers of a centre: one database, one audit key; only PostgreSQL's lock orders their writes."""
    monkeypatch.setenv("XUNLU_DATABASE_URL", postgres.new_database())
    first, second = tmp_path / "node1", tmp_path / "node2"
    archive = Archive(first)
    archive.audit("setup", "test.setup", "*")           # the chain keyed and its head signed
    archive.close()
    shutil.copytree(first, second)                       # the same key; the head as it was then
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(root=str(ROOT)))
    count = 60
    sessions = _write_at_once(script, [first, second], count)
    assert len(sessions) == 2 * count // 10 and len(set(sessions)) == len(sessions)
    for home in (first, second):
        archive = Archive(home)
        try:
            _chain_of_both(archive, count)
        finally:
            archive.close()


def test_xunlu_verify_passes_on_a_postgresql_home_and_the_home_holds_no_catalog(tmp_path, postgres, monkeypatch):
    monkeypatch.setenv("XUNLU_DATABASE_URL", postgres.new_database())
    home = tmp_path / "home"
    archive = Archive(home)
    with archive.new_session("tester", case_id="A-1") as session:
        archive.update_session(session.id, status="complete", duration=12.5)
    archive.write_manifest(session.id)
    archive.anchor("tester")
    archive.close()
    r = xunlu("verify", home=home)
    assert r.returncode == 0 and r.stdout.startswith("intact: 1 session(s)"), r.stdout + r.stderr
    assert not list(home.glob("*.sqlite*"))
    r = xunlu("sessions", home=home)
    assert r.returncode == 0 and session.id in r.stdout and "A-1" in r.stdout


def test_an_unreachable_or_refusing_database_is_one_clear_line_without_the_password(tmp_path, postgres):
    wrong = postgres.new_database().replace(postgres.password, "not-the-password-7")
    assert "not-the-password-7" in wrong
    gone = f"postgresql://xunlu:secret-word-9@/xunlu?host={tmp_path}&port=1"
    for url, password in ((wrong, "not-the-password-7"), (gone, "secret-word-9")):
        r = xunlu("sessions", home=tmp_path / "home", env={"XUNLU_DATABASE_URL": url}, timeout=60)
        assert r.returncode == 2, r.stdout + r.stderr
        assert "cannot be reached" in r.stderr and "***" in r.stderr
        assert password not in r.stderr + r.stdout and "Traceback" not in r.stderr
    r = xunlu("sessions", home=tmp_path / "home", env={"XUNLU_DATABASE_URL": "mysql://x@y/z"}, timeout=60)
    assert r.returncode == 2 and "must be a postgresql:// URL" in r.stderr


def test_sql_is_written_once_with_question_marks_and_literal_percent_signs():
    assert pyformat("SELECT * FROM audit WHERE target = ? OR target LIKE ?") == \
        "SELECT * FROM audit WHERE target = %s OR target LIKE %s"
    assert pyformat("SELECT '100%', '?' , \"a?b\" FROM t WHERE x LIKE 's-%' AND y = ?") == \
        "SELECT '100%%', '?' , \"a?b\" FROM t WHERE x LIKE 's-%%' AND y = %s"


def test_a_writer_killed_inside_its_transaction_leaves_no_lock_behind(tmp_path, catalog_backend):
    """The write lock (SQLite's file lock, PostgreSQL's advisory lock) dies with its holder."""
    home = tmp_path / "home"
    Archive(home).close()
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        sys.path[:0] = [{str(ROOT)!r}]
        from archive.store import Archive
        a = Archive(__import__("pathlib").Path({str(home)!r}))
        with a.ledger.transaction():
            a.ledger.append("holder", "test.hold", "*")
            print("HOLDING", flush=True)
            time.sleep(120)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "HOLDING"
        os.kill(holder.pid, 9)
        holder.wait(timeout=30)
        archive = Archive(home)
        start = time.monotonic()
        archive.audit("after", "test.after", "*")
        assert time.monotonic() - start < 10
        actions = [e.action for e in archive.audit_entries()]
        assert "test.hold" not in actions and actions[-1] == "test.after"
        assert not check_chain(archive.conn, archive.head_file).problems
        archive.close()
    finally:
        if holder.poll() is None:
            holder.kill()


def test_a_restarted_database_server_is_connected_to_again(tmp_path, postgres, monkeypatch):
    monkeypatch.setenv("XUNLU_DATABASE_URL", postgres.new_database())
    archive = Archive(tmp_path / "home")
    with archive.new_session("tester", case_id="A-1") as session:
        pass
    postgres.restart()
    try:
        assert archive.get(session.id).case_id == "A-1"                 # a read: asked again on a new connection
        postgres.restart()
        archive.update_session(session.id, unit="刑侦大队", actor="tester")   # a write: begun on a new connection
        assert archive.get(session.id).unit == "刑侦大队"
        assert not check_chain(archive.conn, archive.head_file).problems
    finally:
        archive.close()


def test_the_web_servers_archive_per_request_reuses_an_open_connection(tmp_path, postgres, monkeypatch):
    monkeypatch.setenv("XUNLU_DATABASE_URL", postgres.new_database())
    first = Archive(tmp_path / "home")
    backend = first.conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    first.close()
    second = Archive(tmp_path / "home")
    assert second.conn.execute("SELECT pg_backend_pid()").fetchone()[0] == backend
    second.conn.begin()                  # closed inside a transaction: never handed on
    second.close()
    third = Archive(tmp_path / "home")
    assert third.conn.execute("SELECT pg_backend_pid()").fetchone()[0] != backend
    assert not third.conn.in_transaction
    third.close()
