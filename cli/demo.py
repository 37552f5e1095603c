"""`xunlu demo`: the main job on embedded defaults, with no microphone or camera.

It makes a two-speaker sample interview over an ffmpeg test picture, officer on the left channel and suspect
on the right: in Mandarin (the default) from real AISHELL-1 recordings shipped with the project
(cli/demo_sample.py), in English (`--lang en`) from espeak-ng voices (capture/sample.py). It records it
through the live pipeline as a real session would be (segments, streaming transcript, journal, live index),
then serves the web app and prints the address, the demo logins and the words to search."""
from __future__ import annotations

import queue
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional
from urllib.parse import quote

import typer

from cli.common import HomeOpt, handled
from core.config import home_dir
from core.errors import InputError, OptionError

SPEAKERS = ("officer", "suspect")
LANGUAGES = ("zh", "en")
PREFERRED_WORDS = ("warehouse", "Harbor", "alone", "Tuesday")


@dataclass(frozen=True)
class DemoOptions:
    port: int = 8000
    serve: bool = True
    realtime: bool = True
    lang: str = "zh"     # zh: the AISHELL-1 sample; en: the espeak-ng one


def _make_speech(wav: Path, lang: str) -> None:
    if lang == "zh":
        from cli.demo_sample import make_interview as make_mandarin

        make_mandarin(wav)
        return
    from capture.sample import SampleError, make_interview

    try:
        make_interview(wav)
    except SampleError as exc:
        raise InputError(str(exc)) from exc


def make_sample(home: Path, lang: str = "zh") -> Path:
    """The sample interview as an MP4: the two-channel speech over a test picture."""
    folder = home / "demo"
    wav, mp4 = folder / f"demo-interview-{lang}.wav", folder / f"demo-interview-{lang}.mp4"
    _make_speech(wav, lang)
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
           "-i", str(wav), "-shortest", "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "veryfast",
           "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k", "-movflags", "+faststart", str(mp4)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise InputError(f"ffmpeg could not make the demo video: {done.stderr.strip()[-300:]}")
    return mp4


def pick_words(texts: list[str], lang: str) -> list[tuple[str, str]]:
    """Words the transcript really contains, for the user to search: (word, what it is)."""
    if lang == "zh":
        from cli.demo_sample import SEARCH_WORDS

        joined = re.sub(r"\s+", "", "".join(texts))
        joined = re.sub(r"(?<=\d)[,，、-](?=\d)", "", joined)     # digit groups as the index joins them
        return [(w.word, w.kind) for w in SEARCH_WORDS if (w.said or w.word) in joined]
    word = pick_word(texts)
    return [(word, "word")] if word else []


def pick_word(texts: list[str]) -> Optional[str]:
    """An English word the transcript really contains, for the user to search."""
    joined = " ".join(texts)
    for word in PREFERRED_WORDS:
        if re.search(rf"\b{word}\b", joined, re.IGNORECASE):
            return word.lower()
    words = sorted(set(re.findall(r"[A-Za-z]{6,}", joined)), key=len, reverse=True)
    return words[0].lower() if words else None


def _logins(home: Path) -> list[str]:
    from accounts.setup import ensure_demo_users

    lines = []
    for name, role, password in ensure_demo_users(home):
        shown = password if password else "(set at the first demo run; `xunlu users passwd %s` resets it)" % name
        lines.append(f"  {role:<10} {name:<11} {shown}")
    return lines


def _request(sample: Path, realtime: bool, lang: str) -> Any:
    from service.live import RecordRequest

    if lang == "zh":
        from cli.demo_sample import SUSPECT_NAME

        suspect = SUSPECT_NAME
    else:
        suspect = "demo suspect"
    return RecordRequest(video=str(sample), case_id="DEMO-2026-001", room="讯问室1", officers=("张警官", "李警官"),
                         suspect=suspect, speakers=SPEAKERS, language=lang, realtime=realtime)


