"""Warnings over a real archive: facts from the catalog and files, the HLS playlist, the store (open,
resolved, closed with a reason and audited, never deleted), the rules file, the CLI, the daily summary,
live evaluation and the HTTP routes."""
from __future__ import annotations

import hashlib
import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archive.store import Archive
from archive.transcripts import add_version
from archive.types import ArchiveError, MediaFile
from core.transcript import Segment, Transcript
from supervise.config import load_rules
from supervise.facts import FactsCache, playlist_gaps, session_facts
from supervise.live import live_findings
from supervise.scan import refresh, scan
from supervise.store import Filter, WarningStore
from supervise.summary import run_due
from supervise.types import RulesError

TZ = timezone(timedelta(hours=8))
NOTICE = "现在依法告知你在侦查阶段的诉讼权利和义务，你有权委托律师作为辩护人，对与本案无关的问题有拒绝回答的权利"


def segments(notice: bool = True) -> tuple[Segment, ...]:
    texts = [(0, "officer", NOTICE if notice else "我们开始讯问"), (1, "suspect", "听清楚了"),
             (0, "officer", "说一下经过"), (1, "suspect", "那天我在家")]
    return tuple(Segment(i, 10.0 + 30 * i, 30.0 + 30 * i, t, (), spk, ch) for i, (ch, spk, t) in enumerate(texts))


def make_session(archive: Archive, *, notice=True, officers=("张三", "李四"), started="2026-11-21T09:00:00+08:00",
                 duration=600.0, suspect="王五", check_in="2026-11-21T08:00:00+08:00", unit="刑侦大队",
                 media=True, transcript=True, room="讯问室1") -> str:
    with archive.new_session("system:test", case_id="A1", room=room, officers=officers, suspect=suspect,
                             speakers=("officer", "suspect"), started_at=started, unit=unit,
                             check_in_at=check_in) as s:
        sid = s.id
        folder = archive.folder(sid)
        if media:
            (folder / "original").mkdir(parents=True, exist_ok=True)
            data = b"media" + sid.encode()
            (folder / "original" / "rec.mp4").write_bytes(data)
            archive.add_media(sid, MediaFile("original", "original/rec.mp4", hashlib.sha256(data).hexdigest(),
                                             len(data)))
        if transcript:
            add_version(archive, sid, Transcript("zh", "scripted", duration, segments(notice)), "asr", "system:test")
        archive.update_session(sid, status="complete", duration=duration)
    return sid


@pytest.fixture
def archive(tmp_path, catalog_backend):
    a = Archive(tmp_path / "home")
    yield a
    a.close()


NOW = datetime(2026, 11, 21, 12, 0, tzinfo=TZ)


def test_facts_from_the_archive_and_cache(archive):
    sid = make_session(archive)
    facts = session_facts(archive, sid)
    assert facts.unit == "刑侦大队" and facts.officers == ("张三", "李四") and facts.has_media
    assert facts.check_in_at == datetime(2026, 11, 21, 8, 0, tzinfo=TZ) and len(facts.segments) == 4
    cache = FactsCache(archive.home)
    assert cache.conn.execute("SELECT COUNT(*) FROM transcripts").fetchone()[0] == 1
    cache.close()
    (archive.folder(sid) / "transcripts" / "v1.json").chmod(0o000)   # unreadable: the cache still answers
    try:
        assert len(session_facts(archive, sid).segments) == 4
    finally:
        (archive.folder(sid) / "transcripts" / "v1.json").chmod(0o444)


def test_playlist_gaps(tmp_path):
    live = tmp_path / "live"
    live.mkdir()
    names = ["seg00000.ts", "seg00001.ts", "seg00002.ts", "seg00004.ts", "seg00005.ts"]
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:2", "#EXT-X-MEDIA-SEQUENCE:0"]
    for i, name in enumerate(names):
        if i == 4:
            lines.append("#EXT-X-DISCONTINUITY")
        lines += ["#EXTINF:2.000,", name]
    (live / "index.m3u8").write_text("\n".join(lines + ["#EXT-X-ENDLIST"]) + "\n")
    for name in names:
        if name != "seg00001.ts":
            (live / name).write_bytes(b"x")
    gaps = {(g.kind, g.at) for g in playlist_gaps(live)}
    assert gaps == {("missing", 2.0), ("sequence", 6.0), ("discontinuity", 8.0)}
    for name in names:                      # all cleaned up after joining: not a gap
        (live / name).unlink(missing_ok=True)
    assert {g.kind for g in playlist_gaps(live)} == {"sequence", "discontinuity"}


