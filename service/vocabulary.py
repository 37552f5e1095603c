"""The words a session's recognition is told to expect: what the officer already knows (the suspect, the
officers, the room, the case number), the words given for this session (`--hotwords`, the console's and the
import form's field), then the unit's glossary `<home>/vocabulary.txt`, in that order (asr/vocabulary.py
keeps the first ones when the list is long)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional

from asr import vocabulary


def for_session(home: Path, given: Iterable[str] = (), suspect: Optional[str] = None,
                officers: Iterable[str] = (), room: Optional[str] = None,
                case_id: Optional[str] = None) -> tuple[str, ...]:
    known = [suspect, *officers, room, case_id]
    return vocabulary.tidy([*known, *given, *vocabulary.read_glossary(home)])
