"""Archive commands of the `xunlu` CLI: import, sessions, transcript, export, verify."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from api.cli import HomeOpt, _split, app, check_output, fail, handled, write_output
from api.config import home_dir, load_config
from archive.store import Archive, open_archive, system_actor
from asr.types import FORMATS

transcript_app = typer.Typer(no_args_is_help=True, help="Read, compare and correct transcript versions.")
app.add_typer(transcript_app, name="transcript")



def archive_for(home: Optional[str]) -> Archive:
    """Open the archive, and first mark failed whatever an earlier crash left unfinished (and say so)."""
    archive = open_archive(home_dir(home))
    for sid in archive.recover():
        typer.echo(f"xunlu: session {sid} was interrupted before it was finished; marked failed", err=True)
    return archive


def reindex_session(home: Optional[str], archive: Archive, sid: str) -> None:
    """Make the session's latest transcript searchable; a failure here never undoes the archive's work."""
    from api.indexing import index_session

    try:
        index_session(home_dir(home), archive, sid)
    except Exception as exc:  # the index can always be rebuilt from the archive
        typer.echo(f"xunlu: warning: {sid} is saved but not yet searchable ({exc}); run xunlu reindex", err=True)


def say(message: str) -> None:
    typer.echo(f"  {message}", err=True)


@app.command("import")
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
    language: Optional[str] = typer.Option(None, "--language", "-l"),
    model: Optional[str] = typer.Option(None, "--model", "-m"),
    as_json: bool = typer.Option(False, "--json", help="Print the session record as JSON."),
    home: Optional[str] = HomeOpt,
) -> None:
    """Import a recording: keep the original byte for byte, hash it, make it playable, transcribe it."""
    from api.importing import ImportRequest, check_input, import_file
    from api.progress import SegmentProgress
    from asr.pipeline import load_transcriber
    from asr.engine import check_language, collect
    from asr.types import TranscribeOptions

    with handled("interrupted; the session is marked failed"):
        cfg = load_config(home_dir(home))
        lang = check_language(language or cfg.language)
        req = ImportRequest(input=input, case_id=case, room=room, officers=_split(officers), suspect=suspect,
                            speakers=_split(speakers), started_at=started_at)
        check_input(req)
        from supervise.session_info import parse_when

        check_in_at = parse_when(check_in, "--check-in") if check_in else None
        if unit is not None and not unit.strip():
            fail("--unit must not be empty")
        archive = archive_for(home)
        transcriber = load_transcriber(model or cfg.model, home_dir(home), cfg.device, cfg.compute_type)

        def transcribe(path: Path, names: tuple[str, ...]):
            with SegmentProgress(label=path.name) as progress:
                segments, info = transcriber.transcribe(str(path), TranscribeOptions(language=lang,
                                                                                     speakers=tuple(names)))
                progress.start(info)
                return collect(segments, info, progress.advance)

        session = import_file(archive, req, transcribe, system_actor(), say)
        if unit or check_in_at:
            from supervise.session_info import set_fields

            session = set_fields(archive, session.id, system_actor(), unit=unit, check_in_at=check_in_at)
        reindex_session(home, archive, session.id)
        typer.echo(json.dumps(session.to_dict(), ensure_ascii=False) if as_json else session.id)


def retranscribe(sid: str, home: Path, model: str, language: Optional[str], batch_size: int,
                 beam_size: Optional[int], device: str, compute_type: str):
    """`xunlu transcribe SESSION`: run ASR again on the original and add it as a new version."""
    from api.progress import SegmentProgress
    from archive.transcripts import add_version
    from asr.engine import collect
    from asr.pipeline import load_transcriber
    from asr.types import TranscribeOptions

    archive = archive_for(str(home))
    session = archive.get(sid)
    original = session.file("original")
    if original is None:
        fail(f"session {sid} has no original media to transcribe")
    transcriber = load_transcriber(model, home, device, compute_type)
    path = archive.folder(sid) / original.path
    with SegmentProgress(label=sid) as progress:
        segments, info = transcriber.transcribe(str(path), TranscribeOptions(
            language=language, speakers=session.speakers, batch_size=batch_size, beam_size=beam_size))
        progress.start(info)
        transcript = collect(segments, info, progress.advance)
    version = add_version(archive, sid, transcript, "asr", system_actor(), reason=f"re-transcribed with {model}",
                          parent=session.latest.version if session.latest else None)
    typer.echo(f"{sid}: added transcript v{version.version} ({transcript.model})", err=True)
    reindex_session(str(home), archive, sid)
    return transcript


@app.command("sessions")
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


@app.command("session")
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
    from archive.transcripts import edit, replace_with
    from asr.types import Transcript

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
            version = replace_with(archive, session, corrected, who, reason)
        else:
            segment, text = segment or [], text or []
            if not segment or len(segment) != len(text):
                fail("give one --text for each --segment (or --file)")
            version = edit(archive, session, dict(zip(segment, text)), who, reason)
        reindex_session(home, archive, session)
        typer.echo(f"{session}: saved transcript v{version.version} by {who}")


@app.command("export")
def export_cmd(
    session: str,
    fmt: str = typer.Option("docx", "--format", "-f", help="docx (讯问笔录), srt, vtt, txt or json."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="File to write (default: stdout; docx needs -o)."),
    version: Optional[int] = typer.Option(None, "--version", "-v", help="Transcript version (default: latest)."),
    home: Optional[str] = HomeOpt,
) -> None:
    """Export a session's transcript: the DOCX 讯问笔录 for signature, or subtitles and text."""
    from api.exporting import export

    with handled():
        if fmt not in FORMATS:
            fail(f"unknown format '{fmt}': use one of {', '.join(FORMATS)}")
        check_output(fmt, output)
        archive = archive_for(home)
        write_output(export(archive, session, fmt, version, system_actor()), output)
        if output is not None:
            typer.echo(f"{session}: wrote {output}", err=True)


@app.command("verify")
def verify_cmd(sessions: Optional[list[str]] = typer.Argument(None, help="Sessions to check (default: all)."),
               home: Optional[str] = HomeOpt) -> None:
    """Re-hash every media and transcript file and walk the audit chain; exit 1 and name what changed."""
    from archive.verify import verify

    with handled():
        archive = archive_for(home)
        report = verify(archive, sessions or None)
        for problem in report.problems:
            typer.echo(problem)
        typer.echo(report.summary())
        archive.audit(system_actor(), "verify", ",".join(sessions or ["*"]),
                      {"ok": report.ok, "problems": len(report.problems)})
        if not report.ok:
            raise typer.Exit(1)
