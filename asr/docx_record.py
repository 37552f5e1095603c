"""The 讯问笔录 (interrogation record): its content (`record_content`: the header lines of a real 讯问笔录, the
rights notice as it was read, the 问/答 turns, the closing statement and signature lines), and that content as
a Word document to print and have signed on every page. The print view (player_web/static/record.html, and
the PDF printed from it) shows the same `record_content`.

Body paragraphs are "问：…" / "答：…", each ending with its recording time in small grey text so a reader can
find the moment in the video. Every page's footer carries the signature/date line and "第 X 页 共 Y 页"
(Word fields PAGE and NUMPAGES). python-docx is imported inside the functions that need it.
"""
from __future__ import annotations

import io
import logging
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Optional, Union

from core.errors import OptionError
from core.transcript import Segment, Transcript

log = logging.getLogger("xunlu.asr.docx")


@dataclass(frozen=True)
class RightsRead:
    """The rights notice (权利义务告知) as the recording has it: where it was read and its words; `start` None
    when no notice was found in the transcript."""

    start: Optional[float]          # seconds from the first audio sample
    text: str = ""


@dataclass(frozen=True)
class RecordHeader:
    case_id: Optional[str]
    place: Optional[str]            # 讯问地点 (the room)
    started_at: Optional[str]       # ISO 8601 with time zone, e.g. "2026-11-21T09:30:00+08:00"
    ended_at: Optional[str]
    officers: tuple[str, ...]       # 讯问人
    person: Optional[str]           # 被讯问人
    session_id: Optional[str]       # 录音录像编号
    recorder: Optional[str] = None  # 记录人
    title: str = "讯问笔录"
    number: Optional[int] = None    # 第N次 讯问 of this person in this case
    unit: Optional[str] = None      # 工作单位 of the officers
    gender: Optional[str] = None    # 被讯问人 性别
    birth: Optional[str] = None     # 出生日期, YYYY-MM-DD
    id_number: Optional[str] = None  # 身份证件种类及号码
    address: Optional[str] = None   # 现住址
    rights: Optional[RightsRead] = None  # None: not looked for


@dataclass(frozen=True)
class _Turn:
    """One body paragraph: consecutive segments of the same speaker, merged."""

    label: str      # 问 or 答
    start: float    # seconds from the first audio sample
    text: str


MISSING = "（未填写）"
CLOSING = "以上笔录我已看过（向我宣读过），和我说的相符。"
PERSON_SIGN = "被讯问人签名：__________  日期：____年__月__日"
OFFICER_SIGN = "讯问人签名：__________  记录人签名：__________"
FONT, TITLE_FONT = "SimSun", "SimHei"
# XML 1.0 forbids these code points; lxml refuses them outright
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")


def clean(text: Optional[str]) -> str:
    """Drop characters XML cannot hold and fold whitespace (line breaks included) into single spaces."""
    return " ".join(_INVALID_XML.sub("", text or "").split())


def _value(text: Optional[str]) -> str:
    return clean(text) or MISSING


def format_time(iso: Optional[str]) -> str:
    """"2026-11-21T09:30:00+08:00" -> "2026年11月21日 09时30分", in the local time the string gives."""
    if not iso or not iso.strip():
        return MISSING
    try:
        t = datetime.fromisoformat(iso.strip())
    except ValueError:
        log.warning("not an ISO 8601 time, printed as given: %r", iso)
        return clean(iso)
    return f"{t.year}年{t.month:02d}月{t.day:02d}日 {t.hour:02d}时{t.minute:02d}分"


def time_range(started_at: Optional[str], ended_at: Optional[str]) -> str:
    if not (started_at or ended_at):
        return MISSING
    return f"{format_time(started_at)} 至 {format_time(ended_at)}"


def format_day(day: Optional[str]) -> str:
    """"1990-01-31" -> "1990年01月31日"."""
    try:
        d = datetime.fromisoformat((day or "").strip())
    except ValueError:
        return clean(day)
    return f"{d.year}年{d.month:02d}月{d.day:02d}日"


def age_at(birth: Optional[str], when: Optional[str]) -> Optional[int]:
    """Full years from `birth` (YYYY-MM-DD) to the day of `when` (ISO 8601), when both are dates."""
    try:
        born, then = datetime.fromisoformat((birth or "").strip()), datetime.fromisoformat((when or "").strip())
    except ValueError:
        return None
    years = then.year - born.year - ((then.month, then.day) < (born.month, born.day))
    return years if years >= 0 else None


