"""The 讯问笔录 export, read back the way Word sees it: text, header block, 问/答 turns, every-page footer, A4."""
import io
import os

import pytest
from docx import Document
from docx.oxml.ns import qn
from docx.shared import Mm

import asr.docx_record as rec
from asr.docx_record import RecordHeader, render_docx, write_docx
from core.transcript import Segment, Transcript

HEADER = RecordHeader(case_id="A3201052026110001", place="第二讯问室", started_at="2026-11-21T09:30:00+08:00",
                      ended_at="2026-11-21T10:15:00+08:00", officers=("张伟", "李娜"), person="王某某",
                      session_id="s-20261121-0001", recorder="赵敏")


def transcript(*segments: Segment) -> Transcript:
    return Transcript(language="zh", model="whisper-base-int8", duration=3000.0, segments=segments,
                      session="s-20261121-0001")


INTERVIEW = transcript(
    Segment(0, 4.18, 6.9, "你叫什么名字？", (), "officer", 0),
    Segment(1, 8.0, 9.5, "我叫王某某。", (), "suspect", 1),
    Segment(2, 10.0, 11.0, "我今年三十岁。", (), "suspect", 1),
    Segment(3, 258.7, 262.0, "你把当天的经过说一下。", (), "officer", 0),
    Segment(4, 3725.0, 3730.0, "好的", (), "suspect", 1),
)


def open_docx(data: bytes):
    return Document(io.BytesIO(data))


def body_texts(doc) -> list[str]:
    return [p.text for p in doc.paragraphs if p.text.strip()]


def turns_of(doc) -> list[str]:
    return [t for t in body_texts(doc) if t[:2] in ("问：", "答：")]


def footer_xml(doc) -> str:
    return doc.sections[0].footer._element.xml


def test_title_and_header_block():
    doc = open_docx(render_docx(INTERVIEW, HEADER))
    texts = body_texts(doc)
    assert texts[0] == "讯问笔录"
    assert doc.paragraphs[0].alignment == 1  # centred
    joined = "\n".join(texts)
    assert "案件编号：A3201052026110001" in joined
    assert "讯问地点：第二讯问室" in joined
    assert "讯问时间：2026年11月21日 09时30分 至 2026年11月21日 10时15分" in joined
    assert "讯问人：张伟、李娜" in joined
    assert "记录人：赵敏" in joined
    assert "被讯问人：王某某" in joined
    assert "录音录像编号：s-20261121-0001" in joined


def test_times_keep_the_local_time_given_and_missing_values_say_so():
    header = RecordHeader(case_id=None, place=None, started_at="2026-11-21T23:50:00-05:00", ended_at=None,
                          officers=(), person=None, session_id=None)
    joined = "\n".join(body_texts(open_docx(render_docx(transcript(), header))))
    assert "讯问时间：2026年11月21日 23时50分 至 （未填写）" in joined  # not converted to UTC or +08:00
    for name in ("案件编号", "讯问地点", "讯问人", "被讯问人", "录音录像编号"):
        assert f"\n{name}：（未填写）" in joined
    assert "记录人" not in joined.replace("记录人签名", "")


def test_questions_and_answers_are_labelled_and_same_speaker_merged():
    turns = turns_of(open_docx(render_docx(INTERVIEW, HEADER)))
    assert len(turns) == 4
    assert turns[0].startswith("问：你叫什么名字？")
    assert turns[1].startswith("答：我叫王某某。我今年三十岁。")  # two segments, one paragraph
    assert turns[2].startswith("问：你把当天的经过说一下。")
    assert turns[3].startswith("答：好的")


def test_each_turn_ends_with_its_recording_time_in_small_grey():
    doc = open_docx(render_docx(INTERVIEW, HEADER))
    turns = [p for p in doc.paragraphs if p.text[:2] in ("问：", "答：")]
    assert [p.text[-10:] for p in turns] == ["〔00:00:04〕", "〔00:00:08〕", "〔00:04:18〕", "〔01:02:05〕"]
    stamp = turns[2].runs[-1]
    assert stamp.font.size is not None and stamp.font.size.pt < 12
    assert stamp.font.color.rgb is not None and str(stamp.font.color.rgb) != "000000"


def test_question_speakers_choose_who_asks():
    t = transcript(Segment(0, 0, 1, "你是谁", (), "警官甲", 0), Segment(1, 1, 2, "我是证人", (), "officer", 1))
    turns = turns_of(open_docx(render_docx(t, HEADER, question_speakers=("警官甲",))))
    assert turns[0].startswith("问：你是谁") and turns[1].startswith("答：我是证人")


def test_unnamed_speakers_are_labelled_by_channel():
    t = transcript(Segment(0, 0, 1, "姓名", (), None, 0), Segment(1, 1, 2, "王某某", (), None, 1),
                   Segment(2, 2, 3, "住址", (), None, 0))
    turns = turns_of(open_docx(render_docx(t, HEADER)))
    assert [x[:2] for x in turns] == ["问：", "答：", "问："]


