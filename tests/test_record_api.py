"""The officer's day over HTTP (issue 19, points 4 and 5): a web import carries every field the CLI has (room,
officers, person questioned with identity, speaker of each channel, language, when the interview took place,
记录人, vocabulary) into the session, the transcript and the 讯问笔录; a field it does not know, or a value it
cannot use, is a clear 400 before the upload is kept. The 笔录 has the header of a real 讯问笔录 (第N次 from the
person's earlier sessions in the case, 讯问人, 记录人, identity, 讯问地点, 起止时间, the rights notice as the
recording has it, 以上笔录我已看过…), and its signing is confirmed by an officer who took part (who, when, in
the audit chain), refused to everyone else. Corrections: the corrected lines and a side-by-side diff."""
from __future__ import annotations

import io
from dataclasses import fields

import pytest
from fastapi.testclient import TestClient
from helpers.auth import fast_auth, login_as
from test_web_fakes import INTERVIEW, FakeLive, ffmpeg, make_video, script, seed_session

from accounts.types import ADMIN, OFFICER, SUPERVISOR
from api.app import create_app
from archive.store import Archive
from asr.docx_record import CLOSING, OFFICER_SIGN, PERSON_SIGN
from asr.types import TranscribeOptions, TranscriptionInfo
from core.transcript import Segment

RIGHTS = script([(1.0, 2.0, "officer", "我们是公安局的民警"),
                 (12.0, 16.0, "officer", "现在告知你在侦查阶段的诉讼权利和义务，你有权委托律师作为辩护人"),
                 (17.0, 18.0, "suspect", "听清楚了"),
                 (20.0, 22.0, "officer", "你叫什么名字")])


class NamingTranscriber:
    """Stands in for the model: names each channel's lines as the import's speakers say, and keeps the
    options it was given."""

    def __init__(self):
        self.options: list[TranscribeOptions] = []

    def transcribe(self, path, options):
        self.options.append(options)
        names = list(options.speakers) or [None, None]
        segs = (Segment(0, 0.3, 1.2, "你叫什么名字", (), names[0], 0),
                Segment(1, 1.5, 2.6, "我叫王小明", (), names[-1], len(names) - 1))
        return iter(segs), TranscriptionInfo("zh", 1.0, 3.0, len(names), 2.3, "scripted")


def stereo_video(path, seconds=3):
    """An MP4 with a two-channel sound track (one tone per microphone)."""
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=duration={seconds}:size=160x90:rate=10", "-f", "lavfi", "-i",
           f"aevalsrc=sin(440*2*PI*t)|sin(660*2*PI*t):s=16000:d={seconds}", "-shortest", "-c:v", "libx264",
           "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", "2", "-movflags", "+faststart",
           str(path))
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    home = fast_auth(tmp_path_factory.mktemp("record-home"))
    media = tmp_path_factory.mktemp("record-media")
    archive = Archive(home)
    video = make_video(media / "one.mp4", 24, size="160x90")
    first = seed_session(archive, home, video, RIGHTS, 24.0, case_id="C-1", room="讯问室1", officers=("张三", "李四"),
                         suspect="王小明", started_at="2026-11-20T09:00:00+08:00")
    other = seed_session(archive, home, make_video(media / "other.mp4", 6, size="160x90"), INTERVIEW[:2], 6.0,
                         case_id="C-1", room="讯问室1", officers=("张三",), suspect="赵六",
                         started_at="2026-11-20T14:00:00+08:00")
    second = seed_session(archive, home, make_video(media / "two.mp4", 18, size="160x90"), INTERVIEW, 18.0,
                          case_id="C-1", room="讯问室2", officers=("张三", "李四"), suspect="王小明",
                          started_at="2026-11-21T09:00:00+08:00")
    elsewhere = seed_session(archive, home, make_video(media / "three.mp4", 7, size="160x90"), INTERVIEW[:2], 7.0,
                             case_id="C-2", room="讯问室2", officers=("王五",), suspect="王小明",
                             started_at="2026-11-22T09:00:00+08:00")
    archive.close()
    transcriber = NamingTranscriber()
    app = create_app(home, transcriber=transcriber, live=FakeLive(home, speed=4.0), max_upload=20_000_000)
    with TestClient(app) as client:
        client.headers.update(login_as(client, app, "zhangsan", OFFICER, "张三"))  # took part in C-1's sessions
        yield {"client": client, "app": app, "home": home, "media": media, "transcriber": transcriber,
               "first": first, "other": other, "second": second, "elsewhere": elsewhere,
               "sup": login_as(client, app, "fazhi", SUPERVISOR, "法制员"),
               "wangwu": login_as(client, app, "wangwu", OFFICER, "王五"),
               "admin": login_as(client, app, "root2", ADMIN)}


