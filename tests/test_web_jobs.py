"""Every background job in the web app (GET /api/jobs, GET /api/jobs/{job}): imports, re-transcriptions,
reindexing and the daily warnings, with their state, progress, times, owner and, when one failed, why, in
the page's language. An admin (the batch operator) sees every job; an officer only the ones they started
(another's is 403 and audited, as an import's own job); a supervisor starts none and sees none.

The same answers whichever engine runs the jobs: this server's threads (service/jobs.py JobRegistry), or
Redis (service/job_queue.py RedisJobs; a throwaway redis-server, the fixture of tests/test_job_queue.py, with
no worker: the jobs stay queued, and one is failed by hand as a worker would have recorded it)."""
from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from helpers.auth import fast_auth, login_as
from test_job_queue import redis_url  # noqa: F401  (the fixture: a throwaway redis-server)

from accounts.types import ADMIN, OFFICER, SUPERVISOR
from core.errors import InputError
from service.jobs import Job

ZH, EN = {"Accept-Language": "zh-CN"}, {"Accept-Language": "en"}
NOW = time.time()


def web(home, broker=None):
    from api.app import create_app

    app = create_app(fast_auth(home), broker=broker, recover=False)
    client = TestClient(app)
    users = {"admin": login_as(client, app, "root", ADMIN, "李管理员"),
             "zhang": login_as(client, app, "zhangsan", OFFICER, "张三"),
             "li": login_as(client, app, "lisi", OFFICER, "李四"),
             "sup": login_as(client, app, "fazhi", SUPERVISOR, "王法制员")}
    return app, client, users


def failed(job: Job) -> Job:
    job.fail(InputError("/srv/uploads/x.mp4 has no audio stream"), describe=lambda _e: "x.mp4 has no audio stream")
    return job


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """An app whose in-process registry holds one job of each kind and state, by three owners."""
    app, client, users = web(tmp_path_factory.mktemp("jobs-home"))
    jobs = app.state.jobs
    jobs.add(Job("imp-queued", state="queued", kind="import", target="room2.mp4", owner="web:zhangsan",
                 created_at=NOW - 50))
    jobs.add(Job("imp-running", state="running", kind="import", target="room3.mp4", progress=0.4,
                 stage="transcribing", attempts=1, session="s-20261206-0003", owner="web:lisi", created_at=NOW - 40))
    jobs.add(failed(Job("imp-failed", kind="import", target="x.mp4", attempts=1, owner="web:zhangsan",
                        created_at=NOW - 30)))
    jobs.add(Job("reindex-done", state="done", kind="reindex", target="*", attempts=1, owner="system:cli",
                 created_at=NOW - 20, ended_at=NOW - 10, progress=0.7))
    jobs.add(Job("warn-running", state="running", kind="warnings", target="2026-12-06", owner="system:serve",
                 created_at=NOW - 5))
    with client:
        yield {"app": app, "client": client, **users}


def listed(server, who, **params):
    r = server["client"].get("/api/jobs", params=params, headers={**server[who], **ZH})
    assert r.status_code == 200, r.text
    return r.json()


def test_an_admin_sees_every_job_newest_first_with_state_progress_and_times(server):
    answer = listed(server, "admin")
    assert answer["engine"] == "server" and answer["active"] == 3
    jobs = {j["id"]: j for j in answer["jobs"]}
    assert [j["id"] for j in answer["jobs"]] == ["warn-running", "reindex-done", "imp-failed", "imp-running",
                                                 "imp-queued"]
    assert {j["kind"] for j in answer["jobs"]} == {"import", "reindex", "warnings"}
    running = jobs["imp-running"]
    assert (running["state"], running["progress"], running["stage"], running["target"], running["owner"]) == \
        ("running", 0.4, "transcribing", "room3.mp4", "web:lisi")
    assert running["session"] == "s-20261206-0003" and running["ended_at"] is None and running["error"] is None
    assert jobs["imp-queued"]["progress"] == 0.0                 # waiting: nothing done yet
    assert jobs["reindex-done"]["progress"] == 1.0 and jobs["reindex-done"]["ended_at"] == NOW - 10
    assert jobs["warn-running"]["progress"] is None              # the work cannot tell how far it is
    assert jobs["imp-queued"]["created_at"] == NOW - 50


def test_a_failed_job_says_why_in_the_page_language_without_the_servers_paths(server):
    zh = listed(server, "admin", state="failed")["jobs"]
    assert [j["id"] for j in zh] == ["imp-failed"]
    assert zh[0]["code"] == "bad_input" and zh[0]["error"].startswith("文件无法读取")
    assert zh[0]["detail"] == "x.mp4 has no audio stream" and "/srv/" not in str(zh)
    assert zh[0]["ended_at"] is not None
    en = server["client"].get("/api/jobs/imp-failed", headers={**server["admin"], **EN}).json()
    assert en["error"] == "The file cannot be read: not a recording, or no audio."
    assert all(j["error"] is None and j["code"] is None for j in listed(server, "admin")["jobs"]
               if j["state"] != "failed")


