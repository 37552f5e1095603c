"""Archive commands of the `xunlu` CLI: import, sessions, transcript, export, verify."""
from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Optional

import typer

from archive.store import Archive, open_archive, system_actor
from asr import vocabulary
from asr.types import FORMATS
from cli.common import BrokerOpt, HomeOpt, check_output, fail, handled, split_names, write_output
from cli.jobs import queue_of
from core.config import home_dir, load_config, read
from core.errors import OptionError

transcript_app = typer.Typer(no_args_is_help=True, help="Read, compare and correct transcript versions.")



def archive_for(home: Optional[str]) -> Archive:
    """Open the archive, and first mark failed whatever an earlier crash left unfinished (and say so)."""
    archive = open_archive(home_dir(home))
    for sid in archive.recover():
        typer.echo(f"xunlu: session {sid} was interrupted before it was finished; marked failed", err=True)
    return archive


def _warn(message: str) -> None:
    typer.echo(f"xunlu: warning: {message}", err=True)


def say(message: str) -> None:
    typer.echo(f"  {message}", err=True)


def import_cmd(
    input: Path = typer.Argument(..., help="A recording made elsewhere (any file ffmpeg reads)."),
    case: Optional[str] = typer.Option(None, "--case", help="Case id (案件编号)."),
    room: Optional[str] = typer.Option(None, "--room", help="Interview room (讯问地点)."),
    officers: Optional[str] = typer.Option(None, "--officers", help="Officers, comma-separated: 张三,李四."),
    suspect: Optional[str] = typer.Option(None, "--suspect", help="The person questioned (被讯问人)."),
    speakers: Optional[str] = typer.Option(None, "--speakers", help="Names of the channels in order."),
    started_at: Optional[str] = typer.Option(None, "--started-at", help="Wall-clock start, ISO 8601 with zone."),
    unit: Optional[str] = typer.Option(None, "--unit", help="Unit (单位) the officers belong to."),
    check_in: Optional[str] = typer.Option(None, "--check-in", help="When the person arrived in the centre, ISO 8601."),
    hotwords: Optional[str] = typer.Option(None, "--hotwords",
                                           help="Names and places to expect, comma-separated (with the suspect, "
                                                "officers, room, case and <home>/vocabulary.txt)."),
    language: Optional[str] = typer.Option(None, "--language", "-l"),
    model: Optional[str] = typer.Option(None, "--model", "-m"),
    as_json: bool = typer.Option(False, "--json", help="Print the session record as JSON."),
    broker: Optional[str] = BrokerOpt,
    no_wait: bool = typer.Option(False, "--no-wait", help="With a job queue: print the job id and return at once."),
    home: Optional[str] = HomeOpt,
) -> None:
    """Import a recording: keep the original byte for byte, hash it, make it playable, transcribe it."""
    from asr.pipeline import load_transcriber
    from cli.progress import SegmentProgress
    from service.importing import ImportRequest, check_fields, check_input, import_recording

    with handled("interrupted; the session is marked failed"):
        cfg = load_config(home_dir(home))
        req = ImportRequest(input=input, case_id=case, room=room, officers=split_names(officers), suspect=suspect,
                            speakers=split_names(speakers), started_at=started_at, unit=unit, check_in=check_in,
                            vocabulary=vocabulary.parse(hotwords))
        check_input(req, read(home_dir(home)).limits)  # before the archive is opened
        jobs = queue_of(broker, home)
        if jobs is not None:
            if model:
                raise OptionError("--model with a job queue: the worker's model transcribes (xunlu worker --model)")
            from asr.engine import check_language

            check_language(language)
            _queued_import(jobs, home_dir(home), check_fields(req), language, as_json, no_wait)
            return
        archive = archive_for(home)
        with SegmentProgress(label=input.name) as progress:
            session = import_recording(
                home_dir(home), archive, req,
                lambda: load_transcriber(model or cfg.model, home_dir(home), cfg.device, cfg.compute_type),
                language, system_actor(), say, progress,
                warn=_warn)
        typer.echo(json.dumps(session.to_dict(), ensure_ascii=False) if as_json else session.id)


