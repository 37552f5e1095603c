"""`xunlu transcribe` and `xunlu models`."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from asr import vocabulary
from cli import common
from cli.common import HomeOpt, check_output, format_from_suffix, handled, is_session_id, split_names, write_output
from cli.jobs import queue_of
from core.config import home_dir, load_config
from core.errors import OptionError


def transcribe(
    input: Path = typer.Argument(..., help="Any file ffmpeg can read (wav, flac, mp3, m4a, mp4, mkv, ts)."),
    language: Optional[str] = typer.Option(None, "--language", "-l",
                                           help="Language code (zh, en, ...) or auto; default from config: zh."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="base (bundled), a model folder, or a hub name."),
    speakers: Optional[str] = typer.Option(None, "--speakers", help="Names of the channels in order: officer,suspect."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f",
                                      help="json, srt, vtt, txt or docx (default: from -o, else json)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write here instead of stdout."),
    batch_size: int = typer.Option(0, "--batch-size", min=0, help="Use the batched pipeline with this batch size."),
    beam_size: Optional[int] = typer.Option(None, "--beam-size", min=1,
                                            help="Beam width (default 5; 3 with --batch-size)."),
    device: Optional[str] = typer.Option(None, "--device", help="cpu, cuda or auto."),
    compute_type: Optional[str] = typer.Option(None, "--compute-type", help="int8, float16, ... (auto: int8 on CPU)."),
    hotwords: Optional[str] = typer.Option(None, "--hotwords",
                                           help="Names and places to expect, comma-separated (with "
                                                "<home>/vocabulary.txt; a SESSION adds its suspect, officers, "
                                                "room and case)."),
    reproduce: Optional[int] = typer.Option(None, "--reproduce", min=1, metavar="N",
                                            help="SESSION only: run version N again with the settings it "
                                                 "recorded; exit 0 when the text matches, 1 with the differences."),
    broker: Optional[str] = common.BrokerOpt,
    home: Optional[str] = HomeOpt,
) -> None:
    """Transcribe a recording to a timestamped transcript (JSON, SRT, WebVTT or text)."""
    from asr.formats import render_any
    from asr.pipeline import Job, run_job
    from cli.progress import SegmentProgress

    with handled("interrupted; nothing was written"):
        cfg = load_config(home_dir(home))
        chosen = fmt or format_from_suffix(output) or "json"
        check_output(chosen, output)
        session = is_session_id(str(input)) and not input.exists()
        if reproduce is not None:
            if not session:
                raise OptionError("--reproduce N needs a session id: it runs a saved transcript version again")
            raise typer.Exit(_reproduce(str(input), reproduce, home_dir(home)))
        jobs = queue_of(broker, home) if session else None
        if jobs is not None:   # a SESSION on the job queue: a worker transcribes, this prints the new version
            transcript = _queued(jobs, str(input), home_dir(home), model, language or cfg.language, batch_size,
                                 beam_size, vocabulary.parse(hotwords))
            warn_unintelligible(transcript)
            write_output(render_any(transcript, chosen), output)
            return
        if session:
            from cli.sessions import retranscribe

            transcript = retranscribe(str(input), home_dir(home), model or cfg.model, language or cfg.language,
                                      batch_size, beam_size, device or cfg.device,
                                      compute_type or cfg.compute_type, vocabulary.parse(hotwords))
            warn_unintelligible(transcript)
            write_output(render_any(transcript, chosen), output)
            return
        job = Job(input=str(input), language=language or cfg.language, model=model or cfg.model,
                  speakers=split_names(speakers), fmt=chosen, batch_size=batch_size, beam_size=beam_size,
                  device=device or cfg.device, compute_type=compute_type or cfg.compute_type,
                  home=home_dir(home),
                  hotwords=vocabulary.tidy([*vocabulary.parse(hotwords), *vocabulary.read_glossary(home_dir(home))]))
        infos = []
        with SegmentProgress(label=Path(input).name) as progress:
            def started(info) -> None:
                infos.append(info)
                progress.start(info)

            transcript = run_job(job, on_start=started, on_segment=progress.advance)
        warn_unintelligible(transcript, infos[0].coverage.regions if infos else None)
        write_output(render_any(transcript, chosen, question_speakers=job.speakers[:1] or ("officer",)),
                     output)


def _queued(jobs, sid: str, home: Path, model: Optional[str], language: Optional[str], batch_size: int,
            beam_size: Optional[int], hotwords: tuple[str, ...]):
    """`xunlu transcribe SESSION --broker`: queued for a worker (its own model unless --model names one)."""
    import contextlib

    from archive.store import open_archive, system_actor
    from archive.transcripts import read_version
    from cli.jobs import follow, outcome
    from service.queued import queue_transcribe

    job = queue_transcribe(jobs, sid, system_actor(), model, language, batch_size, beam_size, hotwords)
    done = follow(jobs, job, sid)
    outcome(done)
    version = int(done.result["version"])
    typer.echo(f"{sid}: added transcript v{version} ({done.result.get('model')})", err=True)
    with contextlib.closing(open_archive(home)) as archive:
        return read_version(archive, sid, version)


def warn_unintelligible(transcript, regions: Optional[int] = None) -> None:
    """One line on stderr when speech regions could not be read (segments marked [听不清])."""
    from core.transcript import timestamp

    marked = [s for s in transcript.segments if s.to_dict().get("unintelligible")]
    if not marked:
        return
    where = ", ".join(f"{s.speaker or 'ch' + str(s.channel)} {timestamp(s.start)[:8]}" for s in marked[:10])
    more = f" and {len(marked) - 10} more" if len(marked) > 10 else ""
    of = f" of {regions}" if regions else ""
    typer.echo(f"xunlu: warning: {len(marked)}{of} speech region(s) could not be read and are marked "
               f"[听不清]: {where}{more}", err=True)


def _reproduce(sid: str, version: int, home: Path) -> int:
    """`--reproduce N`: 0 when the text matches, 1 when it does not (the differences on stdout)."""
    from archive.store import system_actor
    from asr.pipeline import load_transcriber
    from cli.progress import SegmentProgress
    from cli.sessions import archive_for
    from service.transcribe import reproduce

    with SegmentProgress(label=sid) as progress:
        result = reproduce(archive_for(str(home)), sid, version,
                           lambda name, device, ctype: load_transcriber(name, home, device, ctype),
                           system_actor(), progress)
    for line in result.changed:
        typer.echo(f"xunlu: warning: not as recorded: {line}", err=True)
    if result.text_matches:
        how = "the transcript is identical" if result.identical else \
            "the text matches; times or word details differ:\n" + result.diff
        typer.echo(f"{sid} v{version} reproduced: {how}")
        return 0
    typer.echo(f"{sid} v{version} NOT reproduced: the text differs\n{result.diff}", nl=False)
    return 1


def models_cmd(home: Optional[str] = HomeOpt) -> None:
    """List the speech models that are installed, and where."""
    from models.store import installed

    for m in installed(home_dir(home)):
        size = f"{m.size_bytes / 1e6:.0f} MB" if m.size_bytes else "-"
        typer.echo(f"{m.name}\t{m.source}\t{size}\t{m.status}\t{m.path}")
