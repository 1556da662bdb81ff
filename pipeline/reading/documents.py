"""One upload read once: its pages upright, its kind, and the values next to given labels.

A label printed more than once (姓名 for the handler on page 1 and the employee on page 2 of
the application form) is told apart by the page and by the label's position on the page
relative to where the form template prints it — position only breaks ties between labels,
it never finds a field on its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise

import numpy as np

from pipeline.reading.doctype import DocKind, classify
from pipeline.reading.matching import calendar_dates, find_dates, normalise
from pipeline.reading.ocr import OcrEngine, TextBox
from pipeline.reading.page import Box, Line, PageText, ReadOptions, Value, read_page

#: Lines wider than this many heights are prose, not labels or values: read last.
_PROSE = 30.0
#: Lines read at a time when a label is not found yet, narrowest (cheapest) first.
_BATCH = 4


@dataclass
class DocRead:
    pages: list[PageText]
    kind: DocKind
    engine: OcrEngine
    values: dict[str, Value | None] = field(default_factory=dict)

    def texts(self) -> list[str]:
        return [ln.text for p in self.pages for ln in p.lines if ln.text]

    def read_all(self) -> None:
        for p in self.pages:
            p.read_all()

    def read_until(self, shows: Callable[[str], bool], width: float = 10.0, count: int = 8) -> None:
        """Read the unread lines, those nearest ``width`` heights wide first, a few at a time,
        until one ``shows`` what is looked for — every line when none does (the plain path).

        Only the order is a guess (an 18-character number prints about ten heights wide)."""
        while True:
            todo = sorted((abs(_ratio(ln) - width), pi, li) for pi, p in enumerate(self.pages)
                          for li, ln in enumerate(p.lines) if not ln.read)[:count]
            if not todo:
                return
            for pi in sorted({pi for _, pi, _ in todo}):
                self.pages[pi].ensure_read([li for _, p2, li in todo if p2 == pi])
            if any(shows(self.pages[pi].lines[li].text) for _, pi, li in todo):
                return

    def page_is(self, index: int, texts: Sequence[str], budget: int = 16) -> bool:
        """Page ``index`` shows one of ``texts`` exactly (at a line's start: a label or heading, not a
        look-alike), reading it on top down — at most ``budget`` lines more — until it does."""
        page = self.pages[index]
        start = _read_count(page)
        while not any(score >= 100 for _, _, score in page.find_labels(list(texts))):
            if _read_count(page) - start >= budget or not _read_on(page):
                return False
        return True

    def read_next(self, page: int | None = None, count: int = _BATCH) -> bool:
        """Read the ``count`` narrowest lines not read yet (of ``page`` when given); True when any.

        Recognition costs by a line's width: labels are narrow, so the narrowest lines go first.
        """
        todo = sorted((_ratio(ln), pi, li) for pi, p in enumerate(self.pages) if page is None or pi == page
                      for li, ln in enumerate(p.lines) if not ln.read)
        for pi in sorted({pi for _, pi, _ in todo[:count]}):
            self.pages[pi].ensure_read([li for _, p2, li in todo[:count] if p2 == pi])
        return bool(todo)

    def field(self, key: str, labels: list[str], page: int | None = None,
              near: tuple[float, float] | None = None, stop_labels: tuple[str, ...] = (),
              order: tuple[str, ...] = ("right", "below")) -> Value | None:
        """The value printed with the first of ``labels`` found (reading wider lines if needed);
        ``order``: where to look after the label's own line (a table column's value is below)."""
        if key in self.values:
            return self.values[key]
        if near is not None and self._nearest(labels, page, near) > self.near_enough:
            # the label may be printed twice (电子邮箱 of the organisation and of the handler):
            # read around the template's position before taking a far-away instance
            found = self._search_near(labels, page, near, stop_labels, order)
        else:
            found = self._field(labels, page, near, stop_labels, order)
        while found is None and self.read_next(page):
            found = self._field(labels, page, near, stop_labels, order)
        if found is None and self.read_whole(page):  # never "not found" before the slow path looked
            found = self._field(labels, page, near, stop_labels, order)
            while found is None and self.read_next(page):
                found = self._field(labels, page, near, stop_labels, order)
        self.values[key] = found
        return found

    def read_whole(self, page: int | None = None) -> bool:
        """The slow path on every page (or ``page``): lines detected again on the whole page;
        True when that found lines the fast path had missed."""
        changed = False
        for pi, p in enumerate(self.pages):
            if page is None or pi == page:
                changed = p.detect_whole() or changed
        return changed

    near_enough: float = 0.12  # page fractions (|dx| + |dy|) from the template's label position

    def _nearest(self, labels: list[str], page: int | None, near: tuple[float, float]) -> float:
        best = float("inf")
        for pi, p in enumerate(self.pages):
            if page is not None and pi != page:
                continue
            h, w = p.image.shape[:2]
            for li, _, _ in p.find_labels(labels):
                x0, y0 = p.lines[li].box[:2]
                best = min(best, abs(x0 / w - near[0]) + abs(y0 / h - near[1]))
        return best

    def _search_near(self, labels: list[str], page: int | None, near: tuple[float, float],
                     stop_labels: tuple[str, ...], order: tuple[str, ...], chunk: int = 1,
                     rounds: int = 12) -> Value | None:
        """Read unread lines nearest to where the template prints the label, a few at a time.

        Position only orders the reading; the label must still be read to count.
        """
        for _ in range(rounds):
            todo: list[tuple[float, int, int]] = []
            for pi, p in enumerate(self.pages):
                if page is not None and pi != page:
                    continue
                h, w = p.image.shape[:2]
                for li, ln in enumerate(p.lines):
                    if not ln.read and _ratio(ln) <= _PROSE:
                        todo.append((abs(ln.box[0] / w - near[0]) + abs(ln.box[1] / h - near[1]), pi, li))
            if not todo or (todo and self._nearest(labels, page, near) <= self.near_enough):
                break
            todo.sort()
            for pi in {pi for _, pi, _ in todo[:chunk]}:
                self.pages[pi].ensure_read([li for _, p2, li in todo[:chunk] if p2 == pi])
        return self._field(labels, page, near, stop_labels, order)

    def _field(self, labels: list[str], page: int | None, near: tuple[float, float] | None,
               stop_labels: tuple[str, ...], order: tuple[str, ...]) -> Value | None:
        cands: list[tuple[float, int, int, int, str]] = []
        for pi, p in enumerate(self.pages):
            if page is not None and pi != page:
                continue
            h, w = p.image.shape[:2]
            for li, end, score in p.find_labels(labels):
                x0, y0, _, _ = p.lines[li].box
                dist = 0.0 if near is None else abs(x0 / w - near[0]) + abs(y0 / h - near[1])
                cands.append((dist - score / 1000.0, pi, li, end, labels[0]))
        for _, pi, li, end, label in sorted(cands):
            value = self.pages[pi].value_for(li, end, label, order=order, stop_labels=stop_labels)
            if value is not None:
                return value
        return None

    def row_text(self, labels: list[str], rows: int = 2, enough: int = 2) -> tuple[str, Value | None]:
        """The text of a label's row read left to right (the next rows too while it shows fewer
        than ``enough`` dates and no 长期), for periods."""
        hit = self._first_label(labels)
        if hit is None:
            return "", None
        p, li, end = hit
        lab = p.lines[li]
        for n in range(1, rows + 1):
            idx = [i for i in _row(p, lab, n) if _ratio(p.lines[i]) <= _PROSE]
            p.ensure_read(idx)
            parts = [p.lines[i] for i in idx]
            text = lab.norm[end:] + "".join(ln.norm for ln in parts if ln is not lab)
            boxes = [lab.box] + [ln.box for ln in parts]
            box = (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
                   max(b[3] for b in boxes))
            conf = min([lab.confidence] + [ln.confidence for ln in parts if ln.text])
            if len(find_dates(text)) >= enough or n == rows or _LONG_TERM.search(text):
                return text, Value(text, box, conf, labels[0], "row", p)
        return "", None

    def _first_label(self, labels: list[str]) -> tuple[PageText, int, int] | None:
        while True:
            for p in self.pages:
                hits = p.find_labels(labels)
                if hits:
                    return p, hits[0][0], hits[0][1]
            if not self.read_next():
                return None


def _ratio(ln: Line) -> float:
    x0, y0, x1, y1 = ln.box
    return (x1 - x0) / max(1, y1 - y0)


def _row(p: PageText, lab: Line, rows: int) -> list[int]:
    """Lines right of the label on its row, then the lines of the next ``rows - 1`` rows below."""
    x0, y0, x1, y1 = lab.box
    h = max(1, y1 - y0)
    on_row, under = [], []
    for i, ln in enumerate(p.lines):
        if ln is lab:
            continue
        a0, b0, a1, b1 = ln.box
        same_row = min(y1, b1) - max(y0, b0) >= 0.5 * min(h, b1 - b0) and a0 >= x1 - h
        # below: starts under the label's middle (on a turned scan a wrapped date overlaps the row a little)
        below = b0 >= y0 + 0.5 * h and b0 <= y1 + (rows - 1) * 1.8 * h and a1 > x0 - h
        if same_row:
            on_row.append(i)
        elif rows > 1 and below:
            under.append(i)
    # the label's row left to right, then what wrapped below it row by row (``_bands``): a wrapped 期 of
    # 至长/期 sits right under its row, and a fixed grid of heights could put it first
    under.sort(key=lambda i: p.lines[i].box[1])
    wrapped = [sorted((under[k] for k in band), key=lambda i: p.lines[i].box[0])
               for band in _bands([p.lines[i].box for i in under])]
    return sorted(on_row, key=lambda i: p.lines[i].box[0]) + [i for row in wrapped for i in row]


def read_upload(pages: list[np.ndarray], engine: OcrEngine, options: ReadOptions, mode: str = "short") -> DocRead:
    """Read the pages of one upload and classify it from the first page's text.

    ``mode``: "all" reads every line; "short" reads titles and short lines (labels) up front,
    the rest as fields ask (cards, licences); "lazy" only titles, then what the fields ask for
    (forms, whose template says where each label is: their first lines are read one at a time
    until one, the title, tells the kind). A document not recognised from what was read is read
    on, top down, until it is or the page is read whole.
    """
    texts = []
    for index, img in enumerate(pages):
        # the kind is told from the first page: later pages of a form read only what fields ask
        pt = read_page(img, engine, options, eager=mode != "lazy", titles=mode != "lazy")
        pt.index = index
        if mode == "all":
            pt.read_all()
        texts.append(pt)
    first = texts[0]
    kind = classify(first.texts(), first.image.shape[0], options.min_score, options.min_margin)
    # not told yet (a form: nothing read; a card: not from its titles and labels): read on down the
    # page until it is, or all is read; a form's first lines one at a time (its title is among them)
    while kind.kind == "other" and _read_on(first, 1 if mode == "lazy" and _read_count(first) < _BATCH * 2 else _BATCH):
        kind = classify(first.texts(), first.image.shape[0], options.min_score, options.min_margin)
    if kind.kind == "other" and first.detect_whole():  # a page read whole by the fast path and not told
        first.read_all()
        kind = classify(first.texts(), first.image.shape[0], options.min_score, options.min_margin)
    return DocRead(texts, kind, engine)


def _read_count(page: PageText) -> int:
    return sum(ln.read for ln in page.lines)


def _read_on(page: PageText, count: int = _BATCH) -> bool:
    """Read the ``count`` topmost lines not read yet, prose last; True when any were left.

    A document's kind shows at its top (the title of a form's second page, a card's first
    labels): reading top down tells most documents apart long before the page is read whole.
    """
    todo = sorted((_ratio(ln) > _PROSE, ln.box[1], i) for i, ln in enumerate(page.lines) if not ln.read)
    page.ensure_read(sorted(i for _, _, i in todo[:count]))
    return bool(todo)


# ---------------------------------------------------------------------- periods
_LONG_TERM = re.compile(r"长期|永久|不约定期限|无固定期限")


@dataclass(frozen=True)
class Period:
    start: date | None
    end: date | None  # None with open_ended: 长期
    open_ended: bool
    text: str
    value: Value | None

    def covers(self, day: date) -> bool:
        if self.start is not None and day < self.start:
            return False
        return self.open_ended or (self.end is not None and day <= self.end)

    def describe(self) -> str:
        a = self.start.isoformat() if self.start else "?"
        b = "长期" if self.open_ended else (self.end.isoformat() if self.end else "?")
        return f"{a} 至 {b}"


def read_period(doc: DocRead, labels: list[str], need_start: bool) -> Period | None:
    """A period "A 至 B" (or "A 至长期") printed after one of ``labels``; None when unreadable."""
    text, value = doc.row_text(labels, rows=2)
    if value is None:
        for t in doc.texts():  # label not legible: a line with "…至…" and a long term or two dates
            n = normalise(t)
            if "至" in n and (_LONG_TERM.search(n) or len(calendar_dates(n)) >= 2):
                text, value = n, Value(n, (0, 0, 0, 0), 0.0, "", "anywhere")
                break
            if not need_start and _LONG_TERM.fullmatch(n):  # 营业期限 row of a licence: just 长期
                return Period(None, None, True, n, Value(n, (0, 0, 0, 0), 0.0, "", "anywhere"))
    if value is None:
        return None
    # the text of one period stops where a second label starts (e.g. 经营范围)
    head = normalise(text).split("至", 1)
    dates = calendar_dates(head[0])
    start = dates[0] if dates else None
    if len(head) == 1:  # no "至": only a licence's bare 长期 beside its label says something
        if not need_start and _LONG_TERM.match(head[0]):
            return Period(None, None, True, text, value)
        return None
    tail = head[1]
    if _LONG_TERM.match(tail) or (_LONG_TERM.search(tail[:6]) is not None):
        if need_start and start is None:
            return None
        return Period(start, None, True, text, value)
    ends = calendar_dates(tail)
    if not ends or (need_start and start is None):
        return None
    return Period(start, ends[0], False, text, value)


def as_textboxes(doc: DocRead) -> list[TextBox]:
    return [ln.as_textbox() for p in doc.pages for ln in p.lines if ln.text]


# ---------------------------------------------------------------------- tables
@dataclass(frozen=True)
class TableRow:
    """One row of a table read under its column headings: heading -> the value in its column."""

    cells: dict[str, Value]
    page: int

    def get(self, heading: str) -> Value | None:
        return self.cells.get(heading)


def table_rows(doc: DocRead, columns: dict[str, list[str]], key_columns: tuple[str, str],
               max_rows: int = 12, enough: Callable[[TableRow], bool] | None = None,
               worth: Callable[[TableRow], bool] | None = None) -> list[TableRow]:
    """The rows of every table whose headings include both ``key_columns`` on one row, on any
    page and wherever the form version prints it (its own page, under another section, a
    continuation page): each line under the headings goes to the column whose heading it sits
    under, rows are lines that share a height. ``columns``: heading name -> printed headings.

    Headings are looked for among the lines read so far, then beside the key headings already
    read (the other key heading stands level with them), then among short lines standing three
    or more abreast (the shape of a heading row), then among each page's narrowest lines
    and beside those, and only then — the plain path — among every short line of a page, page
    by page, until a row is ``enough``. A row's cells outside the key columns are read only
    when the row is ``worth`` it (default: every row)."""
    rows: list[TableRow] = []
    done: set[int] = set()
    for reading in ("none", "beside", "rows", "narrow", "short"):
        for pi, p in enumerate(doc.pages):
            if pi in done:
                continue
            headers = _headers(p, columns, key_columns, reading)
            if headers:
                done.add(pi)
            for header in headers:
                rows += _rows_under(p, pi, header, key_columns, max_rows, worth, enough)
            if enough is not None and any(enough(r) for r in rows):
                return rows
    return rows


def _headers(p: PageText, columns: dict[str, list[str]], key_columns: tuple[str, str],
             reading: str) -> list[dict[str, Box]]:
    """Heading rows: the key columns' headings side by side (overlapping heights), the others
    of ``columns`` found on the same row. ``reading``: which unread lines to read first when
    none is found — "none", "beside" (the lines level with a key heading already read),
    "rows" (short lines standing three or more abreast, as heading cells do), "narrow" (the
    page's narrowest lines, then beside) or "short" (every short line)."""
    def hits(name: str) -> list[int]:
        return [li for li, end, _ in p.find_labels(columns[name])
                if len(p.lines[li].norm) - end <= 1]  # a heading cell holds its heading only

    first, second = key_columns

    def pairs() -> list[dict[str, Box]]:
        out = []
        for a in hits(first):
            for b in hits(second):
                ba, bb = p.lines[a].box, p.lines[b].box
                if bb[0] > ba[2] and _level(ba, bb, 0.5):
                    header = {first: ba, second: bb}
                    for name in columns:
                        if name in header:
                            continue
                        for c in hits(name):
                            if _overlap_y(p.lines[c].box, ba) >= 0.5 * (ba[3] - ba[1]):
                                header[name] = p.lines[c].box
                    out.append(header)
        return out

    found = pairs()
    if found or reading == "none":
        return found
    if reading == "short":  # the plain path: every short line of the page
        p.ensure_read([i for i, ln in enumerate(p.lines) if _ratio(ln) <= 8])
        return pairs()
    if reading == "rows":  # lines standing three or more abreast, short ones: a heading row's shape
        p.ensure_read(_abreast(p, 3, 8.0))
        return pairs()
    if reading == "narrow":  # the narrowest lines (a 姓名 heading is one), then beside them
        p.ensure_read([i for i, ln in enumerate(p.lines) if _ratio(ln) <= p.options.short_ratio])
        found = pairs()
        if found:
            return found
    keys = [p.lines[li].box for li in hits(first) + hits(second)]
    level = [i for i, ln in enumerate(p.lines) if not ln.read and _ratio(ln) <= 8
             and any(_level(ln.box, k, 0.5) for k in keys)]
    p.ensure_read(level)
    return pairs() if level else []


def _abreast(p: PageText, count: int, max_ratio: float) -> list[int]:
    """Unread lines no wider than ``max_ratio`` heights that stand level with at least
    ``count - 1`` other such lines (read or not)."""
    short = [i for i, ln in enumerate(p.lines) if _ratio(ln) <= max_ratio]
    out = []
    for i in short:
        a = p.lines[i].box
        level = sum(1 for j in short if _level(a, p.lines[j].box, 0.5))
        if level >= count and not p.lines[i].read:
            out.append(i)
    return out


def _rows_under(p: PageText, pi: int, header: dict[str, Box], key_columns: tuple[str, str], max_rows: int,
                worth: Callable[[TableRow], bool] | None = None,
                enough: Callable[[TableRow], bool] | None = None) -> list[TableRow]:
    """The rows under a heading row: the key columns' cells read first, row by row from the
    top, until a row is ``enough`` (they make the rows); then the other cells of each row that
    is ``worth`` it."""
    top = max(b[3] for b in header.values())
    h = max(1, int(sorted(b[3] - b[1] for b in header.values())[len(header) // 2]))
    order = sorted(header.items(), key=lambda kv: kv[1][0])
    first = order[0][1]
    # the table's left rule, or two heights left of the first heading on a table without rules
    rule = _vertical_rule(p.image, max(0, first[0] - 6 * h), first[0], first[1], first[3])
    left = first[0] - 2 * h if rule is None else rule
    right = p.image.shape[1]
    # a column ends where the next begins: at the table's rule between their headings, or halfway
    # between them on a table without rules (a centred heading stands far right of its cell's edge)
    cuts = []
    for (_, a), (_, b) in pairwise(order):
        rule = _vertical_rule(p.image, a[2], b[0], min(a[1], b[1]), max(a[3], b[3]))
        cuts.append((a[2] + b[0]) // 2 if rule is None else rule)
    bounds = [(name, cuts[i - 1] if i else left, cuts[i] if i < len(cuts) else right)
              for i, (name, _) in enumerate(order)]

    under = [i for i, ln in enumerate(p.lines)  # prose under the table is no cell: not read
             if ln.box[1] >= top - 0.3 * h and ln.box[1] <= top + max_rows * 4 * h and ln.box[0] >= left
             and _ratio(ln) <= _PROSE]
    # each line's column: the one its centre stands in
    cells = {i: next((c for c in bounds if c[1] <= (p.lines[i].box[0] + p.lines[i].box[2]) / 2 < c[2]), None)
             for i in under}

    def column(i: int) -> str | None:
        cell = cells[i]
        return cell[0] if cell is not None else None

    def fits(i: int) -> bool:  # most of the line lies within its column (prose under a table does not)
        x0, _, x1, _ = p.lines[i].box
        cell = cells[i]
        return cell is not None and min(x1, cell[2]) - max(x0, cell[1]) >= 0.5 * (x1 - x0)

    keyed = sorted((i for i in under if column(i) in key_columns and fits(i)), key=lambda i: p.lines[i].box[1])
    rows: list[dict[str, Value]] = []
    row_y: list[tuple[int, int]] = []

    def place(i: int, new_rows: bool) -> None:
        ln, name = p.lines[i], column(i)
        if name is None or not ln.text:
            return
        for r, (y0, y1) in enumerate(row_y):
            if _level((0, y0, 0, y1), ln.box, 0.4):
                if name not in rows[r]:
                    rows[r][name] = Value(ln.norm, ln.box, ln.confidence, name, "table", p)
                return
        if new_rows and len(rows) < max_rows:
            rows.append({name: Value(ln.norm, ln.box, ln.confidence, name, "table", p)})
            row_y.append((ln.box[1], ln.box[3]))

    for band in _bands([p.lines[i].box for i in keyed]):  # row by row, top down, until one is enough
        lines = [keyed[k] for k in band]
        p.ensure_read(lines)
        for i in lines:
            place(i, new_rows=True)
        if enough is not None and any(enough(TableRow(r, pi)) for r in rows):
            keyed = [i for i in keyed if p.lines[i].read]
            break
    spans = [y for r, y in zip(rows, row_y, strict=True) if worth is None or worth(TableRow(r, pi))]
    others = [i for i in under if i not in keyed and any(_level((0, y0, 0, y1), p.lines[i].box, 0.4)
                                                          for y0, y1 in spans)]
    p.ensure_read(others)
    for i in sorted(others, key=lambda i: p.lines[i].box[1]):
        place(i, new_rows=False)
    return [TableRow(r, pi) for r in rows]


def _vertical_rule(image: np.ndarray, x0: int, x1: int, y0: int, y1: int) -> int | None:
    """The x of the darkest vertical rule in columns ``x0``–``x1`` that runs most of the height
    ``y0``–``y1`` (a table's line between two headings), or None."""
    if x1 - x0 < 3 or y1 - y0 < 3:
        return None
    band = image[y0:y1, x0:x1]
    grey = band if band.ndim == 2 else band.max(axis=2)  # a seal's red ring is no rule: black ink only
    ink, paper = float(grey.min()), float(np.percentile(grey, 90))
    if paper - ink < 60:  # a faint scan's rule is dark against its own paper; no contrast, no rule
        return None
    dark = (grey < (ink + paper) / 2).mean(axis=0)
    best = int(np.argmax(dark))
    return x0 + best if dark[best] >= 0.8 else None


def _bands(boxes: list[Box]) -> list[list[int]]:
    """Boxes (sorted top down) grouped into rows: a box joins the row whose first box it overlaps."""
    bands: list[list[int]] = []
    for k, box in enumerate(boxes):
        if bands:
            first = boxes[bands[-1][0]]
            if _level(first, box, 0.4):
                bands[-1].append(k)
                continue
        bands.append([k])
    return bands


def _level(a: Box, b: Box, share: float) -> bool:
    """Two boxes on one row: their heights overlap by ``share`` of the shorter one's height."""
    return _overlap_y(a, b) >= share * min(a[3] - a[1], b[3] - b[1])


def _overlap_y(a: Box, b: Box) -> int:
    return min(a[3], b[3]) - max(a[1], b[1])
