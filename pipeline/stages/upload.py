"""Upload intake: the gate every slot file passes before any later stage looks at it.

Per slot, the five upload rules run in order and stop at the first failure:

    upload.missing → upload.empty → upload.too_large → upload.format → upload.unreadable

Rules after a failure are reported ``skipped`` (evidence ``after`` names the failed rule), with one
exception: a too-large file still gets ``upload.format``, judged from its first bytes only, so the
applicant learns both problems at once. A slot that failed, or whose file could not be decoded,
is *blocked*: later stages report ``skipped`` for it. A file that decoded but whose decoder
complained (a PDF MuPDF had to repair, a warning while rendering) gets ``upload.unreadable``
``uncertain`` and stays available to later stages.

Truncated PDFs: MuPDF silently repairs a PDF whose xref or trailer is gone. If its pages then
render without a further complaint, nothing visible may be lost, yet nobody can be sure: that is
``uncertain`` (a clerk looks). If rendering complains too (missing objects, cut streams), content
is lost: ``fail``. A PDF that needs a password to open is ``fail``; one encrypted only against
editing opens normally and passes.

Bounds: never more than ``max_bytes`` of a file are read (a too-large file is not hashed either:
that would mean reading it all); the type is judged from the magic bytes, never from the name
alone; decoding runs within :class:`pipeline.decode.Limits`, whose module docstring states the
time and memory bounds those limits give.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.casefolder import CaseFolder
from pipeline.intake.images import TYPE_NAMES_ZH, Decoded, Limits, Unreadable, decode, sniff
from pipeline.intake.pages import Upload, page_notes
from pipeline.models import Finding, OtherUse, Status
from pipeline.ruleset import RuleSet

log = logging.getLogger(__name__)

RULE_IDS = ("upload.missing", "upload.empty", "upload.too_large", "upload.format", "upload.unreadable")
_SNIFF_BYTES = 4096


@dataclass(frozen=True)
class Intake:
    """The upload findings, the decoded uploads later stages get, and the slots they must skip."""

    findings: list[Finding]
    uploads: dict[str, Upload]
    blocked_slots: frozenset[str]


def limits_from_rules(rules: RuleSet) -> Limits:
    """The decoding bounds, from the ``upload.unreadable`` rule's parameters."""
    return rules.tuning("upload.unreadable", Limits)


def reused(rules: RuleSet, uploads: Mapping[str, Upload], elsewhere: Mapping[str, Sequence[OtherUse]]) -> list[Finding]:
    """``upload.reused``: each readable upload's file, by sha256, against the other orders' cases
    that hold it (``elsewhere``, from the case store). The same file in another order is a
    question for a clerk (a copy of another applicant's papers, or an order entered twice), never
    a fail by itself."""
    findings = []
    for slot in rules.rule(REUSED).slots:
        upload = uploads.get(slot)
        if upload is None:
            continue
        others = sorted({(o.order_no, o.slot, o.same_organisation) for o in elsewhere.get(upload.sha256, ())})
        evidence: dict[str, Any] = {"sha256": upload.sha256}
        if not others:
            findings.append(rules.finding(REUSED, Status.PASS, slot, evidence))
            continue
        evidence.update(other_order_no=others[0][0], count=len(others),
                        same_organisation=all(same for _, _, same in others),
                        elsewhere=[{"order_no": o, "slot": s, "same_organisation": same} for o, s, same in others[:10]])
        findings.append(rules.finding(REUSED, Status.UNCERTAIN, slot, evidence))
    return findings


REUSED = "upload.reused"


def intake(folder: CaseFolder, rules: RuleSet) -> Intake:
    """Judge every slot's file; decode the good ones once into pages for all later stages."""
    limits = limits_from_rules(rules)
    findings: list[Finding] = []
    uploads: dict[str, Upload] = {}
    blocked: set[str] = set()
    for slot, spec in rules.slots.items():
        path = folder.uploads.get(slot)
        if path is None and not spec.required:
            continue
        verdicts = _Verdicts(rules, slot)
        try:
            upload = _judge(verdicts, path, rules, limits)
        except Exception as exc:  # a crash in our code: the slot needs a person, the review goes on
            log.exception("upload intake of slot %s crashed", slot)
            verdicts.uncertain_rest({"error": f"{type(exc).__name__}: {exc}", "crashed": True})
            upload = None
        findings.extend(verdicts.findings)
        if upload is None or verdicts.failed:
            blocked.add(slot)
        else:
            uploads[slot] = upload
    return Intake(findings, uploads, frozenset(blocked))


