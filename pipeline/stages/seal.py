"""Stage 'seal': every document that must bear the official seal shows a red round seal
(``seal.present``), the seal names the applying organisation (``seal.org_name``), and on the
forms it sits where the form asks for it (``seal.position``).

Detection is pure image analysis (``pipeline.seal.find``); the arc text is read by unrolling the
ring (``pipeline.seal.arctext``) and OCR. Only what is certain fails: a grey (photocopied) seal,
a page saved in grey with no seal found, an unreadable arc or a seal away from its label are
``uncertain`` for a clerk to look at.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import cv2
import numpy as np
from rapidfuzz.distance import LCSseq

from pipeline.intake.pages import Page
from pipeline.models import Finding, Status
from pipeline.reading.matching import (
    folded_toward,
    name_equal_score,
    name_score,
    normalise_name,
    possible_differences,
    read_by_character,
    shows_name,
)
from pipeline.reading.ocr import OcrEngine, TextBox, get_engine, unreadable_characters
from pipeline.reading.page import PageText, ReadOptions, read_page
from pipeline.seal.arctext import ArcRead, ReadLine, is_authority, read_arc, unroll
from pipeline.seal.band import LineRead, read_line_under_star
from pipeline.seal.find import SealCandidate, SealParams, find_redder_seals, find_seals, page_chroma
from pipeline.seal.identity import ImpressionMatch, compare_impressions
from pipeline.stages.base import Stage, StageContext, guarded

PRESENT, ORG_NAME, POSITION = "seal.present", "seal.org_name", "seal.position"


@dataclass(frozen=True)
class FoundSeal:
    page: Page
    seal: SealCandidate


def run(ctx: StageContext) -> list[Finding]:
    seals: dict[str, list[FoundSeal]] = {}

    def detect(slot: str) -> list[FoundSeal]:
        if slot not in seals:
            seals[slot] = _detect(ctx, slot)
        return seals[slot]

    findings: list[Finding] = []
    for rule_id, check in ((PRESENT, _present), (ORG_NAME, _org_name), (POSITION, _position)):
        for slot in _seal_slots(ctx, rule_id):
            findings += guarded(ctx, rule_id, slot, partial(_one, check, ctx, slot, detect))
    return _authority_seal_is_no_official_seal(ctx, findings)


def _authority_seal_is_no_official_seal(ctx: StageContext, findings: list[Finding]) -> list[Finding]:
    """A licence copy whose only red seal is the registration authority's printed one (its arc read
    ``seal.org_name``: 市场监督管理局 …) shows no seal of the applicant: ``seal.present`` must not
    say 已加盖公章 there. Uncertain, not a fail: the applicant's seal may be too faint to be found."""
    alone = {f.slot for f in findings if f.rule == ORG_NAME and f.evidence.get("reason") == "authority_seal_only"}
    return [ctx.finding(PRESENT, Status.UNCERTAIN, f.slot, {**f.evidence, "reason": "authority_seal_only"})
            if f.rule == PRESENT and f.status is Status.PASS and f.slot in alone else f for f in findings]


def _one(check: Callable[[StageContext, str, list[FoundSeal]], Finding], ctx: StageContext, slot: str,
         detect: Callable[[str], list[FoundSeal]]) -> list[Finding]:
    return [check(ctx, slot, detect(slot))]


def _seal_slots(ctx: StageContext, rule_id: str) -> list[str]:
    return [s for s in ctx.slots_for(rule_id) if ctx.rules.slots[s].seal_required]


def _detect(ctx: StageContext, slot: str) -> list[FoundSeal]:
    params = ctx.rules.tuning(PRESENT, SealParams)
    found = [FoundSeal(page, seal) for page in ctx.uploads[slot].pages
             for seal in find_seals(page.image, page.dpi, params)]
    return sorted(found, key=lambda f: (f.seal.colour != "red", -f.seal.score))


# ---------------------------------------------------------------------------- seal.present


def _present(ctx: StageContext, slot: str, found: list[FoundSeal]) -> Finding:
    listed = found[: int(ctx.rules.param(PRESENT, "max_listed"))]
    records = [_record(ctx, slot, i, f) for i, f in enumerate(listed)]
    evidence: dict[str, Any] = {"seals": records, "pages": len(ctx.uploads[slot].pages)}
    if records:
        evidence["crop"] = records[0].get("crop")
    red = [f for f in found if f.seal.colour == "red"]
    if red:
        return _official(ctx, slot, red[: int(ctx.rules.param(PRESENT, "max_listed"))], evidence)
    if found:
        evidence["reason"] = "grey_seal_only"
        return ctx.finding(PRESENT, Status.UNCERTAIN, slot, evidence)
    colourless = ctx.rules.rule(PRESENT).params.get("colourless_max_chroma")
    if colourless is not None:
        # a page saved in grey shows a red seal as a grey ring, lightly inked ones faintly or not
        # at all (B&W filters drop light tones): finding none there proves no seal is missing
        chroma = max(page_chroma(page.image) for page in ctx.uploads[slot].pages)
        evidence["chroma"] = round(chroma, 1)
        if chroma <= colourless:
            evidence["reason"] = "no_colour"
            return ctx.finding(PRESENT, Status.UNCERTAIN, slot, evidence)
    return ctx.finding(PRESENT, Status.FAIL, slot, evidence)


