"""What a worker does with each kind of queued job (service/job_queue.py): import an uploaded recording,
transcribe a session again, rebuild the search index, write the daily warnings summary. `perform(kind,
payload)` is the one function the queue names; it reports the job's stage and progress into the job (RQ's
meta, in Redis) as it goes, and a failure with the words and HTTP status a synchronous call would have given.

A failure the request itself caused (a duplicate, a file that is not a recording: status below 500) is final;
anything else (a crash of ffmpeg, a full disk, the model failing to load) is tried again by the queue. Each
attempt starts by marking failed what a dead attempt left unfinished (`Archive.recover`), so a retry after a
worker was killed imports the file anew."""
from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable, Optional

from archive.fsutil import remove_tree
from archive.store import open_archive
from archive.types import Duplicate
from core.errors import InputError, XunluError, code_of, params_of, status_of
from service.jobs import ProgressOf

log = logging.getLogger("xunlu.worker")


@dataclass(frozen=True)
class WorkerContext:
    """The worker's home folder (the server's, on a shared path) and its models: `transcriber(name)` gives a
    loaded asr Transcriber for a model name, or the worker's own model for None."""

    home: Path
    transcriber: Callable[[Optional[str]], Any]


_context: Optional[WorkerContext] = None


def install(context: WorkerContext) -> None:
    """Set what `perform` works with in this process (service/worker.py does, before the first job)."""
    global _context
    _context = context


class LostUpload(InputError):
    """The uploaded file of a queued import is not where the job says, under this worker's home."""

    http_status = 500     # the deployment is wrong, not the request: an operator must fix it
    code = "worker_home"


class Reporter:
    """Writes a job's progress into the job itself (RQ meta), for `xunlu jobs` and the import page."""

    def __init__(self, rq_job: Any):
        self.job = rq_job

    def _save(self, **values: Any) -> None:
        if self.job is None:
            return
        self.job.meta.update(values)
        try:
            self.job.save_meta()
        except Exception:  # progress is a courtesy: a Redis hiccup must not fail the import
            log.warning("could not save the progress of job %s", self.job.id, exc_info=True)

    def begin(self) -> None:
        attempts = int((self.job.meta if self.job is not None else {}).get("attempts") or 0) + 1
        self._save(attempts=attempts, stage="started", progress=None, outcome=None, started=time.time())

    def stage(self, text: str) -> None:
        self._save(stage=text)

    def progress(self, fraction: float) -> None:
        self._save(progress=round(float(fraction), 4))

    def session(self, sid: str) -> None:
        self._save(session=sid)

    def done(self, result: dict[str, Any]) -> None:
        self._save(stage="done", progress=1.0, result=result, session=result.get("session") or
                   (self.job.meta.get("session") if self.job is not None else None))

    def failed(self, exc: BaseException, describe: Callable[[str], str] = lambda s: s) -> bool:
        """Record the failure; a failure the request caused is not retried. Returns whether it is final."""
        status = status_of(exc)
        detail = describe(str(exc) or type(exc).__name__)
        final = status < 500 or self.job is None or not self.job.retries_left
        if self.job is not None and status < 500:
            self.job.retries_left = 0
        self._save(stage="failed" if final else "failed; will be tried again",
                   outcome={"status": status, "detail": detail, "code": code_of(exc), "params": params_of(exc)})
        return final


