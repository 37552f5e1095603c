"""`xunlu transcribe` and `xunlu models`."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cli.common import HomeOpt, check_output, format_from_suffix, handled, is_session_id, split_names, write_output
from core.config import home_dir, load_config


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
        if is_session_id(str(input)) and not input.exists():
            from cli.sessions import retranscribe

            transcript = retranscribe(str(input), home_dir(home), model or cfg.model, language or cfg.language,
                                      batch_size, beam_size, device or cfg.device,
                                      compute_type or cfg.compute_type)
            write_output(render_any(transcript, chosen), output)
            return
        job = Job(input=str(input), language=language or cfg.language, model=model or cfg.model,
                  speakers=split_names(speakers), fmt=chosen, batch_size=batch_size, beam_size=beam_size,
                  device=device or cfg.device, compute_type=compute_type or cfg.compute_type,
                  home=home_dir(home))
        with SegmentProgress(label=Path(input).name) as progress:
            transcript = run_job(job, on_start=progress.start, on_segment=progress.advance)
        write_output(render_any(transcript, chosen, question_speakers=job.speakers[:1] or ("officer",)),
                     output)


def models_cmd(home: Optional[str] = HomeOpt) -> None:
    """List the speech models that are installed, and where."""
    from models.store import installed

    for m in installed(home_dir(home)):
        size = f"{m.size_bytes / 1e6:.0f} MB" if m.size_bytes else "-"
        typer.echo(f"{m.name}\t{m.source}\t{size}\t{m.status}\t{m.path}")