def _official(ctx: StageContext, slot: str, red: list[FoundSeal], evidence: dict[str, Any]) -> Finding:
    """A red seal is there; it is the official seal unless the line under its star says it is a
    special-purpose seal (合同专用章, 财务专用章 …: the guide asks for the 公章). Fails only when
    every red seal surely says so; a special seal beside another seal (a licence's printed
    registration seal, or both seals pressed) or a line read unsurely is for a clerk."""
    params = ctx.rules.rule(PRESENT).params
    kinds = [_seal_kind(ctx, f, params) if params.get("special_seal_words") else ("official", None) for f in red]
    lines = [{"page": f.page.index, "line": read.text, "kind": kind}
             for f, (kind, read) in zip(red, kinds, strict=True) if read is not None]
    if lines:
        evidence["seal_lines"] = lines
    if all(kind == "official" for kind, _ in kinds):
        return _pressed(ctx, slot, red, evidence)
    special = next((read for kind, read in kinds if kind == "special"), None)
    if special is not None:
        evidence["seal_line"] = special.text
    if all(kind == "special" for kind, _ in kinds):
        evidence["reason"] = "special_seal"
        return ctx.finding(PRESENT, Status.FAIL, slot, evidence)
    evidence["reason"] = "special_seal_beside" if special is not None else "special_seal_unsure"
    if special is None:
        evidence["seal_line"] = next(read.text for kind, read in kinds if kind == "maybe" and read is not None)
    return ctx.finding(PRESENT, Status.UNCERTAIN, slot, evidence)


def _pressed(ctx: StageContext, slot: str, red: list[FoundSeal], evidence: dict[str, Any]) -> Finding:
    """The seal was pressed on paper and scanned, unless every red seal stands on a PDF page the
    computer drew (its text drawn visibly: the form was never printed) or inside an image laid
    over another (a seal picture pasted onto a scan): a clerk looks at those (电子章 …)."""
    min_chars = ctx.rules.rule(PRESENT).params.get("drawn_page_min_chars")
    if min_chars is None:
        return ctx.finding(PRESENT, Status.PASS, slot, evidence)
    placed = [placed_digitally(f.page, f.seal, int(min_chars)) for f in red]
    if all(placed):
        evidence["reason"] = "pasted_seal"
        evidence["placed"] = sorted({str(p) for p in placed})
        layers = red[0].page.layers
        if layers is not None:
            evidence["visible_chars"], evidence["images"] = layers.visible_chars, len(layers.images)
        return ctx.finding(PRESENT, Status.UNCERTAIN, slot, evidence)
    return ctx.finding(PRESENT, Status.PASS, slot, evidence)


def placed_digitally(page: Page, seal: SealCandidate, drawn_page_min_chars: int) -> str | None:
    """"drawn_page" when the seal is on a PDF page that draws at least ``drawn_page_min_chars``
    characters visibly, "image_over_image" when it is a picture of its own laid over another image
    (a scan is one image over the page; a pasted seal is a second, seal-sized one on top, centred
    on it — a compressing scanner's layers and bands are not), else None."""
    layers = page.layers
    if layers is None:
        return None
    if layers.visible_chars >= drawn_page_min_chars:
        return "drawn_page"
    (cx, cy), diameter = seal.centre, 2 * seal.radius
    boxes = [(x0 * page.width, y0 * page.height, x1 * page.width, y1 * page.height)
             for x0, y0, x1, y1 in layers.images]
    under = [b for b in boxes if b[0] <= cx <= b[2] and b[1] <= cy <= b[3]]
    if len(under) < 2:
        return None
    x0, y0, x1, y1 = under[-1]  # drawn last: on top
    w, h = x1 - x0, y1 - y0
    seal_sized = 0.75 <= w / max(h, 1.0) <= 1.33 and 0.8 * diameter <= max(w, h) <= 2.0 * diameter
    centred = abs((x0 + x1) / 2 - cx) <= diameter / 4 and abs((y0 + y1) / 2 - cy) <= diameter / 4
    return "image_over_image" if seal_sized and centred else None


def _seal_kind(ctx: StageContext, f: FoundSeal, params: Mapping[str, Any]) -> tuple[str, LineRead | None]:
    engine = _engine(ctx)
    readers = [_line_reader(e) for e in (engine, engine.stronger) if e is not None]
    return seal_kind(read_line_under_star(f.page.image, f.seal.centre, f.seal.radius, readers), params)


def seal_kind(reads: Sequence[LineRead], params: Mapping[str, Any]) -> tuple[str, LineRead | None]:
    """What the reads of a seal's line under the star make it: "official" (no line, one naming
    no special purpose, or a licence's printed registration seal), "special" (a read shows a
    special-purpose word, each of its characters surely) or "maybe" (a read shows one unsurely,
    or part of one); with the read that decided (the surest)."""
    reads = sorted(reads, key=lambda r: -r.confidence)
    registration = next((r for r in reads if any(w in r.text for w in params["registration_seal_words"])), None)
    if registration is not None:  # a licence's printed registration seal (…登记专用章): not the applicant's
        return "official", registration
    sure = float(params["special_seal_sure"])
    for read in reads:
        if any(_surely_shown(word, read, sure) for word in params["special_seal_words"]):
            return "special", read
    for read in reads:
        if any(hint in read.text for hint in (*params["special_seal_words"], *params["special_seal_hints"])):
            return "maybe", read
    return "official", reads[0] if reads else None


