"""`xunlu demo`: the main job on embedded defaults, with no microphone or camera."""
from __future__ import annotations

from pathlib import Path

import typer

from asr.errors import InputError
from asr.formats import render
from asr.pipeline import Job, run_job
from capture.sample import SampleError, make_interview


def run(home: Path) -> None:
    sample = home / "demo" / "demo-interview.wav"
    typer.echo(f"讯录 demo: writing a two-speaker sample interview to {sample}", err=True)
    try:
        make_interview(sample)
    except SampleError as exc:
        raise InputError(str(exc)) from exc
    typer.echo("transcribing it with the bundled Whisper base model (officer = left, suspect = right)...",
               err=True)
    transcript = run_job(Job(input=str(sample), home=home, language="en", speakers=("officer", "suspect"),
                             fmt="txt"))
    typer.echo(render(transcript, "txt"), nl=False)
    typer.echo("\nTry your own file:  xunlu transcribe RECORDING.mp4 --speakers officer,suspect -o out.srt",
               err=True)
