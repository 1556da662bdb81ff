"""Stage 'fields': every document shows the data the applicant entered, and is the right kind.

Which document must show which entered field is data in the rule set (``params.fields`` of each
``ocr.*`` rule: slot -> case fields; ``params.labels``: the printed labels of a field on
documents that are not our pre-filled forms). Pre-filled forms are read by the labels their
template prints (``pipeline.forms.form_layout``). Each upload is read once per review; the
OCR engine caches by pixels, so a re-review costs almost nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from difflib import SequenceMatcher
from functools import cache
from typing import Any, overload

import cv2
import numpy as np

from pipeline.forms.layout import A4_H, A4_W
from pipeline.forms.render import form_layout, form_values
from pipeline.intake.pages import Page
from pipeline.models import Case, Finding, Status
from pipeline.reading.compare import Thresholds, Verdict, judge_exact, judge_name, judge_number, worst
from pipeline.reading.documents import DocRead, TableRow, read_period, read_upload, table_rows
from pipeline.reading.matching import (
    calendar_dates,
    disputed_probabilities,
    edit_distance,
    find_ric,
    find_uscc,
    fold_code_lookalikes,
    name_score,
    normalise,
    normalise_name,
    shows_name,
    shows_where_disputed,
)
from pipeline.reading.ocr import OcrEngine, drop_light_marks, drop_pen_ink, get_engine, unreadable_characters
from pipeline.reading.page import PageText, ReadOptions, Value
from pipeline.reading.struck import Stroke, judgeable, strokes_through
from pipeline.seal.find import page_chroma, red_mask
from pipeline.stages.base import Stage, StageContext, guarded, with_extra

RULE_IDS = ("doc.kind", "ocr.org_name", "ocr.uscc", "ocr.handler", "ocr.user", "ocr.form_fields",
            "ocr.apply_date", "ocr.license_valid", "auth.period", "auth.altered")
#: Slots whose documents are pre-filled forms with a template (form name = doc kind).
FORM_KINDS = ("application_form", "seal_form", "authorization")
#: Marks a copy's pages are read again without, in turn, while its value is not shown: a light
#: watermark (仅供…使用), then a blue pen's annotation across the print (此复印件与原件一致 …)
MARKS: dict[str, Callable[[np.ndarray], np.ndarray | None]] = {"light marks": drop_light_marks,
                                                                 "pen ink": drop_pen_ink}
#: Chinese field names for messages: by case field, else by its last part.
FIELD_TITLES = {"org.name": "单位名称", "org.id_number": "统一社会信用代码",
                "name": "姓名", "id_number": "身份证号码", "mobile": "手机号码", "email": "电子邮箱",
                "address": "地址", "phone": "联系电话"}


@dataclass(frozen=True)
class StrongerRead:
    """The stronger reader's verdict on a disputed value, and how surely it read each character
    in dispute (None when its reading does not show the entered value character for character)."""

    verdict: Verdict
    disputed: list[float] | None


@dataclass(frozen=True)
class FieldPlace:
    """Where a field is looked for: its labels, the page and position the template prints the
    label at (None: anywhere), and where its value sits next to the label."""

    labels: list[str]
    page: int | None
    near: tuple[float, float] | None
    order: tuple[str, ...] = ("right", "below")


class _Review:
    """One review's reads: each upload read at most once, values judged on demand."""

    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx
        self.case: Case = ctx.case
        self.options = ctx.rules.tuning("doc.kind", ReadOptions)
        self._engine: OcrEngine | None = None
        self._docs: dict[str, DocRead] = {}
        self._cleaned: dict[tuple[str, str], DocRead | None] = {}
        self._rows: dict[str, tuple[TableRow | None, list[TableRow]]] = {}  # the employee's row, every person row
        self._page_order: dict[str, tuple[int, ...]] = {}  # per form slot: the uploaded page of each template page

    @property
    def engine(self) -> OcrEngine:
        if self._engine is None:
            self._engine = get_engine(self.ctx.options.ocr_engine)
        return self._engine

    def doc(self, slot: str) -> DocRead:
        if slot not in self._docs:
            self._docs[slot] = self._read(slot)
        return self._docs[slot]

    def cleaned(self, slot: str) -> Iterator[tuple[str, DocRead]]:
        """The slot's document read again without each kind of ``MARKS`` in turn (``without``),
        each read only when the one before did not serve."""
        for marks in MARKS:
            if (clean := self.without(slot, marks)) is not None:
                yield marks, clean

    def without(self, slot: str, marks: str) -> DocRead | None:
        """The slot's document read again from its pages with ``marks`` dropped (``MARKS``), when it
        is a copy the applicant brings (a licence, an ID card: what gets watermarked 仅供…使用 or
        annotated by pen) and reads as the slot's kind that way; None otherwise (also when no page
        shows such marks). Read once, when first asked for: a fallback for what the plain reading
        missed."""
        kind = self.ctx.rules.slots[slot].doc_kind
        if kind in FORM_KINDS:
            return None
        if (slot, marks) not in self._cleaned:
            clean = self._read(slot, marks)
            self._cleaned[(slot, marks)] = clean if clean is not None and clean.kind.kind == kind else None
        return self._cleaned[(slot, marks)]

    @overload
    def _read(self, slot: str) -> DocRead: ...

    @overload
    def _read(self, slot: str, marks: str) -> DocRead | None: ...

    def _read(self, slot: str, marks: str = "") -> DocRead | None:
        upload = self.ctx.uploads[slot]
        kind = self.ctx.rules.slots[slot].doc_kind
        sources: list[tuple[str | None, Page]] = [(None, pg) for pg in upload.pages[: self.options.max_pages]]
        extra = self.ctx.uploads.get(f"{slot}_extra")
        if kind in FORM_KINDS and extra is not None and len(sources) < form_layout(kind).pages:
            # scans of a two-page form: page 1 in the slot, page 2 in its _extra slot
            sources += [(f"{slot}_extra", pg) for pg in extra.pages[: form_layout(kind).pages - len(sources)]]
        pages = [pg.image for _, pg in sources]
        if marks:
            # same geometry: boxes and evidence stand as on the upload; a page without such marks stays as it is
            dropped = [MARKS[marks](img) for img in pages]
            if all(grey is None for grey in dropped):
                return None  # no page shows such marks: nothing to read again
            pages = [cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR) if grey is not None else img
                     for grey, img in zip(dropped, pages, strict=True)]
        mode = "lazy" if kind in FORM_KINDS else "short"
        doc = read_upload(pages, self.engine, self.options, mode)
        for pt, (source, pg) in zip(doc.pages, sources, strict=True):
            pt.index, pt.slot = pg.index, source  # evidence boxes go on the upload's own page
            pt.marks_dropped = marks
        return doc

    # ------------------------------------------------------------------ values
    def entered(self, key: str) -> str:
        printed = form_values(self.case)
        if key in ("apply_date", "auth.issue_date", "user.email"):
            return printed[key]
        node: Any = self.case
        for part in key.replace("_attached", "").split("."):
            node = getattr(node, part)
        return str(node)

    def labels_for(self, slot: str, key: str, extra: list[str]) -> FieldPlace:
        """Labels of a field on a slot's document; page, relative position and where its value
        sits (right of the label, or below it in a table column) from the template."""
        kind = self.ctx.rules.slots[slot].doc_kind
        if kind in FORM_KINDS:
            layout = form_layout(kind)
            box = layout.fields.get(key)
            if box is not None:
                doc = self.doc(slot)
                if len(doc.pages) < layout.pages and box.page >= len(doc.pages):
                    # that page was not uploaded: another page's same label (page 1's 姓名 is the
                    # handler's, the VI page's the employee's) must not stand in for it
                    return FieldPlace([], None, None)
                page = self.uploaded_page(slot, box.page) if len(doc.pages) <= layout.pages else None
                near = (box.label_rect[0] / A4_W, box.label_rect[1] / A4_H)
                below = box.rect[1] >= box.label_rect[3] - 1
                return FieldPlace([box.label, *extra], page, near, ("below", "right") if below else ("right", "below"))
        order = self._kind_param("value_order", kind).get(key)
        return FieldPlace(list(extra), None, None, tuple(order) if order else ("right", "below"))

    def uploaded_page(self, slot: str, page: int) -> int:
        """The page of the slot's document that is the form template's ``page``: as uploaded, unless
        the form's two pages came the other way round (a PDF scanned back to front, or the VI page
        in the slot and page 1 in its _extra slot): its first page shows a text only the template's
        second page prints, none of the first's, and its second page one only the first prints."""
        if slot not in self._page_order:
            doc, own = self.doc(slot), _own_texts(self.ctx.rules.slots[slot].doc_kind)
            turned = (len(doc.pages) == len(own) == 2 and not doc.page_is(0, own[0])
                      and doc.page_is(0, own[1]) and doc.page_is(1, own[0]))
            self._page_order[slot] = (1, 0) if turned else tuple(range(len(doc.pages)))
        order = self._page_order[slot]
        return order[page] if page < len(order) else page

    def stop_labels(self, slot: str, extra: list[str]) -> tuple[str, ...]:
        """Texts that are never a value: every label, heading and note the slot's form template
        prints (a row heading such as 机构有效证件 is no organisation name), and every label of the
        documents the applicant brings (the rule set's ``printed_labels``: a licence's 法定代表人
        under its 名称 is no organisation name either)."""
        kind = self.ctx.rules.slots[slot].doc_kind
        printed = list(self._kind_param("printed_labels", kind))
        if kind in FORM_KINDS:
            layout = form_layout(kind)
            printed += [f.label for f in layout.fields.values()] + [text for _, text in layout.texts]
        return tuple(dict.fromkeys(lab for lab in printed + extra if len(lab.strip().rstrip("：:")) >= 2))

    def _kind_param(self, name: str, kind: str) -> Any:
        """A per-document-kind parameter of the rule set's ``doc.kind`` (``printed_labels``,
        ``value_order``); empty for a kind it does not name."""
        return self.ctx.rules.rule("doc.kind").params.get(name, {}).get(kind, {})

    def employee_row(self, slot: str) -> tuple[TableRow | None, int]:
        """The employee table's row of the entered employee (found by name or ID number among
        all rows, on any page), or the one row there is; (None, rows) when there is no table
        or several rows and none is the employee's."""
        row, rows = self._employee_table(slot)
        return row, len(rows)

    def employee_rows(self, slot: str) -> list[TableRow]:
        """Every person row of the slot's employee table (the employee's and colleagues')."""
        return self._employee_table(slot)[1]

    def _employee_table(self, slot: str) -> tuple[TableRow | None, list[TableRow]]:
        if slot not in self._rows:
            columns: dict[str, list[str]] = dict(self.ctx.rules.param("ocr.user", "table_columns"))
            def mine_(r: TableRow) -> bool:
                return _row_is(r, self.case.user.name, self.case.user.id_number)

            rows = [r for r in table_rows(self.doc(slot), columns, ("name", "id_number"), enough=mine_,
                                          worth=_is_person_row) if _is_person_row(r)]
            exact = [r for r in rows if mine_(r)]
            near = [] if exact else [r for r in rows if _row_is_near(r, self.case.user.name, self.case.user.id_number)]
            self._rows[slot] = (exact[0] if exact else near[0] if len(near) == 1 else rows[0] if len(rows) == 1
                                else None, rows)
        return self._rows[slot]

    def verdict(self, slot: str, key: str, extra_labels: list[str], th: Thresholds) -> Verdict:
        """The field's verdict; a name that differs only where the entered name holds a character
        the recogniser cannot read (赟, 旻, 燊 …: it reads a look-alike there, however surely) is
        no different name, so never a ``fail`` — unless the stronger reader, whose dictionary holds
        it, read the same other name."""
        v = self._not_another_entry(slot, self._unreadable_no_fail(self._verdict(slot, key, extra_labels, th)),
                                    extra_labels)
        for marks, clean in self.cleaned(slot) if v.status is not Status.PASS else ():
            v = _marks_dropped(v, self._not_another_entry(slot, self._unreadable_no_fail(
                self._verdict(slot, key, extra_labels, th, clean)), extra_labels), marks)
            if v.status is Status.PASS:
                break  # the next marks' reading is not needed (nor read)
        return v

    def _not_another_entry(self, slot: str, v: Verdict, labels: list[str]) -> Verdict:
        """On the application form, which prints the organisation's, the handler's and the employees'
        entries together, a value read as another of the case's own entries (the employee's ID number
        where the handler's was looked for) was found in the wrong place — at a low resolution the
        label's line is missed and the search reaches the employee table — not printed wrong: never a
        ``fail``; a form printing the employee's number in the handler's place is left to a clerk too.
        On a copy of one person's ID card, another entered person's name is the wrong card: it fails —
        unless the same sheet shows the entered person's own value too (``_other_card``)."""
        kind = self.ctx.rules.slots[slot].doc_kind
        if kind == "id_card":
            return self._other_card(slot, v, labels)
        if kind != "application_form" or v.status is not Status.FAIL or not v.read:
            return v
        other = self._other_entry(v)
        if other is not None:
            v.status = Status.UNCERTAIN
            v.notes.update(reason="read the value entered for another field", other_entry=other)
        elif v.field.startswith("handler.") and self._in_employee_table(slot, v.value):
            # the handler's label was not legible (a streak through it) and the search reached the
            # employee table's column of the same heading: a colleague's row, not the handler's entry
            v.status = Status.UNCERTAIN
            v.notes.update(reason="read in the employee table")
        return v

    def _in_employee_table(self, slot: str, value: Value | None) -> bool:
        """``value`` is a cell of a row of the slot's employee table (its box within one)."""
        if value is None or value.page is None:
            return False
        return any(cell.page is value.page and _overlap(cell.box, value.box)
                   for row in self.employee_rows(slot) for cell in row.cells.values())

    def _other_entry(self, v: Verdict) -> str | None:
        """The other entered field whose value ``v`` read, if any."""
        return next((other for other in _OTHER_ENTRIES
                     if other != v.field and (value := self.entered(other)) and value != v.entered
                     and _same_reading(v.field, value, v.read)), None)

    def _other_card(self, slot: str, v: Verdict, labels: list[str]) -> Verdict:
        """An ID copy's value not shown as entered, read on a sheet of two cards (the field's card
        ``labels`` twice) or read as another entered person's: is the slot's person's card there too?"""
        if v.status is Status.PASS or not v.read:
            return v
        if self._cards_on_sheet(slot, labels) > 1:
            return self._both_cards(slot, v, "")
        other = self._other_entry(v)
        return v if other is None else self._both_cards(slot, v, other)

    def _cards_on_sheet(self, slot: str, labels: list[str]) -> int:
        """How many times a page of the slot shows the field's card ``labels`` (姓名, 公民身份号码): two
        on a sheet holding two people's cards."""
        return max((len(page.find_labels(labels)) for page in self.doc(slot).pages), default=0) if labels else 0

    def _both_cards(self, slot: str, v: Verdict, other: str) -> Verdict:
        """Applicants copy the handler's and the employee's cards on one sheet, stamp it once and
        upload it in both slots: the value found first may be the other person's. The sheet is the
        entered person's copy when a line of it (read in full) shows their value exactly — the whole
        line the value, or the value beside the label the card prints for it. Else the wrong card."""
        doc = self.doc(slot)
        doc.read_all()
        labels = list(self._kind_param("printed_labels", "id_card"))
        for page in doc.pages:
            for line in page.lines:
                if line.text and _shows_exactly(v.field, v.entered, line.text, labels):
                    value = Value(line.text, line.box, line.confidence, "", "line of a sheet of two cards", page)
                    notes = {"reason": "two cards on one sheet", "other_read": v.read}
                    return Verdict(Status.PASS, v.field, v.entered, v.entered, 100.0, value,
                                   notes={**notes, "other_entry": other} if other else notes)
        return v

    def _unreadable_no_fail(self, v: Verdict) -> Verdict:
        if v.status is Status.FAIL and v.read:  # numbers and e-mails hold no Chinese character: never touched
            unreadable = set(unreadable_characters(self.engine, [v.entered]))
            seen = v.notes.get("stronger_reading")
            stronger = self.engine.stronger
            if stronger is not None and isinstance(seen, dict) and _same_reading(v.field, v.read, str(seen["read"])):
                # the stronger reader read that other value too: only what it cannot read stays unreadable
                unreadable &= set(unreadable_characters(stronger, [v.entered]))
            if unreadable and _differs_only_at(normalise_name(v.entered), normalise_name(v.read), unreadable):
                v.status = Status.UNCERTAIN
                v.notes["reason"] = "differs only where the entered name has characters the recogniser cannot read"
        return v

    def _verdict(self, slot: str, key: str, extra_labels: list[str], th: Thresholds,
                 doc: DocRead | None = None) -> Verdict:
        doc = doc if doc is not None else self.doc(slot)
        entered = self.entered(key)
        column = _EMPLOYEE_COLUMN.get(key) if self.ctx.rules.slots[slot].doc_kind == "application_form" else None
        if column is not None:
            row, count = self.employee_row(slot)
            if row is not None:
                first = self._judge(slot, doc, key, entered, row.get(column), th)
                first.notes["table_row"] = True
                if first.status is Status.PASS or first.value is None or first.value.page is None:
                    return first
                return self._look_again(slot, doc, key, entered, first, th)
            if count > 1:  # several employees, none of them read as the entered one
                return Verdict(Status.UNCERTAIN, key, entered,
                               notes={"reason": "employee not found among the table's rows", "rows": count})
        place = self.labels_for(slot, key, extra_labels)
        stops = self.stop_labels(slot, extra_labels)
        value = (doc.field(f"{key}@{place.page}", place.labels, place.page, place.near, stop_labels=stops,
                           order=place.order) if place.labels else None)
        first = self._judge(slot, doc, key, entered, value, th)
        if first.status is Status.PASS or value is None or value.page is None:
            return first
        first = self._carried_on(slot, doc, key, entered, first, stops, th)
        if first.status is Status.PASS:
            return first
        first = self._widened(slot, doc, key, entered, first, th)
        if first.status is Status.PASS:
            return first
        return self._look_again(slot, doc, key, entered, first, th)

    def _widened(self, slot: str, doc: DocRead, key: str, entered: str, first: Verdict, th: Thresholds) -> Verdict:
        """A value read shorter than the entered one may have lost its first or last characters to
        the detector (an e-mail's ``ga`` beside a table cell's rule): read again from its row widened to the
        label's end and the next line's start (``PageText.widened``). Only a widened reading that
        shows the entered value counts — it then shows on the document, in that gap; anything else
        leaves the first reading to be judged as it was."""
        value = first.value
        read, want = normalise(first.read or (value.text if value is not None else "")), normalise(entered)
        if value is None or value.page is None or len(read) >= len(want):
            return first
        # widened where characters are missing: before a read the entered value ends with, after one it begins with
        wider = value.page.widened(value, left=not want.startswith(read), right=not want.endswith(read))
        if wider is None:
            return first
        again = self._judge(slot, doc, key, entered, wider, th)
        if again.status is not Status.PASS:
            return first
        again.notes["widened_from"] = {"read": first.read, "box": list(value.box)}
        return again

    def _carried_on(self, slot: str, doc: DocRead, key: str, entered: str, first: Verdict,
                    stops: tuple[str, ...], th: Thresholds) -> Verdict:
        """A name or address read shorter than the entered one may go on on the next line (a
        licence wraps a long name in its cell): the lines right under it are taken with it, one
        at a time, while that brings the reading closer to the entered value. Exactness decides
        as ever: the joined lines pass only when together they show the entered value."""
        if key.rsplit(".", 1)[-1] in (*_NUMBER_FIELDS, "email") or "date" in key:
            return first
        for _ in range(2):
            value = first.value
            if value is None or value.page is None or len(normalise_name(value.text)) >= len(normalise_name(entered)):
                return first
            more = value.page.continued(value, stops)
            if more is None:
                return first
            again = self._judge(slot, doc, key, entered, more, th)
            if again.status is not Status.PASS and again.score <= first.score:
                return first
            again.notes["lines"] = len(more.parts)
            first = again
        return first

    def _look_again(self, slot: str, doc: DocRead, key: str, entered: str, first: Verdict,
                    th: Thresholds) -> Verdict:
        """Every value that does not show the entered one is read again before it is judged:
        the box at full resolution (stretched), by the stronger reader, then by the second engine.

        - any reading that shows the entered value exactly passes it — unless the first read
          clearly showed another value, which makes the two readings a conflict (``uncertain``);
        - the stronger reader (PP-OCRv5: a larger dictionary, look-alikes told apart where the
          fast reader confuses them) settles a dispute when it reads the entered value with every
          character in dispute sure (``stronger_sure``): the fast reading was the doubt, not the
          document;
        - less surely read by the stronger reader, the entered value passes when the second
          engine (another family) shows the entered characters at the same places
          (``corroborated_sure``: two recognisers would have to misread a document alike);
        - ``fail`` stands only when a second reading confirms it: a name that shares little with
          the entered one failed by the full-resolution reading too, or — for a near miss (one
          character off) or a number whose check character is wrong — the second engine reading
          exactly the same different value. Otherwise ``uncertain``, every reading in evidence.
        """
        assert first.value is not None and first.value.page is not None
        page = first.value.page
        readings = [first]
        # numbers in a narrow (Song) face read better stretched further: a second scale for them
        stretches = (1.6, 2.0) if key.rsplit(".", 1)[-1] in _NUMBER_FIELDS else (1.6,)
        for stretch in stretches:
            again_value = page.reread(first.value, stretch=stretch)
            if again_value is None:
                continue
            again = self._judge(slot, doc, key, entered, again_value, th)
            first.notes["reread" if stretch == 1.6 else f"reread_x{stretch}"] = {
                "read": again_value.text, "status": again.status.value,
                "confidence": round(again_value.confidence, 3)}
            if again.status is Status.PASS:
                if first.status is Status.FAIL:
                    stronger = self._stronger_reading(slot, doc, key, entered, first, th)
                    settled = self._settled(first, stronger, th)
                    if settled is None and stronger is not None and stronger.verdict.status is Status.PASS:
                        settled = self._corroborated(first, stronger, self._second_opinion(slot, doc, key, entered,
                                                                                              first, th), th)
                    if settled is not None:
                        return settled
                    first.status = Status.UNCERTAIN
                    first.notes["reason"] = "readings disagree"
                    return first
                return again
            readings.append(again)
            if again.status is Status.FAIL:
                break
        failing = next((v for v in readings if v.status is Status.FAIL), None)
        if failing is not None and not failing.notes.get("near_miss") and all(
                v.status is Status.FAIL for v in readings) and len(readings) > 1:
            return failing  # another name entirely, read so twice
        stronger = self._stronger_reading(slot, doc, key, entered, first, th)
        settled = self._settled(first, stronger, th, failing)
        if settled is not None:
            return settled
        other = self._second_opinion(slot, doc, key, entered, first, th)
        if other is not None:
            if other.status is Status.PASS and failing is None:
                return other
            clear = failing or self._clearly_read_other(key, readings, th)
            if clear is not None and other.status is not Status.PASS and other.value is not None and _same_reading(
                    key, clear.read, other.value.text):
                clear.status = Status.FAIL
                clear.notes.update(engines_agree=True, second_opinion=first.notes["second_opinion"],
                                   reason="both engines read this other value")
                return clear
            settled = self._corroborated(first, stronger, other, th) if stronger is not None else None
            if settled is not None:
                return settled
        elif failing is not None and self.engine.second is None and len(readings) > 1 and _same_reading(
                key, readings[0].read, readings[1].read):
            return failing  # no second engine: two readings of one engine at two scales agree
        first.status = Status.UNCERTAIN
        if failing is not None:
            first.notes.setdefault("reason", "a different value not confirmed by a second reading")
        return first

    def _stronger_reading(self, slot: str, doc: DocRead, key: str, entered: str, first: Verdict,
                          th: Thresholds) -> StrongerRead | None:
        """The disputed value's box read by the stronger reader and judged (None: no stronger
        reader, or it read nothing); what it read goes into the first verdict's evidence, with
        how surely it read each character in dispute (where the first reading differs)."""
        stronger = self.engine.stronger
        if stronger is None:
            return None
        got = self._read_by(stronger, "stronger", slot, doc, key, entered, first, th)
        if got is None:
            first.notes["stronger_reading"] = {"engine": stronger.name, "read": ""}
            return None
        value, verdict = got
        disputed = disputed_probabilities(entered, first.read, value.text, value.chars)
        seen: dict[str, Any] = {"engine": stronger.name, "read": value.text, "status": verdict.status.value,
                                "least_probability": round(value.least_probability, 3)}
        if disputed is not None:
            seen["disputed_probabilities"] = [round(p, 3) for p in disputed]
        first.notes["stronger_reading"] = seen
        return StrongerRead(verdict, disputed)

    @staticmethod
    def _settled(first: Verdict, read: StrongerRead | None, th: Thresholds,
                 failing: Verdict | None = None) -> Verdict | None:
        """The stronger reading settles the dispute alone: a pass when it shows the entered value
        and read every character in dispute at least ``stronger_sure``; the ``failing`` reading's
        fail when it shows that very other value with every character that sure (two recognisers
        read it alike). Else None: the dispute stands."""
        value = read.verdict.value if read is not None else None
        if read is None or value is None:
            return None
        stronger, seen = read.verdict, first.notes["stronger_reading"]
        if (failing is not None and stronger.status is Status.FAIL and value.least_probability >= th.stronger_sure
                and _same_reading(first.field, failing.read, value.text)):
            failing.notes.update(engines_agree=True, stronger_reading=seen,
                                 reason="both recognisers read this other value")
            return failing
        sure = read.disputed if read.disputed is not None else [value.least_probability]
        if stronger.status is not Status.PASS or min(sure, default=1.0) < th.stronger_sure:
            return None
        return _passed_on(stronger, first, "the stronger reader reads the entered value surely")

    @staticmethod
    def _corroborated(first: Verdict, read: StrongerRead, other: Verdict | None, th: Thresholds) -> Verdict | None:
        """A pass when two recognisers other than the first, of two families, show the entered
        value where the first reading disputes it: the stronger reader reads the whole entered
        value with every character in dispute at least ``corroborated_sure``, and the second
        opinion (Tesseract) shows the entered character at each of those places (its own misreads
        elsewhere aside). A one-character different document would need both to misread it into
        the entered character. Else None."""
        if (other is None or read.verdict.status is not Status.PASS or not read.disputed
                or min(read.disputed) < th.corroborated_sure
                or other.value is None
                or not shows_where_disputed(first.entered, first.read, other.value.text, th.corroborated_ratio)):
            return None
        return _passed_on(read.verdict, first, "two other recognisers read the entered value where the first differs")

    def _second_opinion(self, slot: str, doc: DocRead, key: str, entered: str, first: Verdict,
                        th: Thresholds) -> Verdict | None:
        """The disputed value's box read by the second engine (another family) and judged; what
        it read goes into the first verdict's evidence. None without a second engine or a read."""
        second = self.engine.second
        if second is None:
            return None
        got = self._read_by(second, "second-opinion", slot, doc, key, entered, first, th)
        if got is None:
            return None
        value, other = got
        first.notes["second_opinion"] = {"engine": second.name, "read": value.text, "status": other.status.value}
        return other

    def _read_by(self, engine: OcrEngine, how: str, slot: str, doc: DocRead, key: str, entered: str,
                 first: Verdict, th: Thresholds) -> tuple[Value, Verdict] | None:
        """The first verdict's box read by another engine, as it stands (no stretch), and judged;
        None when there is no box or the engine reads nothing there."""
        if first.value is None or first.value.page is None:
            return None
        value = first.value.page.reread(first.value, engine, how, stretch=1.0)
        return None if value is None else (value, self._judge(slot, doc, key, entered, value, th))

    def _judge(self, slot: str, doc: DocRead, key: str, entered: str, value: Any, th: Thresholds) -> Verdict:
        suffix = key.rsplit(".", 1)[-1]
        if suffix == "id_number":
            kind = "uscc" if key.startswith("org.") else "ric"
            finder = find_uscc if kind == "uscc" else find_ric
            if not finder(value.text if value is not None else "") and not _number_when_stretched(value, finder):
                # no number beside the label: the entered number shown anywhere still counts
                if self.ctx.rules.slots[slot].doc_kind == "id_card":
                    # a card has few lines and shows one number: the line that holds it is the
                    # field, wherever the label's neighbour was taken from (so a second reading
                    # reads that line)
                    doc.read_all()
                    value = _number_line(doc, finder) or value
                else:
                    want = normalise(entered).upper()
                    doc.read_until(lambda text: any(r.valid and r.value == want for r in finder(text)))
            # a pre-filled form prints the record as entered: showing it exactly is showing it,
            # even when the entered number is invalid (data.* judges that); copies of cards and
            # licences with a wrong check digit are suspect and stay uncertain
            return judge_number(key, kind, entered, value, th, elsewhere=doc.texts(),
                                exact_invalid_shows=self.ctx.rules.slots[slot].doc_kind in FORM_KINDS)
        if suffix in ("mobile", "phone"):
            return judge_exact(key, entered, value, th, "phone")
        if suffix == "email":
            return judge_exact(key, entered, value, th, "email")
        if "date" in suffix:
            return judge_exact(key, entered, value, th, "date", latest=self.case.submitted_at.date())
        v = judge_name(key, entered, value, th)
        if v.status is Status.FAIL and value is not None and (label := self._label_inside(slot, entered, value.text)):
            # a name holding a label the document prints (性别 in 性别男正) is the label's line, not a name
            v.status = Status.UNCERTAIN
            v.notes.update(reason="implausible name", label_read=label)
        if value is None:  # no label legible: the name anywhere on the document still shows it
            shown = next((t for t in doc.texts() if shows_name(entered, t)), None)
            if shown is not None:
                return Verdict(Status.PASS, key, entered, entered, 100.0, None, {"found_outside_label": True})
            best = max(((name_score(entered, t), t) for t in doc.texts()), key=lambda x: x[0].score,
                       default=None)
            if best is not None:
                v.read, v.score = best[0].matched, best[0].score
        return v

    def _label_inside(self, slot: str, entered: str, read: str) -> str | None:
        """A label the slot's (non-form) document prints, found inside a read and not in the entered value."""
        printed = self._kind_param("printed_labels", self.ctx.rules.slots[slot].doc_kind)
        text, mine = normalise(read), normalise(entered)
        return next((lab for lab in printed if len(lab) >= 2 and lab in text and lab not in mine), None)

    @staticmethod
    def _clearly_read_other(key: str, readings: list[Verdict], th: Thresholds) -> Verdict | None:
        """An uncertain reading that is a plausible different value read with high confidence: a
        number of the right length (its check character may be wrong: the document shows it)."""
        suffix = key.rsplit(".", 1)[-1]
        for v in readings:
            if v.value is None or v.value.confidence < th.clear_confidence:
                continue
            if suffix == "id_number":
                raw = normalise(v.read).upper()
                if len(raw) == 18 and raw != normalise(v.entered).upper() and raw[:17].isdigit():
                    return v
        return None