def _surely_shown(word: str, read: LineRead, sure: float) -> bool:
    at = read.text.find(word)
    if at < 0:
        return False
    if len(read.chars) != len(read.text):
        return read.confidence >= sure
    return min(read.chars[at:at + len(word)]) >= sure


def _line_reader(engine: OcrEngine) -> ReadLine:
    def read_line(image: np.ndarray) -> tuple[str, float, tuple[float, ...]] | None:
        box = engine.read_line(image)
        return None if box is None else (box.text, box.confidence, box.chars)
    return read_line


def _record(ctx: StageContext, slot: str, i: int, f: FoundSeal) -> dict[str, Any]:
    h, w = f.page.image.shape[:2]
    x0, y0, x1, y1 = f.seal.clipped_bbox(w, h)
    crop = ctx.artifacts.save_png(f"seal_{slot}_p{f.page.index}_{i}", f.page.image[y0:y1, x0:x1])
    return {"page": f.page.index, **f.seal.evidence(), "crop": crop}


# ---------------------------------------------------------------------------- seal.org_name


def _org_name(ctx: StageContext, slot: str, found: list[FoundSeal]) -> Finding:
    red = [f for f in found if f.seal.colour == "red"][: int(ctx.rules.param(ORG_NAME, "max_seals"))]
    if not red:
        return ctx.finding(ORG_NAME, Status.SKIPPED, slot, {"reason": "no_red_seal"})
    entered = ctx.case.org.name
    params = ctx.rules.rule(ORG_NAME).params
    per_seal: list[tuple[FoundSeal, list[ArcRead]]] = []

    def read_until_shown(seals: list[FoundSeal]) -> NameOnSeals:
        """Read the seals in turn until one names the organisation; the slot judged on all read."""
        for f in seals:
            reads = read_name_on_seal(f.page.image, f.seal, entered, _engine(ctx), params)
            per_seal.append((f, reads))
            if any(_shows_applicant(entered, r.text) for r in reads):
                break
        return judge_name_on_seals(entered, [reads for _, reads in per_seal], params)

    judged = read_until_shown(red)  # the strongest seal first
    if judged.status is not Status.PASS and any(is_authority(r.text) for _, reads in per_seal for r in reads):
        # a licence whose printed authority seal was found, the applicant's not shown: it may be
        # lost in a light red watermark's red — looked for again among redder ink
        judged = read_until_shown(_redder_seals(ctx, slot, found))
    return _judge_name(ctx, slot, entered, per_seal, judged)


def _redder_seals(ctx: StageContext, slot: str, found: list[FoundSeal]) -> list[FoundSeal]:
    """Red seals of the slot's pages found among redder ink only, other than those ``found``."""
    params = ctx.rules.tuning(PRESENT, SealParams)
    return [FoundSeal(page, seal) for page in ctx.uploads[slot].pages
            for seal in find_redder_seals(page.image, page.dpi, params)
            if all(f.page is not page or np.hypot(seal.centre[0] - f.seal.centre[0],
                                                   seal.centre[1] - f.seal.centre[1]) > 0.5 * f.seal.radius
                   for f in found)]


def settle_across_impressions(ctx: StageContext, findings: list[Finding]) -> list[Finding]:
    """Case-level step over the slots' ``seal.org_name`` findings (fresh or reused): a seal whose
    strips disagree on a character passes when another impression of the same seal in the case
    (as large, on another upload) passes on its own and reads that very character as entered
    surely: a second reading of the same seal text. A different organisation's seal would need
    an impression that passes on its own. Works from the findings' evidence alone, so a reused
    finding is settled again against this review's other impressions."""
    params = ctx.rules.rule(ORG_NAME).params
    passing = {f.slot or "": f.evidence for f in findings if f.rule == ORG_NAME and f.status is Status.PASS
               and not {"confirmed_by", "same_seal_as"} & f.evidence.keys() and "diameter_mm" in f.evidence}
    settled = []
    for f in findings:
        if f.rule == ORG_NAME and f.evidence.get("reason") == _SAME_SEAL:  # settled so by an earlier review
            f = ctx.finding(ORG_NAME, Status.UNCERTAIN, f.slot, _unsettled(f.evidence))
        if f.rule == ORG_NAME and f.status is Status.UNCERTAIN:
            f = _same_seal_as_passing(ctx, f, passing, params) or f
        ev = f.evidence
        if f.rule != ORG_NAME or ev.get("reason") not in (_DISAGREE, _CONFIRMED) or "diameter_mm" not in ev:
            settled.append(f)
            continue
        positions = [int(i) for i in ev.get("contested_positions", [])]
        hit = confirming_impression(positions, float(ev["diameter_mm"]), [
            (slot, list(o.get("name_probabilities", [])), float(o["diameter_mm"]))
            for slot, o in passing.items() if slot != f.slot],
            float(params["confirm_confidence"]), float(params["same_seal_mm"]))
        base = {k: v for k, v in ev.items() if k != "confirmed_by"}
        if hit is None:
            settled.append(ctx.finding(ORG_NAME, Status.UNCERTAIN, f.slot, {**base, "reason": _DISAGREE}))
            continue
        other = passing[hit]
        confirmed_by = {"slot": hit, "read": other.get("read"), "diameter_mm": other["diameter_mm"],
                        "probabilities": {str(i): other["name_probabilities"][i] for i in positions}}
        settled.append(ctx.finding(ORG_NAME, Status.PASS, f.slot,
                                   {**base, "reason": _CONFIRMED, "confirmed_by": confirmed_by}))
    return settled