def title_of(header: RecordHeader) -> str:
    title = clean(header.title) or "讯问笔录"
    return f"{title}（第{header.number}次）" if header.number else title


def header_lines(header: RecordHeader) -> list[tuple[str, str]]:
    """The header block as printed, (name, value) in order. The fields every record has say （未填写） when
    missing; 记录人, 工作单位 and the identity beyond the name appear when known."""
    lines = [("案件编号", _value(header.case_id)), ("讯问时间", time_range(header.started_at, header.ended_at)),
             ("讯问地点", _value(header.place)),
             ("讯问人", "、".join(n for n in map(clean, header.officers) if n) or MISSING)]
    if clean(header.unit):
        lines.append(("工作单位", clean(header.unit)))
    if clean(header.recorder):
        lines.append(("记录人", clean(header.recorder)))
    person = _value(header.person)
    identity = []
    if clean(header.gender):
        identity.append(f"性别：{clean(header.gender)}")
    if clean(header.birth):
        age = age_at(header.birth, header.started_at)
        identity.append(f"出生日期：{format_day(header.birth)}" + (f"（{age}岁）" if age is not None else ""))
    lines.append(("被讯问人", "　".join([person, *identity])))
    if clean(header.id_number):
        lines.append(("身份证件种类及号码", clean(header.id_number)))
    if clean(header.address):
        lines.append(("现住址", clean(header.address)))
    lines.append(("录音录像编号", _value(header.session_id)))
    return lines


def rights_line(header: RecordHeader) -> Optional[str]:
    """How the rights notice was read, from the recording; None when it was not looked for."""
    r = header.rights
    if r is None:
        return None
    if r.start is None:
        return "权利义务告知：录音录像中未识别到宣读权利义务告知，请核对录像。"
    said = clean(r.text)
    return f"权利义务告知：已于录音录像{clock(r.start)}宣读" + (f"：“{said}”" if said else "。")


def record_content(transcript: Transcript, header: RecordHeader,
                   question_speakers: tuple[str, ...] = ("officer",)) -> dict[str, Any]:
    """What the 笔录 says, for any renderer (the print view): plain JSON."""
    return {"title": title_of(header), "number": header.number,
            "fields": [{"name": n, "value": v} for n, v in header_lines(header)],
            "rights": rights_line(header),
            "turns": [{"label": t.label, "text": t.text, "start": t.start, "clock": clock(t.start)}
                      for t in turns(transcript, tuple(question_speakers))],
            "closing": CLOSING, "signatures": [PERSON_SIGN, OFFICER_SIGN], "footer": PERSON_SIGN}


def clock(seconds: float) -> str:
    """Recording time as 〔HH:MM:SS〕, rounded down so seeking there lands before the words."""
    s = max(0, int(seconds))
    return f"〔{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}〕"


def _who(seg: Segment) -> tuple[Any, ...]:
    return ("speaker", seg.speaker) if seg.speaker is not None else ("channel", seg.channel)


def _label(seg: Segment, question_speakers: tuple[str, ...]) -> str:
    if seg.speaker is None:
        return "问" if seg.channel == 0 else "答"
    return "问" if seg.speaker in question_speakers else "答"


def _join(a: str, b: str) -> str:
    # no gap after punctuation (Chinese text runs on); otherwise one space keeps the utterances apart
    return a + b if unicodedata.category(a[-1]).startswith("P") else f"{a} {b}"


def turns(transcript: Transcript, question_speakers: tuple[str, ...] = ("officer",)) -> list[_Turn]:
    out: list[_Turn] = []
    last: Optional[tuple[Any, ...]] = None
    for seg in transcript.segments:
        text = clean(seg.text)
        if not text:
            continue
        who = _who(seg)
        if out and who == last:
            out[-1] = _Turn(out[-1].label, out[-1].start, _join(out[-1].text, text))
        else:
            out.append(_Turn(_label(seg, question_speakers), seg.start, text))
        last = who
    return out


