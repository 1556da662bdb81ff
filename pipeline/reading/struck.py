"""Pen strokes through a line of text: a value struck out (涂改) on a form.

The guide says of the authorization letter: 委托书内容要填写清楚，涂改无效. A struck-out value is a
long, nearly straight pen stroke through the middle of a text line (an underline runs below it,
a table rule between lines). Printed glyphs never make one: their strokes break at every glyph,
and a line through them is looked for only within the text line's own box, red ink (a seal)
left out. No rules and no case here: the stage decides what a stroke means.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.seal.find import red_mask

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Stroke:
    line: Box                       # the text line's box on the page
    ends: tuple[int, int, int, int]  # the stroke's two ends (x0, y0, x1, y1) on the page
    cover: float                    # the share of the line's width the stroke runs across


def strokes_through(image: np.ndarray, lines: list[Box], min_cover: float = 0.5,
                    middle: tuple[float, float] = (0.25, 0.75), max_slope_deg: float = 15.0) -> list[Stroke]:
    """The text lines of ``image`` a straight dark stroke runs through: across at least
    ``min_cover`` of the line's width, within ``max_slope_deg`` of level, its middle in the
    ``middle`` band of the line's height, unbroken, with the line's glyphs above and below it."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    found = []
    for line in lines:
        x0, y0, x1, y1 = line
        w, h = x1 - x0, y1 - y0
        if h < 6 or w < 2 * h:
            continue
        pad = h // 2
        top, left = max(0, y0 - pad), max(0, x0 - pad)
        crop = grey[top:y1 + pad, left:x1 + pad]
        ink = (crop < float(np.percentile(crop, 90)) - 60).astype(np.uint8) * 255
        if image.ndim == 3:
            ink[red_mask(image[top:y1 + pad, left:x1 + pad]) > 0] = 0  # a seal over the text is no stroke
        segments = cv2.HoughLinesP(ink, 1, np.pi / 180, threshold=max(10, int(min_cover * w * 0.5)),
                                   minLineLength=int(min_cover * w), maxLineGap=max(3, h // 6))
        for ends in ([] if segments is None else segments.reshape(-1, 4)):
            sx0, sy0, sx1, sy1 = (int(v) for v in ends)
            slope = abs(np.degrees(np.arctan2(sy1 - sy0, sx1 - sx0)))
            if min(slope, 180 - slope) > max_slope_deg:
                continue
            if not y0 + middle[0] * h <= (sy0 + sy1) / 2 + top <= y0 + middle[1] * h:
                continue
            across = (min(x1, max(sx0, sx1) + left) - max(x0, min(sx0, sx1) + left)) / w
            if across < min_cover:
                continue
            if not _unbroken(ink, (sx0, sy0, sx1, sy1), max_gap=max(2, h // 12)):
                continue  # collinear bits of glyphs (letters' tops, a row of strokes), no stroke
            if not _between_glyphs(ink, (sx0, sy0, sx1, sy1), reach=max(3, h // 3)):
                continue  # an underline or a rule: glyphs above it only
            found.append(Stroke(line, (sx0 + left, sy0 + top, sx1 + left, sy1 + top), round(float(across), 2)))
            break
    return found


def _unbroken(ink: np.ndarray, ends: tuple[int, int, int, int], max_gap: int, share: float = 0.92) -> bool:
    """Ink (within a pixel across) along the segment at ``share`` of its points at least, with
    no gap longer than ``max_gap``: a pen stroke, not a row of glyph parts the transform lined up."""
    x0, y0, x1, y1 = ends
    n = max(abs(x1 - x0), abs(y1 - y0)) + 1
    xs = np.linspace(x0, x1, n).round().astype(int)
    ys = np.linspace(y0, y1, n).round().astype(int)
    h = ink.shape[0]
    hit = np.zeros(n, bool)
    for dy in (-1, 0, 1):
        hit |= ink[np.clip(ys + dy, 0, h - 1), xs] > 0
    if hit.mean() < share:
        return False
    gaps = np.diff(np.flatnonzero(np.concatenate(([True], hit, [True])))) - 1
    return int(gaps.max()) <= max_gap


def _between_glyphs(ink: np.ndarray, ends: tuple[int, int, int, int], reach: int, share: float = 0.25) -> bool:
    """Glyph ink both above and below the segment (within ``reach`` px, the stroke's own width
    left out) along ``share`` of it at least: a stroke through text, not under or over it."""
    x0, y0, x1, y1 = ends
    n = max(abs(x1 - x0), abs(y1 - y0)) + 1
    xs = np.linspace(x0, x1, n).round().astype(int)
    ys = np.linspace(y0, y1, n).round().astype(int)
    h = ink.shape[0]

    def side(offsets: range) -> float:
        seen = np.zeros(n, bool)
        for dy in offsets:
            seen |= ink[np.clip(ys + dy, 0, h - 1), xs] > 0
        return float(seen.mean())

    return side(range(-reach, -2)) >= share and side(range(3, reach + 1)) >= share