def test_different_answering_speakers_are_not_merged():
    t = transcript(Segment(0, 0, 1, "我是翻译", (), "interpreter", 1), Segment(1, 1, 2, "我是嫌疑人", (), "suspect", 2))
    assert len(turns_of(open_docx(render_docx(t, HEADER)))) == 2


def test_footer_has_page_fields_and_signature_line_on_every_page():
    doc = open_docx(render_docx(INTERVIEW, HEADER))
    assert len(doc.sections) == 1
    footer = doc.sections[0].footer
    assert not footer.is_linked_to_previous
    instr = [el.text.split()[0] for el in footer._element.iter(qn("w:instrText"))]
    assert instr == ["PAGE", "NUMPAGES"]
    kinds = [el.get(qn("w:fldCharType")) for el in footer._element.iter(qn("w:fldChar"))]
    assert kinds == ["begin", "separate", "end"] * 2
    text = "\n".join(p.text for p in footer.paragraphs)
    assert "第 " in text and " 页 共 " in text and text.rstrip().endswith("页")
    assert "被讯问人签名：" in text and "日期：____年__月__日" in text
    # no different first page or odd/even footers that would drop the signature line on some pages
    assert not doc.sections[0].different_first_page_header_footer
    assert not doc.settings.odd_and_even_pages_header_footer


def test_page_is_a4_portrait_with_margins():
    sec = open_docx(render_docx(INTERVIEW, HEADER)).sections[0]
    assert abs(sec.page_width - Mm(210)) < Mm(0.5) and abs(sec.page_height - Mm(297)) < Mm(0.5)
    for margin in (sec.top_margin, sec.bottom_margin, sec.left_margin, sec.right_margin):
        assert Mm(15) <= margin <= Mm(40)


def test_normal_style_names_an_east_asian_font():
    doc = open_docx(render_docx(INTERVIEW, HEADER))
    rfonts = doc.styles["Normal"].element.rPr.rFonts
    assert rfonts.get(qn("w:eastAsia")) in ("SimSun", "宋体", "FangSong", "仿宋")


def test_closing_statement_and_signatures_follow_the_body():
    texts = body_texts(open_docx(render_docx(INTERVIEW, HEADER)))
    closing = texts.index("以上笔录我已看过（向我宣读过），和我说的相符。")
    assert closing > max(i for i, t in enumerate(texts) if t[:2] in ("问：", "答："))
    after = "\n".join(texts[closing + 1:])
    assert "被讯问人签名：" in after and "日期：" in after and "讯问人签名：" in after


def test_empty_transcript_still_gives_a_complete_record():
    doc = open_docx(render_docx(transcript(), HEADER))
    texts = body_texts(doc)
    assert texts[0] == "讯问笔录"
    assert "被讯问人：王某某" in texts
    assert "以上笔录我已看过（向我宣读过），和我说的相符。" in texts
    assert turns_of(doc) == []
    assert "NUMPAGES" in footer_xml(doc)


def test_control_characters_do_not_break_the_document():
    t = transcript(Segment(0, 0, 1, "我\x00叫\x07王\x1b某某\ufffe", (), "suspect", 1),
                   Segment(1, 1, 2, "   \x01  ", (), "officer", 0),  # nothing left: no empty paragraph
                   Segment(2, 2, 3, "a < b & c\nd", (), "officer", 0))
    header = RecordHeader(case_id="A\x0bB", place="第一\x0c室", started_at=None, ended_at=None,
                          officers=("张\x08伟",), person="王", session_id="s1")
    doc = open_docx(render_docx(t, header))
    turns = turns_of(doc)
    assert turns[0].startswith("答：我叫王某某〔")
    assert turns[1].startswith("问：a < b & c d〔")
    assert len(turns) == 2
    joined = "\n".join(body_texts(doc))
    assert "案件编号：AB" in joined and "讯问地点：第一室" in joined and "讯问人：张伟" in joined


def test_write_docx_writes_a_readable_file(tmp_path):
    target = tmp_path / "笔录.docx"
    write_docx(target, INTERVIEW, HEADER)
    assert body_texts(Document(str(target)))[0] == "讯问笔录"
    assert os.listdir(tmp_path) == ["笔录.docx"]


def test_write_docx_leaves_nothing_when_rendering_fails(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(rec, "render_docx", broken)
    target = tmp_path / "笔录.docx"
    with pytest.raises(RuntimeError):
        write_docx(target, INTERVIEW, HEADER)
    assert not target.exists()
    assert os.listdir(tmp_path) == []


def test_write_docx_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    target = tmp_path / "笔录.docx"
    target.write_bytes(b"old record")

    def no_space(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(rec.os, "fsync", no_space)
    with pytest.raises(OSError):
        write_docx(target, INTERVIEW, HEADER)
    assert target.read_bytes() == b"old record"
    assert os.listdir(tmp_path) == ["笔录.docx"]