class _Verdicts:
    """The findings of one slot, in RULE_IDS order; rules a slot is not listed under are left out."""

    def __init__(self, rules: RuleSet, slot: str) -> None:
        self.rules = rules
        self.slot = slot
        self.findings: list[Finding] = []
        self.done: set[str] = set()
        self.failed: str | None = None

    def add(self, rule_id: str, status: Status, evidence: dict[str, Any]) -> None:
        self.done.add(rule_id)
        if status is Status.FAIL and self.failed is None:
            self.failed = rule_id
        if self.slot in self.rules.rule(rule_id).slots:
            self.findings.append(self.rules.finding(rule_id, status, self.slot, evidence))

    def skip_rest(self) -> None:
        for rule_id in RULE_IDS:
            if rule_id not in self.done:
                self.add(rule_id, Status.SKIPPED, {"after": self.failed})

    def uncertain_rest(self, evidence: dict[str, Any]) -> None:
        for rule_id in RULE_IDS:
            if rule_id not in self.done:
                self.add(rule_id, Status.UNCERTAIN, evidence)


def _judge(v: _Verdicts, path: Path | None, rules: RuleSet, limits: Limits) -> Upload | None:
    if path is None:
        v.add("upload.missing", Status.FAIL, {"required": True})
        v.skip_rest()
        return None
    v.add("upload.missing", Status.PASS, {"file": path.name})
    max_bytes = int(rules.param("upload.too_large", "max_bytes"))
    try:
        size, data = _read_at_most(path, max_bytes)
    except OSError as exc:
        v.uncertain_rest({"file": path.name, "error": f"cannot read: {exc.strerror}"})
        return None
    evidence: dict[str, Any] = {"file": path.name, "size": size}
    if size == 0:
        v.add("upload.empty", Status.FAIL, evidence)
        v.skip_rest()
        return None
    v.add("upload.empty", Status.PASS, evidence)

    extension = path.suffix.lower().lstrip(".")
    detected = sniff(data[:_SNIFF_BYTES])
    evidence["detected_type"] = detected
    if size >= max_bytes:
        v.add("upload.too_large", Status.FAIL, {**evidence, "max_bytes": max_bytes})
        v.add("upload.format", *_format_verdict(rules, extension, detected, evidence))
        v.skip_rest()
        return None
    v.add("upload.too_large", Status.PASS, {**evidence, "max_bytes": max_bytes})

    evidence["sha256"] = hashlib.sha256(data).hexdigest()
    status, format_evidence = _format_verdict(rules, extension, detected, evidence)
    v.add("upload.format", status, format_evidence)
    if status is Status.FAIL:
        v.skip_rest()
        return None

    try:
        decoded = decode(data, detected, limits)
    except Unreadable as exc:
        v.add("upload.unreadable", Status.FAIL,
              {**evidence, "error": exc.reason, "reason_zh": exc.reason_zh, **exc.evidence})
        return None
    return _accept(v, path, extension, detected, evidence, decoded)


def _accept(v: _Verdicts, path: Path, extension: str, detected: str, evidence: dict[str, Any],
            decoded: Decoded) -> Upload:
    summary = {**evidence, "pages": len(decoded.pages),
               "dpi": [round(p.dpi) for p in decoded.pages], "dpi_source": decoded.pages[0].dpi_source,
               **page_notes(decoded.metadata)}
    if decoded.warnings:
        v.add("upload.unreadable", Status.UNCERTAIN,
              {**summary, "warnings": list(decoded.warnings),
               "reason_zh": "文件结构有损坏或解码时有告警，需人工核对内容是否完整"})
    else:
        v.add("upload.unreadable", Status.PASS, summary)
    return Upload(slot=v.slot, path=path, size=evidence["size"], sha256=evidence["sha256"],
                  extension=extension, content_type=detected, pages=decoded.pages,
                  metadata=decoded.metadata)


def _format_verdict(rules: RuleSet, extension: str, detected: str,
                    evidence: dict[str, Any]) -> tuple[Status, dict[str, Any]]:
    """Allowed extension, and content whose magic bytes are that extension's type."""
    allowed = [str(e) for e in rules.param("upload.format", "allowed_extensions")]
    expected = rules.param("upload.format", "content_types").get(extension)
    out = {**evidence, "extension": extension, "expected_type": expected}
    detected_zh = TYPE_NAMES_ZH.get(detected, detected)
    if extension not in allowed or expected is None:
        shown = f".{extension}" if extension else "（无扩展名）"
        return Status.FAIL, {**out, "detail": f"扩展名 {shown} 不在允许之列，文件内容为{detected_zh}"}
    if detected != expected:
        return Status.FAIL, {**out, "detail": f"扩展名为 .{extension}，但文件内容是{detected_zh}"}
    return Status.PASS, out


def _read_at_most(path: Path, max_bytes: int) -> tuple[int, bytes]:
    """(size, bytes): never more than ``max_bytes`` read; a file that fills them is too large."""
    with path.open("rb") as handle:
        data = handle.read(max_bytes)
        if len(data) < max_bytes:
            return len(data), data
        return max(os.fstat(handle.fileno()).st_size, len(data)), data[:_SNIFF_BYTES]