def _marks_dropped(first: Verdict, again: Verdict, marks: str) -> Verdict:
    """A value not shown by the first reading, read again with ``marks`` dropped: a pass there
    passes (the page shows the entered value once a watermark is out of the way) unless the first
    reading clearly showed another value — two readings in conflict are ``uncertain``; a fail there
    (confirmed as every fail is) stands when the first reading found no value at all. Anything
    else leaves the first verdict, the second reading in its evidence."""
    seen = {"read": again.read, "status": again.status.value}
    if (again.status is Status.PASS and first.status is not Status.FAIL) or (
            again.status is Status.FAIL and not first.read):  # nothing read at first: no conflict
        again.notes.update(first_reading={"read": first.read, "status": first.status.value})
        again.notes.setdefault("reason", f"read with {marks} dropped")
        return again
    first.notes[f"{marks.replace(' ', '_')}_dropped"] = seen
    if again.status is Status.PASS:
        first.status = Status.UNCERTAIN
        first.notes["reason"] = "readings disagree"
    return first


def _passed_on(verdict: Verdict, first: Verdict, reason: str) -> Verdict:
    """``verdict`` (a reading that shows the entered value) as the pass, the first reading and
    every other reading it rests on in its evidence."""
    assert first.value is not None
    kept = {k: first.notes[k] for k in ("stronger_reading", "second_opinion", "reread") if k in first.notes}
    verdict.notes.update(first_reading={"read": first.read, "status": first.status.value,
                                        "confidence": round(first.value.confidence, 3)}, **kept, reason=reason)
    return verdict


