"""A crash mid-import, two imports at once, and what the next start says."""
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from helpers.archive import make_wav
from helpers.cli import ROOT, xunlu

from archive.store import Archive
from archive.verify import verify

IMPORTER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    sys.path[:0] = [{root!r}, {tests!r}]
    from service.importing import ImportRequest, import_file
    from archive.store import Archive
    from helpers.archive import scripted_transcribe

    def slow(path, speakers):
        print("TRANSCRIBING", flush=True)
        time.sleep(float(sys.argv[3]))
        return scripted_transcribe(path, speakers)

    session = import_file(Archive(Path(sys.argv[1])), ImportRequest(input=Path(sys.argv[2])), slow, "proc")
    print("DONE", session.id, flush=True)
""")


def start_import(tmp_path, home, src, sleep):
    script = tmp_path / "importer.py"
    script.write_text(IMPORTER.format(root=str(ROOT), tests=str(ROOT / "tests")))
    return subprocess.Popen([sys.executable, str(script), str(home), str(src), str(sleep)],
                            stdout=subprocess.PIPE, text=True)


def test_kill_9_mid_import_leaves_no_complete_looking_session_and_the_next_start_says_so(tmp_path):
    home = tmp_path / "home"
    Archive(home).close()
    proc = start_import(tmp_path, home, make_wav(tmp_path), sleep=60)
    assert proc.stdout.readline().strip() == "TRANSCRIBING"
    archive = Archive(home)
    [session] = archive.list()
    assert session.status == "finalising"
    assert archive.recover() == []  # the importer is alive: leave it alone
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    result = xunlu("sessions", home=home)
    assert f"session {session.id} was interrupted before it was finished; marked failed" in result.stderr
    assert f"{session.id}\tfailed" in result.stdout
    assert Archive(home).get(session.id).error.startswith("interrupted")
    assert verify(Archive(home)).ok


def test_two_imports_at_once_do_not_corrupt_the_catalog(tmp_path):
    home = tmp_path / "home"
    Archive(home).close()
    procs = [start_import(tmp_path, home, make_wav(tmp_path, f"room{i}.wav") if i == 0 else
                          _variant(tmp_path, i), sleep=0.5) for i in range(3)]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    archive = Archive(home)
    sessions = archive.list()
    assert len({s.id for s in sessions}) == 3 and all(s.status == "complete" for s in sessions)
    report = verify(archive)
    assert report.ok, report.problems


def _variant(tmp_path: Path, i: int) -> Path:
    """A different file (another hash) of the same recording."""
    src = make_wav(tmp_path, f"room{i}.wav")
    with open(src, "ab") as f:
        f.write(bytes([i]) * 2)  # trailing bytes after the data chunk: same audio, new SHA-256
    return src


def test_the_same_file_imported_twice_at_once_is_kept_once(tmp_path):
    home = tmp_path / "home"
    Archive(home).close()
    src = make_wav(tmp_path)
    procs = [start_import(tmp_path, home, src, sleep=0.2) for _ in range(3)]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert sum("DONE" in out for out in outputs) == 1
    complete = [s for s in Archive(home).list() if s.status == "complete"]
    assert len(complete) == 1
    assert all(s.status == "failed" and "already in the archive" in (s.error or "")
               for s in Archive(home).list() if s.status != "complete")
