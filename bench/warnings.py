"""Benchmark: every supervision rule over a synthetic archive of 10,000 sessions.

    .venv/bin/python -m bench.warnings [--sessions N] [--minutes M] [--seed N] [--no-words] [--keep DIR]

--keep DIR builds the archive there and keeps it; a later run with the same --keep DIR reuses it (the facts
cache and the stored warnings are dropped first, so "cold" is cold again, apart from the OS page cache).

The archive is written straight into a temp home's catalog (one SQLite transaction; no audit entries, which
the rules do not read) with one transcript file per session in the archive's JSON form: a segment every
~12 s alternating officer / suspect over 20-60 minutes (--minutes sets the mean, default 40), 12-30
characters each, one Word per two characters (as the ASR writes them; --no-words leaves them out). About
one session in six carries a defect (rights notice missing or with ASR errors / too late, one officer, a
silent officer channel, night questioning, check-in more than 24 h before, an unapproved room, unsigned,
a live playlist with a discontinuity or a missing segment, a restart minutes after the same person's
previous session, a transcript longer than the media, media without a transcript); the rest are clean and
read the notice with ASR-style errors in one of three wordings. The same person is questioned 1-3 times.

Measured, each on its own:
  cold     supervise.scan.scan(): facts from the catalog, every transcript file parsed (facts cache empty,
           filled on the way), every rule evaluated
  warm     the same again: transcripts come from the facts cache
  refresh  supervise.scan.refresh(): warm scan + storing the warnings (insert / update / resolve)
  rules    supervise.rules.evaluate() alone over facts already in memory (the pure rule time)
Findings per rule are printed so that a run that finds nothing is visible. The synthetic media files are
empty, so the officer-silent audio-level look-up (ffmpeg, once per flagged recording, then cached) costs
nothing here; on real recordings it decodes the audio (seconds per hour of audio), once.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

TZ = timezone(timedelta(hours=8))
NOTICES = ("现在依法告知你在侦查阶段的诉讼权利和义务，你有权委托律师作为辩护人，对与本案无关的问题有拒绝回答的权利。",
           "根据法律规定告知你诉讼权利和义务：你有全委托律是作为辨护人，对于本案无关的问题有拒决回答的权力。",
           "下面向你宣读诉讼权力和义务告知书。你应当如实回答侦查人员的提问，你有申请回避的权利。")
FILLER = "你把当天晚上的经过详细说一下当时还有谁在场我记得是九点多钟出的门后来去了朋友家里喝酒一直到半夜才回来"
ROOMS = ("讯问室1", "讯问室2", "讯问室3")
DEFECTS = ("no_notice", "late_notice", "one_officer", "silent_officer", "night", "detention", "room", "unsigned",
           "gap", "restart", "past_media", "no_transcript")


def text(rng: random.Random, n: int) -> str:
    start = rng.randrange(0, len(FILLER) - n)
    return FILLER[start:start + n]


def transcript(rng: random.Random, sid: str, duration: float, notice: str | None, notice_at: float,
               silent_channel: bool, words: bool) -> dict:
    segs, t, i, stage = [], 5.0, 0, 0 if notice is not None else 2
    while t < duration - 15:
        if stage == 0 and t >= notice_at:
            body, ch, stage = notice, 0, 1
        elif stage == 1:
            body, ch, stage = "听清楚了", 1, 2
        else:
            body, ch = text(rng, rng.randint(12, 30)), i % 2
        if silent_channel and ch == 0:
            ch = 2                          # officer2's channel carries it; "officer" stays silent
        end = t + 3 + len(body) * 0.22
        seg = {"id": i, "start": round(t, 2), "end": round(end, 2), "speaker": ("officer", "suspect", "officer2")[ch],
               "channel": ch, "text": body, "words": []}
        if words:
            step = (end - t) / max(1, (len(body) + 1) // 2)
            seg["words"] = [{"start": round(t + k * step, 2), "end": round(t + (k + 1) * step, 2),
                             "text": body[2 * k:2 * k + 2], "p": 0.9} for k in range((len(body) + 1) // 2)]
        segs.append(seg)
        t, i = end + rng.uniform(1.0, 9.0), i + 1
    return {"session": sid, "language": "zh", "model": "bench", "duration": duration, "version": 1, "segments": segs}


def build(home: Path, n: int, minutes: float, seed: int, words: bool) -> Counter:
    from archive.store import Archive

    archive = Archive(home)
    conn = archive.conn
    rng = random.Random(seed)
    planted: Counter = Counter()
    base = datetime(2026, 1, 5, 9, 0, tzinfo=TZ)
    conn.execute("BEGIN")
    person_left, person, check_in, last_end = 0, 0, base, base
    for k in range(n):
        sid = f"s-{(base + timedelta(days=k // 40)).strftime('%Y%m%d')}-{k % 40 + 1:04d}"
        defect = rng.choice(DEFECTS) if rng.random() < 1 / 6 else None
        if defect == "restart" and person_left == 0:
            defect = None                         # a restart needs an earlier session of the same person
        planted[defect or "clean"] += 1
        if person_left == 0:                      # a new person checks in
            person, person_left = person + 1, rng.randint(1, 3)
            check_in = base + timedelta(days=k // 40, hours=(k % 40) * 0.15)
            start = check_in + timedelta(minutes=30)
        else:
            start = last_end + timedelta(minutes=5 if defect == "restart" else rng.randint(90, 180))
        person_left -= 1
        if defect == "night":
            start = start.replace(hour=23)
        duration = rng.uniform(0.5, 1.5) * minutes * 60
        last_end = start + timedelta(seconds=duration)
        checked = check_in - timedelta(hours=30) if defect == "detention" else check_in
        officers = ["张三"] if defect == "one_officer" else ["张三", "李四"]
        speakers = ["officer", "suspect", "officer2"] if defect == "silent_officer" else ["officer", "suspect"]
        signed = None if defect == "unsigned" else (last_end + timedelta(hours=1)).isoformat()
        reason = None
        room = "办公室" if defect == "room" else rng.choice(ROOMS)
        conn.execute("INSERT INTO sessions (id, status, created_at, started_at, duration, case_id, room, officers,"
                     " suspect, speakers, source_name, language, unit, check_in_at, signed_at, night_reason)"
                     " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                     (sid, "complete", start.isoformat(), start.isoformat(), duration, f"A{person // 3}", room,
                      json.dumps(officers, ensure_ascii=False), f"嫌疑人{person}",
                      json.dumps(speakers), "bench.mp4", "zh", f"第{person % 7 + 1}中队", checked.isoformat(),
                      signed, reason))
        folder = home / "sessions" / sid
        (folder / "original").mkdir(parents=True)
        (folder / "original" / "rec.mp4").write_bytes(b"")
        conn.execute("INSERT INTO media (session_id, role, path, sha256, size) VALUES (?,?,?,?,?)",
                     (sid, "original", "original/rec.mp4", "0" * 64, 0))
        if defect != "no_transcript":
            notice = None if defect == "no_notice" else rng.choice(NOTICES)
            notice_at = 900.0 if defect == "late_notice" else rng.uniform(10, 120)
            data = transcript(rng, sid, duration * (1.5 if defect == "past_media" else 1.0), notice, notice_at,
                              defect == "silent_officer", words)
            if defect == "past_media":
                data["duration"] = duration
            (folder / "transcripts").mkdir()
            (folder / "transcripts" / "v1.json").write_text(json.dumps(data, ensure_ascii=False, indent=1),
                                                            encoding="utf-8")
            conn.execute("INSERT INTO transcripts (session_id, version, kind, path, sha256, created_at, author)"
                         " VALUES (?,?,?,?,?,?,?)", (sid, 1, "asr", "transcripts/v1.json", f"{k:064x}",
                                                     start.isoformat(), "bench"))
        if defect == "gap":
            live = folder / "live"
            live.mkdir()
            lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:2"]
            for s in range(int(duration // 2)):
                if s == 300:
                    lines.append("#EXT-X-DISCONTINUITY")
                lines += ["#EXTINF:2.000,", f"seg{s:05d}.ts"]
            (live / "index.m3u8").write_text("\n".join(lines) + "\n#EXT-X-ENDLIST\n")
    conn.execute("COMMIT")
    archive.close()
    return planted


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=10_000)
    ap.add_argument("--minutes", type=float, default=40.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-words", action="store_true")
    ap.add_argument("--keep", type=Path, help="build the archive here and keep it (reused when it exists)")
    args = ap.parse_args()

    from archive.store import Archive
    from supervise.config import load_rules
    from supervise.facts import iter_facts
    from supervise.rules import evaluate
    from supervise.scan import refresh, scan

    home = args.keep or Path(tempfile.mkdtemp(prefix="xunlu-bench-warnings-"))
    try:
        t0 = time.perf_counter()
        if (home / "catalog.sqlite").exists():
            print(f"reusing the archive in {home} (--sessions, --minutes, --seed, --no-words are ignored)")
            for name in ("supervise-cache.sqlite", "supervise-cache.sqlite-wal", "supervise-cache.sqlite-shm"):
                (home / name).unlink(missing_ok=True)      # "cold" starts without the facts cache
            Archive(home).conn.execute("DELETE FROM warnings")
        else:
            planted = build(home, args.sessions, args.minutes, args.seed, not args.no_words)
            size = sum(f.stat().st_size for f in (home / "sessions").rglob("v1.json"))
            print(f"built {args.sessions} sessions ({size / 1e6:.0f} MB of transcripts) in "
                  f"{time.perf_counter() - t0:.1f} s; planted: {dict(planted)}")
        (home / "rules.toml").write_text('[room_not_approved]\napproved = ["讯问室1", "讯问室2", "讯问室3"]\n',
                                         encoding="utf-8")
        cfg = load_rules(home)
        now = datetime(2027, 1, 1, tzinfo=TZ)
        archive = Archive(home)
        for label in ("cold", "warm"):
            result = scan(archive, cfg, now)
            print(f"{label:8s} scan: {result.sessions} sessions, {len(result.findings)} findings in "
                  f"{result.seconds:.2f} s ({result.seconds / result.sessions * 1e3:.2f} ms/session); of which "
                  f"{result.level_seconds:.2f} s for {result.level_checks} audio-level look-ups (officer silent)")
        t = time.perf_counter()
        report = refresh(archive, cfg, "system:bench", now)
        print(f"refresh  scan + store: {time.perf_counter() - t:.2f} s (new {report.new}, open {report.open_total})")
        facts = list(iter_facts(archive))
        t = time.perf_counter()
        findings = [w for f in facts for w in evaluate(f, cfg, now)]
        rules_s = time.perf_counter() - t
        print(f"rules    evaluate() over {len(facts)} sessions in memory: {rules_s:.2f} s "
              f"({rules_s / len(facts) * 1e3:.3f} ms/session)")
        print("findings per rule:", dict(Counter(w.rule for w in findings).most_common()))
        archive.close()
    finally:
        if args.keep is None:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