def _number_when_stretched(value: Value | None, finder: Any) -> bool:
    """The field holds a number the first reading ran together (21011198… for 210111198…):
    its box read again stretched shows one. The rereads judge it then, with no need to read
    the whole document for the number elsewhere."""
    if value is None or value.page is None or sum(ch.isalnum() for ch in value.text) < 12:
        return False
    again = value.page.reread(value)
    return again is not None and bool(finder(again.text))


def _number_line(doc: DocRead, finder: Any) -> Value | None:
    """The first line of a document (in reading order) that holds a number-like run."""
    for p in doc.pages:
        for ln in sorted(p.lines, key=lambda ln: (ln.box[1], ln.box[0])):
            if ln.text and finder(ln.text):
                return Value(ln.norm, ln.box, ln.confidence, "", "anywhere", p)
    return None


#: Fields (by the last part of their key) that hold numbers, not names.
_NUMBER_FIELDS = ("id_number", "mobile", "phone")
#: Case fields read from the employee table (VI), by the column they stand in.
_EMPLOYEE_COLUMN = {"user.name": "name", "user.id_number": "id_number", "user.email": "email"}


def _is_person_row(row: TableRow) -> bool:
    """A row that holds a person (a name of 2–5 characters, or an ID-number-like run), not the
    checkbox lines of the 业务类型 column or a note under the table."""
    name = row.get("name")
    number = row.get("id_number")
    named = name is not None and 2 <= len(normalise_name(name.text)) <= 5
    numbered = number is not None and sum(ch.isdigit() for ch in number.text) >= 14
    return named or numbered