FULL = {"case": "I-19", "room": "讯问室3", "officers": "张三，李四", "suspect": "钱七", "speakers": "officer,suspect",
        "language": "zh", "started_at": "2026-11-23T14:05:00+08:00", "unit": "刑侦大队", "recorder": "李四",
        "suspect_gender": "female", "suspect_birth": "1990-01-31", "suspect_id": "居民身份证 110101199001311234",
        "suspect_address": "北京市东城区港口路 8 号", "vocabulary": "钱七、港口路\n保险柜"}


def upload(c, clip, **params):
    return c.post("/api/import", params={"filename": clip.name, **params}, content=clip.read_bytes(),
                  headers={"content-type": "application/octet-stream"})


def record_of(c, sid, **params) -> dict:
    r = c.get(f"/api/sessions/{sid}/record", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def fields_of(record) -> dict[str, str]:
    return {f["name"]: f["value"] for f in record["fields"]}


def test_a_web_import_carries_every_field_into_session_transcript_and_record(world, tmp_path):
    c, transcriber = world["client"], world["transcriber"]
    r = upload(c, stereo_video(tmp_path / "外来.mp4"), **FULL)
    assert r.status_code == 201, r.text
    s = c.get(f"/api/sessions/{r.json()['id']}").json()
    assert (s["case_id"], s["room"], s["officers"], s["suspect"]) == ("I-19", "讯问室3", ["张三", "李四"], "钱七")
    assert s["speakers"] == ["officer", "suspect"] and s["language"] == "zh"
    assert s["started_at"] == "2026-11-23T14:05:00+08:00"   # when it took place, not when it was uploaded
    assert (s["unit"], s["recorder"], s["suspect_gender"], s["suspect_birth"]) == ("刑侦大队", "李四", "女", "1990-01-31")
    assert s["suspect_id"] == "居民身份证 110101199001311234" and s["suspect_address"] == "北京市东城区港口路 8 号"
    assert s["vocabulary"] == ["钱七", "港口路", "保险柜"]
    # the recognition got the channel names and the language; the vocabulary where it takes one
    options = transcriber.options[-1]
    assert tuple(options.speakers) == ("officer", "suspect") and options.language == "zh"
    if "hotwords" in {f.name for f in fields(TranscribeOptions)}:
        assert "钱七" in "".join(options.hotwords)
    segments = c.get(f"/api/sessions/{s['id']}/transcript").json()["segments"]
    assert [seg["speaker"] for seg in segments] == ["officer", "suspect"]   # not ch0/ch1
    rec = record_of(c, s["id"])
    lines = fields_of(rec)
    assert rec["title"] == "讯问笔录（第1次）"
    assert lines["讯问地点"] == "讯问室3"
    assert lines["讯问时间"] == "2026年11月23日 14时05分 至 2026年11月23日 14时05分"  # a 3-second clip
    assert lines["讯问人"] == "张三、李四" and lines["工作单位"] == "刑侦大队" and lines["记录人"] == "李四"
    assert lines["被讯问人"] == "钱七　性别：女　出生日期：1990年01月31日（36岁）"
    assert lines["身份证件种类及号码"] == "居民身份证 110101199001311234"
    assert lines["现住址"] == "北京市东城区港口路 8 号"
    assert [t["label"] for t in rec["turns"]] == ["问", "答"]
    # the Word 笔录 says the same
    from docx import Document

    docx = c.get(f"/api/sessions/{s['id']}/export", params={"format": "docx"})
    text = "\n".join(p.text for p in Document(io.BytesIO(docx.content)).paragraphs)
    assert "讯问笔录（第1次）" in text and "讯问地点：讯问室3" in text and "记录人：李四" in text
    assert "讯问时间：2026年11月23日 14时05分" in text and "性别：女" in text


@pytest.mark.parametrize("params, field", [
    ({"roomm": "讯问室3"}, "roomm"),                       # a misspelt field is not dropped in silence
    ({"suspect_gender": "x"}, "suspect-gender"),
    ({"suspect_birth": "31/01/1990"}, "suspect-birth"),
    ({"suspect_birth": "2990-01-01"}, "suspect-birth"),
    ({"started_at": "yesterday"}, "started-at"),
    ({"check_in": "noon"}, "check-in"),
    ({"language": "klingon"}, "klingon"),
    ({"vocabulary": "长" * 41}, "vocabulary"),
])
def test_a_field_it_does_not_know_or_cannot_use_is_a_clear_400(world, tmp_path, params, field):
    c = world["client"]
    before = {s["id"] for s in c.get("/api/sessions", headers=world["sup"]).json()}
    for background in ("false", "true"):   # refused at once, not in a job
        r = upload(c, stereo_video(tmp_path / "bad.mp4"), background=background, **params)
        assert r.status_code == 400, r.text
        assert field in r.json()["detail"] and r.json()["code"] in ("unknown_field", "bad_field", "bad_option")
    assert {s["id"] for s in c.get("/api/sessions", headers=world["sup"]).json()} == before
    assert list((world["home"] / "uploads").iterdir()) == []


def test_speakers_must_name_each_channel(world, tmp_path):
    r = upload(world["client"], stereo_video(tmp_path / "three.mp4"), speakers="officer,suspect,interpreter")
    assert r.status_code == 400 and "3 speaker(s)" in r.json()["detail"] and "2 audio channel(s)" in r.json()["detail"]


def test_the_number_counts_this_persons_earlier_sessions_in_the_case(world):
    c = world["client"]
    assert record_of(c, world["first"])["title"] == "讯问笔录（第1次）"
    assert record_of(c, world["second"])["title"] == "讯问笔录（第2次）"    # 赵六 in between does not count
    assert record_of(c, world["other"])["title"] == "讯问笔录（第1次）"
    assert c.get(f"/api/sessions/{world['elsewhere']}/record", headers=world["wangwu"]).json()["number"] == 1


def test_the_record_has_the_header_rights_notice_as_read_and_closing(world):
    rec = record_of(world["client"], world["first"])
    lines = fields_of(rec)
    assert [f["name"] for f in rec["fields"]][:4] == ["案件编号", "讯问时间", "讯问地点", "讯问人"]
    assert lines["讯问时间"] == "2026年11月20日 09时00分 至 2026年11月20日 09时00分"
    assert lines["讯问人"] == "张三、李四" and lines["被讯问人"] == "王小明"
    assert lines["录音录像编号"] == world["first"]
    assert rec["rights"] == ("权利义务告知：已于录音录像〔00:00:12〕宣读：“现在告知你在侦查阶段的诉讼权利和义务，"
                             "你有权委托律师作为辩护人”")
    assert record_of(world["client"], world["second"])["rights"].startswith("权利义务告知：录音录像中未识别到")
    assert rec["closing"] == "以上笔录我已看过（向我宣读过），和我说的相符。" == CLOSING
    assert rec["signatures"] == [PERSON_SIGN, OFFICER_SIGN] and rec["footer"] == PERSON_SIGN
    assert [(t["label"], t["clock"]) for t in rec["turns"][:2]] == [("问", "〔00:00:01〕"), ("答", "〔00:00:17〕")]
    # printing is an export: the audit trail says who printed which version
    entries = world["client"].get(f"/api/sessions/{world['first']}/audit", headers=world["sup"]).json()
    assert any(e["action"] == "export" and e["details"].get("format") == "print" and e["actor"] == "web:zhangsan"
               for e in entries)


def test_the_print_view_prints_a4_with_the_signature_line_and_page_numbers_on_every_page(world):
    c = world["client"]
    page = c.get("/record.html")
    assert page.status_code == 200 and 'src="js/record.js"' in page.text and 'href="css/record.css"' in page.text
    css = c.get("/css/record.css").text
    at_page = css[css.index("@page"):css.index("\n}\n", css.index("@page"))]
    assert "size: A4" in at_page
    assert f'content: "{PERSON_SIGN}"' in at_page                                   # the docx's own words
    assert 'content: "第 " counter(page) " 页 共 " counter(pages) " 页"' in at_page


def test_an_officer_completes_the_header_of_a_session_made_without_it(world):
    c, sid = world["client"], world["other"]
    url = f"/api/sessions/{sid}/record-header"
    assert c.post(url, json={"recorder": "李四"}, headers=world["sup"]).status_code == 403   # supervisors read
    assert c.post(url, json={"recorder": "李四"}, headers=world["wangwu"]).status_code == 403
    bad = c.post(url, json={"suspect_gender": "x"})
    assert bad.status_code == 400 and "suspect-gender" in bad.json()["detail"]
    r = c.post(url, json={"recorder": "李四", "suspect_gender": "男", "suspect_birth": "1979-03-02",
                          "suspect_id": "居民身份证 110101197903021234"})
    assert r.status_code == 200, r.text
    assert (r.json()["recorder"], r.json()["suspect_gender"]) == ("李四", "男")
    lines = fields_of(record_of(c, sid))
    assert lines["记录人"] == "李四" and lines["被讯问人"].startswith("赵六　性别：男　出生日期：1979年03月02日（47岁）")
    assert c.post(url, json={"suspect_id": ""}).status_code == 200   # "" clears a field
    assert "身份证件种类及号码" not in fields_of(record_of(c, sid))
    changes = [e for e in c.get(f"/api/sessions/{sid}/audit", headers=world["sup"]).json()
               if e["action"] == "session.update"]
    assert changes and changes[0]["actor"] == "web:zhangsan" and changes[0]["details"]["recorder"]["to"] == "李四"


def test_signing_is_confirmed_by_an_officer_who_took_part_and_kept_in_the_audit_chain(world):
    c, sid = world["client"], world["first"]
    assert c.get(f"/api/sessions/{sid}").json()["signature"]["at"] is None
    for who in ("sup", "wangwu", "admin"):   # a supervisor reads, another officer was not there, admins see no evidence
        r = c.post(f"/api/sessions/{sid}/sign", json={"signer": "王小明"}, headers=world[who])
        assert r.status_code == 403, (who, r.text)
    r = c.post(f"/api/sessions/{sid}/sign", json={"signer": "王小明"})
    assert r.status_code == 200, r.text
    signed = c.get(f"/api/sessions/{sid}").json()
    assert signed["signed_at"] == r.json()["signed_at"]
    sig = signed["signature"]
    assert (sig["at"], sig["by"], sig["signer"]) == (signed["signed_at"], "web:zhangsan", "王小明")
    entries = c.get(f"/api/sessions/{sid}/audit", headers=world["sup"]).json()
    sign = [e for e in entries if e["action"] == "session.sign"]
    assert len(sign) == 1 and sign[0]["actor"] == "web:zhangsan" and sign[0]["details"]["signer"] == "王小明"
    denied = [e for e in entries if e["action"] == "auth.denied" and "/sign" in e["details"].get("path", "")]
    assert {e["actor"] for e in denied} >= {"web:fazhi", "web:wangwu"}
    again = c.post(f"/api/sessions/{sid}/sign", json={"signer": "王小明"})
    assert again.status_code in (400, 409) and "already" in again.json()["detail"]
    assert record_of(c, sid)["signature"]["signer"] == "王小明"
    # what was signed does not change
    late = c.post(f"/api/sessions/{sid}/record-header", json={"recorder": "王五"})
    assert late.status_code == 409 and "signed" in late.json()["detail"]


def test_an_earlier_signing_time_waits_for_a_supervisor(world):
    c, sid = world["client"], world["second"]
    r = c.post(f"/api/sessions/{sid}/sign", json={"signer": "王小明", "at": "2026-11-21T10:00:00+08:00"})
    assert r.status_code == 202, r.text
    sig = c.get(f"/api/sessions/{sid}").json()["signature"]
    assert sig["at"] is None and sig["pending"] == "2026-11-21T10:00:00+08:00" and sig["proposed_by"] == "web:zhangsan"
    ok = c.post(f"/api/sessions/{sid}/supervision/confirm", json={"accept": True, "reason": "核对了纸质笔录"},
                headers=world["sup"])
    assert ok.status_code == 200, ok.text
    sig = c.get(f"/api/sessions/{sid}").json()["signature"]
    assert sig["at"] == "2026-11-21T10:00:00+08:00" and sig["by"] == "web:fazhi" and sig["signer"] == "王小明"


def test_corrected_lines_and_the_side_by_side_diff(world):
    c, sid = world["client"], world["other"]
    assert c.get(f"/api/sessions/{sid}/transcript/corrections").json()["lines"] == []   # the ASR's own
    r = c.patch(f"/api/sessions/{sid}/transcript", json={"changes": {"1": "我叫王晓明"}, "reason": "姓名听错"})
    assert r.status_code == 201, r.text
    found = c.get(f"/api/sessions/{sid}/transcript/corrections").json()
    assert found["version"] == 2 and found["base"] == 1
    assert [(x["id"], x["asr"], x["text"]) for x in found["lines"]] == [(1, "我叫王小明", "我叫王晓明")]
    d = c.get(f"/api/sessions/{sid}/transcript/diff", params={"a": 1, "b": 2}).json()
    assert "-#1" in d["diff"] and "+#1" in d["diff"]   # the unified diff is still there
    assert [(row["id"], row["a"], row["b"]) for row in d["rows"]] == [(1, "我叫王小明", "我叫王晓明")]
    assert d["rows"][0]["parts"] == [{"op": "equal", "a": "我叫王", "b": "我叫王"},
                                     {"op": "replace", "a": "小", "b": "晓"},
                                     {"op": "equal", "a": "明", "b": "明"}]
