"""Read a page the cheap way: detect text lines at reduced resolution, turn the page upright,
recognise only short lines (labels, titles, values) and whatever a caller asks for later.

Fields are found by their printed labels, never by absolute position: real forms come in
versions precheck does not control, and scanners crop and shift. A value is the rest of the
label's line, else the line to its right, else the line below. A value that reads poorly is
read again from the full-resolution page with red seal ink dropped, then by the second engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import cv2
import numpy as np
from rapidfuzz import fuzz

from pipeline.pageviews import to_page_box
from pipeline.reading.matching import normalise
from pipeline.reading.ocr import OcrEngine, TextBox, drop_red_ink

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class ReadOptions:
    """How hard to look, and when a document's kind is told (rule-set params of doc.kind;
    defaults measured in bench/ocr.py)."""

    work_side: int = 1000  # longest side (px) the page is detected at
    short_ratio: float = 4.5  # lines wider than this many heights are not read up front
    title_band: float = 0.3  # top part of the page whose tallest lines are read as titles
    label_score: float = 80.0  # fuzzy score a line needs to count as showing a label
    label_slack: int = 3  # characters a label may start after the start of its line
    max_pages: int = 2  # pages of an upload read
    min_score: float = 5.0  # cue-word score a kind needs (pipeline.doctype.classify)
    min_margin: float = 2.0  # and its lead over the runner-up
    full_side: int = 2400  # longest side (px) of the slow path: the whole page detected again


@dataclass
class Line:
    box: Box  # in upright full-resolution page pixels
    text: str = ""
    confidence: float = 0.0
    read: bool = False

    @property
    def norm(self) -> str:
        return normalise(self.text)

    def as_textbox(self) -> TextBox:
        return TextBox(self.text, self.box, self.confidence)


@dataclass
class Value:
    """A value read next to a label: its text, box on the (upright) page, confidence, how."""

    text: str
    box: Box
    confidence: float
    label: str
    how: str  # "same-line", "right", "below", "reread", "second-opinion"
    page: PageText | None = field(default=None, repr=False, compare=False)  # where it was read
    #: each character's probability, aligned with ``text`` (empty when the engine gave none)
    chars: tuple[float, ...] = field(default=(), repr=False, compare=False)
    #: a value printed on several lines (a long name wrapped in its cell): each line's box, in
    #: reading order (empty: one line, ``box``); rereading reads them one by one
    parts: tuple[Box, ...] = field(default=(), repr=False, compare=False)

    @property
    def least_probability(self) -> float:
        """How surely the least sure character was read (the line's confidence when unknown)."""
        return min(self.chars) if self.chars else self.confidence

    def evidence(self) -> dict[str, object]:
        return {"read": self.text, "box": list(self.box), "confidence": round(self.confidence, 3),
                "label": self.label, "how": self.how}


@dataclass
class PageText:
    image: np.ndarray  # upright, full resolution
    rotation: int  # degrees clockwise the upload was turned to be upright
    lines: list[Line]
    engine: OcrEngine
    options: ReadOptions = field(default_factory=ReadOptions)
    index: int = 0  # page of the upload it came from (0 first)
    slot: str | None = None  # that upload when it is not the one being read (a form's _extra page)
    skew: float = 0.0  # degrees the turned page was then levelled by (``level``)
    full: bool = False  # lines detected again on the whole page at ``full_side`` (the slow path)
    marks_dropped: str = ""  # read from the page with these marks dropped ("light marks", "pen ink")

    def _uploaded_size(self) -> tuple[int, int]:
        h, w = self.image.shape[:2]
        return (h, w) if self.rotation in (90, 270) else (w, h)

    def upright_point(self, x: float, y: float) -> tuple[float, float]:
        """A point of the page as uploaded, on this upright (turned, then levelled) page."""
        w, h = self._uploaded_size()
        u, v = {90: (h - y, x), 180: (w - x, h - y), 270: (y, w - x)}.get(self.rotation, (x, y))
        if not self.skew:
            return u, v
        ih, iw = self.image.shape[:2]
        (a, b, c), (d, e, f) = cv2.getRotationMatrix2D((iw / 2, ih / 2), self.skew, 1.0)
        return a * u + b * v + c, d * u + e * v + f

    def page_box(self, box: Box) -> Box:
        """A box of this upright page, back on the page as uploaded (whole pixels)."""
        w, h = self._uploaded_size()
        x0, y0, x1, y1 = to_page_box(box, self.rotation, w, h, self.skew)
        return (int(x0), int(y0), int(x1), int(y1))

    def where(self) -> dict[str, object]:
        """Where a box on this page sits, for evidence: upload page, its turn and slope, its other slot."""
        out: dict[str, object] = {"page": self.index, "rotation": self.rotation}
        if self.skew:
            out["skew"] = round(self.skew, 2)
        if self.slot is not None:
            out["slot"] = self.slot
        out["read_path"] = (f"{self.marks_dropped} dropped" if self.marks_dropped
                            else "whole page" if self.full else "fast")
        return out

    def detect_whole(self) -> bool:
        """The slow, plain path: detect the lines of the whole page again (no ink bands) at
        ``full_side`` — small print in a face the fast detection at ``work_side`` misses (a Song
        face at 200 dpi) is found there. Lines read before are kept; True when new lines came."""
        if self.full:
            return False
        self.full = True
        boxes = _detect_plain(self.image, self.engine, self.options.full_side)
        if not boxes:
            return False
        known = {ln.box for ln in self.lines}
        fresh = [Line(b) for b in boxes if not any(_same_box(b, k) for k in known)]
        self.lines += fresh
        return bool(fresh)

    # ---------------------------------------------------------------- reading lines
    def ensure_read(self, indices: list[int]) -> None:
        todo = [i for i in indices if not self.lines[i].read]
        if not todo:
            return
        crops = [self.crop(self.lines[i].box) for i in todo]
        for i, tb in zip(todo, self.engine.read_lines(crops), strict=True):
            self.lines[i].read = True
            if tb is not None:
                self.lines[i].text, self.lines[i].confidence = tb.text, tb.confidence

    def crop(self, box: Box, pad: float = 0.12, ink_only: bool = True) -> np.ndarray:
        x0, y0, x1, y1 = box
        p = int((y1 - y0) * pad) + 1
        h, w = self.image.shape[:2]
        part = self.image[max(0, y0 - p):min(h, y1 + p), max(0, x0 - p):min(w, x1 + p)]
        return drop_red_ink(part) if ink_only else part

    def read_all(self) -> list[TextBox]:
        self.ensure_read(list(range(len(self.lines))))
        return [ln.as_textbox() for ln in self.lines if ln.text]

    def texts(self) -> list[TextBox]:
        """The lines read so far."""
        return [ln.as_textbox() for ln in self.lines if ln.text]

    # ---------------------------------------------------------------- labels and values
    def find_labels(self, labels: tuple[str, ...] | list[str]) -> list[tuple[int, int, float]]:
        """Lines showing one of ``labels``: (line index, end of the label in the line's text, score)."""
        out = []
        for i, ln in enumerate(self.lines):
            t = ln.norm
            if not t:
                continue
            best: tuple[int, float] | None = None
            for label in labels:
                lab = normalise(label).rstrip(":：")
                if not lab:
                    continue
                pos = t.find(lab)
                if 0 <= pos <= self.options.label_slack:
                    best = (pos + len(lab), 100.0)
                    break
                if len(lab) >= 3:
                    al = fuzz.partial_ratio_alignment(lab, t[: len(lab) + self.options.label_slack])
                    long_enough = al is not None and al.dest_end - al.dest_start >= 0.7 * len(lab)
                    if (al is not None and long_enough and al.score >= self.options.label_score
                            and (best is None or al.score > best[1])):
                        best = (al.dest_end, float(al.score))
            if best is not None:
                end = best[0]
                while end < len(t) and t[end] in ":：":
                    end += 1
                out.append((i, end, best[1]))
        return out

    def value_for(self, label_line: int, label_end: int, label: str, order: tuple[str, ...] = ("right", "below"),
                  stop_labels: tuple[str, ...] = ()) -> Value | None:
        """The value printed with a label: the rest of its line, else the nearest line in each
        direction of ``order`` ("right", "below") that is not itself a label."""
        ln = self.lines[label_line]
        rest = ln.norm[label_end:]
        if _label_tail(rest):  # 手机号码： found as 手机: the rest of the line is still label
            rest = ""
        if len(rest.strip(":：.,，、|_-")) >= 2:
            x0, y0, x1, y1 = ln.box
            frac = label_end / max(1, len(ln.norm))
            vbox = (int(x0 + (x1 - x0) * frac), y0, x1, y1)
            return Value(rest, vbox, ln.confidence, label, "same-line", self)
        for where in order:
            near = self._neighbour(label_line, where)
            if near is None:
                continue
            self.ensure_read([near])
            n = self.lines[near]
            if n.text and not self._is_label(n.norm, stop_labels):
                return Value(n.norm, n.box, n.confidence, label, where, self)
        return None

    def widened(self, value: Value, left: bool = True, right: bool = True, reach: float = 3.0) -> Value | None:
        """The value read again from its box widened along its row (to the ``left``, the ``right``)
        up to the lines beside it (the label's end on the left), at most ``reach`` line heights: a
        detector that cut a value's first or last characters off (gaohaifeng read as ohaifeng, a
        cell's rule beside the g) leaves them in the gap. None for a value of several lines, or when
        nothing lies beside it to take in."""
        if value.parts:
            return None
        x0, y0, x1, y1 = value.box
        h = max(1, y1 - y0)
        start, end = max(0.0, x0 - reach * h), min(float(self.image.shape[1]), x1 + reach * h)
        for ln in self.lines:
            a0, b0, a1, b1 = ln.box
            if ln.box == value.box or min(y1, b1) - max(y0, b0) < 0.5 * min(h, b1 - b0):
                continue  # the value itself, or a line of another row
            if a1 <= x0 + h / 2:
                start = max(start, a1 + 0.25 * h)  # the label's end (the reread's margin stays clear of it)
            elif a0 >= x1 - h / 2:
                end = min(end, a0 - 0.25 * h)
        box = (min(x0, round(start)) if left else x0, y0, max(x1, round(end)) if right else x1, y1)
        if box == value.box:
            return None
        return self.reread(Value(value.text, box, value.confidence, value.label, value.how, self),
                           how="widened")

    def continued(self, value: Value, stop_labels: tuple[str, ...] = ()) -> Value | None:
        """The value with the line that carries it on (a long name wrapped in its cell, as a
        licence prints it): the line right under it that starts where it starts, no wider than
        it, no further below than most of a line's height, and no label. None when there is none."""
        x0, y0, x1, y1 = value.parts[-1] if value.parts else value.box
        h = max(1, y1 - y0)
        under = [j for j, ln in enumerate(self.lines)
                 if y1 - 0.3 * h <= ln.box[1] <= y1 + 0.8 * h and abs(ln.box[0] - x0) <= 1.5 * h
                 and ln.box[2] <= x1 + 1.5 * h and ln.box[2] > ln.box[0]]
        if not under:
            return None
        j = min(under, key=lambda k: self.lines[k].box[1])
        self.ensure_read([j])
        n = self.lines[j]
        if not n.text or self._is_label(n.norm, stop_labels):
            return None
        box = (min(value.box[0], n.box[0]), value.box[1], max(value.box[2], n.box[2]), n.box[3])
        return Value(value.text + n.norm, box, min(value.confidence, n.confidence), value.label,
                     f"{value.how}+continued", self, parts=(*(value.parts or (value.box,)), n.box))

    @staticmethod
    def _is_label(text: str, stop_labels: tuple[str, ...]) -> bool:
        return any(normalise(s).rstrip(":：") and text.startswith(normalise(s).rstrip(":：")) for s in stop_labels)

    def _neighbour(self, idx: int, where: str) -> int | None:
        """The nearest line right of (on the same row) or below a line, None when there is none."""
        x0, y0, x1, y1 = self.lines[idx].box
        h = max(1, y1 - y0)
        best, best_d = None, float("inf")
        for j, other in enumerate(self.lines):
            if j == idx:
                continue
            a0, b0, a1, b1 = other.box
            if where == "right":
                overlap = min(y1, b1) - max(y0, b0)
                if overlap < 0.5 * min(h, b1 - b0) or a0 < x1 - h:
                    continue
                if a0 - x1 > 12 * h:
                    continue
                # the gap, and how far off the row: on a turned scan the next row's line can start
                # as close as the line of this row
                d = a0 - x1 + abs((b0 + b1) - (y0 + y1)) / 2
            else:
                overlap = min(x1, a1) - max(x0, a0)
                if overlap <= 0 or b0 < y1 - 0.3 * h:
                    continue
                d = b0 - y1
                if d > 3 * h:
                    continue
            if d < best_d:
                best, best_d = j, d
        return best

    def reread(self, value: Value, engine: OcrEngine | None = None, how: str = "reread",
               stretch: float = 1.6) -> Value | None:
        """Read a value's box again at full resolution, red ink dropped (by ``engine``).

        The crop is stretched sideways: a recogniser that merges repeated narrow characters
        (CTC reads 300486 as 30486 when the zeros are few pixels wide) then sees them apart.
        """
        eng = engine or self.engine
        texts, confidences, chars = [], [], []
        for box in value.parts or (value.box,):
            crop = self.crop(box, pad=0.25)
            if stretch != 1.0 and crop.size:
                crop = cv2.resize(crop, None, fx=stretch, fy=1.0, interpolation=cv2.INTER_CUBIC)
            tb = eng.read_line(crop)
            if tb is None or not tb.text.strip():
                return None
            text = normalise(tb.text)
            kept = tuple(p for ch, p in zip(tb.text, tb.chars, strict=False) if normalise(ch))
            texts.append(text)
            confidences.append(tb.confidence)
            chars.append(kept if len(tb.chars) == len(tb.text) and len(kept) == len(text) else None)
        known = all(c is not None for c in chars)
        return Value("".join(texts), value.box, min(confidences), value.label, how, self,
                     tuple(p for c in chars for p in (c or ())) if known else (), value.parts)


def read_page(image: np.ndarray, engine: OcrEngine, options: ReadOptions | None = None,
              orient: bool = True, eager: bool = True, titles: bool = True) -> PageText:
    """Detect lines, turn the page upright, read title lines (when ``titles``) and short lines
    (when ``eager``)."""
    opts = options or ReadOptions()
    page, rotation, skew, boxes = _upright(image, engine, opts.work_side, orient)
    if boxes is None:  # the engine cannot detect alone (Tesseract): read the whole page once, full size
        scale = 1.0
        small = cv2.resize(page, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else page
        lines = [Line(_up(b.box, scale), b.text, b.confidence, True) for b in engine.read(small)]
        return PageText(page, rotation, lines, engine, opts)
    lines = [Line(b) for b in boxes]
    pt = PageText(page, rotation, lines, engine, opts, skew=skew)
    first = [i for i, ln in enumerate(lines) if eager and _ratio(ln.box) <= opts.short_ratio]
    first += _title_lines(lines, page.shape[0], opts.title_band) if titles else []
    pt.ensure_read(sorted(set(first)))
    return pt


_TAIL = re.compile(r"^[^:：]{0,8}[:：]$|^[(（][^)）]{1,12}[)）][:：]?$")


def _label_tail(rest: str) -> bool:
    """What follows a found label on its line is the rest of a longer label, not a value: words
    up to a colon (another form version's 手机号码： for 手机：) or a bracketed note ((营业执照号))."""
    return bool(_TAIL.match(rest.strip()))


def _title_lines(lines: list[Line], page_h: int, band: float) -> list[int]:
    top = [(ln.box[3] - ln.box[1], i) for i, ln in enumerate(lines)
           if ln.box[1] < page_h * band and _ratio(ln.box) <= 12]
    return [i for _, i in sorted(top, reverse=True)[:4]]


def _ratio(box: Box) -> float:
    return (box[2] - box[0]) / max(1, box[3] - box[1])


def _scale(image: np.ndarray, side: int) -> float:
    return min(1.0, side / max(image.shape[:2]))


def _up(box: Box, scale: float) -> Box:
    return (int(box[0] / scale), int(box[1] / scale), int(np.ceil(box[2] / scale)), int(np.ceil(box[3] / scale)))


def _detect_plain(image: np.ndarray, engine: OcrEngine, side: int) -> list[Box] | None:
    """Line boxes of the whole page at ``side`` (seal ink dropped), without cutting it into bands."""
    scale = _scale(image, side)
    image = drop_red_ink(image)
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
    found = engine.detect(small)
    return None if found is None else [_up(b.box, scale) for b in found]


def _same_box(a: Box, b: Box) -> bool:
    """Two detections of one line: they overlap by most of the smaller one."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return False
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return w * h >= 0.6 * max(1, smaller)


def _detect(image: np.ndarray, engine: OcrEngine, side: int) -> list[Box] | None:
    """Line boxes of the printed text (see ``_detect_lines``)."""
    found = _detect_lines(image, engine, side)
    return None if found is None else found[0]


def _detect_lines(image: np.ndarray, engine: OcrEngine, side: int) -> tuple[list[Box], list[float]] | None:
    """Line boxes of the printed text and each line's slope (degrees): seal ink dropped first, so
    a seal neither hides nor joins a label.

    Only the inked bands of the page are detected (detection costs by the pixel).
    """
    scale = _scale(image, side)
    image = drop_red_ink(image)
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
    boxes: list[Box] = []
    angles: list[float] = []
    for x0, y0, x1, y1 in ink_bands(small):
        found = engine.detect(small[y0:y1, x0:x1])
        if found is None:
            return None
        boxes += [_up((b.box[0] + x0, b.box[1] + y0, b.box[2] + x0, b.box[3] + y0), scale) for b in found]
        angles += [b.angle for b in found]
    return boxes, angles


#: A page whose lines slope this much (degrees) is turned level before reading: a slanted line's
#: upright box takes in parts of the lines above and below, and the recogniser reads garbage; and a
#: table's cells, a page wide, stop standing level (headings 1.9° askew were no heading row).
MIN_SKEW = 1.0
MAX_SKEW = 15.0  # beyond this the slopes measured are no page skew (vertical text, handwriting)


def page_skew(boxes: list[Box], angles: list[float], min_lines: int = 5) -> float:
    """The page's slope (degrees): the median slope of its long lines, 0 when too few to tell."""
    slopes = [a for b, a in zip(boxes, angles, strict=True) if _ratio(b) >= 3 and abs(a) <= MAX_SKEW]
    if len(slopes) < min_lines:
        return 0.0
    return float(np.median(slopes))


def level(image: np.ndarray, skew: float) -> np.ndarray:
    """The image turned about its centre so lines sloping ``skew`` degrees lie level (same size,
    white where the turn uncovers the canvas)."""
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), skew, 1.0)
    border = (255,) * (1 if image.ndim == 2 else image.shape[2])
    return cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=border)


