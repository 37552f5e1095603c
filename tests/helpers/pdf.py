"""The text of each page of a PDF as Chromium (Skia) writes it, in drawing order: enough for a test to read
a printed 讯问笔录, its page footers included, without a PDF library. Reads uncompressed or Flate streams,
Type0 (two-byte) and Type3 (one-byte) fonts through their ToUnicode maps, and Tj/TJ strings in hex."""
from __future__ import annotations

import re
import unicodedata
import zlib

OBJECT = re.compile(rb"(\d+) 0 obj\s*(.*?)endobj", re.S)
# a CJK font's ToUnicode map may name a radical where the text had the character: NFKC folds the Kangxi
# radicals; these simplified-form radicals it does not
RADICALS = str.maketrans({"⻚": "页", "⻓": "长", "⻔": "门", "⻋": "车", "⻅": "见", "⻛": "风", "⻜": "飞", "⻢": "马",
                          "⻥": "鱼", "⻦": "鸟", "⻉": "贝", "⻘": "青", "⻝": "食", "⻆": "角", "⻰": "龙"})
SHOW = re.compile(rb"/([\w.+-]+)\s+[\d.]+\s+Tf|<([0-9A-Fa-f]*)>\s*Tj|\[(.*?)\]\s*TJ", re.S)


def normal(text: str) -> str:
    """Text as page_texts gives it (NFKC: full-width colons become ':'; radicals folded), spaces dropped: for
    comparing what a test expects with what a page shows."""
    return "".join(unicodedata.normalize("NFKC", text).translate(RADICALS).split())


def _objects(data: bytes) -> dict[int, tuple[bytes, bytes]]:
    out = {}
    for m in OBJECT.finditer(data):
        body, stream = m.group(2), b""
        head = body
        if b"stream" in body:
            at = body.index(b"stream")
            head, raw = body[:at], body[at + len(b"stream"):]
            raw = raw[2:] if raw.startswith(b"\r\n") else raw[1:] if raw.startswith(b"\n") else raw
            raw = raw[:raw.rindex(b"endstream")]
            stream = zlib.decompressobj().decompress(raw) if b"/FlateDecode" in head else raw
        out[int(m.group(1))] = (head, stream)
    return out


def _cmap(stream: bytes) -> tuple[int, dict[int, str]]:
    """(bytes per code, code -> text) of a ToUnicode CMap."""
    space = re.search(rb"begincodespacerange\s*<([0-9A-Fa-f]+)>", stream)
    width = len(space.group(1)) // 2 if space else 1
    table: dict[int, str] = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", stream, re.S):
        for src, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            table[int(src, 16)] = bytes.fromhex(dst.decode()).decode("utf-16-be", "replace")
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", stream, re.S):
        for lo, hi, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            for k, code in enumerate(range(int(lo, 16), int(hi, 16) + 1)):
                table[code] = chr(int(dst, 16) + k)
    return width, table


def page_texts(data: bytes) -> list[str]:
    """The text drawn on each page, in page order (spaces as drawn)."""
    objects = _objects(data)
    tree = next(h for h, _ in objects.values() if re.search(rb"/Type\s*/Pages\b", h))
    kids = [int(k) for k in re.findall(rb"(\d+) 0 R", re.search(rb"/Kids\s*\[(.*?)\]", tree, re.S).group(1))]
    texts = []
    for number in kids:
        head = objects[number][0]
        fonts = {}
        found = re.search(rb"/Font\s*<<(.*?)>>", head, re.S)
        for name, ref in re.findall(rb"/([\w.+-]+)\s+(\d+) 0 R", found.group(1)) if found else ():
            unicode = re.search(rb"/ToUnicode\s+(\d+) 0 R", objects[int(ref)][0])
            fonts[name] = _cmap(objects[int(unicode.group(1))][1]) if unicode else (1, {})
        refs = re.search(rb"/Contents\s*(\[.*?\]|\d+ 0 R)", head, re.S).group(1)
        stream = b"".join(objects[int(r)][1] for r in re.findall(rb"(\d+) 0 R", refs))
        out, (width, table) = [], (1, {})
        for m in SHOW.finditer(stream):
            if m.group(1):
                width, table = fonts.get(m.group(1), (1, {}))
                continue
            for hexes in ([m.group(2)] if m.group(2) is not None else re.findall(rb"<([0-9A-Fa-f]*)>", m.group(3))):
                raw = bytes.fromhex(hexes.decode())
                out.append("".join(table.get(int.from_bytes(raw[i:i + width], "big"), "")
                                   for i in range(0, len(raw), width)))
        texts.append(unicodedata.normalize("NFKC", "".join(out)).translate(RADICALS))
    return texts