_DISAGREE, _CONFIRMED = "reads_disagree", "confirmed_by_another_impression"
_SAME_SEAL = "same_seal_as_another_impression"
#: reads of each seal kept in the evidence (best first): what the clerk sees and the case settles from
EVIDENCE_READS = 4
#: no read of the seal shows the entered name, and its reads do not clearly name another one
_READ_OTHERWISE = "read_otherwise"


def _same_seal_as_passing(ctx: StageContext, f: Finding, passing: Mapping[str, Mapping[str, Any]],
                          params: Mapping[str, Any]) -> Finding | None:
    """A pass for an uncertain slot whose seal is, as an image, the seal of another upload that shows
    the name surely on its own, when its own reads lean that way too; else None.

    The slot's impression (over an ID card's print, thinly inked) read the name unsurely or with a
    character missed; another upload's impression read every character surely (``confirm_confidence``).
    Turned onto each other, the two text bands correlate (``same_seal_correlation``: another
    organisation's seal of another layout does not) — but a seal of a name sharing its layout and all
    but a character or two may correlate as well, so the slot's own reads must lean to the name
    (``leans_to_name``: most of it in one read, each character in some read, none read otherwise with
    confidence): what they read otherwise is then the recogniser's doubt, and the surely read
    impression says what the seal shows. The registration authority's seal on a licence is no
    impression of the applicant's."""
    ev = f.evidence
    entered = str(ev.get("entered", ""))
    if not entered or ev.get("reason") == "authority_seal_only":
        return None
    floor, shown = float(params["conflict_confidence"]), float(params["same_seal_shown"])
    anchors = [(slot, a) for slot, a in passing.items() if slot != f.slot and "impression" in a
               and a.get("name_probabilities")
               and min(float(p) for p in a["name_probabilities"]) >= float(params["confirm_confidence"])]
    for seal in ev.get("seals", []):
        if seal.get("authority") or "centre" not in seal:
            continue
        reads = [ArcRead(str(r["text"]), float(r["confidence"]), 0.0, False, tuple(r.get("chars", ())))
                 for r in seal.get("reads", []) if not r.get("reader")]  # the first reader's, as measured
        if not leans_to_name(entered, reads, floor, shown):
            continue
        here = _located(ctx, f.slot or "", seal)
        for slot, anchor in anchors:
            there = _located(ctx, slot, anchor["impression"])
            if here is None or there is None:
                continue
            match = _compare(here, there)
            if match.correlation >= float(params["same_seal_correlation"]):
                same = {"slot": slot, "read": anchor.get("read"), **match.evidence(),
                        # the impression that read surely, for the clerk to hold beside this slot's crop
                        "crop": _impression_crop(ctx, f"seal_{f.slot}_same_as_{slot}", there)}
                return ctx.finding(ORG_NAME, Status.PASS, f.slot, {
                    **ev, "reason": _SAME_SEAL, "read_reason": ev.get("reason", ""), "same_seal_as": same})
    return None


def _unsettled(ev: Mapping[str, Any]) -> dict[str, Any]:
    """A finding's evidence as the slot's own reading left it (before another impression settled it)."""
    out = {k: v for k, v in ev.items() if k not in ("same_seal_as", "read_reason", "reason")}
    if ev.get("read_reason"):
        out["reason"] = ev["read_reason"]
    return out


def leans_to_name(entered: str, reads: Sequence[ArcRead], floor: float, shown: float) -> bool:
    """Some read shows at least ``shown`` of the name's characters as entered, every character of the
    name is read as entered by some read, and no read shows one otherwise at ``floor`` or above (the
    ends of a read aside: the strip cuts the ring there; and the name's brackets and dots, which no
    organisation is told apart by: a seal's （ is often read 人). A seal of a name one look-alike away
    is read as the right seal's unsurely where it differs, below ``floor``: that no read shows its own
    character as entered is what keeps it back (seal bench, seeds 3–4: 1 of 181 such seals lean so,
    against 15 of 62 right seals that do not pass alone)."""
    if _read_otherwise_surely(entered, reads, floor):
        return False
    want = normalise_name(entered)
    leaning = False
    seen = [not ch.isalnum() for ch in want]
    for r in reads:
        by_char = read_by_character(entered, r.text, r.chars, r.confidence, wrapped=True)
        if by_char is not None:
            same = [c is not None and c.same for c in by_char]
            leaning = leaning or sum(same) >= shown * len(want)
            seen = [a or b for a, b in zip(seen, same, strict=True)]
    return leaning and all(seen)


_Located = tuple[np.ndarray, tuple[float, float], float]  # page image, centre, radius


def _located(ctx: StageContext, slot: str, where: Mapping[str, Any]) -> _Located | None:
    """An impression named in evidence (page, centre, radius) on this review's upload of ``slot``; None
    when the upload is not at hand (a slot failed the upload gate)."""
    upload = ctx.uploads.get(slot)
    page = int(where.get("page", -1))
    if upload is None or not 0 <= page < len(upload.pages):
        return None
    return upload.pages[page].image, (float(where["centre"][0]), float(where["centre"][1])), float(where["radius"])