@cache
def _own_texts(kind: str) -> tuple[tuple[str, ...], ...]:
    """Per page of a form template, the labels and headings that page alone prints (neither part of
    another page's text nor holding one: page 1's 身份证号 is no mark of it, the VI page prints
    身份证号码): what tells a scanned page which of the template's it is."""
    def norm(text: str) -> str:
        return normalise(text).rstrip(":：")

    layout = form_layout(kind)
    pages = [{norm(t) for p, t in layout.texts if p == k} for k in range(layout.pages)]
    return tuple(tuple(sorted(t for t in texts if 4 <= len(t) <= 20 and not any(
        t in o or o in t for k2, others in enumerate(pages) if k2 != k for o in others if o)))
        for k, texts in enumerate(pages))


def _row_is(row: TableRow, name: str, id_number: str) -> bool:
    cell = row.get("name")
    number = row.get("id_number")
    if cell is not None and shows_name(name, cell.text):
        return True
    return number is not None and any(r.value == id_number for r in find_ric(number.text))


def _row_is_near(row: TableRow, name: str, id_number: str) -> bool:
    """The row's name or ID number is read a character or two away from the entered one: a hand-filled
    row read with a character dropped (阿依古丽·买提, an ID number a digit short). Only picks the row
    when no row shows the employee exactly and no other row is as near; its cells are judged as
    any row's (read again at full resolution; a near miss never passes)."""
    cell, number = row.get("name"), row.get("id_number")
    want = normalise_name(name)
    if cell is not None and len(want) >= 3 and edit_distance(want, normalise_name(cell.text)) <= len(want) // 4:
        return True
    digits = "".join(ch for ch in (number.text if number is not None else "").upper() if ch.isdigit() or ch == "X")
    return len(digits) >= 15 and edit_distance(id_number.upper(), digits) <= 2