def perform(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Run one job of `kind` in this worker (the function RQ calls)."""
    from rq import get_current_job

    if _context is None:
        raise RuntimeError("this process is not a xunlu worker (service.worker.run installs its context)")
    handler = HANDLERS.get(kind)
    if handler is None:
        raise XunluError(f"unknown job kind {kind!r} (a worker of another xunlu version?)")
    report = Reporter(get_current_job())
    report.begin()
    return handler(_context, payload, report)


def _request_of(values: dict[str, Any], path: Path):
    from service.importing import ImportRequest

    known = {f.name for f in fields(ImportRequest)} - {"input"}
    kwargs = {k: (tuple(v) if isinstance(v, list) else v) for k, v in values.items() if k in known}
    return ImportRequest(input=path, **kwargs)


def request_values(req: Any) -> dict[str, Any]:
    """An ImportRequest's fields as JSON for a job's payload (the file travels separately)."""
    return {f.name: (list(v) if isinstance(v, tuple) else v)
            for f in fields(req) if f.name != "input" and (v := getattr(req, f.name)) not in (None, ())}


def _import(ctx: WorkerContext, p: dict[str, Any], report: Reporter) -> dict[str, Any]:
    from service.importing import import_recording

    upload = ctx.home / p["upload"]
    name = p.get("name") or upload.name
    earlier = report.job.meta.get("session") if report.job is not None else None

    def describe(text: str) -> str:
        return text.replace(str(upload), name)

    try:
        with contextlib.closing(open_archive(ctx.home)) as archive:
            for sid in archive.recover():
                log.warning("session %s was interrupted before it was finished (an earlier attempt); marked "
                            "failed", sid)
            if not upload.is_file():
                if earlier and archive.get(earlier).status == "complete":
                    return _imported(report, earlier, upload)   # done before its worker could say so
                raise LostUpload(f"the uploaded file {p['upload']} is not under this worker's home {ctx.home}: "
                                 "start the worker on the server's home folder (--home, a shared path)")
            try:
                session = import_recording(ctx.home, archive, _request_of(p.get("request") or {}, upload),
                                           lambda: ctx.transcriber(None), p.get("language"), p["actor"],
                                           say=report.stage, progress=ProgressOf(report.progress),
                                           on_session=report.session, warn=log.warning)
            except Duplicate as exc:
                if earlier and exc.session_id == earlier:
                    return _imported(report, earlier, upload)
                raise
        return _imported(report, session.id, upload)
    except BaseException as exc:
        if report.failed(exc, describe):
            with contextlib.suppress(OSError):
                remove_tree(upload.parent)
        raise


def _imported(report: Reporter, sid: str, upload: Path) -> dict[str, Any]:
    with contextlib.suppress(OSError):
        remove_tree(upload.parent)
    result = {"session": sid}
    report.done(result)
    return result


def _transcribe(ctx: WorkerContext, p: dict[str, Any], report: Reporter) -> dict[str, Any]:
    from asr.types import TranscribeOptions
    from service.transcribe import retranscribe

    sid = p["session"]
    report.session(sid)
    try:
        with contextlib.closing(open_archive(ctx.home)) as archive:
            options = TranscribeOptions(language=p.get("language"), batch_size=int(p.get("batch_size") or 0),
                                        beam_size=p.get("beam_size"), hotwords=tuple(p.get("hotwords") or ()))
            report.stage("loading the model")
            model = ctx.transcriber(p.get("model"))
            reason = p.get("reason") or f"re-transcribed with {getattr(model, 'model_label', None) or 'the worker model'}"
            report.stage("transcribing")
            transcript, version = retranscribe(ctx.home, archive, sid, lambda: model, options, p["actor"], reason,
                                               ProgressOf(report.progress), warn=log.warning)
    except BaseException as exc:
        report.failed(exc)
        raise
    result = {"session": sid, "version": version.version, "model": transcript.model}
    report.done(result)
    return result


def _reindex(ctx: WorkerContext, p: dict[str, Any], report: Reporter) -> dict[str, Any]:
    from service.indexing import rebuild

    ids = list(p.get("sessions") or []) or None
    try:
        with contextlib.closing(open_archive(ctx.home)) as archive:
            total = max(1, len(ids) if ids else len(archive.list()))
            count = [0]

            def advanced(_sid: str) -> None:
                count[0] += 1
                report.progress(min(0.99, count[0] / total))

            report.stage("reindexing")
            sessions, segments = rebuild(ctx.home, archive, ids, advanced, int(p.get("procs") or 2))
            archive.audit(p["actor"], "reindex", ",".join(ids or ["*"]), {"segments": segments})
    except BaseException as exc:
        report.failed(exc)
        raise
    result = {"sessions": sessions, "segments": segments}
    report.done(result)
    return result


def _warnings(ctx: WorkerContext, p: dict[str, Any], report: Reporter) -> dict[str, Any]:
    from supervise.summary import run_due

    try:
        report.stage("checking every session against the rules")
        written = run_due(ctx.home, force=bool(p.get("force")))
    except BaseException as exc:
        report.failed(exc)
        raise
    result: dict[str, Any] = {"written": None}
    if written is not None:
        result = {"written": str(written.path), "open": written.open_warnings, "red": written.red,
                  "hook_exit": written.hook_exit}
    report.done(result)
    return result


HANDLERS: dict[str, Callable[[WorkerContext, dict[str, Any], Reporter], dict[str, Any]]] = {
    "import": _import, "transcribe": _transcribe, "reindex": _reindex, "warnings": _warnings}