def _compare(a: _Located, b: _Located) -> ImpressionMatch:
    return compare_impressions(a[0], a[1], a[2], b[0], b[1], b[2])


def _impression_crop(ctx: StageContext, name: str, at: _Located) -> str | None:
    """The square around an impression saved as an artifact."""
    image, (cx, cy), r = at
    h, w = image.shape[:2]
    x0, y0 = max(0, round(cx - r)), max(0, round(cy - r))
    x1, y1 = min(w, round(cx + r)), min(h, round(cy + r))
    return ctx.artifacts.save_png(name, image[y0:y1, x0:x1])


def _circle(seal: SealCandidate) -> dict[str, Any]:
    return {"centre": [round(seal.centre[0], 1), round(seal.centre[1], 1)], "radius": round(seal.radius, 1)}


def confirming_impression(positions: Sequence[int], diameter_mm: float,
                          others: Sequence[tuple[str, Sequence[float], float]], sure: float,
                          same_mm: float) -> str | None:
    """The first other impression (slot, the probability of each entered character in its read
    of the name, its diameter in mm) of a seal as large that reads every contested position at
    least ``sure``-ly."""
    for slot, probabilities, mm in others:
        if (positions and abs(mm - diameter_mm) <= same_mm
                and all(i < len(probabilities) and probabilities[i] >= sure for i in positions)):
            return slot
    return None


def _diameter_mm(f: FoundSeal) -> float:
    return 2 * f.seal.radius / f.page.px_per_mm()


def read_name_on_seal(image: np.ndarray, seal: SealCandidate, entered: str, engine: OcrEngine,
                      params: Mapping[str, Any]) -> list[ArcRead]:
    """The arc text of one seal, read from several strips until one shows the entered name
    surely character by character (a less sure read of it is not the end: another strip may
    contest it) or the seal turns out to be the registration authority's. A traditional form of
    one of the name's characters is read as that character (``folded_toward``): one name either way.

    Where those reads do not pass the name and read none of its characters otherwise with
    confidence (a rare character read unsurely as a look-alike, one dropped), the engine's second
    seal reader (PP-OCRv6) reads the strips again; its reads follow, marked with its name, and
    ``judge_name_on_seals`` says what they may settle."""
    sure = float(params["settle_confidence"])

    def folded(reader: OcrEngine) -> ReadLine:
        plain = _line_reader(reader)

        def read_line(image: np.ndarray) -> tuple[str, float, tuple[float, ...]] | None:
            """A strip's read, traditional forms of the name's characters read as the name's (錦: 锦)."""
            got = plain(image)
            return None if got is None else (folded_toward(entered, got[0]), got[1], got[2])
        return read_line

    def settled(read: ArcRead) -> bool:
        return is_authority(read.text) or (_shows_applicant(entered, read.text) and _surely_shows(entered, read, sure))

    def upright(read: ArcRead) -> bool:
        return _shows_applicant(entered, read.text)

    reads = read_arc(image, seal.centre, seal.radius, folded(engine), settled, upright)
    second = engine.seal_reader
    if (second is None or any(is_authority(r.text) for r in reads)
            or _judge_first_reads(entered, [reads], params).status is Status.PASS
            or _read_otherwise_surely(entered, reads, float(params["conflict_confidence"]))):
        return reads
    return reads + read_arc(image, seal.centre, seal.radius, folded(second), settled, upright, reader=second.name)


def _read_otherwise_surely(entered: str, reads: Sequence[ArcRead], floor: float) -> bool:
    """Some read shows a character of the name otherwise at ``floor`` or above (a read's ends aside:
    the strip cuts the ring there; and the name's brackets and dots, which no organisation is told
    apart by)."""
    want = normalise_name(entered)
    return any(c.index not in (0, len(r.text) - 1) and want[i].isalnum() and c.probability >= floor
               for r in reads for i, c in possible_differences(entered, r.text, r.chars, r.confidence, wrapped=True))


@dataclass(frozen=True)
class NameOnSeals:
    """What the seals of one slot say of the entered organisation name."""

    status: Status
    shown: ArcRead | None = None                      # the read that shows the name exactly
    contested: tuple[dict[str, Any], ...] = ()        # characters another strip shows otherwise
    reason: str = ""


def judge_name_on_seals(entered: str, reads_per_seal: list[list[ArcRead]], params: Mapping[str, Any]) -> NameOnSeals:
    """Pass only when a read shows the entered name exactly and no other strip of that seal
    contests a character of it; fail only when every applicant seal clearly names another
    organisation; else uncertain (seals are noisy: never a pass of a different name).

    The first reader's reads decide. The second reader's (``ArcRead.reader``) pass a seal only where
    the first's do not, when one of them shows the name with every character at least
    ``second_reader_sure``, no other strip of the second reader contests it, and no read of the first
    shows a character otherwise at ``conflict_confidence`` or above: a character read unsurely by
    the one (渤 as 潮 at 0.5) and surely as entered by the other. The second reader alone reads a
    look-alike surely as the name (右 as 石), which the first then reads otherwise with confidence."""
    firsts = [[r for r in reads if not r.reader] for reads in reads_per_seal]
    judged = _judge_first_reads(entered, firsts, params)
    if judged.status is Status.PASS:
        return judged
    floor, clear = float(params["conflict_confidence"]), float(params["conflict_clear"])
    sure = float(params["second_reader_sure"])
    for first, reads in zip(firsts, reads_per_seal, strict=True):
        second = [r for r in reads if r.reader]
        if not second or any(is_authority(r.text) for r in reads) or _read_otherwise_surely(entered, first, floor):
            continue
        shown = next((r for r in second if _shows_applicant(entered, r.text) and _surely_shows(entered, r, sure)), None)
        if shown is not None and not _contested(entered, second, floor, clear):
            return NameOnSeals(Status.PASS, shown)
    return judged