def _differs_only_at(entered: str, read: str, wildcards: set[str]) -> bool:
    """``read`` is ``entered`` but for the places of ``wildcards``' characters (one character each)."""
    return len(entered) == len(read) and all(a == b or a in wildcards for a, b in zip(entered, read, strict=True))


#: the case's own entries a value read in the wrong place of a form may be
_OTHER_ENTRIES = ("org.name", "org.id_number", "org.phone", "handler.name", "handler.id_number", "handler.mobile",
                  "handler.email", "user.name", "user.id_number")


def _shows_exactly(key: str, entered: str, line: str, labels: list[str]) -> bool:
    """``line`` is ``entered`` and nothing else, once one of the card's ``labels`` is taken off its
    start (姓名 吴佳琪); an ID number may stand in a longer line (公民身份号码 2101…)."""
    if key.rsplit(".", 1)[-1] in _NUMBER_FIELDS:
        return len(entered) >= 15 and _same_reading(key, entered, line)
    text = normalise_name(line)
    for label in labels:
        if text.startswith(normalise_name(label)):
            text = text[len(normalise_name(label)):]
            break
    return text == normalise_name(entered)


def _same_reading(key: str, a: str, b: str) -> bool:
    """Two engines read the same thing: digits and letters for numbers, the name otherwise.

    A letter no credit code, ID or phone number holds (O, I, Z, S, V: GB 32100 leaves them out)
    is the digit or letter it resembles in either reading: Tesseract's MAOXL for RapidOCR's MA0XL
    is one reading of one printed code."""
    if key.rsplit(".", 1)[-1] in _NUMBER_FIELDS:
        return bool(a) and fold_code_lookalikes(normalise(a)) in fold_code_lookalikes(normalise(b))
    return bool(a) and normalise_name(a) == normalise_name(b)


