"""A warning's reason reads in the page's language: stored in Chinese, shown in English on an English page,
with its numbers, times and names kept. A reason no template made is shown as it is."""
from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest
from test_warnings_api import world  # noqa: F401  (the fixture)
from test_warnings_rules import CASES, NOW, START, clean, config, conversation

from supervise.reasons import in_language
from supervise.rules import evaluate
from supervise.types import MediaGap, Visit

HAN = re.compile(r"[\u4e00-\u9fff]")

MORE_CASES = {
    "rights_notice late": lambda: clean(segments=conversation(notice_at=900.0)),
    "rights_understood refused": lambda: clean(segments=conversation(answer="没听清楚。")),
    "gap without detail": lambda: clean(gaps=(MediaGap(61.0, "source_lost"),)),
    "missing file": lambda: clean(media_files_missing=("media/playable.mp4",)),
    "signed late": lambda: clean(signed_at=START + timedelta(hours=30)),
    "partial transcript": lambda: clean(transcript_duration=1200.0, segments=conversation(until=1190.0)),
    "one officer, none named": lambda: clean(officers=()),
    "rights_notice incomplete": lambda: clean(segments=conversation(notice="现在依法告知你在侦查阶段的诉讼权利和义务。")),
    "continuous over two sessions": lambda: clean(earlier=(Visit("s-20261121-0000", START - timedelta(hours=12),
                                                                 START - timedelta(minutes=5)),)),
}


def findings():
    for name, make in {**CASES, **MORE_CASES}.items():
        facts = make()
        for w in evaluate(facts, config(), NOW):
            yield name, facts, w


def given(facts) -> list[str]:
    """What people typed (names, rooms) or configured (the notice's phrases): shown as it was given."""
    return [*facts.officers, facts.room or "", *config().rights_notice.phrases]


@pytest.mark.parametrize("name,facts,finding", list(findings()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_reason_has_english_words(name, facts, finding):
    english = in_language(finding.reason, "en")
    assert english != finding.reason
    words = english
    for text in sorted(given(facts), key=len, reverse=True):
        words = words.replace(text, "") if text else words
    assert not HAN.search(words), english
    for number in re.findall(r"\d+(?::\d{2})*", finding.reason):    # every number and time is kept
        assert number in english, (number, english)
    assert in_language(finding.reason, "zh") == finding.reason


def test_english_reasons_say_what_happened():
    night = next(w for w in evaluate(CASES["night_questioning"](), config(), NOW) if w.rule == "night_questioning")
    assert in_language(night.reason, "en") == "Questioned at night (22:00-06:00) for 1 h 0 min with no reason recorded"
    room = next(w for w in evaluate(clean(room="办公室"), config(), NOW) if w.rule == "room_not_approved")
    assert in_language(room.reason, "en") == "The place of questioning “办公室” is not on the list of approved rooms"
    few = next(w for w in evaluate(clean(officers=("张三",)), config(), NOW) if w.rule == "too_few_officers")
    assert in_language(few.reason, "en").startswith("Only 1 questioning officer(s) registered (张三)")


def test_a_reason_no_template_made_is_shown_as_it_is():
    assert in_language("旧版本记录的原因", "en") == "旧版本记录的原因"
    assert in_language("", "en") == ""


def test_the_stored_reason_stays_chinese():
    cfg = replace(config(), timezone="Asia/Shanghai")
    stored = evaluate(clean(room="办公室"), cfg, NOW)[0].reason
    assert stored == "讯问地点「办公室」不在批准的讯问室名单中"


def test_the_warnings_list_answers_in_the_pages_language(world):  # noqa: F811
    c, sup = world["c"], world["t"]["super"]
    zh = c.get("/api/warnings", headers={**sup, "Accept-Language": "zh-CN"}, params={"refresh": 1}).json()
    en = c.get("/api/warnings", headers={**sup, "Accept-Language": "en"}).json()
    zh_by, en_by = ({w["key"]: w["reason"] for w in d["warnings"]} for d in (zh, en))
    assert zh_by.keys() == en_by.keys() and zh_by
    room = next(k for k in zh_by if k.endswith("/room_not_approved"))
    assert en_by[room] == "The place of questioning “办公室” is not on the list of approved rooms"
    assert HAN.search(zh_by[room])
    for key, text in en_by.items():   # all but the names given (张三) and the room (办公室)
        assert not HAN.search(text.replace("张三", "").replace("办公室", "")), text
    session = c.get(f"/api/sessions/{world['bad']}/warnings", headers={**world["t"]["zhang"],
                                                                       "Accept-Language": "en"}).json()
    assert any(w["reason"].startswith("Only 1 questioning officer") for w in session["warnings"])
    live = c.get(f"/api/sessions/{world['running']}/warnings", headers={**world["t"]["zhang"],
                                                                        "Accept-Language": "en"}).json()
    assert live["live"] and live["warnings"]
    assert all(not HAN.search(w["reason"].replace("张三", "")) for w in live["warnings"])