def ink_bands(grey: np.ndarray, gap: float = 0.04, pad: float = 0.02, worth: float = 0.9) -> list[Box]:
    """The bands of a page that hold ink, top to bottom: the page cut at blank stretches of at
    least ``gap`` of its longest side, each band trimmed to the inked columns and padded.

    The whole page when cutting saves less than a tenth. "Ink" is anything clearly darker than
    the paper (faint print counts), so a band never cuts through a line of text: an ID card
    copy inks a quarter of its A4 page, a form two thirds to four fifths.
    """
    h, w = grey.shape[:2]
    whole = [(0, 0, w, h)]
    if grey.ndim != 2 or h < 32 or w < 32:
        return whole
    paper = float(np.percentile(grey[::4, ::4], 95))
    ink = grey < paper - 40
    min_count = max(2, int(0.003 * min(h, w)))
    rows = ink.sum(axis=1) >= min_count
    cols = np.flatnonzero(ink.sum(axis=0) >= min_count)
    if not rows.any() or len(cols) == 0:
        return whole
    p, min_gap = int(pad * max(h, w)), int(gap * max(h, w))
    x0, x1 = max(0, int(cols[0]) - p), min(w, int(cols[-1]) + 1 + p)
    inked = np.flatnonzero(rows)
    breaks = np.flatnonzero(np.diff(inked) > min_gap)
    starts = [int(inked[0])] + [int(inked[i + 1]) for i in breaks]
    ends = [int(inked[i]) + 1 for i in breaks] + [int(inked[-1]) + 1]
    bands = [(x0, max(0, a - p), x1, min(h, b + p)) for a, b in zip(starts, ends, strict=True)]
    if sum((b[2] - b[0]) * (b[3] - b[1]) for b in bands) > worth * w * h:
        return whole
    return bands