def _finding(ctx: StageContext, rule_id: str, slot: str, verdicts: list[Verdict],
             extra: dict[str, Any] | None = None) -> Finding:
    status = worst(verdicts)
    ev: dict[str, Any] = {"fields": [v.evidence() for v in verdicts], **(extra or {})}
    lead = next((v for v in verdicts if v.status is status), verdicts[0])
    ev.update(entered=lead.entered, read=lead.read,
              field=_title(lead.field) if rule_id != "ocr.form_fields" else _label(lead))
    return ctx.finding(rule_id, status, slot, ev)


def _title(key: str) -> str:
    return FIELD_TITLES.get(key) or FIELD_TITLES.get(key.rsplit(".", 1)[-1], key)


def _label(v: Verdict) -> str:
    if v.value is not None and v.value.label:
        return v.value.label.rstrip("：:")
    role = {"user": "员工", "handler": "经办人"}.get(v.field.split(".", 1)[0], "")
    return role + _title(v.field)


# ---------------------------------------------------------------------- the checks
def _doc_kind(r: _Review, slot: str) -> list[Finding]:
    ctx = r.ctx
    want = ctx.rules.slots[slot].doc_kind
    kind = r.doc(slot).kind
    read_path = {}
    if kind.kind == "other" and (first := next(r.cleaned(slot), None)) is not None:
        marks, clean = first
        kind, read_path = clean.kind, {"read_path": f"{marks} dropped"}
    ev = {"expected": want, "kind": kind.kind, "score": kind.score, "words": list(kind.words),
          "runner_up": kind.runner_up, "looks_like": kind.title, **read_path}
    if kind.kind == want:
        return [ctx.finding("doc.kind", Status.PASS, slot, ev)]
    if kind.kind == "other":
        return [ctx.finding("doc.kind", Status.UNCERTAIN, slot, ev)]
    return [ctx.finding("doc.kind", Status.FAIL, slot, ev)]


def _shows(r: _Review, rule_id: str, slot: str) -> list[Finding]:
    ctx = r.ctx
    params = ctx.rules.rule(rule_id).params
    keys: list[str] = list(params.get("fields", {}).get(slot, []))
    if not keys:
        return []
    doc = r.doc(slot)
    want_kind = ctx.rules.slots[slot].doc_kind
    if doc.kind.kind == "other":
        # a watermarked or annotated copy: its kind shows once the marks are out
        doc = next((clean for _, clean in r.cleaned(slot)), doc)
    if doc.kind.kind != want_kind and (want_kind == "id_card" or doc.kind.kind != "other"):
        # another kind of document (a foreign card is no resident ID card): its values are not read
        ev = {"reason": f"the document looks like {doc.kind.title}", "kind": doc.kind.kind,
              "entered": r.entered(keys[0]), "field": _title(keys[0])}
        return [ctx.finding(rule_id, Status.UNCERTAIN, slot, ev)]
    labels: dict[str, list[str]] = params.get("labels", {})
    th = ctx.rules.tuning(rule_id, Thresholds)
    verdicts = []
    for key in keys:
        v = r.verdict(slot, key, list(labels.get(key, [])), th)
        alias = params.get("aliases", {}).get(key)
        if v.status is Status.UNCERTAIN and alias:  # e.g. the authorization prints the name twice
            v2 = r.verdict(slot, alias, list(labels.get(alias, [])), th)
            if v2.status is not Status.UNCERTAIN:
                v2.field = key
                v = v2
        verdicts.append(v)
    extra: dict[str, Any] = {"engine": r.engine.name}
    unreadable = unreadable_characters(r.engine, [v.entered for v in verdicts if v.status is not Status.PASS])
    if unreadable:
        extra["unreadable_characters"] = unreadable
    return [_finding(ctx, rule_id, slot, verdicts, extra)]


def _form_fields(r: _Review, slot: str) -> list[Finding]:
    ctx = r.ctx
    params = ctx.rules.rule("ocr.form_fields").params
    skip = set(params.get("skip_fields", []))
    printed = form_values(r.case)
    layout = form_layout("application_form")
    th = ctx.rules.tuning("ocr.form_fields", Thresholds)
    verdicts = []
    for name in layout.fields:
        if name in skip or not printed.get(name):
            continue
        verdicts.append(r.verdict(slot, name, [], th))
    if not verdicts:
        return []
    return [_finding(ctx, "ocr.form_fields", slot, verdicts)]


@dataclass(frozen=True)
class ApplyDateTuning:
    max_age_days: int = 90  # a form signed longer ago than this is out of date
    unread_status: str = "pass"  # what an unread date alone makes of the case
    min_confidence: float = 0.8


def _apply_date(r: _Review, slot: str) -> list[Finding]:
    """申请日期 is the applicant's own entry, the day the form was signed — often days before
    the upload and often hand-written. Only what the guide asks is checked: a clearly read date
    too old fails; a date after the submission is more likely a misread than a mistake."""
    ctx = r.ctx
    tuning = ctx.rules.tuning("ocr.apply_date", ApplyDateTuning)
    submitted: date = r.case.submitted_at.date()
    place = r.labels_for(slot, "apply_date", list(ctx.rules.param("ocr.apply_date", "labels")))
    doc = r.doc(slot)
    value = (doc.field("apply_date@own", place.labels, place.page, place.near,
                       stop_labels=r.stop_labels(slot, []), order=place.order) if place.labels else None)
    ev: dict[str, Any] = {"submitted": submitted.isoformat(), "max_age_days": tuning.max_age_days}
    readings = [value] if value is not None else []

    def read_again() -> list[tuple[Value, date]]:
        """The box once more at full resolution (to find a date, or confirm an old one); every date read."""
        again = value.page.reread(value) if value is not None and value.page is not None else None
        if again is not None:
            readings.append(again)
        return [(v, d) for v in readings for d in calendar_dates(v.text)]

    days = [(v, d) for v in readings for d in calendar_dates(v.text)] or read_again()
    if value is not None:
        ev.update(read=value.text, box=list(value.box), confidence=round(value.confidence, 3), how=value.how)
        if value.page is not None:
            ev.update(value.page.where())
    if not days:
        ev["reason"] = "not read"
        return [ctx.finding("ocr.apply_date", Status(tuning.unread_status), slot, ev)]
    reading, day = days[0]
    ev.update(date=day.isoformat(), read=reading.text, dates_read=sorted({d.isoformat() for _, d in days}))
    if _may_carry(day, submitted, tuning):
        return [ctx.finding("ocr.apply_date", Status.PASS, slot, ev)]
    if len(readings) == 1:  # a date the form cannot carry: read the box again before judging
        days = read_again()
        ev["dates_read"] = sorted({d.isoformat() for _, d in days})
    status, reason = judge_unlikely_date(day, reading.confidence, [d for _, d in days], submitted, tuning)
    if reason:
        ev["reason"] = reason
    if reason == _TWO_WAYS:  # no one date is claimed: both are in dates_read
        del ev["date"]
    return [ctx.finding("ocr.apply_date", status, slot, ev)]


_TWO_WAYS = "read two ways"


def _may_carry(day: date, submitted: date, tuning: ApplyDateTuning) -> bool:
    """A date the form may carry: not after the submission, not older than the limit."""
    return 0 <= (submitted - day).days <= tuning.max_age_days


