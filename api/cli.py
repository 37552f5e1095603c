"""The `xunlu` command line. It parses, calls the library, and turns domain errors into exit codes."""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Iterator, Optional, Union

import typer

from api.config import home_dir, load_config
from asr.errors import OptionError, XunluError
from models.store import ModelError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="讯录 xunlu: interrogation-room recording and searchable transcripts.")
log = logging.getLogger("xunlu.cli")

HomeOpt = typer.Option(None, "--home", help="Home folder (default $XUNLU_HOME or ~/.local/share/xunlu).")


def fail(message: str, code: int = 2) -> None:
    typer.echo(f"xunlu: error: {message}", err=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def handled(interrupted: str = "interrupted") -> Iterator[None]:
    """Turn every domain error into one line on stderr and its exit code; never a traceback."""
    from archive.types import ArchiveError

    try:
        yield
    except (XunluError, ModelError, ArchiveError) as exc:
        fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        fail(interrupted, 130)


def _split(value: Optional[str]) -> tuple[str, ...]:
    if not value:
        return ()
    names = tuple(v.strip() for v in value.split(","))
    if any(not n for n in names):
        raise OptionError(f"empty name in list '{value}'")
    return names


def check_output(fmt: str, output: Optional[Path]) -> None:
    if fmt == "docx" and output is None:
        raise OptionError("the DOCX 笔录 is a binary file: give -o FILE.docx")


def write_output(data: Union[str, bytes], output: Optional[Path]) -> None:
    """stdout, or the file written atomically (nothing appears at the path unless all of it is there)."""
    if output is None:
        if isinstance(data, bytes):
            raise OptionError("binary output needs -o FILE")
        sys.stdout.write(data)
        sys.stdout.flush()
        return
    target = output.expanduser()
    if target.is_dir():
        raise OptionError(f"output path is a directory: {output}")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise OptionError(f"output folder does not exist: {parent}")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _format_from_suffix(output: Optional[Path]) -> Optional[str]:
    if output is None:
        return None
    suffix = output.suffix.lower().lstrip(".")
    return suffix if suffix in ("json", "srt", "vtt", "txt", "docx") else None


@app.command()
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
    from api.progress import SegmentProgress
    from asr.formats import render_any
    from asr.pipeline import Job, run_job

    with handled("interrupted; nothing was written"):
        cfg = load_config(home_dir(home))
        chosen = fmt or _format_from_suffix(output) or "json"
        check_output(chosen, output)
        if is_session_id(str(input)) and not input.exists():
            from api.cli_archive import retranscribe

            transcript = retranscribe(str(input), home_dir(home), model or cfg.model, language or cfg.language,
                                      batch_size, beam_size, device or cfg.device,
                                      compute_type or cfg.compute_type)
            write_output(render_any(transcript, chosen), output)
            return
        job = Job(input=str(input), language=language or cfg.language, model=model or cfg.model,
                  speakers=_split(speakers), fmt=chosen, batch_size=batch_size, beam_size=beam_size,
                  device=device or cfg.device, compute_type=compute_type or cfg.compute_type,
                  home=home_dir(home))
        with SegmentProgress(label=Path(input).name) as progress:
            transcript = run_job(job, on_start=progress.start, on_segment=progress.advance)
        write_output(render_any(transcript, chosen, question_speakers=job.speakers[:1] or ("officer",)),
                     output)


@app.command("models")
def models_cmd(home: Optional[str] = HomeOpt) -> None:
    """List the speech models that are installed, and where."""
    from models.store import installed

    for m in installed(home_dir(home)):
        size = f"{m.size_bytes / 1e6:.0f} MB" if m.size_bytes else "-"
        typer.echo(f"{m.name}\t{m.source}\t{size}\t{m.status}\t{m.path}")


@app.command()
def demo(
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port of the web app it starts."),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Start the web app afterwards (Ctrl-C stops)."),
    fast: bool = typer.Option(False, "--fast", help="Play the sample as fast as possible, not in real time."),
    home: Optional[str] = HomeOpt,
) -> None:
    """Record a two-speaker sample interview live, index it and serve the web app (no microphone or camera
    needed); prints the address, the demo logins and a word to search."""
    from api import demo_cmd

    with handled("interrupted"):
        demo_cmd.run(home_dir(home), demo_cmd.DemoOptions(port=port, serve=serve, realtime=not fast))


def is_session_id(value: str) -> bool:
    from archive.store import SESSION_ID

    return bool(SESSION_ID.match(value))


def main() -> None:
    logging.basicConfig(level=os.environ.get("XUNLU_LOG", "WARNING").upper(),
                        format="%(levelname)s %(name)s: %(message)s")
    app()


from api import cli_archive, cli_record, cli_search, cli_serve, cli_users, cli_warnings  # noqa: E402,F401  (register their commands on `app`)

if __name__ == "__main__":
    main()