_TURN = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


def _turn(image: np.ndarray, degrees: int) -> np.ndarray:
    return image if degrees % 360 == 0 else cv2.rotate(image, _TURN[degrees % 360])


def _reads_better_turned(engine: OcrEngine, crops: list[np.ndarray], n: int = 4) -> bool:
    """The line classifier's "upside down" checked by the recogniser: the widest lines read at least as
    surely turned 180° as they stand. The classifier alone turned an upright form whose widest boxes
    were small paragraph print two lines high (0.63 on average); the recogniser reads those lines at
    0.9 and up as they stand and nothing when turned. A tie (nothing read either way) keeps the
    classifier's word."""
    sample = crops[:n]
    as_is = engine.read_lines(sample)
    turned = engine.read_lines([cv2.rotate(c, cv2.ROTATE_180) for c in sample])
    return sum(r.confidence for r in turned if r is not None) >= sum(r.confidence for r in as_is if r is not None)


def _upright(image: np.ndarray, engine: OcrEngine, side: int,
             orient: bool) -> tuple[np.ndarray, int, float, list[Box] | None]:
    """The page turned by 0/90/180/270° so its text lines lie flat and read the right way up,
    then levelled when its lines slope (the turn, the slope in degrees, the line boxes)."""
    found = _detect_lines(image, engine, side)
    if found is None or not orient:
        return image, 0, 0.0, None if found is None else found[0]
    boxes, angles = found
    rotation = 0
    long_ = [b for b in boxes if max(_ratio(b), 1 / max(_ratio(b), 1e-6)) >= 2.0]
    tall = sum(1 for b in long_ if _ratio(b) < 1)
    if long_ and tall > len(long_) / 2:
        rotation = 90
        image = _turn(image, 90)
        boxes, angles = _detect_lines(image, engine, side) or ([], [])
    skew = page_skew(boxes, angles)
    if abs(skew) >= MIN_SKEW:
        image = level(image, skew)
        boxes = _detect(image, engine, side) or []
    else:
        skew = 0.0
    widest = sorted(boxes, key=lambda b: (b[2] - b[0]) * min(_ratio(b), 12), reverse=True)[:9]
    crops = [drop_red_ink(image[b[1]:b[3], b[0]:b[2]]) for b in widest if b[3] > b[1] and b[2] > b[0]]
    probs = engine.upside_down(crops) if crops else None
    if probs and float(np.mean(probs)) > 0.6 and _reads_better_turned(engine, crops):
        rotation = (rotation + 180) % 360
        h, w = image.shape[:2]
        image = _turn(image, 180)
        # the lines found upside down, turned with the page: detection is not run again
        boxes = sorted(((w - x1, h - y1, w - x0, h - y0) for x0, y0, x1, y1 in boxes), key=lambda b: (b[1], b[0]))
    return image, rotation, skew, boxes