def judge_unlikely_date(first: date, confidence: float, dates: Sequence[date], submitted: date,
                        tuning: ApplyDateTuning) -> tuple[Status, str]:
    """A first reading of 申请日期 after the submission or older than the limit, and every date
    read of the box (the first and the full-resolution reread), as (status, reason).

    When another reading is a date the form may carry (a hand-written 11 read as 1), the date is
    not settled either way, and an unsettled date is judged as an unread one (``unread_status``:
    the applicant's own entry alone sends no case to a clerk). A date after the submission is
    more likely a misread than a mistake: uncertain. A date too old fails only when read surely
    and alike twice; else uncertain."""
    others = set(dates) - {first}
    if any(_may_carry(d, submitted, tuning) for d in others):
        return Status(tuning.unread_status), _TWO_WAYS
    if first > submitted:
        return Status.UNCERTAIN, "after the submission: probably misread"
    if not others and len(dates) > 1 and confidence >= tuning.min_confidence:
        return Status.FAIL, ""
    return Status.UNCERTAIN, ""


def _period_check(r: _Review, rule_id: str, slot: str) -> list[Finding]:
    ctx = r.ctx
    params = ctx.rules.rule(rule_id).params
    labels = list(params.get("labels", []))
    need_start = bool(params.get("need_start", rule_id == "auth.period"))
    submitted: date = r.case.submitted_at.date()
    kind = ctx.rules.slots[slot].doc_kind
    if kind in FORM_KINDS and "auth.period_start" in form_layout(kind).fields:
        place = r.labels_for(slot, "auth.period_start", labels)
        r.doc(slot).field("auth.period_start", place.labels, place.page, place.near)  # near the template's label first
    period = read_period(r.doc(slot), labels, need_start)
    for _, clean in r.cleaned(slot) if period is None else ():
        if (period := read_period(clean, labels, need_start)) is not None:
            break
    ev: dict[str, Any] = {"submitted": submitted.isoformat()}
    if period is None and (title := _termless_title(r.doc(slot), list(params.get("termless_titles", [])))):
        # a certificate that prints no period (a law firm's licence: an annual assessment instead)
        return [ctx.finding(rule_id, Status.PASS, slot, {**ev, "reason": "no_term", "certificate": title})]
    if period is None:
        return [ctx.finding(rule_id, Status.UNCERTAIN, slot, {**ev, "reason": "period not legible"})]
    ev.update(period=period.describe(), valid_until="长期" if period.open_ended else
              (period.end.isoformat() if period.end else ""), read=period.text)
    if period.value is not None:
        ev.update(box=list(period.value.box), confidence=round(period.value.confidence, 3))
        if period.value.page is not None:  # the box is on this page of the upload, turned upright
            ev.update(period.value.page.where())
    if rule_id == "ocr.license_valid":  # a licence not yet started is not this rule's business
        ok = period.open_ended or (period.end is not None and submitted <= period.end)
    else:
        ok = period.covers(submitted)
    return [ctx.finding(rule_id, Status.PASS if ok else Status.FAIL, slot, ev)]


def _termless_title(doc: DocRead, titles: list[str]) -> str | None:
    """The title of a certificate that prints no period of validity, when ``doc`` shows one."""
    def title_in(text: str) -> str | None:
        return next((t for t in titles if t in normalise(text)), None)

    if not titles:
        return None
    doc.read_until(lambda text: title_in(text) is not None)
    return next((t for text in doc.texts() if (t := title_in(text))), None)


def _altered(r: _Review, slot: str) -> list[Finding]:
    """The guide: 委托书内容要填写清楚，涂改无效. A pen stroke through a line of the letter's text
    (a value struck out, written again beside it) is for a clerk to see — through a few glyphs of a
    line, when they read as an entered value or the stroke is a coloured pen's over black print
    (``Stroke.coloured``: a struck name rarely reads as itself); none found passes; a
    letter whose pages are all below ``min_dpi`` (a phone messenger's copy: its glyphs blur into
    rows as straight as a pen's) is looked at for coloured strokes only, and skipped when it shows none."""
    ctx = r.ctx
    params = ctx.rules.rule("auth.altered").params
    strokes: list[dict[str, Any]] = []
    lines = judged = 0
    for p in r.doc(slot).pages:
        if p.slot is not None:
            continue  # another upload's page
        boxes = [ln.box for ln in p.lines]
        lines += len(boxes)
        sharp = ctx.uploads[slot].pages[p.index].dpi >= float(params["min_dpi"])
        if sharp:
            judged += judgeable(boxes)
        # a line box inked over max_ink_share is a block, not text: a seal's, saved without its red on a page
        # saved in grey (seal.present's colourless_max_chroma); on a colour page the seal's red is left out,
        # and a struck line on a photo inks 0.42 of its box
        grey = page_chroma(p.image) <= float(ctx.rules.param("seal.present", "colourless_max_chroma"))
        block = params["max_ink_share_grey" if grey else "max_ink_share"]
        found = strokes_through(p.image, boxes, float(params["min_cover"]), tuple(params["middle"]),
                                float(params["max_slope_deg"]), max_ink_share=float(block),
                                short_heights=float(params["short_heights"]), leave_out=red_mask, thick_too=sharp)
        if not sharp:  # glyphs blur into rows as straight as a pen's; a coloured pen's line is still one
            found = [s for s in found if s.coloured]
        for k, stroke in enumerate(found):
            struck = _struck_value(r, p, stroke, params)
            if stroke.part is not None and struck is None and not stroke.coloured:
                continue  # glyphs set tight (or a struck value read as no entry, in black: not told)
            if stroke.part is None and stroke.thick and not _values_on(r, p, stroke.line, params, whole=True):
                continue  # a row of glued print across a line that is no entered value
            x0, y0, x1, y1 = stroke.line
            pad = (y1 - y0) // 2
            crop = p.image[max(0, y0 - pad):y1 + pad, max(0, x0 - pad):x1 + pad]
            strokes.append({**p.where(), "box": list(stroke.line), "stroke": list(stroke.ends), "cover": stroke.cover,
                            **({"struck_read": struck} if struck is not None else {}),
                            **({"pen": "coloured"} if stroke.coloured else {}),
                            **({"thick": True} if stroke.thick else {}),
                            "crop": ctx.artifacts.save_png(f"struck_{slot}_p{p.index}_{k}", crop)})
    if strokes:
        return [ctx.finding("auth.altered", Status.UNCERTAIN, slot,
                            {"reason": "struck_through", "strokes": strokes, "crop": strokes[0]["crop"]})]
    if lines and not judged:
        return [ctx.finding("auth.altered", Status.SKIPPED, slot,
                            {"reason": "resolution too low to judge", "lines": lines, "min_dpi": params["min_dpi"]})]
    return [ctx.finding("auth.altered", Status.PASS, slot, {"lines_checked": judged, "lines": lines})]