def test_playlist_continuous_is_quiet(tmp_path):
    live = tmp_path / "live"
    live.mkdir()
    body = "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n" + "".join(f"#EXTINF:2.0,\nseg{i:05d}.ts\n" for i in range(5))
    (live / "index.m3u8").write_text(body + "#EXT-X-ENDLIST\n")
    for i in range(5):
        (live / f"seg{i:05d}.ts").write_bytes(b"x")
    assert playlist_gaps(live) == ()


def test_store_opens_resolves_closes_and_never_deletes(archive):
    clean = make_session(archive)
    bad = make_session(archive, notice=False, officers=("张三",), started="2026-11-21T10:00:00+08:00",
                       suspect="赵六")
    cfg = load_rules()
    report = refresh(archive, cfg, "system:test", NOW)
    store = WarningStore(archive)
    rules = {(w.session, w.rule) for w in store.list()}
    assert rules == {(bad, "rights_notice"), (bad, "too_few_officers")} and report.new == 2
    assert store.list()[0].level == "red" and store.counts() == {bad: {"red": 2, "yellow": 0}}
    assert (clean, "unsigned_record") not in rules   # 3 hours after: not due yet
    later = NOW + timedelta(days=2)
    refresh(archive, cfg, "system:test", later)
    assert {w.rule for w in store.list(Filter(session=clean))} == {"unsigned_record"}
    from supervise.session_info import sign
    sign(archive, clean, "张三", "2026-11-22T09:00:00+08:00")   # within 24 h of the end
    refresh(archive, cfg, "system:test", later)
    assert store.list(Filter(session=clean)) == []
    assert [w.state for w in store.list(Filter(session=clean, state="all"))] == ["resolved"]
    target = store.list(Filter(session=bad, rule="too_few_officers"))[0]
    with pytest.raises(ArchiveError, match="reason"):
        store.close(target.id, "  ", "supervisor")
    closed = store.close(target.id, "第二名民警在场，登记遗漏，已补正", "supervisor")
    assert closed.state == "closed" and closed.closed_by == "supervisor"
    with pytest.raises(ArchiveError, match="already closed"):
        store.close(target.id, "again", "supervisor")
    refresh(archive, cfg, "system:test", later)   # still found, but it stays closed
    assert store.get(target.id).state == "closed"
    entries = [e for e in archive.audit_entries() if e.action == "warning.close"]
    assert len(entries) == 1 and entries[0].details["reason"].startswith("第二名民警")
    assert entries[0].target == f"{bad}/warning/{target.id}"
    assert len(store.list(Filter(state="all"))) == 4   # nothing deleted
    from archive.verify import verify
    assert verify(archive).ok


def test_continuity_and_restart_from_the_archive(archive):
    first = make_session(archive, started="2026-11-21T09:00:00+08:00", duration=600.0)
    second = make_session(archive, started="2026-11-21T09:12:00+08:00", duration=600.0)
    notx = make_session(archive, suspect="孙七", transcript=False)
    found = {(f.session, f.rule) for f in scan(archive, load_rules(), NOW).findings}
    assert (second, "recording_restart") in found and (first, "recording_restart") not in found
    assert (notx, "media_without_transcript") in found


def test_rules_file_errors_name_the_line(tmp_path):
    (tmp_path / "rules.toml").write_text("[detention]\nmax_hours = 24\n\n[room_not_approved]\napproved = [\"讯问室1\"]\n"
                                         "level = \"orange\"\n", encoding="utf-8")
    with pytest.raises(RulesError, match=r"rules.toml, line 6: .*level"):
        load_rules(tmp_path)
    (tmp_path / "rules.toml").write_text("[detention]\nmax_hours = 12\n[unsigned_record]\nwithin_hours = [\n",
                                         encoding="utf-8")
    with pytest.raises(RulesError, match=r"line \d+: not valid TOML"):
        load_rules(tmp_path)
    (tmp_path / "rules.toml").write_text("[detention]\nmax_hours = 12\nmax_days = 1\n", encoding="utf-8")
    with pytest.raises(RulesError, match=r"line 3: unknown key 'max_days'"):
        load_rules(tmp_path)
    (tmp_path / "rules.toml").write_text("[detention]\nmax_hours = 12\n", encoding="utf-8")
    cfg = load_rules(tmp_path)
    assert cfg.detention.max_hours == 12.0 and cfg.rights_notice.within_minutes == 10.0   # defaults kept


