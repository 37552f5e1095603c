"""Jobs on a real queue (issue 21): with a broker, imports (and re-transcriptions, reindexing, the daily warnings)
are jobs in Redis that `xunlu worker` processes run on the home folder they share with the server. Each job
shows its state (queued -> running with progress -> done or failed), is retried after a failure that a retry
can mend, and outlives any process: the server's, the worker's, the command's. With no broker, jobs run
in-process as before.

Each test starts its own redis-server (Debian's package, installed by scripts/setup.sh) in a temp folder, and
workers as separate processes (tests/helpers/queue_worker.py: a scripted transcriber; the last test runs the
real `xunlu worker` with the real model)."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from helpers.auth import fast_auth, login_as
from helpers.cli import ROOT, xunlu
from helpers.redis_server import RedisServer
from helpers.speech import SPEECH

from archive.store import Archive

CLIP_A = SPEECH / "aishell" / "BAC009S0150W0122.wav"   # 就是根据经济体自身情况决定房价上涨或者下跌
CLIP_B = SPEECH / "aishell" / "BAC009S0150W0002.wav"
CLIP_C = SPEECH / "aishell" / "BAC009S0150W0003.wav"


@pytest.fixture
def redis_url(tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    yield server.url
    server.stop()


def make_home(path: Path, retries: int = 2, retry_after_s: int = 1) -> Path:
    path.mkdir(parents=True)
    (path / "config.toml").write_text(f"[jobs]\nretries = {retries}\nretry_after_s = {retry_after_s}\n",
                                      encoding="utf-8")
    return fast_auth(path)


class Workers:
    """Worker processes, each in its own process group (killed like a crashed machine: SIGKILL to all)."""

    def __init__(self, home: Path, url: str):
        self.home, self.url, self.procs = home, url, []

    def start(self, mode: str) -> subprocess.Popen:
        log = open(self.home.parent / f"worker-{len(self.procs)}-{mode}.log", "wb")
        proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "helpers" / "queue_worker.py"), str(self.home),
                                 self.url, mode], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.procs:
            self.kill(proc)


@pytest.fixture
def workers(tmp_path, redis_url):
    home = make_home(tmp_path / "home")
    pool = Workers(home, redis_url)
    yield pool
    pool.stop_all()


def poll(get, until, timeout: float = 60.0, every: float = 0.05) -> list[dict]:
    """Read the job until `until(job)`; every distinct answer seen, in order."""
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    while True:
        job = get()
        if not seen or (job["state"], job.get("progress"), job.get("attempts")) != \
                (seen[-1]["state"], seen[-1].get("progress"), seen[-1].get("attempts")):
            seen.append(job)
        if until(job):
            return seen if seen[-1] is job else [*seen, job]
        assert time.monotonic() < deadline, f"the job never got there: {seen[-3:]}"
        time.sleep(every)


def finished(job: dict) -> bool:
    return job["state"] in ("done", "failed")


def web(home: Path, url: str):
    from api.app import create_app

    app = create_app(home, broker=url, recover=False)
    client = TestClient(app)
    client.headers.update(login_as(client, app, "zhangsan", "officer", "张三"))
    return app, client


def upload(client, clip: Path, **fields) -> dict:
    r = client.post("/api/import", params={"filename": clip.name, "background": "true", **fields},
                    content=clip.read_bytes())
    assert r.status_code == 202, r.text
    return r.json()


def test_no_broker_means_jobs_in_this_process_as_before(tmp_path):
    from api.app import create_app
    from service.job_queue import broker_url
    from service.jobs import JobRegistry

    home = fast_auth(tmp_path / "home")
    assert broker_url(None, home) is None and isinstance(create_app(home, recover=False).state.jobs, JobRegistry)
    listed = xunlu("jobs", home=home, env={"XUNLU_BROKER_URL": ""})
    assert listed.returncode == 2 and "no job queue is configured" in listed.stderr
    worker = xunlu("worker", home=home, env={"XUNLU_BROKER_URL": ""})
    assert worker.returncode == 2 and "a worker needs the job queue" in worker.stderr


def test_a_queued_import_is_done_by_a_worker_process(workers, redis_url):
    home = workers.home
    app, client = web(home, redis_url)
    with client:
        started = upload(client, CLIP_A, case="Q-1", suspect="王五")
        assert started["state"] == "queued" and started["attempts"] == 0 and started["target"] == CLIP_A.name
        kept = home / "uploads" / f"job-{started['job']}" / CLIP_A.name   # where a worker on the shared path reads it
        assert kept.read_bytes() == CLIP_A.read_bytes()
        time.sleep(0.3)
        assert client.get(started["status_url"]).json()["state"] == "queued"   # no worker yet: it waits
        workers.start("steady")
        seen = poll(lambda: client.get(started["status_url"]).json(), finished)
        states = [j["state"] for j in seen]
        assert states[0] == "queued" and states[-1] == "done", states
        assert states.index("running") < len(states) - 1 and "failed" not in states
        moving = [j["progress"] for j in seen if j["state"] == "running" and j["progress"] is not None]
        assert any(0 < p < 1 for p in moving) and moving == sorted(moving), moving
        done = seen[-1]
        assert done["status"] == 201 and done["attempts"] == 1 and done["worker"] and done["progress"] == 1.0
        session = Archive(home).get(done["session"])
        assert session.status == "complete" and session.case_id == "Q-1" and session.suspect == "王五"
        assert "张三" in session.officers          # who uploaded it took part, as in-process
        text = client.get(f"/api/sessions/{done['session']}/transcript").json()["segments"][0]["text"]
        assert text == "你叫什么名字"
        assert not kept.parent.exists()            # the upload is gone once the archive holds it
        hit = client.get("/api/search", params={"q": "王小明"}).json()["hits"]
        assert [h["session"] for h in hit] == [done["session"]]   # indexed by the worker

        again = upload(client, CLIP_A)             # the same file: refused by the job, not retried
        refused = poll(lambda: client.get(again["status_url"]).json(), finished)[-1]
        assert refused["state"] == "failed" and refused["status"] == 409 and refused["attempts"] == 1
        assert done["session"] in refused["detail"] and refused["code"] == "duplicate"
        assert refused["message"] == f"这个录像已经导入过：{done['session']}。"

        waited = client.post("/api/import", params={"filename": CLIP_C.name}, content=CLIP_C.read_bytes())
        assert waited.status_code == 201, waited.text    # without background=true: answered once the worker is done
        assert waited.json()["status"] == "complete" and waited.json()["source_name"] == CLIP_C.name
        twice = client.post("/api/import", params={"filename": "again.wav"}, content=CLIP_C.read_bytes())
        assert twice.status_code == 409 and twice.json()["code"] == "duplicate"
        assert twice.json()["detail"].startswith("again.wav is already") and "uploads" not in twice.json()["detail"]

    listed = xunlu("jobs", "--json", "--broker", redis_url, home=home)
    assert listed.returncode == 0, listed.stderr
    jobs = {j["job"]: j for j in map(json.loads, listed.stdout.splitlines())}
    assert jobs[started["job"]]["state"] == "done" and jobs[again["job"]]["state"] == "failed"
    table = xunlu("jobs", "--broker", redis_url, home=home).stdout
    assert f"{started['job']}\timport\tdone" in table and done["session"] in table

    daily = xunlu("warnings", "--daily", "--force", "--broker", redis_url, home=home)
    assert daily.returncode == 0, daily.stderr
    assert Path(daily.stdout.strip()).is_file() and Path(daily.stdout.strip()).parent.parent == home
    reindex = xunlu("reindex", "--broker", redis_url, home=home)
    assert reindex.returncode == 0 and "of 2 session(s)" in reindex.stdout, reindex.stderr


def test_a_failing_job_is_retried_then_failed_with_a_clear_message(workers, redis_url):
    home = workers.home          # [jobs] retries = 2, retry_after_s = 1
    workers.start("fail")
    app, client = web(home, redis_url)
    with client:
        started = upload(client, CLIP_B)
        seen = poll(lambda: client.get(started["status_url"]).json(), finished, timeout=90)
        failed = seen[-1]
        assert failed["state"] == "failed" and failed["attempts"] == 3, seen     # the first try and 2 retries
        assert failed["status"] == 500 and failed["code"] == "internal_error"
        assert "the decoder crashed" in failed["detail"] and "uploads" not in failed["detail"]
        assert failed["message"].startswith("服务器内部错误")
        waiting = [j for j in seen if j["state"] == "queued" and j["attempts"] > 0]
        assert waiting and "tried again after" in waiting[0]["stage"]   # between the tries it says why it waits
    sessions = Archive(home).list()
    assert len(sessions) == 3 and all(s.status == "failed" for s in sessions)   # one per attempt, none complete
    assert not (home / "uploads" / f"job-{started['job']}").exists()


def test_a_job_outlives_a_restart_of_the_server(tmp_path, redis_url, monkeypatch):
    from helpers.faults import Server
    from helpers.faults import make_home as server_home

    home = server_home(tmp_path / "home")
    monkeypatch.setenv("XUNLU_BROKER_URL", redis_url)
    server = Server(home).start()
    try:
        with contextlib.closing(server.client()) as c:
            r = c.post("/api/import", params={"filename": CLIP_C.name, "background": "true"},
                       content=CLIP_C.read_bytes())
            assert r.status_code == 202, r.text
            job = r.json()["job"]
        server.kill9()                                  # a power cut on the web server: the job is in Redis
        server = Server(home, server.port).start()      # its start tidies the home: the queued upload stays
        with contextlib.closing(server.client()) as c:
            assert c.get(f"/api/import/jobs/{job}").json()["state"] == "queued"
            pool = Workers(home, redis_url)
            pool.start("steady")
            try:
                done = poll(lambda: c.get(f"/api/import/jobs/{job}").json(), finished)[-1]
            finally:
                pool.stop_all()
            assert done["state"] == "done", done
            assert c.get(f"/api/sessions/{done['session']}").json()["source_name"] == CLIP_C.name
    finally:
        server.stop()


def test_a_killed_workers_job_is_taken_up_by_a_new_worker(workers, redis_url):
    from service.importing import ImportRequest
    from service.job_queue import RedisJobs, queue_options
    from service.queued import queue_import

    home = workers.home
    jobs = RedisJobs(redis_url, queue_options(home))
    first = workers.start("hang")                       # takes the job and never finishes it
    job = queue_import(home, jobs, ImportRequest(input=CLIP_A, case_id="K-1"), "zh", "system:test")
    running = poll(lambda: jobs.get(job.job).public(), lambda j: j["state"] == "running" and j["session"])[-1]
    workers.kill(first)                                 # kill -9, worker and all
    assert jobs.get(job.job).state == "running"         # nobody has noticed yet
    workers.start("steady")                             # a new worker looks for jobs of dead workers first
    seen = poll(lambda: jobs.get(job.job).public(), finished, timeout=60)
    done = seen[-1]
    assert done["state"] == "done" and done["attempts"] == 2, seen
    assert done["session"] != running["session"]
    archive = Archive(home)
    assert archive.get(running["session"]).status == "failed"      # the killed attempt: marked, not half-complete
    assert "interrupted" in archive.get(running["session"]).error
    assert archive.get(done["session"]).status == "complete" and archive.get(done["session"]).case_id == "K-1"


def test_a_worker_is_taken_for_dead_when_it_stops_saying_it_is_alive(redis_url):
    import redis

    from service.worker import ALIVE_KEY, worker_alive

    conn = redis.Redis.from_url(redis_url)
    conn.set(ALIVE_KEY.format("far"), json.dumps({"host": "another-machine", "pid": 1}))
    assert worker_alive(conn, "far")                    # on another machine: believed while it says so
    assert not worker_alive(conn, "silent")             # said nothing for alive_s: gone
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    import socket

    conn.set(ALIVE_KEY.format("here"), json.dumps({"host": socket.gethostname(), "pid": gone.pid}))
    assert not worker_alive(conn, "here")               # on this machine: its process is gone, at once
    conn.set(ALIVE_KEY.format("me"), json.dumps({"host": socket.gethostname(), "pid": os.getpid()}))
    assert worker_alive(conn, "me")


def test_the_server_queues_the_daily_summary_once_a_day_when_due(tmp_path, redis_url):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from service.job_queue import RedisJobs
    from service.warnings import QueuedDailySummary

    home = make_home(tmp_path / "home")
    jobs = RedisJobs(redis_url)
    daily = QueuedDailySummary(home, jobs)
    centre = ZoneInfo("Asia/Shanghai")                   # the centre's clock (Chinese, the default)
    assert daily.tick(datetime(2026, 12, 6, 6, 59, tzinfo=centre)) is None        # before 07:00: not yet
    first = daily.tick(datetime(2026, 12, 6, 7, 0, tzinfo=centre))
    again = QueuedDailySummary(home, jobs).tick(datetime(2026, 12, 6, 9, 0, tzinfo=centre))   # another server
    assert first.job == again.job == "warnings-2026-12-06" and first.kind == "warnings"
    assert [j.job for j in jobs.list()] == ["warnings-2026-12-06"]                 # queued once
    (home / "summaries").mkdir()
    (home / "summaries" / "warnings-2026-12-07.txt").write_text("written\n", encoding="utf-8")
    assert daily.tick(datetime(2026, 12, 7, 8, 0, tzinfo=centre)) is None          # already written that day


def test_upload_folders_nothing_will_read_are_removed(tmp_path, redis_url):
    from service.job_queue import RedisJobs
    from service.queued import drop_orphan_uploads, queue_reindex

    home = make_home(tmp_path / "home")
    jobs = RedisJobs(redis_url)
    waiting = queue_reindex(jobs, [], "system:test")         # a job still queued keeps its folder
    for name in (f"job-{waiting.job}", "job-0123456789abcdef", "job-fedcba9876543210"):
        (home / "uploads" / name).mkdir(parents=True)
        (home / "uploads" / name / "a.wav").write_bytes(b"RIFF")
    hour_ago = time.time() - 3700
    for name in (f"job-{waiting.job}", "job-0123456789abcdef"):
        os.utime(home / "uploads" / name, (hour_ago, hour_ago))
    assert drop_orphan_uploads(home, jobs) == ["job-0123456789abcdef"]   # old, and its job is gone
    assert sorted(p.name for p in (home / "uploads").iterdir()) == sorted([f"job-{waiting.job}",
                                                                           "job-fedcba9876543210"])


def test_queued_jobs_outlive_a_restart_of_redis_itself(tmp_path):
    """Redis run with persistence (appendonly), as the README asks: a queued job is still there after Redis
    restarts, and a worker then does it."""
    from service.job_queue import RedisJobs, queue_options
    from service.queued import queue_reindex

    home = make_home(tmp_path / "home")
    server = RedisServer(tmp_path / "redis", appendonly=True).start()
    pool = Workers(home, server.url)
    try:
        job = queue_reindex(RedisJobs(server.url, queue_options(home)), [], "system:test")
        server.stop()
        server = RedisServer(tmp_path / "redis", port=server.port, appendonly=True).start()
        jobs = RedisJobs(server.url)
        assert jobs.get(job.job).state == "queued"
        pool.start("steady")
        done = poll(lambda: jobs.get(job.job).public(), finished)[-1]
        assert done["state"] == "done" and done["result"] == {"sessions": 0, "segments": 0}, done
    finally:
        pool.stop_all()
        server.stop()


@pytest.mark.model
@pytest.mark.timeout(300)
def test_the_real_worker_imports_and_transcribes_again_with_the_model(tmp_path, home, transcriber, redis_url):
    """`xunlu worker` with the real model; `xunlu import --broker` queues the file and follows it to the end;
    `xunlu transcribe SESSION --broker` adds a version made on the worker."""
    fresh = make_home(tmp_path / "home")
    (fresh / "models").mkdir()
    (fresh / "models" / "whisper-base").symlink_to(home / "models" / "whisper-base")
    src = tmp_path / CLIP_A.name
    shutil.copyfile(CLIP_A, src)
    env = {**os.environ, "XUNLU_HOME": str(fresh), "XUNLU_BROKER_URL": redis_url}
    worker = subprocess.Popen([str(Path(sys.executable).with_name("xunlu")), "worker", "--device", "cpu"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        imported = xunlu("import", str(src), "--case", "M-7", home=fresh, env={"XUNLU_BROKER_URL": redis_url},
                         timeout=240)
        assert imported.returncode == 0, imported.stderr
        sid = imported.stdout.strip()
        assert sid.startswith("s-") and "queued" in imported.stderr
        session = Archive(fresh).get(sid)
        assert session.status == "complete" and session.case_id == "M-7"
        text = xunlu("transcript", "show", sid, home=fresh).stdout
        assert "经济" in text
        again = xunlu("transcribe", sid, "--format", "txt", home=fresh, env={"XUNLU_BROKER_URL": redis_url},
                      timeout=240)
        assert again.returncode == 0 and "added transcript v2" in again.stderr and "经济" in again.stdout, again.stderr
        latest = Archive(fresh).get(sid).latest
        assert latest.version == 2 and latest.kind == "asr" and latest.reason == f"re-transcribed with {latest.model}"
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(30)