def _queued_import(jobs, home: Path, req, language: Optional[str], as_json: bool, no_wait: bool) -> None:
    """`xunlu import --broker`: the file is copied under the home, a worker imports it; progress followed."""
    from cli.jobs import follow, outcome
    from service.queued import queue_import

    job = queue_import(home, jobs, req, language, system_actor())
    if no_wait:
        typer.echo(job.job)
        return
    done = follow(jobs, job, req.input.name)
    outcome(done)
    if as_json:
        with contextlib.closing(open_archive(home)) as archive:
            typer.echo(json.dumps(archive.get(done.session).to_dict(), ensure_ascii=False))
    else:
        typer.echo(done.session)


def retranscribe(sid: str, home: Path, model: str, language: Optional[str], batch_size: int,
                 beam_size: Optional[int], device: str, compute_type: str, hotwords: tuple[str, ...] = ()):
    """`xunlu transcribe SESSION`: run ASR again on the original and add it as a new version."""
    from asr.pipeline import load_transcriber
    from asr.types import TranscribeOptions
    from cli.progress import SegmentProgress
    from service.transcribe import retranscribe as run

    archive = archive_for(str(home))
    with SegmentProgress(label=sid) as progress:
        transcript, version = run(home, archive, sid, lambda: load_transcriber(model, home, device, compute_type),
                                  TranscribeOptions(language=language, batch_size=batch_size, beam_size=beam_size,
                                                    hotwords=hotwords),
                                  system_actor(), f"re-transcribed with {model}", progress,
                                  warn=_warn)
    typer.echo(f"{sid}: added transcript v{version.version} ({transcript.model})", err=True)
    return transcript


def sessions_cmd(case: Optional[str] = typer.Option(None, "--case"),
                 as_json: bool = typer.Option(False, "--json"), home: Optional[str] = HomeOpt) -> None:
    """List the sessions in the archive."""
    with handled():
        for s in archive_for(home).list(case_id=case):
            if as_json:
                typer.echo(json.dumps(s.to_dict(), ensure_ascii=False))
            else:
                latest = f"v{s.latest.version}" if s.latest else "-"
                dur = f"{s.duration:.0f}s" if s.duration else "-"
                typer.echo(f"{s.id}\t{s.status}\t{s.case_id or '-'}\t{s.room or '-'}\t{s.started_at or '-'}\t"
                           f"{dur}\t{latest}\t{s.source_name or ''}")


def session_cmd(session: str = typer.Argument(...), home: Optional[str] = HomeOpt) -> None:
    """Show one session's record (JSON), including file hashes and transcript versions."""
    with handled():
        archive = archive_for(home)
        record = archive.get(session)
        archive.audit(system_actor(), "session.view", session)
        typer.echo(json.dumps(record.to_dict(), ensure_ascii=False, indent=1))


@transcript_app.command("show")
def transcript_show(session: str, version: Optional[int] = typer.Option(None, "--version", "-v"),
                    fmt: str = typer.Option("txt", "--format", "-f"), home: Optional[str] = HomeOpt) -> None:
    """Print a transcript version (latest by default)."""
    from archive.transcripts import read_version
    from asr.formats import render

    with handled():
        archive = archive_for(home)
        text = render(read_version(archive, session, version), fmt)
        archive.audit(system_actor(), "transcript.view", session, {"version": version})
        typer.echo(text, nl=False)


@transcript_app.command("versions")
def transcript_versions(session: str, home: Optional[str] = HomeOpt) -> None:
    """List every version of a session's transcript with author, time and reason."""
    with handled():
        for t in archive_for(home).get(session).transcripts:
            parent = f" from v{t.parent}" if t.parent else ""
            typer.echo(f"v{t.version}\t{t.kind}{parent}\t{t.created_at}\t{t.author}\t{t.model}\t{t.reason}")


@transcript_app.command("diff")
def transcript_diff(session: str, a: int = typer.Argument(..., help="older version"),
                    b: int = typer.Argument(..., help="newer version"), home: Optional[str] = HomeOpt) -> None:
    """Show what changed between two versions (unified diff, one line per segment)."""
    from archive.transcripts import diff

    with handled():
        typer.echo(diff(archive_for(home), session, a, b), nl=False)


