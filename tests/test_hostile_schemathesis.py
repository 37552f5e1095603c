"""Hostile input, part 1: schemathesis generates requests from the app's own OpenAPI document and sends them to
the app in-process (ASGI), as a supervisor and as an officer. Every answer must be no 5xx, have a status code
the document declares for that operation, and (where JSON) match the declared schema: the spec is honest.

The archive holds a real session with a transcript (seeded without the model) and a fake live backend, so
POST /api/sessions never starts a real recording. Half of the examples of a route with `{sid}` use the real
session's id, so edits, exports, diffs and markers run on real data, not only on 404s. Deterministic
(derandomized Hypothesis, no example database) and bounded (`EXAMPLES` per operation and mode; set
XUNLU_FUZZ_EXAMPLES=60 for a deeper run by hand).
"""
from __future__ import annotations

import builtins
import contextlib
import os
from collections import Counter

import pytest
import schemathesis
from helpers.auth import fast_auth, login_as
from test_web_fakes import INTERVIEW, FakeLive, ScriptedTranscriber, make_video, seed_session

from accounts.types import OFFICER, SUPERVISOR
from archive.store import Archive

EXCEPTION_GROUP = getattr(builtins, "BaseExceptionGroup", Exception)  # schemathesis raises a FailureGroup

EXAMPLES = int(os.environ.get("XUNLU_FUZZ_EXAMPLES", "6"))  # per operation, generation mode and role
SKIP = {
    # logging out revokes the bearer token the rest of the run uses; tested in tests/test_auth_api.py
    ("POST", "/api/auth/logout"),
}


@pytest.fixture(scope="module")
def fuzz_world(tmp_path_factory):
    from fastapi.testclient import TestClient

    from api.app import create_app

    home = fast_auth(tmp_path_factory.mktemp("fuzz-home"))
    media = tmp_path_factory.mktemp("fuzz-media")
    archive = Archive(home)
    sid = seed_session(archive, home, make_video(media / "one.mp4", 6, size="160x90"), INTERVIEW, 18.0,
                       case_id="F-001", room="讯问室1", officers=("张三",), suspect="王小明",
                       started_at="2026-11-20T09:00:00+08:00")
    archive.close()
    live = FakeLive(home, speed=50.0)
    app = create_app(home, transcriber=ScriptedTranscriber(INTERVIEW), live=live, max_upload=1_000_000,
                     recover=False)
    with TestClient(app) as client:
        roles = {"supervisor": login_as(client, app, "fazhi", SUPERVISOR),
                 "officer": login_as(client, app, "zhangsan", OFFICER, "张三")}
        yield {"app": app, "home": home, "sid": sid, "roles": roles, "live": live}
    for running in list(live.running.values()):
        with contextlib.suppress(Exception):
            running.stop()


def _fuzz(app, headers: dict[str, str], sid: str, examples: int = EXAMPLES) -> tuple[Counter, list[str]]:
    """Every operation of `app`'s document, positive and negative examples; -> (answers per operation and
    status, the problems found)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st
    from hypothesis.errors import Unsatisfiable
    from schemathesis.checks import not_a_server_error
    from schemathesis.generation import GenerationMode
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    ran: Counter = Counter()
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIP:
            continue
        pinnable = any(p.name in ("sid", "session_id") for p in operation.path_parameters)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode), pin=st.booleans())
            def run(case, pin):
                if pin and pinnable:
                    for name in ("sid", "session_id"):
                        if name in (case.path_parameters or {}):
                            case.path_parameters[name] = sid
                try:
                    response = case.call(headers=headers)
                except Exception as exc:  # the in-process transport re-raises what the app answered 500 for
                    ran[(operation.label, 500)] += 1
                    failures.append(f"{operation.label} [{mode.value}] -> 500 raised {type(exc).__name__}: "
                                    f"{str(exc)[:200]} (path {case.path_parameters}, query {case.query}, "
                                    f"body {str(case.body)[:200]})")
                    return
                ran[(operation.label, response.status_code)] += 1
                try:
                    case.validate_response(response, checks=checks)
                except (Exception, EXCEPTION_GROUP) as exc:  # collected: one run names every problem
                    for sub in getattr(exc, "exceptions", [exc]):
                        what = " ".join(str(getattr(sub, "message", sub)).split())[:240]
                        failures.append(f"{operation.label} [{mode.value}] -> {response.status_code} "
                                        f"{getattr(sub, 'title', type(sub).__name__)}: {what}")

            try:
                run()
            except Unsatisfiable:  # any string is a valid value of its parameters: nothing negative to send
                assert mode is GenerationMode.NEGATIVE, f"{operation.label}: no positive example"
            except Exception as exc:  # generation itself failed: report it
                failures.append(f"{operation.label} [{mode.value}] could not be generated: {exc}")
    return ran, failures


@pytest.mark.timeout(240)
@pytest.mark.parametrize("role", ["supervisor", "officer"])
def test_schemathesis_finds_no_server_error_and_no_schema_violation(fuzz_world, role):
    ran, failures = _fuzz(fuzz_world["app"], fuzz_world["roles"][role], fuzz_world["sid"])
    operations = {label for label, _status in ran}
    succeeded = {label for label, status in ran if 200 <= status < 300}
    print(f"\n{role}: {sum(ran.values())} requests, {len(operations)} operations, {len(succeeded)} with a 2xx; "
          f"statuses {dict(sorted(Counter(status for _l, status in ran.elements()).items()))}")
    assert len(operations) >= 40, f"too few operations were exercised: {sorted(operations)}"
    assert len(succeeded) >= 12, f"too few operations ever succeeded (the fuzz only met refusals): {succeeded}"
    unique = sorted(set(failures))
    assert not unique, f"{len(unique)} problem(s) in {sum(ran.values())} requests:\n" + "\n".join(unique)
    # the archive is still whole after the fuzzing (no half-written session, a chain that verifies)
    from archive.verify import verify

    archive = Archive(fuzz_world["home"])
    try:
        report = verify(archive)
    finally:
        archive.close()
    assert report.ok, report


def test_the_fuzz_finds_a_server_error_and_a_lying_schema():
    """The harness itself: a route that fails on some input and one that answers other than it declares are
    both reported (so the test above can fail)."""
    from fastapi import FastAPI
    from pydantic import BaseModel

    class Answer(BaseModel):
        n: int

    app = FastAPI()

    @app.get("/api/half/{n}", response_model=None, responses={200: {"model": Answer}})
    def half(n: int):
        return {"n": 10 // (n % 3)}            # ZeroDivisionError -> 500 for n = 0, 3, -3 ...

    @app.get("/api/liar", responses={200: {"model": Answer}})
    def liar():
        return {"n": "not a number"}

    ran, failures = _fuzz(app, {}, "unused", examples=25)
    assert any(f.startswith("GET /api/half/{n}") and "-> 500" in f for f in failures), failures
    assert any(f.startswith("GET /api/liar") and "schema" in f.lower() for f in failures), failures