def test_an_officer_sees_only_the_jobs_they_started(server):
    mine = listed(server, "zhang")
    assert [j["id"] for j in mine["jobs"]] == ["imp-failed", "imp-queued"] and mine["active"] == 1
    assert {j["owner"] for j in mine["jobs"]} == {"web:zhangsan"}
    assert [j["id"] for j in listed(server, "li")["jobs"]] == ["imp-running"]
    c = server["client"]
    assert c.get("/api/jobs/imp-queued", headers=server["zhang"]).json()["state"] == "queued"
    before = denied(server)
    r = c.get("/api/jobs/imp-running", headers={**server["zhang"], **ZH})         # 李四's
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    assert denied(server) == before + 1
    assert c.get("/api/jobs/reindex-done", headers=server["zhang"]).status_code == 403   # the system's
    assert c.get("/api/jobs/imp-running", headers=server["admin"]).json()["owner"] == "web:lisi"


def denied(server) -> int:
    return sum(1 for e in server["app"].state.auth.archive.audit_entries() if e.action == "auth.denied")


def test_who_may_not_look_and_jobs_that_do_not_exist(server):
    c = server["client"]
    assert c.get("/api/jobs", headers=server["sup"]).status_code == 403            # starts no job
    assert c.get("/api/jobs/imp-queued", headers=server["sup"]).status_code == 403
    assert c.get("/api/jobs").status_code == 401
    r = c.get("/api/jobs/no-such-job", headers={**server["admin"], **EN})
    assert r.status_code == 404 and r.json()["code"] == "unknown_job" and r.json()["message"].startswith("No such job")


def test_filters_by_kind_and_state_and_refuses_unknown_ones(server):
    assert [j["id"] for j in listed(server, "admin", kind="import", state="running")["jobs"]] == ["imp-running"]
    assert [j["id"] for j in listed(server, "admin", kind="reindex")["jobs"]] == ["reindex-done"]
    assert len(listed(server, "admin", limit=2)["jobs"]) == 2
    for params in ({"kind": "backup"}, {"state": "stuck"}):
        r = server["client"].get("/api/jobs", params=params, headers={**server["admin"], **ZH})
        assert r.status_code == 400 and r.json()["code"] == "bad_job_filter", r.text
        assert r.json()["message"].startswith("任务筛选条件无效")


def test_a_job_the_server_runs_is_seen_from_queued_to_its_end(server):
    """A real in-process job (as a background import starts it): running with its progress, then failed."""
    app, c = server["app"], server["client"]
    gate = __import__("threading").Event()

    def work(job: Job):
        job.progress, job.stage = 0.5, "transcribing"
        gate.wait(5)
        raise InputError("not media")

    started = app.state.jobs.start("web:zhangsan", work, target="room9.mp4", kind="import")
    deadline = time.monotonic() + 5
    while (now := c.get(f"/api/jobs/{started.job}", headers=server["zhang"]).json())["progress"] != 0.5:
        assert time.monotonic() < deadline, now
    assert now["state"] == "running" and now["target"] == "room9.mp4"
    gate.set()
    while (now := c.get(f"/api/jobs/{started.job}", headers=server["zhang"]).json())["state"] != "failed":
        assert time.monotonic() < deadline, now
    assert now["code"] == "bad_input" and now["error"] and now["ended_at"]


def test_the_same_on_the_job_queue(tmp_path, redis_url):  # noqa: F811
    from rq.job import Job as RqJob
    from rq.job import JobStatus

    from service.job_queue import Task

    app, client, users = web(tmp_path / "home", broker=redis_url)
    queue = app.state.jobs
    mine = queue.submit(Task("import", {}, target="room2.mp4"), "web:zhangsan")
    other = queue.submit(Task("transcribe", {}, target="s-20261206-0001"), "web:lisi")
    system = queue.submit(Task("reindex", {"sessions": None}, target="*"), "system:cli")
    with client:
        answer = client.get("/api/jobs", headers=users["admin"]).json()
        assert answer["engine"] == "queue" and answer["active"] == 3
        assert {(j["id"], j["kind"], j["state"], j["progress"], j["owner"]) for j in answer["jobs"]} == {
            (mine.job, "import", "queued", 0.0, "web:zhangsan"), (other.job, "transcribe", "queued", 0.0, "web:lisi"),
            (system.job, "reindex", "queued", 0.0, "system:cli")}
        assert [j["id"] for j in client.get("/api/jobs", headers=users["zhang"]).json()["jobs"]] == [mine.job]
        assert client.get(f"/api/jobs/{other.job}", headers=users["zhang"]).status_code == 403
        # a worker gave up on it: its outcome, as service/job_tasks.py records it
        rq_job = RqJob.fetch(mine.job, connection=queue.connection, serializer=queue._queue().serializer)
        rq_job.meta["outcome"] = {"status": 415, "detail": "room2.mp4 is not media", "code": "bad_input"}
        rq_job.save_meta()
        rq_job.set_status(JobStatus.FAILED)
        r = client.get(f"/api/jobs/{mine.job}", headers={**users["zhang"], **EN}).json()
        assert (r["state"], r["code"], r["detail"]) == ("failed", "bad_input", "room2.mp4 is not media")
        assert r["error"] == "The file cannot be read: not a recording, or no audio."
        assert client.get("/api/jobs/nope", headers=users["admin"]).json()["code"] == "unknown_job"
