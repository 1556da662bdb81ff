"""Judge one read value against one entered value: pass, fail or uncertain — never a guess.

A certificate for the wrong organisation is the worst outcome, so a name **passes only when the
read shows it exactly** (after NFKC, width, spaces and the two bracket forms): a read one
character off is never "close enough". ``fail`` needs the document to clearly show a DIFFERENT,
plausible value: a name that shares little with the entered one read with confidence, a near
miss (one character off) read with high confidence — which the fields stage then has confirmed
by a second reading before it stands — or a valid number other than the entered one. A value
that is implausible (a date after the submission, a number of the wrong length) or read without
confidence is ``uncertain``, with the best candidate and its score in evidence.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from pipeline.models import Status
from pipeline.reading.matching import (
    digits_only,
    edit_distance,
    find_dates,
    find_ric,
    find_uscc,
    fold_lookalikes,
    merged_repeats,
    name_equal_score,
    name_score,
    normalise,
    shows_name,
)
from pipeline.reading.page import Value


@dataclass(frozen=True)
class Thresholds:
    fail_score: float = 60.0  # a confident read of a name this far from the entered one is another name
    min_confidence: float = 0.8  # a read below this never fails a field
    clear_confidence: float = 0.95  # a near miss (one character off) read this surely is a different name
    stronger_sure: float = 0.9  # the stronger reader settles a disputed value when every character is this sure
    corroborated_sure: float = 0.5  # … or this sure, when the second opinion shows the same characters there
    corroborated_ratio: float = 0.8  # … and resembles the entered value this much (1 − edit distance ∕ length)


@dataclass
class Verdict:
    status: Status
    field: str
    entered: str
    read: str = ""
    score: float = 0.0
    value: Value | None = None
    notes: dict[str, Any] = dataclasses.field(default_factory=dict)

    def evidence(self) -> dict[str, Any]:
        ev: dict[str, Any] = {"field": self.field, "status": self.status.value, "entered": self.entered,
                              "read": self.read,
                              "score": round(self.score, 1)}
        if self.value is not None:
            ev.update({"box": list(self.value.box), "confidence": round(self.value.confidence, 3),
                       "label": self.value.label, "how": self.value.how})
            if self.value.page is not None:  # the box is on this page, turned upright by this much
                ev.update(self.value.page.where())
        ev.update(self.notes)
        return ev


#: Marks no name is written with: a read holding one inside it is a form's furniture or a cell's
#: neighbours (a tick box read 口/□ next to 更新, a list's comma, a label's colon), not another name
_NOT_IN_NAMES = re.compile(r"[,，:：;；、。□☐☑■√✓]")
_EDGE_MARKS = " ,，:：;；、。"


def name_like(read: str) -> bool:
    """Could ``read`` be a name as written? Marks at its ends are the cell's edge; inside, they
    show that the read ran over more than one field. No person's or organisation's name is one
    character: a lone one is a fragment (a watermark's glyph beside a licence's 名称)."""
    core = normalise(read).strip(_EDGE_MARKS)
    return len(core) >= 2 and not _NOT_IN_NAMES.search(core)


def judge_name(fname: str, entered: str, value: Value | None, th: Thresholds) -> Verdict:
    """A name or other free text read from its field: it shows the entered name exactly, or it
    does not; how far off it is only decides between ``fail`` and ``uncertain``."""
    if value is None or not value.text:
        return Verdict(Status.UNCERTAIN, fname, entered, notes={"reason": "not found"})
    read = value.text
    if shows_name(entered, read):
        return Verdict(Status.PASS, fname, entered, entered, 100.0, value)
    whole = name_equal_score(entered, read)
    part = name_score(entered, read)
    score = max(whole, part.score if len(normalise(read)) >= len(normalise(entered)) else 0.0)
    isolated = len(normalise(read)) <= len(normalise(entered)) + 4
    near = part.matched if len(normalise(read)) > len(normalise(entered)) else read
    near_miss = isolated and _plausible_near_miss(entered, near)
    if not name_like(near if near_miss else read):
        # not a name at all (the row or column was taken wrong): nothing shows another name
        return Verdict(Status.UNCERTAIN, fname, entered, part.matched or read, score, value,
                       {"reason": "implausible name"})
    if near_miss:
        # one character off — even of a two-character name, where it is half the score: a
        # different name only when read clearly (and, in the fields stage, by the second engine too)
        if value.confidence >= th.clear_confidence:
            return Verdict(Status.FAIL, fname, entered, near, score, value, {"near_miss": True})
        return Verdict(Status.UNCERTAIN, fname, entered, near, score, value)
    if isolated and whole <= th.fail_score and value.confidence >= th.min_confidence:
        return Verdict(Status.FAIL, fname, entered, read, whole, value)
    return Verdict(Status.UNCERTAIN, fname, entered, part.matched or read, score, value)


def _plausible_near_miss(entered: str, read: str) -> bool:
    """A read that is a name like the entered one, off by a character or two (not a fragment,
    not the label, not a longer run of other text): a different name, if it was read right."""
    a, b = normalise(entered), normalise(read)
    return bool(b) and abs(len(a) - len(b)) <= 1 and edit_distance(a, b) <= max(1, len(a) // 4)


def judge_number(fname: str, kind: str, entered: str, value: Value | None, th: Thresholds,
                 elsewhere: list[str] | None = None, exact_invalid_shows: bool = False) -> Verdict:
    """A resident ID number (``kind`` "ric") or credit code ("uscc") read from its field.

    ``elsewhere`` is the rest of the page's text: when the labelled field shows no number, the
    entered number found there still passes (it is shown); only the labelled field can fail.
    """
    finder = find_ric if kind == "ric" else find_uscc
    want = normalise(entered).upper()
    reads = finder(value.text) if value is not None else []
    for r in reads:
        if (r.valid or (exact_invalid_shows and not r.repaired)) and r.value == want:
            notes = {"repaired": True} if r.repaired else {}
            return Verdict(Status.PASS, fname, entered, r.raw, 100.0, value,
                           notes if r.valid else {**notes, "check_digit_valid": False})
    for text in (elsewhere or []) if not reads else []:
        for r in finder(text):
            if r.valid and r.value == want:
                return Verdict(Status.PASS, fname, entered, r.raw, 100.0, None,
                               {"found_outside_label": True, "repaired": r.repaired})
    # a repaired read counts as clearly different only when it differs beyond its repairs
    valid_other = [r for r in reads if r.valid and (not r.repaired or _distance(r.value, want) >= 3)]
    if valid_other and value is not None and value.confidence >= th.min_confidence:
        return Verdict(Status.FAIL, fname, entered, valid_other[0].value, 0.0, value,
                       {"check_digit_valid": True})
    if not reads:  # nothing number-like in the field: show the best candidate of the page
        reads = [r for text in elsewhere or [] for r in finder(text)]
    if reads:
        best = reads[0]
        return Verdict(Status.UNCERTAIN, fname, entered, best.raw, 0.0, value,
                       {"check_digit_valid": best.valid, "repaired": best.repaired,
                        "reason": "invalid check digit" if not best.valid else "repaired read differs"})
    return Verdict(Status.UNCERTAIN, fname, entered, value.text if value else "", 0.0, value,
                   {"reason": "not found" if value is None else "no number in the field"})


def _distance(a: str, b: str) -> int:
    return sum(x != y for x, y in zip(a, b, strict=False)) + abs(len(a) - len(b))


def judge_exact(fname: str, entered: str, value: Value | None, th: Thresholds, kind: str = "text",
                latest: date | None = None) -> Verdict:
    """Phone numbers (digits), emails (case-insensitive), dates (Y-M-D), other printed text.

    Implausible reads are never a different value: a number of another length than the entered
    one (a digit lost or doubled in reading), a date after ``latest`` (the submission) or none."""
    if value is None or not value.text:
        return Verdict(Status.UNCERTAIN, fname, entered, notes={"reason": "not found"})
    read = value.text
    if kind == "phone":
        a, b = digits_only(entered), digits_only(read)
        same, differ = a == b or (len(a) >= 7 and a in b), len(b) == len(a) and a != b
        if not same and merged_repeats(a, b):  # 13942366655 read as 1394236655
            return Verdict(Status.PASS, fname, entered, read, 100.0, value, {"merged_repeats": True})
    elif kind == "date":
        da, db = find_dates(entered), find_dates(read)
        same, differ = bool(da and db and da[0] == db[0]), bool(da and db and da[0] != db[0])
        if differ and not _plausible_date(db[0], latest):
            return Verdict(Status.UNCERTAIN, fname, entered, read, 0.0, value, {"reason": "implausible date"})
    elif kind == "email":
        a, b = normalise(entered).lower(), normalise(read).lower().replace(",", ".")
        same, differ = a == b or a in b, "@" in b and name_equal_score(a, b) <= th.fail_score
        if not same and fold_lookalikes(a) in fold_lookalikes(b):  # e.g. lina1990@ read as 1ina19900
            return Verdict(Status.PASS, fname, entered, read, 100.0, value, {"lookalikes": True})
        at = _at_sign_read_as(a, b)
        if not same and at:  # every address has its @: a read without one read it as a letter
            return Verdict(Status.PASS, fname, entered, read, 100.0, value, {"at_sign_read_as": at})
    else:
        return judge_name(fname, entered, value, th)
    if same:
        return Verdict(Status.PASS, fname, entered, read, 100.0, value)
    if differ and value.confidence >= th.min_confidence:
        return Verdict(Status.FAIL, fname, entered, read, 0.0, value)
    return Verdict(Status.UNCERTAIN, fname, entered, read, 0.0, value)


#: What a recogniser makes of an e-mail's @ in hand-writing and Kai or Song faces
_AT_LOOKALIKES = "eaoq0c©"


def _at_sign_read_as(entered: str, read: str) -> str:
    """The character a read with no @ shows where the entered address has it, when that is all
    that differs (wujiaqi@huaxin-zn.com read wujiaqiehuaxin-zn.com); else ""."""
    if "@" in read or entered.count("@") != 1:
        return ""
    local, domain = entered.split("@")
    for start in range(len(read) - len(entered) + 1):  # a read may carry the label's tail before it
        part = read[start:start + len(entered)]
        if (part[len(local)] in _AT_LOOKALIKES and fold_lookalikes(part[:len(local)]) == fold_lookalikes(local)
                and fold_lookalikes(part[len(local) + 1:]) == fold_lookalikes(domain)):
            return part[len(local)]
    return ""


def _plausible_date(ymd: tuple[int, int, int], latest: date | None) -> bool:
    try:
        day = date(*ymd)
    except ValueError:
        return False
    return latest is None or day <= latest


def worst(verdicts: list[Verdict]) -> Status:
    statuses = {v.status for v in verdicts}
    for s in (Status.FAIL, Status.UNCERTAIN, Status.PASS):
        if s in statuses:
            return s
    return Status.UNCERTAIN
