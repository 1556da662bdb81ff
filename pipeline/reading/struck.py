"""Pen strokes through a line of text: a value struck out (涂改) on a form.

The guide says of the authorization letter: 委托书内容要填写清楚，涂改无效. A struck-out value is a
long, nearly straight pen stroke through the middle of a text line (an underline runs below it,
a table rule between lines). Printed glyphs never make one: their strokes break at every glyph,
and a line through them is looked for only within the text line's own box, the ink the caller
marks (a seal's red) left out. No rules and no case here: the stage decides what a stroke means.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.reading.ocr import PEN_BLUE, blueness

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Stroke:
    line: Box                       # the text line's box on the page
    ends: tuple[int, int, int, int]  # the stroke's two ends (x0, y0, x1, y1) on the page
    cover: float                    # the share of the line's width the stroke runs across
    #: the stretch of the line it was found in when it is short (``short_heights``), else None
    part: Box | None = None
    #: a coloured (blue, blue-black) pen's line over black print (``_LineInk.coloured``)
    coloured: bool = False
    #: thicker than a pen line over its glyphs (``thick_too``): a black pen's blurred on a photo, or
    #: glyphs glued into a row — the caller tells them apart by what it crosses
    thick: bool = False


def strokes_through(image: np.ndarray, lines: list[Box], min_cover: float = 0.5,
                    middle: tuple[float, float] = (0.25, 0.75), max_slope_deg: float = 15.0,
                    min_height: int = 16, max_ink_share: float = 0.4, short_heights: float = 0.0,
                    leave_out: Callable[[np.ndarray], np.ndarray] | None = None,
                    thick_too: bool = False) -> list[Stroke]:
    """The text lines of ``image`` a straight dark stroke runs through: across at least
    ``min_cover`` of the line's width and twice its height, within ``max_slope_deg`` of level, its
    middle in the ``middle`` band of the line's height, unbroken, thin, with the line's glyphs above
    and below it. Lines under ``min_height`` px high, or inked over more than ``max_ink_share``, are
    not judged (``judgeable``); nor should pages much below 150 dpi be (the caller's business: their
    glyphs blur into rows as straight as a pen's). ``leave_out`` marks ink that is no pen's (the
    stage passes the seal finder's red mask: a seal over the text is no stroke).

    A short value inside a sentence (a name after 兹授权) is too little of its line for
    ``min_cover``: with ``short_heights`` set, each stretch of the line's middle band inked without a
    break at least that many line heights long (printed glyphs stand apart; a stroke through them
    joins them) is judged as a line of its own, the stroke across ``min_cover`` of it (``Stroke.part``:
    glyphs set tight join so too — 作为附件 in a Hei face —, so what the stretch reads is the caller's
    to judge, and every stretch's stroke is returned: the first may be glyphs, the second the pen).

    With ``thick_too``, a line or stretch that holds no thin stroke but a straight run that fails the
    thin test alone gives that run (``Stroke.thick``): a black pen's line on a photo of a 150-dpi page
    measures as thick as glued glyphs (7–9 px, 13–20 px struck twice), so only what it crosses can
    tell them apart (the caller's business)."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    bluer = None if image.ndim == 2 else _bluer_than_paper(image)
    found = []
    for line in lines:
        if not _judgeable(line, min_height):
            continue
        ink = _LineInk.of(grey, line, bluer)
        if ink.share() > max_ink_share:
            continue  # a block of ink (a seal saved in black and white), not a line of text
        if leave_out is not None and image.ndim == 3:
            ink.marks = functools.partial(leave_out, ink.colour(image))
        x0, y0, x1, y1 = line
        parts = [(x0, x1)] + (ink.joined_stretches(middle, short_heights) if short_heights else [])
        for a, b in parts:
            got = _stroke_across(ink, a, b, min_cover, middle, max_slope_deg, whole=(a, b) == (x0, x1),
                                 thick_too=thick_too)
            if got is not None:
                ends, coloured, thick = got
                across = (min(x1, ends[2]) - max(x0, ends[0])) / (x1 - x0)
                part = None if (a, b) == (x0, x1) else (a, y0, b, y1)
                found.append(Stroke(line, ends, round(float(across), 2), part, coloured, thick))
                if part is None and not thick:
                    break  # the line is struck: its stretches need no look
    return found


#: a pen stroke breaks for a pixel at most
_MAX_GAP = 1


@dataclass
class _LineInk:
    """A text line's ink (darker than the paper around it), half its height of margin around."""

    line: Box
    ink: np.ndarray   # the crop's ink, True = ink
    top: int          # the crop's place on the page
    left: int
    marks: Callable[[], np.ndarray] | None = None  # ink that is no pen's (non-zero), left out of strokes
    blue: np.ndarray | None = None  # the crop's blue − red over the paper's (a colour page), else None

    @functools.cached_property
    def pen(self) -> np.ndarray:
        """The ink a stroke is looked for in: ``marks`` left out (computed when first asked)."""
        return self.ink if self.marks is None else self.ink & (self.marks() == 0)

    @classmethod
    def of(cls, grey: np.ndarray, line: Box, bluer: np.ndarray | None = None) -> _LineInk:
        x0, y0, x1, y1 = line
        pad = (y1 - y0) // 2
        top, left = max(0, y0 - pad), max(0, x0 - pad)
        crop = grey[top:y1 + pad, left:x1 + pad]
        # a max filter wider than any glyph stroke: a phone's shadow or a lamp's falloff over the line
        # is paper, not ink
        paper = cv2.dilate(crop, np.ones((y1 - y0, y1 - y0), np.uint8))
        blue = None if bluer is None else bluer[top:y1 + pad, left:x1 + pad]
        return cls(line, crop.astype(np.int16) < paper.astype(np.int16) - 60, top, left, blue=blue)

    def coloured(self, ends: tuple[int, int, int, int]) -> bool:
        """The segment ``ends`` (crop coordinates) is a blue or blue-black pen's line over black print:
        its ink bluer than the paper by ``PEN_BLUE`` (blue − red) and than the glyphs around it, which
        are not that blue themselves (JPEG bleeds a little of the pen's colour into them). Glyphs set
        tight are the print's own black. A black pen, a grey page or a value written by the same pen
        say nothing (False)."""
        if self.blue is None:
            return False
        h, w = self.ink.shape
        xs, ys = _along(ends)
        near = np.zeros_like(self.ink)
        for dy in (-1, 0, 1):
            near[np.clip(ys + dy, 0, h - 1), np.clip(xs, 0, w - 1)] = True
        mid = (ends[1] + ends[3]) / 2
        away = self.ink & (np.abs(np.arange(h) - mid) > max(4, self.height // 8))[:, None]
        along, glyphs = self.blue[near & self.ink], self.blue[away]
        if len(along) == 0 or len(glyphs) == 0:
            return False
        stroke_blue, glyph_blue = float(np.median(along)), float(np.median(glyphs))
        return stroke_blue >= PEN_BLUE and glyph_blue < PEN_BLUE and stroke_blue - glyph_blue >= PEN_BLUE

    @property
    def height(self) -> int:
        return self.line[3] - self.line[1]

    @functools.cached_property
    def glyph_height(self) -> float:
        """The height of the line's glyphs: the box's rows holding the middle 80 % of its ink, over 0.8.
        A detector's box stands well above and below them (padding, an underline, a taller hand-written
        word beside): 62 px for 34 px glyphs on a 200-dpi letter. Never more than the box's height."""
        x0, _, x1, _ = self.line
        rows = self.ink[self.rows(), x0 - self.left:x1 - self.left].sum(axis=1)
        if rows.sum() == 0:
            return float(self.height)
        cumulative = np.cumsum(rows) / rows.sum()
        low, high = int(np.searchsorted(cumulative, 0.1)), int(np.searchsorted(cumulative, 0.9))
        return float(min(self.height, max(1, high - low + 1) / 0.8))

    def rows(self, band: tuple[float, float] = (0.0, 1.0)) -> slice:
        """The crop's rows of the line's ``band`` (fractions of its height)."""
        y0 = self.line[1] - self.top
        return slice(y0 + int(band[0] * self.height), y0 + int(band[1] * self.height))

    def share(self) -> float:
        x0, _, x1, _ = self.line
        return float(self.ink[self.rows(), x0 - self.left:x1 - self.left].mean())

    def colour(self, image: np.ndarray) -> np.ndarray:
        return image[self.top:self.top + self.ink.shape[0], self.left:self.left + self.ink.shape[1]]

    def joined_stretches(self, band: tuple[float, float], heights: float) -> list[tuple[int, int]]:
        """The page columns (from, to) of each stretch of the line inked without a break within
        ``band`` at least ``heights`` line heights long."""
        x0, _, x1, _ = self.line
        columns = np.asarray(self.ink[self.rows(band), x0 - self.left:x1 - self.left].any(axis=0))
        _, starts, ends = _runs(_bridged(columns[None, :]))
        return [(x0 + int(a), x0 + int(b)) for a, b in zip(starts, ends, strict=True)
                if b - a >= heights * self.glyph_height]


def _bluer_than_paper(image: np.ndarray) -> np.ndarray:
    """Each pixel's blue − red over the paper's (``blueness``: a pen's blue, positive; print ≈ 0)."""
    bluer, paper = blueness(image)
    return bluer.astype(np.int16) - np.int16(paper)


def _stroke_across(ink: _LineInk, a: int, b: int, min_cover: float, middle: tuple[float, float],
                   max_slope_deg: float, whole: bool = True,
                   thick_too: bool = False) -> tuple[tuple[int, int, int, int], bool, bool] | None:
    """A pen stroke through the line between page columns ``a`` and ``b``, across ``min_cover`` of
    them and twice the line's height at least (a stretch of it, not ``whole``: twice its glyphs'
    height): its ends on the page, whether it is a coloured pen's (``_LineInk.coloured``: such a
    line needs not be thin — on a phone's photo at 140 dpi a ballpoint through digits measures 7–9 px
    — glyphs set tight never are) and whether it is thick (only with ``thick_too``, when no run is
    thin), or None."""
    h, w = ink.height, b - a
    pad = h // 2
    c0, c1 = max(0, a - ink.left - pad), min(ink.ink.shape[1], b - ink.left + pad)
    # longer than two glyphs: one glyph's stroke, or two lined up, is not a stroke through a value
    min_length = max(int(min_cover * w), 2 * (h if whole else round(ink.glyph_height)))
    if _longest_inked_span(np.asarray(ink.ink[ink.rows(), c0:c1].any(axis=0))) < min_length:
        return None  # printed glyphs stand apart, a column or more between them: no stroke (cheap)
    part = ink.pen[:, c0:c1]
    # a stroke through the line's middle band crosses the part's middle column near that band
    slack = round(part.shape[1] / 2 * np.tan(np.radians(max_slope_deg)) * (1 - min_cover)) + 1
    band = ink.rows(middle)
    crossing = (max(0, band.start - slack), min(part.shape[0] - 1, band.stop + slack))
    left, top = ink.left + c0, ink.top
    y0 = ink.line[1]
    thick: tuple[int, int, int, int] | None = None
    for ends in _straight_runs(part, min_length, max_slope_deg, crossing):
        sx0, sy0, sx1, sy1 = ends
        if not y0 + middle[0] * h <= (sy0 + sy1) / 2 + top <= y0 + middle[1] * h:
            continue
        if (min(b, sx1 + left) - max(a, sx0 + left)) / w < min_cover:
            continue
        if not _between_glyphs(part, ends, reach=max(3, h // 3)):
            continue  # an underline or a rule: glyphs above it only
        coloured = ink.coloured((sx0 + c0, sy0, sx1 + c0, sy1))
        if _typical_thickness(part, ends) > max(3, h // 4) and not coloured:
            if thick is None:
                thick = (sx0 + left, sy0 + top, sx1 + left, sy1 + top)
            continue  # a row through bold glyphs (a seal's, a heavy hand's): a pen line is thin
        return (sx0 + left, sy0 + top, sx1 + left, sy1 + top), coloured, False
    return (thick, False, True) if thick_too and thick is not None else None


def judgeable(lines: list[Box], min_height: int = 16) -> int:
    """How many of ``lines`` are high enough to be judged at all."""
    return sum(1 for line in lines if _judgeable(line, min_height))


def _judgeable(line: Box, min_height: int) -> bool:
    """High enough to tell a stroke from glyphs, and long enough for one (two heights at least)."""
    x0, y0, x1, y1 = line
    return y1 - y0 >= min_height and x1 - x0 >= 2 * (y1 - y0)


def _along(ends: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The pixels of the segment ``ends``, one a column (the strokes looked for are near level)."""
    x0, y0, x1, y1 = ends
    n = max(abs(x1 - x0), abs(y1 - y0)) + 1
    return np.linspace(x0, x1, n).round().astype(int), np.linspace(y0, y1, n).round().astype(int)


def _runs(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's runs of True in ``flags`` (2-D): their rows, starts and past-ends, row by row."""
    edges = np.diff(np.pad(flags.astype(np.int8), ((0, 0), (1, 1))), axis=1)
    rows, starts = np.nonzero(edges == 1)  # row-major: each row's runs in order, starts and ends paired
    _, ends = np.nonzero(edges == -1)
    return rows, starts, ends


def _typical_thickness(ink: np.ndarray, ends: tuple[int, int, int, int]) -> float:
    """The median height of the ink the segment runs in, column by column: a pen line's own width
    where it crosses the gaps between glyph strokes; a row through glyphs runs in their strokes."""
    xs, ys = _along(ends)
    h = ink.shape[0]
    heights = []
    for x, y in zip(xs.tolist(), ys.tolist(), strict=True):
        column = ink[:, x]
        if not column[y]:
            continue
        up = y
        while up > 0 and column[up - 1]:
            up -= 1
        down = y
        while down < h - 1 and column[down + 1]:
            down += 1
        heights.append(down - up + 1)
    return float(np.median(heights)) if heights else 0.0


def _longest_inked_span(columns: np.ndarray) -> int:
    """The longest stretch of inked columns, gaps up to ``_MAX_GAP`` bridged."""
    _, starts, ends = _runs(_bridged(columns[None, :]))
    return int((ends - starts).max()) if len(starts) else 0


def _bridged(flags: np.ndarray) -> np.ndarray:
    """Each row's runs of True with gaps up to ``_MAX_GAP`` closed."""
    return cv2.morphologyEx(flags.astype(np.uint8), cv2.MORPH_CLOSE,
                            np.ones((1, _MAX_GAP + 1), np.uint8)).astype(bool)


def _straight_runs(ink: np.ndarray, min_length: int, max_slope_deg: float,
                   crossing: tuple[int, int], min_inked: float = 0.92) -> list[tuple[int, int, int, int]]:
    """Straight runs of ink at least ``min_length`` long (gaps up to ``_MAX_GAP`` bridged, a pixel
    of slack across) and inked along ``min_inked`` of their length, at every slope within
    ``max_slope_deg`` by whole degrees, crossing the crop's middle column between rows
    ``crossing``: their ends (x0, y0, x1, y1), longest first. Printed glyphs break every few
    pixels; a pen stroke does not."""
    h, w = ink.shape
    xs = np.arange(w)
    runs = []
    for deg in range(-int(max_slope_deg), int(max_slope_deg) + 1):
        rise = np.round(xs * np.tan(np.radians(deg))).astype(int)
        first = np.arange(crossing[0], crossing[1] + 1) - rise[w // 2]
        rows = first[:, None] + rise[None, :]  # row i of the sheared crop follows y = first[i] + x·tan
        inside = (rows >= 0) & (rows < h)
        along = np.where(inside, ink[np.clip(rows, 0, h - 1), xs[None, :]], False)
        inked = along.copy()
        inked[1:] |= along[:-1]
        inked[:-1] |= along[1:]
        rows_at, starts, ends = _runs(_bridged(inked))
        long = ends - starts >= min_length
        if not long.any():
            continue
        counts = np.pad(np.cumsum(inked, axis=1), ((0, 0), (1, 0)))
        for i, a, b in zip(rows_at[long], starts[long], ends[long], strict=True):
            # a pen stroke is inked nearly all along; glyph strokes lined up leave many small gaps
            if (counts[i, b] - counts[i, a]) >= min_inked * (b - a):
                runs.append((int(b - a), (int(a), int(first[i] + rise[a]), int(b - 1), int(first[i] + rise[b - 1]))))
    return [ends for _, ends in sorted(runs, key=lambda t: -t[0])]


def _between_glyphs(ink: np.ndarray, ends: tuple[int, int, int, int], reach: int, share: float = 0.25) -> bool:
    """Glyph ink both above and below the segment (within ``reach`` px, the stroke's own width
    left out) along ``share`` of it at least: a stroke through text, not under or over it."""
    xs, ys = _along(ends)
    h = ink.shape[0]

    def side(offsets: range) -> float:
        seen = np.zeros(len(xs), bool)
        for dy in offsets:
            seen |= ink[np.clip(ys + dy, 0, h - 1), xs]
        return float(seen.mean())

    return side(range(-reach, -2)) >= share and side(range(3, reach + 1)) >= share