def record(home: Path, sample: Path, realtime: bool, lang: str = "zh") -> tuple[str, list[str], Any]:
    """Record the sample through the live pipeline; (session id, final texts, the loaded model)."""
    from asr.pipeline import load_transcriber
    from cli.record import _Screen, _stop
    from cli.sessions import archive_for
    from core.config import load_config
    from service.live import start_live

    cfg = load_config(home)
    archive = archive_for(str(home))
    typer.echo("loading the bundled Whisper base model…", err=True)
    transcriber = load_transcriber(cfg.model, home, cfg.device, cfg.compute_type)
    live = start_live(home, archive, _request(sample, realtime, lang), transcriber, "system:demo")
    events = live.subscribe()
    texts: list[str] = []
    with _Screen(live.session_id, "demo interview (file played as live)") as screen:
        while True:
            finished = live.wait(0)
            try:
                event = events.get(timeout=0.25)
            except queue.Empty:
                if finished:
                    break
                continue
            if event.get("type") == "final":
                texts.append(event["segment"]["text"])
            screen.event(event)
    session = _stop(live)
    if session.status != "complete":
        raise InputError(f"the demo session {session.id} ended {session.status}: {session.error}")
    return session.id, texts, transcriber


def run(home: Path, options: DemoOptions = DemoOptions()) -> None:
    what = "Mandarin, AISHELL-1 voices" if options.lang == "zh" else "English, espeak-ng voices"
    typer.echo(f"讯录 demo: making a two-speaker sample interview ({what}) under {home / 'demo'}", err=True)
    sample = make_sample(home, options.lang)
    typer.echo("recording it through the live pipeline (officer = left channel, suspect = right)…", err=True)
    sid, texts, transcriber = record(home, sample, options.realtime, options.lang)
    words = pick_words(texts, options.lang)
    word = words[0][0] if words else None
    typer.echo(f"\nsession {sid} recorded, transcribed and indexed.", err=True)
    for found, kind in words:
        typer.echo(f"search it from the shell:  xunlu search {found}    ({kind})", err=True)
    logins = _logins(home)
    if not options.serve:
        typer.echo(sid)
        return
    from api.server import ServeOptions, start_in_thread

    try:
        server = start_in_thread(home, ServeOptions(port=options.port), transcriber=transcriber)
    except OSError as exc:
        raise InputError(f"cannot listen on port {options.port}: {exc.strerror or exc} (try --port)") from exc
    query = f"?q={quote(word)}" if word else ""
    typer.echo(f"\n讯录 web app: {server.url}/search.html{query}   (console: {server.url}/console.html)", err=True)
    typer.echo("demo logins (role, user, password):", err=True)
    for line in logins:
        typer.echo(line, err=True)
    if word:
        typer.echo(f"log in as supervisor, search 「{word}」 and click a result: the player lands on the word.",
                   err=True)
    typer.echo("Ctrl-C stops the server.", err=True)
    try:
        while server.thread.is_alive():
            time.sleep(0.5)
    except KeyboardInterrupt:
        typer.echo("stopping the server", err=True)
    finally:
        server.stop()


def demo_command(
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port of the web app it starts."),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Start the web app afterwards (Ctrl-C stops)."),
    fast: bool = typer.Option(False, "--fast", help="Play the sample as fast as possible, not in real time."),
    lang: str = typer.Option("zh", "--lang", help="zh: a Mandarin interview from AISHELL-1 recordings; "
                             "en: an English one from espeak-ng voices."),
    home: Optional[str] = HomeOpt,
) -> None:
    """Record a two-speaker sample interview live, index it and serve the web app (no microphone or camera
    needed); prints the address, the demo logins and the words to search."""
    with handled("interrupted"):
        if lang not in LANGUAGES:
            raise OptionError(f"--lang {lang!r}: the demo speaks {' or '.join(LANGUAGES)}")
        run(home_dir(home), DemoOptions(port=port, serve=serve, realtime=not fast, lang=lang))