@transcript_app.command("edit")
def transcript_edit(
    session: str,
    segment: Optional[list[int]] = typer.Option(None, "--segment", "-s", help="Segment id to correct (repeatable)."),
    text: Optional[list[str]] = typer.Option(None, "--text", "-t", help="Its corrected text (same order)."),
    file: Optional[Path] = typer.Option(None, "--file", help="A whole corrected transcript JSON instead."),
    reason: str = typer.Option(..., "--reason", help="Why the correction is made (kept with the version)."),
    author: Optional[str] = typer.Option(None, "--author", help="Who corrects it (default: the login name)."),
    home: Optional[str] = HomeOpt,
) -> None:
    """Correct the transcript: the result is saved as a new version; every earlier version stays."""
    from core.transcript import Transcript
    from service.corrections import correct, replace

    with handled():
        who = author or system_actor().split(":", 1)[-1]
        archive = archive_for(home)
        if file is not None:
            if segment or text:
                fail("give either --file or --segment/--text, not both")
            try:
                corrected = Transcript.from_dict(json.loads(file.read_text(encoding="utf-8")))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                fail(f"{file} is not a transcript JSON file: {exc}")
            version = replace(home_dir(home), archive, session, corrected, who, reason, warn=_warn)
        else:
            segment, text = segment or [], text or []
            if not segment or len(segment) != len(text):
                fail("give one --text for each --segment (or --file)")
            version = correct(home_dir(home), archive, session, dict(zip(segment, text)), who, reason, warn=_warn)
        typer.echo(f"{session}: saved transcript v{version.version} by {who}")


def export_cmd(
    session: str,
    fmt: str = typer.Option("docx", "--format", "-f", help="docx (讯问笔录), srt, vtt, txt or json."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="File to write (default: stdout; docx needs -o)."),
    version: Optional[int] = typer.Option(None, "--version", "-v", help="Transcript version (default: latest)."),
    home: Optional[str] = HomeOpt,
) -> None:
    """Export a session's transcript: the DOCX 讯问笔录 for signature, or subtitles and text."""
    from service.exporting import export

    with handled():
        if fmt not in FORMATS:
            fail(f"unknown format '{fmt}': use one of {', '.join(FORMATS)}")
        check_output(fmt, output)
        archive = archive_for(home)
        write_output(export(archive, session, fmt, version, system_actor()), output)
        if output is not None:
            typer.echo(f"{session}: wrote {output}", err=True)


def verify_cmd(sessions: Optional[list[str]] = typer.Argument(None, help="Sessions to check (default: all)."),
               anchor: Optional[list[str]] = typer.Option(
                   None, "--anchor", help="A line printed by `xunlu anchor` (or a file of them): prove the chain "
                                          "still holds that entry and nothing was cut after it. Repeatable."),
               home: Optional[str] = HomeOpt) -> None:
    """Check the catalog, the files and the audit chain against each other; exit 1 and name what changed."""
    from archive.audit import parse_anchors
    from archive.types import ArchiveError
    from archive.verify import verify

    with handled():
        anchors = []
        for given in anchor or []:
            try:
                text = Path(given).expanduser().read_text(encoding="utf-8", errors="replace")
            except OSError:  # not a file: the line itself
                text = given
            found = parse_anchors(text)
            if not found:
                fail(f"--anchor {given[:60]!r}: no anchor in it (a line `xunlu-anchor seq=... sig=...` printed by "
                     "xunlu anchor, or a file holding such lines)")
            anchors.extend(found)
        archive = archive_for(home)
        report = verify(archive, sessions or None, anchors)
        for note in report.notes:
            typer.echo(f"xunlu: note: {note}", err=True)
        for problem in report.problems:
            typer.echo(problem)
        typer.echo(report.summary())
        try:
            archive.audit(system_actor(), "verify", ",".join(sessions or ["*"]),
                          {"ok": report.ok, "problems": len(report.problems),
                           **({"anchors": [a.seq for a in anchors]} if anchors else {})})
        except ArchiveError as exc:  # no usable audit key: the check stands, its entry cannot be written
            typer.echo(f"xunlu: warning: this check is not in the audit chain: {exc}", err=True)
        if not report.ok:
            raise typer.Exit(1)