def test_cli_warnings_sign_and_close(archive, tmp_path):
    from cli.app import app

    home = archive.home
    sid = make_session(archive, notice=False)
    runner = CliRunner()
    r = runner.invoke(app, ["warnings", "--json", "--home", str(home)])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert {(w["session"], w["rule"]) for w in rows} >= {(sid, "rights_notice"), (sid, "unsigned_record")}
    r = runner.invoke(app, ["warnings", "--level", "purple", "--home", str(home)])
    assert r.exit_code == 2 and "red or yellow" in r.output
    wid = next(w["id"] for w in rows if w["rule"] == "rights_notice")
    r = runner.invoke(app, ["warnings", "--close", str(wid), "--home", str(home)])
    assert r.exit_code == 2 and "reason" in r.output
    r = runner.invoke(app, ["warnings", "--close", str(wid), "--reason", "告知在另一段录像中", "--by", "法制员王",
                            "--home", str(home)])
    assert r.exit_code == 0 and "closed" in r.output
    r = runner.invoke(app, ["sign", sid, "--signer", "王五", "--at", "2026-11-21T10:00:00+08:00", "--home", str(home)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["sign", sid, "--home", str(home)])
    assert r.exit_code == 2 and "already" in r.output
    r = runner.invoke(app, ["session-set", sid, "--check-in", "yesterday", "--home", str(home)])
    assert r.exit_code == 2 and "not a date" in r.output
    r = runner.invoke(app, ["session-set", sid, "--unit", "经侦大队", "--night-reason", "案情紧急", "--home", str(home)])
    assert r.exit_code == 0 and "经侦大队" in r.output
    r = runner.invoke(app, ["warnings", "--state", "all", "--unit", "经侦大队", "--home", str(home)])
    assert r.exit_code == 0 and "[closed]" in r.output and "unsigned_record" not in r.output
    (home / "rules.toml").write_text("[officers]\nmin = 2\n", encoding="utf-8")
    r = runner.invoke(app, ["warnings", "--home", str(home)])
    assert r.exit_code == 2 and "line 1" in r.output and "unknown section" in r.output


def test_daily_summary_once_a_day_with_hook(archive, tmp_path):
    make_session(archive, notice=False)
    out = tmp_path / "hook-got.txt"
    script = tmp_path / "hook.py"
    script.write_text(f"import shutil, sys\nshutil.copy(sys.argv[1], {str(out)!r})\n", encoding="utf-8")
    (archive.home / "rules.toml").write_text(f"[summary]\nhour = 7\nhook = '{sys.executable} {script}'\n",
                                             encoding="utf-8")
    assert run_due(archive.home, NOW.replace(hour=6)) is None
    result = run_due(archive.home, NOW.replace(hour=7, minute=1))
    assert result is not None and result.hook_exit == 0 and result.red >= 1
    text = result.path.read_text(encoding="utf-8")
    assert "rights_notice" not in text and "权利义务告知" in text and out.read_text(encoding="utf-8") == text
    assert json.loads(result.path.with_suffix(".json").read_text(encoding="utf-8"))["warnings"]
    assert run_due(archive.home, NOW.replace(hour=9)) is None       # once a day
    assert run_due(archive.home, (NOW + timedelta(days=1)).replace(hour=8)) is not None


def test_live_rules_while_recording(archive):
    with archive.new_session("system:test", status="recording", officers=("张三",), speakers=("officer", "suspect"),
                             started_at="2026-11-21T09:00:00+08:00", room="讯问室1") as s:
        session = s
    cfg = load_rules()
    early = {"segments": [], "status": {"elapsed": 120.0}}
    assert {f.rule for f in live_findings(session, early, cfg, NOW)} == {"too_few_officers"}
    late = {"segments": [{"start": 5, "end": 8, "speaker": "officer", "channel": 0, "text": "我们开始讯问"}],
            "status": {"elapsed": 660.0}}
    found = live_findings(session, late, cfg, NOW)
    assert {f.rule for f in found} == {"too_few_officers", "rights_notice"}
    assert "尚未宣读" in next(f.reason for f in found if f.rule == "rights_notice")
    told = {"segments": [{"start": 20, "end": 40, "speaker": "officer", "channel": 0, "text": NOTICE},
                         {"start": 41, "end": 43, "speaker": "suspect", "channel": 1, "text": "听明白了"}],
            "status": {"elapsed": 660.0}}
    assert {f.rule for f in live_findings(session, told, cfg, NOW)} == {"too_few_officers"}
    night = {"segments": told["segments"], "status": {"elapsed": 14 * 3600.0}}
    assert {"continuous_questioning", "night_questioning"} <= {f.rule for f in live_findings(session, night, cfg, NOW)}


def test_import_records_unit_and_check_in(tmp_path, monkeypatch):
    """`xunlu import --unit --check-in` (a scripted transcriber instead of the model)."""
    from helpers.archive import make_wav, scripted_transcribe

    import asr.pipeline
    from asr.types import TranscriptionInfo
    from cli.app import app

    class Scripted:
        def transcribe(self, path, options):
            t = scripted_transcribe(Path(path), options.speakers)
            return iter(t.segments), TranscriptionInfo("zh", 1.0, t.duration, 2, 3.0, "scripted")

    monkeypatch.setattr(asr.pipeline, "load_transcriber", lambda *a, **k: Scripted())
    home = tmp_path / "home"
    wav = make_wav(tmp_path)
    runner = CliRunner()
    r = runner.invoke(app, ["import", str(wav), "--check-in", "tomorrow", "--home", str(home)])
    assert r.exit_code == 2 and "not a date" in r.output
    assert not (home / "sessions").exists() or not any((home / "sessions").iterdir())   # refused before import
    r = runner.invoke(app, ["import", str(wav), "--unit", "刑侦大队", "--check-in", "2026-11-21T08:00:00+08:00",
                            "--officers", "张三,李四", "--speakers", "officer,suspect", "--home", str(home)])
    assert r.exit_code == 0, r.output
    sid = r.stdout.strip().splitlines()[-1]
    archive = Archive(home)
    try:
        s = archive.get(sid)
        assert s.unit == "刑侦大队" and s.check_in_at == "2026-11-21T08:00:00+08:00"
        assert any(e.action == "session.update" for e in archive.audit_entries(sid))
    finally:
        archive.close()


def test_officer_silent_says_what_the_audio_level_shows(archive, tmp_path):
    import numpy as np
    from helpers.speech import write_wav

    rng = np.random.default_rng(3)
    tone = 0.2 * np.sin(2 * np.pi * 300 * np.arange(16000 * 3) / 16000)
    reasons = {}
    for name, officer_channel in (("off", np.zeros_like(tone)), ("room", rng.normal(0, 0.05, tone.size))):
        wav = write_wav(tmp_path / f"{name}.wav", np.stack([officer_channel, tone]))
        with archive.new_session("system:test", officers=("张三", "李四"), speakers=("officer", "suspect"),
                                 started_at="2026-11-21T09:00:00+08:00", suspect=name) as s:
            sid = s.id
            folder = archive.folder(sid)
            (folder / "original").mkdir(parents=True, exist_ok=True)
            data = wav.read_bytes()
            (folder / "original" / "a.wav").write_bytes(data)
            archive.add_media(sid, MediaFile("original", "original/a.wav", hashlib.sha256(data).hexdigest(), len(data)))
            only_suspect = tuple(Segment(i, 2.0 * i, 2.0 * i + 1.5, NOTICE if i == 0 else "听清楚了", (), "suspect", 1)
                                 for i in range(40))
            add_version(archive, sid, Transcript("zh", "scripted", 90.0, only_suspect), "asr", "system:test")
            archive.update_session(sid, status="complete", duration=90.0)
        reasons[name] = sid
    found = {f.session: f.reason for f in scan(archive, load_rules(), NOW).findings if f.rule == "officer_silent"}
    assert "无信号" in found[reasons["off"]]
    assert "有声音" in found[reasons["room"]]


def test_transcript_read_without_words_is_the_same():
    from supervise.facts import digest_transcript, load_without_words

    t = Transcript("zh", "m", 9.0, (Segment(0, 1.0, 2.0, "你]好\"words\": [x]", (), "officer", 0),))
    from core.transcript import Word
    t2 = Transcript("zh", "m", 9.0, (Segment(0, 1.0, 2.0, "a", (Word(1.0, 1.5, "]", 0.9),), "officer", 0),
                                     Segment(1, 3.0, 4.0, "好", (Word(3.0, 4.0, "好", 0.9),), "suspect", 1)))
    for tr in (t, t2):
        text = json.dumps(tr.to_dict(), ensure_ascii=False, indent=1)
        assert digest_transcript(load_without_words(text)) == digest_transcript(json.loads(text))
