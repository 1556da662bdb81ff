"""Where things sit on the pre-filled forms, and the few drawing primitives that put them there.

The forms renderer (``pipeline.forms.render``) draws every label, value, seal box and barcode through a
``Canvas``. The same drawing code run on a ``Canvas`` without a page only records geometry, so
the boxes later stages may use (``form_layout``) can never drift from what is printed.
Geometry is fixed: it never depends on the entered data (long values shrink to fit their box).
All coordinates are PDF points (1/72 inch), origin top-left, A4 portrait.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import barcode
import pymupdf

A4_W, A4_H = 595.28, 841.89
MARGIN = 42.0
Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in points
_NO_LINE_START = set("，。、；：！？）》」』”’")  # CJK punctuation never starts a line


@dataclass(frozen=True)
class FieldBox:
    """One pre-filled field: its printed label, and the box its value is printed in."""

    name: str
    label: str
    page: int
    rect: Box
    label_rect: Box


@dataclass(frozen=True)
class SealBox:
    """An area where the form asks for the official seal, and the label that asks for it."""

    label: str
    page: int
    rect: Box


@dataclass
class FormLayout:
    """The geometry of one form: fields, seal areas, barcodes (page index, box)."""

    form: str
    pages: int = 0
    fields: dict[str, FieldBox] = field(default_factory=dict)
    seal_boxes: list[SealBox] = field(default_factory=list)
    barcodes: list[tuple[int, Box]] = field(default_factory=list)
    #: Every text the template prints whatever the record (labels, headings, notes): page, text.
    #: Recorded only while the geometry alone is drawn, when every entered value is empty.
    texts: list[tuple[int, str]] = field(default_factory=list)

    def field_rects(self) -> dict[str, tuple[str, Box]]:
        """field name -> (label, value box in points)."""
        return {n: (f.label, f.rect) for n, f in self.fields.items()}


def code128_modules(data: str) -> str:
    """The bar/space pattern (``1`` = bar, one char per module) of ``data`` in Code 128.

    python-barcode picks code set C for digit runs, so 17 digits take 145 modules.
    """
    return str(barcode.Code128(data).build()[0])


class Canvas:
    """Draws on ``page`` (or only records geometry when ``page`` is None) into ``layout``."""

    def __init__(self, layout: FormLayout, page_index: int, page: pymupdf.Page | None,
                 fontname: str, font: pymupdf.Font | None, collect: set[str] | None = None) -> None:
        self.layout = layout
        self.collect = collect
        self._writers: dict[tuple[float, ...], pymupdf.TextWriter] = {}
        self.index = page_index
        self.page = page
        self.fontname = fontname
        self.font = font
        layout.pages = max(layout.pages, page_index + 1)

    # -- primitives ---------------------------------------------------------------------------
    def width(self, text: str, size: float) -> float:
        if self.font is None:
            return size * len(text)
        return float(self.font.text_length(text, fontsize=size))

    def text(self, x: float, y: float, text: str, size: float = 10.0, *, max_w: float | None = None,
             align: str = "left", color: Sequence[float] = (0, 0, 0)) -> float:
        """Write ``text`` with its baseline at ``y``; shrink to ``max_w``; return the width used."""
        if not text:
            return 0.0
        if self.collect is not None:
            self.collect.update(text)
        w = self.width(text, size)
        if max_w is not None and w > max_w:
            size, w = size * max_w / w, max_w
        if align == "center":
            x -= w / 2
        elif align == "right":
            x -= w
        if self.page is None:
            self.layout.texts.append((self.index, text))
        if self.page is not None and self.font is not None:
            key = tuple(color)
            if key not in self._writers:
                self._writers[key] = pymupdf.TextWriter(self.page.rect, color=key)
            self._writers[key].append((x, y), text, font=self.font, fontsize=size)
        return w

    def finish(self) -> None:
        """Write the text collected for this page (one TextWriter per colour, font embedded once)."""
        if self.page is not None:
            for writer in self._writers.values():
                writer.write_text(self.page)
        self._writers.clear()

    def wrap(self, x: float, y: float, text: str, width: float, size: float = 9.0,
             leading: float = 1.45, indent: float = 0.0) -> float:
        """Write ``text`` wrapped to ``width`` (character by character, as CJK wraps); return next y."""
        line, lines, first = "", [], True
        for ch in text:
            avail = width - (indent if first else 0.0)
            if line and ch not in _NO_LINE_START and self.width(line + ch, size) > avail:
                lines.append((line, first))
                line, first = "", False
            line += ch
        if line:
            lines.append((line, first))
        for ln, is_first in lines:
            self.text(x + (indent if is_first else 0.0), y, ln, size)
            y += size * leading
        return y

    def rect(self, r: Box, width: float = 0.7, dashes: str | None = None) -> None:
        if self.page is not None:
            self.page.draw_rect(pymupdf.Rect(r), color=(0, 0, 0), width=width, dashes=dashes)

    def line(self, x0: float, y0: float, x1: float, y1: float, width: float = 0.6) -> None:
        if self.page is not None:
            self.page.draw_line((x0, y0), (x1, y1), color=(0, 0, 0), width=width)

    def checkbox(self, x: float, y: float, checked: bool, size: float = 7.0) -> None:
        """A square with its bottom-left at (x, y), ticked with two strokes when ``checked``."""
        self.rect((x, y - size, x + size, y), width=0.6)
        if checked and self.page is not None:
            self.page.draw_polyline([(x + 1.2, y - size / 2), (x + size * 0.42, y - 1.2),
                                     (x + size + 1.5, y - size - 1.5)], color=(0, 0, 0), width=1.1)

    # -- semantic items ------------------------------------------------------------------------
    def cell(self, name: str, label: str, label_rect: Box, value_rect: Box, value: str,
             size: float = 10.0, label_size: float = 9.5, box: bool = True) -> None:
        """A table row part: label in its cell, the entered value in the next, both boxed."""
        if box:
            self.rect(label_rect)
            self.rect(value_rect)
        lx0, ly0, lx1, ly1 = label_rect
        self.text(lx0 + 4, (ly0 + ly1) / 2 + label_size * 0.35, label, label_size, max_w=lx1 - lx0 - 8)
        self.value(name, label, value_rect, value, size, label_rect)

    def value(self, name: str, label: str, value_rect: Box, value: str, size: float = 10.0,
              label_rect: Box | None = None) -> None:
        """Print an entered value in its box and record the box under ``name``."""
        x0, y0, x1, y1 = value_rect
        self.text(x0 + 5, (y0 + y1) / 2 + size * 0.36, value, size, max_w=x1 - x0 - 10)
        self.layout.fields[name] = FieldBox(name, label, self.index, value_rect, label_rect or value_rect)

    def seal_box(self, label: str, r: Box, dashed: bool = True) -> None:
        self.rect(r, width=0.5, dashes="[3 2] 0" if dashed else None)
        self.layout.seal_boxes.append(SealBox(label, self.index, r))

    def barcode(self, r: Box, data: str | None) -> None:
        """Code 128 of ``data`` as vector bars filling ``r`` (quiet zones inside), digits below."""
        self.layout.barcodes.append((self.index, r))
        if self.page is None or not data:
            return
        modules = code128_modules(data)
        x0, y0, x1, y1 = r
        text_h = 9.0
        unit = (x1 - x0) / (len(modules) + 20)  # 10-module quiet zone each side
        bars_bottom = y1 - text_h - 1
        shape = self.page.new_shape()
        i = 0
        while i < len(modules):
            if modules[i] == "1":
                j = i
                while j < len(modules) and modules[j] == "1":
                    j += 1
                bx = x0 + (10 + i) * unit
                shape.draw_rect(pymupdf.Rect(bx, y0, bx + (j - i) * unit, bars_bottom))
                i = j
            else:
                i += 1
        shape.finish(color=None, fill=(0, 0, 0), width=0)
        shape.commit()
        self.text((x0 + x1) / 2, y1 - 1.5, data, 8.5, align="center")
