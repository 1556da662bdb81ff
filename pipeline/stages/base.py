"""What every stage is: typed inputs in, findings out, under rule ids of the rule set."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pipeline.intake.pages import Upload
from pipeline.models import Case, Finding, Status
from pipeline.ruleset import RuleSet

log = logging.getLogger(__name__)


class Artifacts:
    """Where stages put evidence images (crops); a no-op when the review has no output folder."""

    def __init__(self, root: Path | None) -> None:
        self.root = root

    def save_png(self, name: str, image: np.ndarray) -> str | None:
        """Save ``image`` (BGR or grey) as ``artifacts/<name>.png``; return that relative path."""
        if self.root is None or image.size == 0:
            return None
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
        target = self.root / "artifacts" / f"{safe}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(target), image)
        return f"artifacts/{safe}.png"


@dataclass(frozen=True)
class ReviewOptions:
    """Choices that change how, not what, a review checks."""

    ocr_engine: str = "auto"  # "rapidocr", "tesseract" or "auto" (rapidocr, tesseract as second opinion)


@dataclass(frozen=True)
class StageContext:
    case: Case
    rules: RuleSet
    uploads: Mapping[str, Upload]
    """Readable uploads of the slots no earlier gate stage failed."""
    blocked_slots: frozenset[str] = frozenset()
    """Slots that had a file (or were required) but failed an earlier gate stage."""
    artifacts: Artifacts = field(default_factory=lambda: Artifacts(None))
    options: ReviewOptions = field(default_factory=ReviewOptions)
    reused: frozenset[tuple[str, str]] = frozenset()
    """(rule, slot) pairs whose findings a re-review takes from the previous review: not checked again."""

    def slots_for(self, rule_id: str) -> list[str]:
        """The slots a rule is checked on here: those it applies to that have a readable upload, in
        rule-set order, but for the slots whose finding of this rule a re-review reuses."""
        return [s for s in self.rules.rule(rule_id).slots if s in self.uploads and (rule_id, s) not in self.reused]

    def finding(self, rule_id: str, status: Status, slot: str | None = None,
                evidence: dict[str, Any] | None = None, **placeholders: Any) -> Finding:
        return self.rules.finding(rule_id, status, slot, evidence, **placeholders)


StageRun = Callable[[StageContext], list[Finding]]
#: The slots whose files one finding on a slot reads (besides the entered data, the rule set and the options).
FilesRead = Callable[[RuleSet, str], frozenset[str]]


def own_file(rules: RuleSet, slot: str) -> frozenset[str]:
    """The slot's own file only."""
    return frozenset({slot})


def with_extra(rules: RuleSet, slot: str) -> frozenset[str]:
    """The slot's own file and its ``<slot>_extra`` slot's, when the rule set has one: a two-page form
    scanned as two images has its second page there (the employee table, VI)."""
    extra = f"{slot}_extra"
    return frozenset({slot, extra} if extra in rules.slots else {slot})


@dataclass(frozen=True)
class Stage:
    """A named group of checks. ``gate`` stages block a slot for later stages when they fail it.

    ``per_file`` names the rules whose finding on a slot depends on nothing but the files ``reads``
    names for that slot, the entered data, the rule set and the review options: a re-review after
    another slot's file was replaced reuses such findings while those inputs are unchanged. Every
    other rule is case-level and checked again on every review (the data stage's: they read no file,
    and cost next to nothing). ``settle`` is a case-level step over all the stage's findings, fresh
    and reused alike, from their evidence alone (the seal stage's impressions of one seal settle
    one another).
    """

    name: str
    rule_ids: tuple[str, ...]
    run: StageRun
    gate: bool = False
    per_file: tuple[str, ...] = ()
    reads: FilesRead = own_file
    settle: Callable[[StageContext, list[Finding]], list[Finding]] | None = None

    def __post_init__(self) -> None:
        strangers = sorted(set(self.per_file) - set(self.rule_ids))
        if strangers:
            raise ValueError(f"stage {self.name}: per-file rules it does not check: {', '.join(strangers)}")


def guarded(ctx: StageContext, rule_id: str, slot: str | None,
            check: Callable[[], list[Finding]]) -> list[Finding]:
    """Run one check; a crash becomes an ``uncertain`` finding with the error, logged in full."""
    try:
        return check()
    except Exception as exc:
        log.exception("check %s on slot %s crashed", rule_id, slot)
        return [ctx.finding(rule_id, Status.UNCERTAIN, slot,
                            {"error": f"{type(exc).__name__}: {exc}", "crashed": True})]