def _struck_value(r: _Review, page: PageText, stroke: Stroke, params: Mapping[str, Any]) -> str | None:
    """What the glyphs a short stroke runs across read, when they show an entered value
    (``short_values``: a run of at least ``short_shown`` of one's characters, two at least); else
    None. A short stroke is one through a few glyphs of a sentence (the name after 兹授权); glyphs
    set tight join into one as well (作为附件 in a Hei face; a mobile number's digits on a phone's
    photo), and only a value the applicant entered is worth striking out. What counts is what the
    stroke crosses, not the whole joined stretch it was found in. A value that makes half its line
    or more (a mobile number on its own line, glued digits on a phone's photo) is not looked for so:
    struck out, it is struck across ``min_cover`` of its line, and the whole-line rule judges that;
    nor is one its line's read does not show (a sentence of print, whose tight glyphs join) — unless
    the stroke is thick (``Stroke.thick``: a black pen's, heavy enough to change the line's read too,
    兹授权=缺阳晓鳞细晓峰 for 欧阳晓峰; what it crosses is read whatever the line shows)."""
    if stroke.part is None:
        return None
    # a thin stroke through a name blurs the line's read as well (兹授权阴晓蝶期晓峰 for 欧阳晓峰 struck and
    # written again): the line need show the value one character short (short_line_slack), its crossing in full
    wanted = _values_on(r, page, stroke.line, params, whole=False, shown=not stroke.thick,
                        slack=int(params["short_line_slack"]))
    if not wanted:
        return None  # the line shows no entered value: its glyphs set tight (the stroke's own read is spared)
    a, y0, b, y1 = stroke.part
    pad = (y1 - y0) // 4
    x0, x1 = max(a, stroke.ends[0]), min(b, stroke.ends[2])
    crossed = page.image[y0:y1, max(0, x0 - pad):x1 + pad]
    for reader in (r.engine, r.engine.stronger):  # the stronger reader when the first reads no value there
        read = reader.read_line(crossed) if reader is not None else None
        text = normalise(read.text) if read is not None else ""
        if any(_shows_run(text, value, need) for value, need in wanted):
            return text
    return None


def _values_on(r: _Review, page: PageText, box: tuple[int, int, int, int], params: Mapping[str, Any],
               whole: bool, shown: bool = True, slack: int = 0) -> list[tuple[str, int]]:
    """The entered values (``short_values``) the read of the line at ``box`` shows (any of them, not
    ``shown``), each with how many of its characters in a run it must show (``short_shown``, two at
    least; the line's read may show ``slack`` fewer, two at least): those that make ``min_cover`` of the
    line's characters or more (``whole``: the line is the value), or less (a value inside a sentence)."""
    index = next((i for i, ln in enumerate(page.lines) if ln.box == box), None)
    if index is not None:
        page.ensure_read([index])
    line = page.lines[index].norm if index is not None else ""
    wanted = []
    for key in params["short_values"]:
        value = normalise(r.entered(key))
        need = min(len(value), max(2, math.ceil(float(params["short_shown"]) * len(value))))
        if value and (len(value) >= float(params["min_cover"]) * len(line)) == whole \
                and (not shown or _shows_run(line, value, max(2, need - slack))):
            wanted.append((value, need))
    return wanted


def _shows_run(text: str, value: str, need: int) -> bool:
    """``text`` shows ``need`` characters of ``value`` in a run."""
    return SequenceMatcher(None, text, value, autojunk=False).find_longest_match().size >= need


def run(ctx: StageContext) -> list[Finding]:
    r = _Review(ctx)
    out: list[Finding] = []
    for slot in ctx.slots_for("doc.kind"):
        out += guarded(ctx, "doc.kind", slot, lambda s=slot: _doc_kind(r, s))  # type: ignore[misc]
    for rule_id in ("ocr.org_name", "ocr.uscc", "ocr.handler", "ocr.user"):
        for slot in ctx.slots_for(rule_id):
            out += guarded(ctx, rule_id, slot, lambda s=slot, rid=rule_id: _shows(r, rid, s))  # type: ignore[misc]
    for slot in ctx.slots_for("ocr.form_fields"):
        out += guarded(ctx, "ocr.form_fields", slot, lambda s=slot: _form_fields(r, s))  # type: ignore[misc]
    for slot in ctx.slots_for("ocr.apply_date"):
        out += guarded(ctx, "ocr.apply_date", slot, lambda s=slot: _apply_date(r, s))  # type: ignore[misc]
    for rule_id in ("ocr.license_valid", "auth.period"):
        for slot in ctx.slots_for(rule_id):
            out += guarded(ctx, rule_id, slot, lambda s=slot, rid=rule_id: _period_check(r, rid, s))  # type: ignore[misc]
    for slot in ctx.slots_for("auth.altered"):
        out += guarded(ctx, "auth.altered", slot, lambda s=slot: _altered(r, s))  # type: ignore[misc]
    return _streaked_values_unsure(r, _struck_values_unsure(ctx, out))


#: the rules a value read across a painted-out streak may fail
_STREAK_RULES = ("ocr.org_name", "ocr.uscc", "ocr.handler", "ocr.user", "ocr.form_fields")


def _streaked_values_unsure(r: _Review, findings: list[Finding]) -> list[Finding]:
    """A value read across a document feeder's streak painted out of its page (a glyph's stroke that
    ran under the streak may have gone with it: a 4 read as 1, by both readers) is no clear read of
    another value: a field found different only there is uncertain, not a fail."""
    return _fails_only_where(r.ctx, findings, lambda f: f.rule in _STREAK_RULES,
                             lambda slot, part: _across_streak(r, slot, part), "streak_painted_out")


def _fails_only_where(ctx: StageContext, findings: list[Finding], applies: Callable[[Finding], bool],
                      unsure_at: Callable[[str, Mapping[str, Any]], bool], reason: str) -> list[Finding]:
    """Each failing finding ``applies`` to whose every failing value (its evidence, or each of its
    ``fields``) was read where ``unsure_at`` says the reading cannot be trusted, made uncertain with
    ``reason``; the rest as they are."""
    out = []
    for f in findings:
        if f.status is Status.FAIL and applies(f):
            parts = f.evidence.get("fields") or [f.evidence]
            failing = [p for p in parts if p.get("status", "fail") == "fail"]
            if failing and all(unsure_at(f.slot or "", p) for p in failing):
                f = ctx.finding(f.rule, Status.UNCERTAIN, f.slot, {**f.evidence, "reason": reason})
        out.append(f)
    return out


def _across_streak(r: _Review, slot: str, part: Mapping[str, Any]) -> bool:
    """The value of evidence ``part`` (its upright ``box`` on page ``page`` of its upload) crosses a
    streak painted out of that page."""
    source = str(part.get("slot") or slot)
    upload = r.ctx.uploads.get(source)
    index = part.get("page")
    if upload is None or "box" not in part or not isinstance(index, int) or not 0 <= index < len(upload.pages):
        return False
    streaks = upload.pages[index].streaks
    if not streaks:
        return False
    text = next((p for p in r.doc(slot).pages if p.index == index and (p.slot or slot) == source), None)
    if text is None:
        return False
    x0, _, x1, _ = text.page_box(tuple(part["box"]))
    return any(a - 2 <= x1 and x0 <= b + 1 for a, b in streaks)


def _struck_values_unsure(ctx: StageContext, findings: list[Finding]) -> list[Finding]:
    """A value on a struck-out line reads as the stroke made it (a 1 struck through reads 4, by
    both readers): a field found different only there is uncertain, with the stroke, not a fail."""
    struck = {f.slot or "": [s["box"] for s in f.evidence["strokes"]] for f in findings
              if f.rule == "auth.altered" and f.evidence.get("reason") == "struck_through"}  # not a crashed check's
    return _fails_only_where(ctx, findings, lambda f: f.rule.startswith("ocr.") and (f.slot or "") in struck,
                             lambda slot, p: "box" in p and any(_overlap(p["box"], b) for b in struck[slot]),
                             "struck_out")


def _overlap(a: Sequence[int], b: Sequence[int]) -> bool:
    """Boxes sharing over half the lower one's height and some width."""
    high = min(a[3], b[3]) - max(a[1], b[1])
    return high > 0.5 * min(a[3] - a[1], b[3] - b[1]) and min(a[2], b[2]) > max(a[0], b[0])


#: Per file, with a form's ``_extra`` slot: a form scanned as two images is read as one document
#: (``_Review.doc``: page 2, the employee table, in ``application_form_extra``).
STAGE = Stage(name="fields", rule_ids=RULE_IDS, run=run, per_file=RULE_IDS, reads=with_extra)