def _judge_first_reads(entered: str, reads_per_seal: list[list[ArcRead]], params: Mapping[str, Any]) -> NameOnSeals:
    verdicts = []  # per applicant seal: "different" or "unknown"
    for reads in reads_per_seal:
        texts = [r for r in reads if not is_authority(r.text)]
        if reads and not texts:
            continue  # the registration authority's seal on a licence
        verdicts.append(_verdict(entered, texts, params))
    shown = next(((r, reads) for reads in reads_per_seal for r in reads if _shows_applicant(entered, r.text)), None)
    if shown is not None:
        contested = _contested(entered, shown[1], float(params["conflict_confidence"]), float(params["conflict_clear"]))
        if contested:
            return NameOnSeals(Status.UNCERTAIN, shown[0], tuple(contested), "reads_disagree")
        return NameOnSeals(Status.PASS, shown[0])
    if verdicts and all(v == "different" for v in verdicts):
        return NameOnSeals(Status.FAIL)
    return NameOnSeals(Status.UNCERTAIN, reason="" if verdicts else "authority_seal_only")


def _surely_shows(entered: str, read: ArcRead, sure: float) -> bool:
    by_char = read_by_character(entered, read.text, read.chars, read.confidence, wrapped=True)
    return by_char is not None and all(c is not None and c.same and c.probability >= sure for c in by_char)


def _contested(entered: str, reads: list[ArcRead], floor: float, clear: float) -> list[dict[str, Any]]:
    """Characters of the entered name that another read of the same seal shows otherwise:
    ``clear``-ly; or at least as surely as the reads that show the name read it; or with confidence
    (``floor``) where no read shows the name's character clearly. An unsure read of the entered
    character does not confirm it against another reading (夫 0.59 against 天 0.44), nor does a
    middling one against a middling other (千 0.77 against 干 0.79 in a Song-face seal): the strips
    disagree where a one-character different organisation would differ (干/千, 镇/银, 申/中). Only
    a clear read of the name's character (≥ ``clear``) outweighs a less sure other reading, and an
    other reading below ``floor`` and below the name's is the recogniser's doubt. Where the other
    read also dropped a character next to the one it read otherwise, each placement counts
    (``possible_differences``). A read's first and last characters are not heard: the strip cuts the
    ring there, and a cut glyph or the name's other end stands in them."""
    support = [0.0] * len(normalise_name(entered))
    others = []
    for r in reads:
        if _shows_applicant(entered, r.text):
            by_char = read_by_character(entered, r.text, r.chars, r.confidence, wrapped=True) or []
            support = [max(s, c.probability if c is not None and c.same else 0.0) for s, c in zip(
                support, by_char, strict=False)]
        else:
            others.append((r, possible_differences(entered, r.text, r.chars, r.confidence, wrapped=True)))
    contested = []
    for r, differences in others:
        for i, c in differences:
            if c.index in (0, len(r.text) - 1):
                continue
            q = c.probability
            if not (q >= clear or q >= support[i] or (q >= floor and support[i] < clear)):
                continue
            contested.append({"position": i, "entered": normalise_name(entered)[i], "read": c.char,
                              "probability": round(c.probability, 3), "shown_probability": round(support[i], 3),
                              "in": r.text})
    return contested


def _judge_name(ctx: StageContext, slot: str, entered: str,
                per_seal: list[tuple[FoundSeal, list[ArcRead]]], judged: NameOnSeals) -> Finding:
    reads_ev = []
    best: tuple[float, FoundSeal, ArcRead] | None = None
    for f, reads in per_seal:
        texts = [r for r in reads if not is_authority(r.text)]
        kept = [r for r in reads if not r.reader][:EVIDENCE_READS] + [r for r in reads if r.reader][:EVIDENCE_READS]
        reads_ev.append({"page": f.page.index, "bbox": list(f.seal.bbox), "authority": bool(reads) and not texts,
                         **_circle(f.seal),
                         "reads": [_read_evidence(r) for r in kept]})
        scored = [(name_score(entered, r.text).score, r) for r in texts]
        if scored:
            score, read = max(scored, key=lambda t: t[0])
            if best is None or score > best[0]:
                best = (score, f, read)
    evidence: dict[str, Any] = {"entered": entered, "seals": reads_ev}
    if best is not None:
        evidence.update(read=best[2].text, score=round(best[0], 1), bbox=list(best[1].seal.bbox),
                        **_read_images(ctx, slot, best[1], best[2]))
    if judged.shown is not None:
        evidence.update(read=judged.shown.text, score=100.0)
        impression = next(f for f, reads in per_seal if any(r is judged.shown for r in reads))
        by_char = read_by_character(entered, judged.shown.text, judged.shown.chars, judged.shown.confidence,
                                    wrapped=True) or []
        if judged.shown.reader:  # shown surely by the second reader where the first read it unsurely
            evidence["second_reader"] = judged.shown.reader
        evidence.update(impression={"page": impression.page.index, **_circle(impression.seal)},
                        diameter_mm=round(_diameter_mm(impression), 1), name_probabilities=[
            round(c.probability, 3) if c is not None and c.same else 0.0 for c in by_char])
    if judged.contested:
        evidence["contested"] = list(judged.contested[:4])
        evidence["contested_positions"] = sorted({int(c["position"]) for c in judged.contested})
    if judged.reason:
        evidence["reason"] = judged.reason
    elif judged.status is Status.UNCERTAIN and best is not None:
        evidence["reason"] = _READ_OTHERWISE  # the clerk is told what the seal was read as
    unreadable = unreadable_characters(_engine(ctx), [entered]) if judged.status is not Status.PASS else []
    if unreadable:
        evidence["unreadable_characters"] = unreadable
    return ctx.finding(ORG_NAME, judged.status, slot, evidence)


