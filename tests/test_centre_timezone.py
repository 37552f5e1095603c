"""The centre's time zone ([centre] timezone in config.toml; Asia/Shanghai by default for Chinese) is the
clock of the rules: night questioning (22:00-06:00) is judged on it, not on the offset a session was stored
with. An interview imported on a machine set to UTC that began at 08:32 Beijing time is stored as
00:32+00:00 and is not night questioning."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from test_warnings_archive import make_session
from test_warnings_rules import NOW, clean, config, rules_of

from archive.store import Archive
from core.config import read
from supervise.config import load_rules
from supervise.scan import scan

UTC = timezone.utc
MORNING_IN_BEIJING = datetime(2026, 11, 21, 0, 32, tzinfo=UTC)      # 08:32 in Beijing


def at(start: datetime, **changes):
    return clean(**{"start": start, "check_in_at": start - timedelta(minutes=30),
                    "signed_at": start + timedelta(hours=2), **changes})


def test_a_morning_interview_stored_in_utc_is_not_night_questioning():
    assert "night_questioning" not in rules_of(at(MORNING_IN_BEIJING))


def test_a_late_interview_stored_in_utc_is_night_questioning():
    late = datetime(2026, 11, 21, 15, 10, tzinfo=UTC)                 # 23:10 in Beijing
    assert "night_questioning" in rules_of(at(late))


def test_the_same_moment_is_night_where_the_centre_is_at_night():
    utc_centre = replace(config(), timezone="UTC")                     # a centre whose clock is UTC
    assert "night_questioning" in rules_of(at(MORNING_IN_BEIJING), utc_centre)
    dawn = replace(config(), timezone="Asia/Urumqi")                   # 06:32 there: after 06:00
    assert "night_questioning" not in rules_of(at(MORNING_IN_BEIJING), dawn)


def test_the_detention_reason_names_the_centres_clock():
    facts = at(MORNING_IN_BEIJING, check_in_at=MORNING_IN_BEIJING - timedelta(hours=24, minutes=30))
    from supervise.rules import evaluate

    found = [w for w in evaluate(facts, config(), NOW) if w.rule == "detention"]
    assert found and "11-20 08:02" in found[0].reason                   # 00:02 UTC the day before


@pytest.mark.parametrize("config_text,zone", [
    ("", "Asia/Shanghai"),                                             # Chinese, the default language
    ('[asr]\nlanguage = "zh"\n', "Asia/Shanghai"),
    ('[centre]\ntimezone = "Asia/Urumqi"\n', "Asia/Urumqi"),
    ('language = "en"\n[centre]\ntimezone = "Europe/London"\n', "Europe/London"),
])
def test_the_rules_take_the_centres_zone_from_config(tmp_path, config_text, zone):
    (tmp_path / "config.toml").write_text(config_text, encoding="utf-8")
    assert read(tmp_path).timezone == zone
    assert load_rules(tmp_path).timezone == zone


def test_a_bad_zone_in_config_is_named(tmp_path):
    from core.config import ConfigError

    (tmp_path / "config.toml").write_text('[centre]\ntimezone = "Beijing"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="centre.timezone"):
        read(tmp_path)


def test_an_archive_session_imported_on_a_utc_machine(tmp_path):
    """End to end through the archive and the scan, as the warnings page runs it."""
    home = tmp_path / "home"
    archive = Archive(home)
    try:
        morning = make_session(archive, started="2026-11-21T00:32:00+00:00", check_in="2026-11-21T00:10:00+00:00")
        night = make_session(archive, started="2026-11-21T15:10:00+00:00", check_in="2026-11-21T15:00:00+00:00",
                             suspect="赵六")
        found = scan(archive, load_rules(home), NOW.replace(day=22)).findings
    finally:
        archive.close()
    night_rule = {w.session for w in found if w.rule == "night_questioning"}
    assert morning not in night_rule
    assert night in night_rule


def test_a_time_typed_without_a_zone_is_the_centres():
    """A time an officer types into a page (a check-in time from a datetime-local field) or gives an import
    without an offset is the centre's time, whatever the server's own zone."""
    from zoneinfo import ZoneInfo

    from service.importing import parse_started_at
    from supervise.session_info import parse_when

    beijing = ZoneInfo("Asia/Shanghai")
    assert parse_started_at("2026-11-21T08:32:00", zone=beijing) == "2026-11-21T08:32:00+08:00"
    assert parse_when("2026-11-21T08:00", "check-in time", beijing) == "2026-11-21T08:00:00+08:00"
    assert parse_when("2026-11-21T00:00:00+00:00", "check-in time", beijing) == "2026-11-21T00:00:00+00:00"


def test_a_check_in_typed_on_a_page_is_read_on_the_centres_clock(tmp_path):
    from service.supervision import set_fields

    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('[centre]\ntimezone = "Asia/Shanghai"\n', encoding="utf-8")
    archive = Archive(home)
    try:
        sid = make_session(archive, started="2026-11-21T00:32:00+00:00", check_in=None)
        set_fields(archive, sid, None, check_in_at="2026-11-21T08:10")
        assert archive.get(sid).check_in_at == "2026-11-21T08:10:00+08:00"
    finally:
        archive.close()
