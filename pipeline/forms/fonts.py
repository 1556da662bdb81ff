"""The CJK font embedded in the pre-filled forms, subset to the characters a form prints.

Noto Sans/Serif CJK SC (Debian ``fonts-noto-cjk``) is subset with fontTools so a PDF stays
~100 KB instead of 14–20 MB; subsets are cached per process and reused while they cover the
text. Without fontTools or the Debian font, MuPDF's built-in Droid Sans Fallback (TrueType,
which MuPDF subsets itself) is embedded instead.
"""

from __future__ import annotations

import io
from pathlib import Path

import pymupdf

NOTO = {
    "sans": ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "Noto Sans CJK SC"),
    "serif": ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", "Noto Serif CJK SC"),
}
_SC_INDEX = 2  # face index of Simplified Chinese in the Noto CJK collections
FALLBACK = "Droid Sans Fallback (MuPDF built-in)"
_font_cache: dict[str, tuple[frozenset[str] | None, bytes, str]] = {}  # chars None: covers all


def _subset(face: str, chars: frozenset[str]) -> tuple[bytes, str]:
    """Subset the SC face of a Noto CJK collection to ``chars``.

    Noto CJK is a CID-keyed CFF font and MuPDF writes glyph ids as CIDs, so after subsetting the
    glyphs are renamed ``cidNNNNN`` by their new index (CID = GID again), else text prints wrong.
    """
    path, name = NOTO[face]
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(path, fontNumber=_SC_INDEX, lazy=True, recalcBBoxes=False, recalcTimestamp=False)
    sub = subset.Subsetter(subset.Options())
    sub.populate(text="".join(sorted(chars)))
    sub.subset(font)
    first = io.BytesIO()
    font.save(first)
    font = TTFont(io.BytesIO(first.getvalue()), lazy=True, recalcBBoxes=False, recalcTimestamp=False)
    top = font["CFF "].cff.topDictIndex[0]
    order = font.getGlyphOrder()
    names = [".notdef"] + [f"cid{i:05d}" for i in range(1, len(order))]
    top.CharStrings.charStrings = {names[i]: top.CharStrings.charStrings[n] for i, n in enumerate(order)}
    top.charset = names
    font.setGlyphOrder(names)
    out = io.BytesIO()
    font.save(out)
    return out.getvalue(), f"{name} (embedded subset)"


def font_for(face: str, chars: set[str] | frozenset[str]) -> tuple[bytes, str]:
    """A font buffer covering ``chars`` and its description; subsets are reused while they cover."""
    cached = _font_cache.get(face)
    if cached and (cached[0] is None or cached[0] >= chars):
        return cached[1], cached[2]
    want: frozenset[str] | None = frozenset(chars) | (cached[0] or frozenset() if cached else frozenset())
    try:
        if face not in NOTO or not Path(NOTO[face][0]).is_file():
            raise FileNotFoundError(face)
        buf, desc = _subset(face, want or frozenset())
    except (ImportError, OSError):
        want, buf, desc = None, bytes(pymupdf.Font("china-s").buffer), FALLBACK
    _font_cache[face] = (want, buf, desc)
    return buf, desc