def _field(paragraph: Any, instr: str) -> None:
    """Append a Word field (PAGE, NUMPAGES) to a paragraph: begin, instruction, separate, result, end."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    def char(kind: str) -> Any:
        return OxmlElement("w:fldChar", {qn("w:fldCharType"): kind})

    code = OxmlElement("w:instrText")
    code.set(qn("xml:space"), "preserve")
    code.text = f" {instr} \\* MERGEFORMAT "
    for part in (char("begin"), code, char("separate")):
        paragraph.add_run()._r.append(part)
    paragraph.add_run("1")  # shown until Word updates the field
    paragraph.add_run()._r.append(char("end"))


def _east_asian(rpr_owner: Any, font: str) -> None:
    from docx.oxml.ns import qn

    rpr = rpr_owner.get_or_add_rPr()
    rpr.get_or_add_rFonts().set(qn("w:eastAsia"), font)


def _setup(doc: Any, header: RecordHeader) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt

    normal = doc.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(12)  # 小四
    _east_asian(normal.element, FONT)
    lang = OxmlElement("w:lang")
    lang.set(qn("w:eastAsia"), "zh-CN")
    normal.element.get_or_add_rPr().append(lang)
    normal.paragraph_format.line_spacing = 1.5

    sec = doc.sections[0]
    sec.page_width, sec.page_height = Mm(210), Mm(297)
    sec.top_margin, sec.bottom_margin = Mm(25), Mm(30)
    sec.left_margin, sec.right_margin = Mm(28), Mm(25)  # wider left for binding
    sec.header_distance, sec.footer_distance = Mm(12), Mm(10)
    doc.core_properties.title = title_of(header)
    doc.core_properties.author = "xunlu"
    doc.core_properties.comments = f"录音录像编号 {_value(header.session_id)}"


def _footer(doc: Any) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    footer = doc.sections[0].footer
    footer.is_linked_to_previous = False
    sign = footer.paragraphs[0]
    sign.text = PERSON_SIGN
    pages = footer.add_paragraph()
    pages.alignment = WD_ALIGN_PARAGRAPH.CENTER
    pages.add_run("第 ")
    _field(pages, "PAGE")
    pages.add_run(" 页 共 ")
    _field(pages, "NUMPAGES")
    pages.add_run(" 页")
    for p in (sign, pages):
        p.paragraph_format.line_spacing = 1.0
        for run in p.runs:
            run.font.size = Pt(10.5)  # 五号


def _body(doc: Any, header: RecordHeader, items: list[_Turn]) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt, RGBColor

    title = doc.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = title.add_run(title_of(header))
    run.bold, run.font.size, run.font.name = True, Pt(22), TITLE_FONT  # 二号
    _east_asian(run._r, TITLE_FONT)

    for name, value in header_lines(header):
        doc.add_paragraph(f"{name}：{value}")
    rights = rights_line(header)
    if rights:
        doc.add_paragraph(rights)

    for turn in items:
        p = doc.add_paragraph()
        p.add_run(f"{turn.label}：").bold = True
        p.add_run(turn.text)
        stamp = p.add_run(clock(turn.start))
        stamp.font.size, stamp.font.color.rgb = Pt(8), RGBColor(0x80, 0x80, 0x80)

    closing = [doc.add_paragraph(text) for text in (CLOSING, PERSON_SIGN, OFFICER_SIGN)]
    closing[0].paragraph_format.space_before = Pt(12)
    for p in closing[:-1]:
        p.paragraph_format.keep_with_next = True  # the statement never sits alone at a page's foot


def render_docx(transcript: Transcript, header: RecordHeader,
                question_speakers: tuple[str, ...] = ("officer",)) -> bytes:
    """The 讯问笔录 as .docx bytes."""
    try:
        import docx
    except ImportError as exc:  # pragma: no cover - a dependency of the distribution
        raise OptionError("the docx format needs python-docx: pip install python-docx") from exc

    items = turns(transcript, tuple(question_speakers))
    doc = docx.Document()
    _setup(doc, header)
    _footer(doc)
    _body(doc, header, items)
    buf = io.BytesIO()
    doc.save(buf)
    log.debug("笔录 rendered: %d paragraphs from %d segments", len(items), len(transcript.segments))
    return buf.getvalue()


def write_docx(path: Union[str, os.PathLike], transcript: Transcript, header: RecordHeader,
               question_speakers: tuple[str, ...] = ("officer",)) -> None:
    """Write the record so that `path` holds either its old content or the whole new file, never a part."""
    target = Path(path)
    data = render_docx(transcript, header, question_speakers)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dfd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    log.info("笔录 written: %s (%d bytes)", target, len(data))
