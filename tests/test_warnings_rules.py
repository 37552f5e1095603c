"""Every supervision rule fires on its case and stays quiet on its clean twin (pure rules over facts)."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from supervise.config import defaults
from supervise.matching import Pattern, distance_in, found, normalise
from supervise.rules import RULES, evaluate
from supervise.types import MediaGap, Seg, SessionFacts, Visit

TZ = timezone(timedelta(hours=8))
START = datetime(2026, 11, 21, 9, 0, tzinfo=TZ)
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=TZ)
NOTICE = "现在依法告知你在侦查阶段的诉讼权利和义务。你有权委托律师作为辩护人，对与本案无关的问题，有拒绝回答的权利。"
NOTICE_ASR = "现在依法告知你在侦察阶段的诉讼全利和义务你有全委托律是作为辨护人对于本案无关的问题有拒绝回答的权力"


def config():
    cfg = defaults()
    return replace(cfg, room_not_approved=replace(cfg.room_not_approved, approved=("讯问室1", "讯问室2")))


def conversation(notice: str = NOTICE, notice_at: float = 20.0, answer: str = "听清楚了。", until: float = 3590.0):
    segs = [Seg(5.0, 9.0, 0, "officer", "现在开始讯问，我们是某某公安局的民警。"),
            Seg(notice_at, notice_at + 25.0, 0, "officer", notice),
            Seg(notice_at + 26.0, notice_at + 28.0, 0, "officer", "以上告知内容你听清楚了吗？")]
    if answer:
        segs.append(Seg(notice_at + 29.0, notice_at + 31.0, 1, "suspect", answer))
    t = max(notice_at + 40.0, 60.0)
    while t < until:
        segs.append(Seg(t, t + 4.0, 0, "officer", "你把当天晚上的经过说一下。"))
        segs.append(Seg(t + 5.0, t + 12.0, 1, "suspect", "那天晚上我在家里看电视，后来出去买东西。"))
        t += 60.0
    return tuple(sorted(segs, key=lambda s: s.start))


def clean(**changes) -> SessionFacts:
    base = SessionFacts(
        id="s-20261121-0001", status="complete", start=START, duration=3600.0, case_id="A1", room="讯问室1",
        unit="刑侦大队", suspect="王五", officers=("张三", "李四"), speakers=("officer", "suspect"),
        check_in_at=START - timedelta(hours=1), signed_at=START + timedelta(hours=1, minutes=20),
        has_media=True, has_transcript=True, transcript_duration=3600.0, segments=conversation())
    return replace(base, **changes)


def rules_of(facts, cfg=None, now=NOW):
    return {w.rule for w in evaluate(facts, cfg or config(), now)}


def test_clean_session_has_no_warning():
    assert evaluate(clean(), config(), NOW) == []


# name -> facts that fire exactly that rule (the clean session is the twin of each)
CASES = {
    "rights_notice": lambda: clean(segments=conversation(notice="请你如实回答我们的问题。", answer="好的。")),
    "rights_understood": lambda: clean(segments=conversation(answer="嗯。")),
    "too_few_officers": lambda: clean(officers=("张三",)),
    "officer_silent": lambda: clean(speakers=("officer", "officer2", "suspect"),
                                    segments=tuple(s if s.channel == 0 else s._replace(channel=2)
                                                   for s in conversation())),
    "continuous_questioning": lambda: clean(duration=13 * 3600.0, transcript_duration=13 * 3600.0,
                                            segments=conversation(until=13 * 3600.0 - 10),
                                            check_in_at=START, start=START.replace(hour=8)),
    "night_questioning": lambda: clean(start=START.replace(hour=23), check_in_at=START.replace(hour=22),
                                       signed_at=START.replace(hour=23) + timedelta(hours=2)),
    "detention": lambda: clean(check_in_at=START - timedelta(hours=23, minutes=30)),
    "room_not_approved": lambda: clean(room="办公室"),
    "unsigned_record": lambda: clean(signed_at=None),
    "recording_gap": lambda: clean(gaps=(MediaGap(1200.0, "discontinuity", "seg00600.ts"),)),
    "recording_restart": lambda: clean(earlier=(Visit("s-20261121-0000", START - timedelta(minutes=40),
                                                      START - timedelta(minutes=5)),)),
    "transcript_past_media": lambda: clean(duration=1800.0, transcript_duration=1800.0),
    "media_without_transcript": lambda: clean(has_transcript=False, segments=(), transcript_duration=None),
}


def test_every_rule_has_a_case():
    assert set(CASES) == set(RULES)


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_fires_on_its_case_only(rule):
    findings = evaluate(CASES[rule](), config(), NOW)
    assert {w.rule for w in findings} == {rule}, findings
    for w in findings:
        assert w.level in ("red", "yellow") and w.reason and w.session == "s-20261121-0001"


@pytest.mark.parametrize("rule", sorted(CASES))
def test_disabled_rule_stays_quiet(rule):
    cfg = config()
    cfg = replace(cfg, **{rule: replace(getattr(cfg, rule), enabled=False)})
    assert rule not in rules_of(CASES[rule](), cfg)


def test_rights_notice_with_asr_errors_still_counts():
    pattern = Pattern.of("有权委托律师作为辩护人", 0.7)
    assert found(pattern, normalise("你有全委托律是作为辨护人"))        # 3 characters misheard
    assert not found(pattern, normalise("你有权利保持沉默"))
    facts = clean(segments=conversation(notice=NOTICE_ASR))
    assert "rights_notice" not in rules_of(facts)
    assert "rights_understood" not in rules_of(facts)


def test_rights_notice_split_over_two_segments_counts():
    segs = list(conversation(notice="现在依法告知你在侦查阶段的诉讼权利"))
    segs.insert(2, Seg(45.5, 50.0, 0, "officer", "和义务，你有权委托律师作为辩护人"))
    assert "rights_notice" not in rules_of(clean(segments=tuple(segs)))


def test_rights_notice_late_and_incomplete_point_at_the_recording():
    late = evaluate(clean(segments=conversation(notice_at=900.0)), config(), NOW)
    notice = [w for w in late if w.rule == "rights_notice"]
    assert len(notice) == 1 and notice[0].at == 900.0 and "15:00" in notice[0].reason
    partial = evaluate(clean(segments=conversation(notice="你有权委托律师作为辩护人。")), config(), NOW)
    notice = [w for w in partial if w.rule == "rights_notice"]
    assert len(notice) == 1 and "不全" in notice[0].reason and notice[0].at == 20.0
    missing = [w for w in evaluate(CASES["rights_notice"](), config(), NOW) if w.rule == "rights_notice"]
    assert missing[0].at == 5.0  # the first thing the officer said: where the notice was expected


def test_officer_question_is_not_the_answer_and_negation_is_refusal():
    # the officer's "听清楚了吗" must not count as the person's answer, even on a single unnamed channel
    single = tuple(s._replace(speaker=None, channel=0) for s in conversation(answer=""))
    assert "rights_understood" in rules_of(clean(speakers=(), segments=single))
    refused = evaluate(clean(segments=conversation(answer="我没听清楚。")), config(), NOW)
    assert [w.rule for w in refused] == ["rights_understood"] and "没有听清" in refused[0].reason
    asr_answer = clean(segments=conversation(answer="听清除了"))       # one character misheard
    assert "rights_understood" not in rules_of(asr_answer)


def test_time_limits_point_at_the_moment_they_were_crossed():
    w = [x for x in evaluate(CASES["detention"](), config(), NOW) if x.rule == "detention"][0]
    assert w.at == pytest.approx(30 * 60.0)
    night = [x for x in evaluate(CASES["night_questioning"](), config(), NOW)][0]
    assert night.at == 0.0
    assert "night_questioning" not in rules_of(replace(CASES["night_questioning"](), night_reason="案情紧急，需连夜讯问"))
    early = clean(start=START.replace(hour=5), check_in_at=START.replace(hour=4))   # 05:00-06:00
    assert "night_questioning" in rules_of(early)


def test_continuous_questioning_chains_sessions_with_short_breaks():
    cfg = config()
    earlier = (Visit("s-20261121-0000", START - timedelta(hours=11, minutes=30), START - timedelta(minutes=30)),)
    chained = clean(earlier=earlier, check_in_at=START - timedelta(hours=12))
    assert "continuous_questioning" in rules_of(chained, cfg)
    rested = clean(earlier=(Visit("s-20261121-0000", START - timedelta(hours=12), START - timedelta(hours=2)),),
                   check_in_at=START - timedelta(hours=13))
    assert "continuous_questioning" not in rules_of(rested, cfg)


def test_unsigned_record_waits_for_the_configured_time():
    cfg = config()
    unsigned = clean(signed_at=None)
    assert "unsigned_record" not in rules_of(unsigned, cfg, now=START + timedelta(hours=5))
    assert "unsigned_record" in rules_of(unsigned, cfg, now=START + timedelta(hours=26))
    late = clean(signed_at=START + timedelta(hours=30))
    assert "unsigned_record" in rules_of(late, cfg)


def test_room_rule_is_off_without_an_approved_list():
    assert "room_not_approved" not in rules_of(clean(room="办公室"), defaults())
    assert "room_not_approved" in rules_of(clean(room=None))


def test_media_shorter_transcript_and_missing_files():
    partial = clean(transcript_duration=1200.0)
    assert "media_without_transcript" in rules_of(partial)
    missing = clean(media_files_missing=("original/a.mp4",))
    found_ = [w for w in evaluate(missing, config(), NOW) if w.rule == "recording_gap"]
    assert found_ and "original/a.mp4" in found_[0].reason


def test_red_comes_first():
    facts = clean(officers=("张三",), segments=conversation(answer="嗯。"))
    levels = [w.level for w in evaluate(facts, config(), NOW)]
    assert levels == sorted(levels, key=lambda lv: lv != "red") and "red" in levels and "yellow" in levels


def test_distance_in_is_substring_edit_distance():
    assert distance_in("abc", "xxabcxx") == 0
    assert distance_in("abc", "xxabxx") == 1
    assert distance_in("abcd", "axcd") == 1
    assert distance_in("abc", "") == 3