def _read_evidence(read: ArcRead) -> dict[str, Any]:
    out: dict[str, Any] = {"text": read.text, "confidence": round(read.confidence, 3),
                           "chars": [round(c, 3) for c in read.chars]}
    if read.reader:
        out["reader"] = read.reader
    return out


def _shows_applicant(entered: str, text: str) -> bool:
    """An arc read that shows the applying organisation's name exactly (not the authority's seal)."""
    return not is_authority(text) and shows_name(entered, text, seal=True)


def _read_images(ctx: StageContext, slot: str, f: FoundSeal, read: ArcRead) -> dict[str, str | None]:
    """The seal and the unrolled strip the name was read from, for the clerk to compare."""
    h, w = f.page.image.shape[:2]
    x0, y0, x1, y1 = f.seal.clipped_bbox(w, h)
    strip = unroll(f.page.image, f.seal.centre, f.seal.radius, read.start_deg, read.band)
    if read.flipped:
        strip = cv2.rotate(strip, cv2.ROTATE_180)
    name = f"seal_{slot}_p{f.page.index}_name"
    return {"crop": ctx.artifacts.save_png(name, f.page.image[y0:y1, x0:x1]),
            "strip": ctx.artifacts.save_png(f"{name}_strip", strip)}


def _verdict(entered: str, reads: list[ArcRead], p: Mapping[str, Any]) -> str:
    """'different' only when every confident read that is an organisation name shares (almost)
    nothing with the entered name once place names and company forms are set aside."""
    judged = [_differs(entered, r, p) for r in reads if r.confidence >= float(p["fail_confidence"])]
    judged = [d for d in judged if d is not None]
    return "different" if judged and all(judged) else "unknown"


def _differs(entered: str, read: ArcRead, p: Mapping[str, Any]) -> bool | None:
    """True: another organisation; False: not clearly; None: the read is no organisation name.

    Where the engine gave each character's probability, a character read unsurely may be a
    misread of the entered one: it does not count as a difference (a sure line of misread glyphs
    such as 就阳我方董 for 沈阳北方重 is not another organisation)."""
    text = normalise_name(read.text)
    # the name ends at the last company form it shows: 事务所 is followed by (普通合伙) in a
    # partnership's name, which ends there
    form_ends = [text.index(s) + len(s) for s in p["org_suffixes"] if s in text]
    if not form_ends:
        return None
    named = text[: max(form_ends)]
    want = normalise_name(entered)
    if _in_order_within(named, want):
        return False  # the name with characters missed (a small or faint seal), none read otherwise
    ends = [named[-k:] for k in range(max(1, len(want) - 1), len(want) + 2)]  # stray ring marks before it
    unsure = sum(1 for c in read.chars if c < float(p["fail_confidence"])) if len(read.chars) == len(read.text) else 0
    # characters the read shows otherwise or more (off the longest run it shares with the name, in
    # order): the name's characters it missed are no sign of another organisation (a faint or cut arc
    # drops them: 山会事粉所有限公司 of 大连中山会计师事务所有限公司 is one character read otherwise)
    differing = min(len(end) - LCSseq.similarity(want, end) for end in ends) - unsure
    if differing >= int(p["fail_distance"]):
        return True  # several characters of the name read surely otherwise: another organisation
    if differing < 1 and read.chars:
        return False  # every difference may be a misread
    a, b = _without_shared_place(core_name(entered), core_name(named))
    if len(b) < 2 or not a:
        return None
    return name_equal_score(a, b) <= float(p["fail_score"])


def _in_order_within(part: str, whole: str) -> bool:
    """Every character of ``part`` is in ``whole``, in the same order (``part`` is ``whole`` with
    characters dropped)."""
    rest = iter(whole)
    return all(ch in rest for ch in part)


def _without_shared_place(a: str, b: str) -> tuple[str, str]:
    """Drop a short common start (a city: 沈阳…) — it says nothing about which organisation;
    the read may carry up to two stray characters (ring fragments) before it."""
    best_n, best_k = 0, 0
    for k in range(min(3, len(b))):
        n = next((i for i, (x, y) in enumerate(zip(a, b[k:], strict=False)) if x != y), min(len(a), len(b) - k))
        if n > best_n:
            best_n, best_k = n, k
    if 0 < best_n <= 4:
        return a[best_n:], b[best_k + best_n:]
    return a, b


_FORMS = re.compile(r"(股份有限公司|有限责任公司|有限公司|集团|公司|\(.*?\))$")
_PLACE = re.compile(r"^(.{1,8}?(省|自治区|市|自治州|地区|盟|区|县|旗))+")


def core_name(name: str) -> str:
    """An organisation name without its leading place names and trailing company form."""
    text = normalise_name(name)
    for _ in range(3):
        text = _FORMS.sub("", text)
    stripped = _PLACE.sub("", text)
    return stripped if len(stripped) >= 2 else text


def _engine(ctx: StageContext) -> OcrEngine:
    return get_engine(ctx.options.ocr_engine)


# ---------------------------------------------------------------------------- seal.position


def _position(ctx: StageContext, slot: str, found: list[FoundSeal]) -> Finding:
    """Is a seal near the form's printed 盖章 label? The page's text lines are detected once per
    review (the fields stage reads the same page, and the OCR cache shares both the detection
    and each line read); only the lines within reach of a seal are read, nearest first, then
    the page's other short lines."""
    if not found:
        return ctx.finding(POSITION, Status.SKIPPED, slot, {"reason": "no_seal"})
    labels: list[str] = list(ctx.rules.param(POSITION, "labels").get(slot, []))
    max_mm = float(ctx.rules.param(POSITION, "max_distance_mm"))
    engine = _engine(ctx)
    options = ctx.rules.tuning("doc.kind", ReadOptions)
    texts: dict[int, PageText] = {}

    def text_of(page: Page) -> PageText:
        if page.index not in texts:
            texts[page.index] = read_page(page.image, engine, options, eager=False, titles=False)
        return texts[page.index]

    seal_ev = [{"page": f.page.index, "bbox": list(f.seal.bbox)} for f in found]
    for f in found:
        pt = text_of(f.page)
        centre = pt.upright_point(*f.seal.centre)
        px_per_mm = f.page.px_per_mm()
        reach = sorted((_distance_mm(centre, ln.box, px_per_mm), i) for i, ln in enumerate(pt.lines)
                       if _ratio(ln.box) <= _LABEL_RATIO)  # a label, not the prose above the seal
        near = [i for d, i in reach if d <= max_mm]
        for chunk in range(0, len(near), _CHUNK):
            pt.ensure_read(near[chunk:chunk + _CHUNK])
            hit = _find_label([pt.lines[i].as_textbox() for i in near[:chunk + _CHUNK]], labels)
            if hit is not None:
                return ctx.finding(POSITION, Status.PASS, slot, {
                    "label": hit[0], "label_page": f.page.index, "label_box": list(pt.page_box(hit[1])),
                    "seals": seal_ev, "distance_mm": round(_distance_mm(centre, hit[1], px_per_mm), 1)})
    for index in sorted({f.page.index for f in found}):
        seals = [f for f in found if f.page.index == index]
        page = seals[0].page
        pt = text_of(page)
        short = [i for i, ln in enumerate(pt.lines) if _ratio(ln.box) <= _LABEL_RATIO]
        pt.ensure_read(short)
        hit = _find_label([pt.lines[i].as_textbox() for i in short], labels)
        if hit is None:
            continue
        label, box = hit
        distances = [round(_distance_mm(pt.upright_point(*f.seal.centre), box, page.px_per_mm()), 1) for f in seals]
        status = Status.PASS if min(distances) <= max_mm else Status.UNCERTAIN
        return ctx.finding(POSITION, status, slot, {"label": label, "label_page": index,
                                                    "label_box": list(pt.page_box(box)),
                                                    "seals": seal_ev, "distance_mm": distances})
    return ctx.finding(POSITION, Status.PASS, slot,
                       {"label": labels[0] if labels else "", "label_found": False, "seals": seal_ev})


#: Lines read at a time around a seal while looking for its label.
_CHUNK = 4
#: Lines wider than this many heights are prose, not a 盖章 label.
_LABEL_RATIO = 12.0


def _ratio(box: tuple[int, int, int, int]) -> float:
    return (box[2] - box[0]) / max(1, box[3] - box[1])


def _find_label(boxes: list[TextBox], labels: list[str]) -> tuple[str, tuple[int, int, int, int]] | None:
    """The first label found and the box of the text line that holds it."""
    for label in labels:
        want = normalise_name(label)
        for box in boxes:
            text = normalise_name(box.text)
            if want in text or (len(text) >= len(want) - 1 and name_score(want, text).score >= 85):
                return label, box.box
    return None


def _distance_mm(centre: tuple[float, float], box: tuple[int, int, int, int], px_per_mm: float) -> float:
    """From a seal's centre to the nearest point of a text box, in millimetres."""
    cx, cy = centre
    dx = max(box[0] - cx, 0.0, cx - box[2])
    dy = max(box[1] - cy, 0.0, cy - box[3])
    return float(np.hypot(dx, dy) / px_per_mm)


#: Per file: each slot's seals are found, read and placed on its own pages; then the case's
#: impressions of the seal settle one another's disagreeing strips (``seal.org_name``).
STAGE = Stage(name="seal", rule_ids=(PRESENT, ORG_NAME, POSITION), run=run, per_file=(PRESENT, ORG_NAME, POSITION),
              settle=settle_across_impressions)
