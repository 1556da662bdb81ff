"""The one entry point: ``review_case``. The CLI, the workers and the web all call it.

The stage list below is the whole review, top to bottom. Each stage takes typed inputs and
returns findings; a stage that crashes yields ``uncertain`` findings, never a crashed review.

A re-review (after one upload was replaced) may be given the previous review of the case
(``reuse``): each *per-file* finding of it (``Stage.per_file``: a finding that depends on its slot's
file alone, or on the files ``Stage.reads`` names) is taken over, not checked again, when every input
it was made on is unchanged — the same file sha256s, entered data, rule set, precheck version and
OCR engine choice. Its evidence then says so (``reused_from``). Everything else runs as in a full
review: the upload intake on every file, the case-level rules, each check on the replaced file
and on the files whose findings read it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from pipeline import __version__, pageviews
from pipeline.build import build_sha256
from pipeline.casefolder import CaseFolder, load_case_folder
from pipeline.decision import decide
from pipeline.intake.pages import Upload
from pipeline.models import Finding, OtherUse, Report, Status
from pipeline.ruleset import RuleSet, load_rule_set
from pipeline.stages import barcode, data, fields, quality, seal, upload
from pipeline.stages.base import Artifacts, ReviewOptions, Stage, StageContext

log = logging.getLogger(__name__)

#: Every stage after the upload intake, in the order they run.
STAGES: tuple[Stage, ...] = (
    data.STAGE,
    quality.STAGE,
    barcode.STAGE,
    seal.STAGE,
    fields.STAGE,
)

#: Case-level steps over every stage's findings, from their evidence alone, once all stages ran: a
#: finding of an early stage that the later ones answer (a page low in resolution that was read in full).
AFTER_STAGES: tuple[Callable[[RuleSet, list[Finding]], list[Finding]], ...] = (quality.settle_read_in_full,)


@dataclass(frozen=True)
class PriorReview:
    """A finished review of the same case: the inputs its findings were made on, and its findings."""

    reviewed: dict[str, str]
    """Which review it was (``reused_from`` in the evidence of what a re-review takes over)."""
    case_sha256: str | None
    rule_set_sha256: str
    precheck_version: str | None
    ocr_engine: str | None
    build_sha256: str | None
    files: Mapping[str, str]
    """The sha256 of each slot's file the review read (slots whose file passed the upload intake)."""
    findings: Mapping[str, tuple[Finding, ...]]
    """Each slot's findings."""

    @classmethod
    def from_report(cls, report: Report, review_key: str | None = None) -> PriorReview:
        reviewed = {"review_key": review_key or "",
                    "reviewed_at": report.reviewed_at.isoformat() if report.reviewed_at else ""}
        findings: dict[str, list[Finding]] = {}
        for f in report.findings:
            if f.slot is not None:
                findings.setdefault(f.slot, []).append(f)
        return cls(reviewed={k: v for k, v in reviewed.items() if v}, case_sha256=report.case_sha256,
                   rule_set_sha256=report.rule_set.sha256, precheck_version=report.precheck_version,
                   ocr_engine=report.ocr_engine, build_sha256=report.build_sha256,
                   files={slot: str(u["sha256"]) for slot, u in report.uploads.items() if u.get("sha256")},
                   findings={slot: tuple(fs) for slot, fs in findings.items()})


def review_case(
    case: Path | str | CaseFolder,
    rules: RuleSet | None = None,
    *,
    out_dir: Path | None = None,
    options: ReviewOptions | None = None,
    reuse: PriorReview | None = None,
    elsewhere: Mapping[str, Sequence[OtherUse]] | None = None,
) -> Report:
    """Review one case folder and return its report; raise CaseError if it cannot be read.

    ``reuse``: the case's previous review, whose per-file findings on unchanged inputs are taken
    over (their evidence images are not made again in ``out_dir``). ``elsewhere``: the other
    orders' cases that hold each of the case's files (by sha256), from the case store; with it,
    ``upload.reused`` is checked (a folder reviewed alone has no store to ask)."""
    rules = rules or load_rule_set()
    options = options or ReviewOptions()
    folder = case if isinstance(case, CaseFolder) else load_case_folder(Path(case), set(rules.slots))
    case_sha256 = folder.case.content_sha256()
    intake = upload.intake(folder, rules)
    findings: list[Finding] = list(intake.findings)
    if elsewhere is not None:
        findings += upload.reused(rules, intake.uploads, elsewhere)
    blocked = set(intake.blocked_slots)
    artifacts = Artifacts(out_dir)
    prior = _Reuse.of(reuse, rules, case_sha256, options, {s: u.sha256 for s, u in intake.uploads.items()})
    for stage in STAGES:
        uploads = {s: u for s, u in intake.uploads.items() if s not in blocked}
        reused = prior.for_stage(stage, uploads) if prior is not None else {}
        ctx = StageContext(
            case=folder.case,
            rules=rules,
            uploads=uploads,
            blocked_slots=frozenset(blocked),
            artifacts=artifacts,
            options=options,
            reused=frozenset(reused),
        )
        checked = _run_stage(ctx, stage)
        if reused:
            checked = _in_stage_order(rules, stage, checked + [f for fs in reused.values() for f in fs])
        if stage.settle is not None:
            checked = _settled(f"the findings of stage {stage.name}", partial(stage.settle, ctx), checked)
        stage_findings = _skipped(ctx, stage) + checked
        findings.extend(stage_findings)
        if stage.gate:
            blocked |= {f.slot for f in stage_findings if f.status is Status.FAIL and f.slot}
    for settle in AFTER_STAGES:
        findings = _settled(f"the findings after the stages ({settle.__name__})", partial(settle, rules), findings)
    return Report(
        order_no=folder.case.order_no,
        decision=decide(findings),
        rule_set=rules.ref,
        findings=findings,
        reviewed_at=datetime.now(UTC),
        precheck_version=__version__,
        case_name=folder.name,
        org_name=folder.case.org.name,
        submitted_at=folder.case.submitted_at,
        uploads=pageviews.upload_summaries(intake.uploads, out_dir),
        case_sha256=case_sha256,
        ocr_engine=options.ocr_engine,
        build_sha256=build_sha256(),
    )


@dataclass(frozen=True)
class _Reuse:
    """What a re-review may take over from a prior review made on the same case inputs."""

    prior: PriorReview
    rules: RuleSet
    files: Mapping[str, str]  # this review's: slot -> sha256 of the file that passed the intake

    @classmethod
    def of(cls, prior: PriorReview | None, rules: RuleSet, case_sha256: str, options: ReviewOptions,
           files: Mapping[str, str]) -> _Reuse | None:
        """None unless the prior review was made on the same data, rules, version, OCR choice and
        build (source and reading libraries: ``pipeline.build``)."""
        if prior is None:
            return None
        same = (prior.case_sha256 == case_sha256 and prior.rule_set_sha256 == rules.sha256
                and prior.precheck_version == __version__ and prior.ocr_engine == options.ocr_engine
                and prior.build_sha256 == build_sha256())
        if not same:
            log.info("nothing reused: the previous review was made on other data, rules or version")
            return None
        return cls(prior, rules, files)

    def for_stage(self, stage: Stage, uploads: Mapping[str, Upload]) -> dict[tuple[str, str], list[Finding]]:
        """The prior findings of the stage's per-file rules on each checked slot whose files are unchanged.

        A prior review that checked a slot made every per-file finding of it (none is a finding too);
        a finding of a check that crashed is never taken over (the crash may not happen again)."""
        out: dict[tuple[str, str], list[Finding]] = {}
        for rule_id in stage.per_file:
            for slot in self.rules.rule(rule_id).slots:
                if slot not in uploads or slot not in self.prior.files:
                    continue
                if any(self.files.get(s) != self.prior.files.get(s) for s in stage.reads(self.rules, slot)):
                    continue
                found = [f for f in self.prior.findings.get(slot, ()) if f.rule == rule_id]
                if any(f.evidence.get("crashed") for f in found):
                    continue
                out[(rule_id, slot)] = [self._marked(f) for f in found]
        return out

    def _marked(self, finding: Finding) -> Finding:
        """The finding with evidence naming the review that made it (kept when it was reused before)."""
        if "reused_from" in finding.evidence:
            return finding
        return finding.model_copy(update={"evidence": {**finding.evidence, "reused_from": self.prior.reviewed}})


def _in_stage_order(rules: RuleSet, stage: Stage, found: list[Finding]) -> list[Finding]:
    """Findings in the order a stage makes them: by rule (the stage's order), then slot (the rule set's)."""
    rule_order = {rule_id: i for i, rule_id in enumerate(stage.rule_ids)}
    slot_order = {slot: i for i, slot in enumerate(rules.slots)}
    return sorted(found, key=lambda f: (rule_order.get(f.rule, len(rule_order)),
                                        -1 if f.slot is None else slot_order.get(f.slot, len(slot_order))))


def _run_stage(ctx: StageContext, stage: Stage) -> list[Finding]:
    try:
        return stage.run(ctx)
    except Exception as exc:
        log.exception("stage %s crashed", stage.name)
        evidence = {"error": f"{type(exc).__name__}: {exc}", "crashed": True}
        out = []
        for rule_id in stage.rule_ids:
            slots = ctx.rules.rule(rule_id).slots
            for slot in ctx.slots_for(rule_id) if slots else [None]:
                out.append(ctx.finding(rule_id, Status.UNCERTAIN, slot, evidence))
        return out


def _settled(what: str, settle: Callable[[list[Finding]], list[Finding]], findings: list[Finding]) -> list[Finding]:
    """A case-level settling of findings (a stage's own, or all of them after the stages); should it
    crash, the findings stand as the checks made them (settling never turns a finding worse)."""
    try:
        return settle(findings)
    except Exception:
        log.exception("settling %s crashed", what)
        return findings


def _skipped(ctx: StageContext, stage: Stage) -> list[Finding]:
    """A ``skipped`` finding for each rule of the stage on each slot an earlier stage failed."""
    out = []
    for rule_id in stage.rule_ids:
        for slot in ctx.rules.rule(rule_id).slots:
            if slot in ctx.blocked_slots:
                out.append(ctx.finding(rule_id, Status.SKIPPED, slot))
    return out


def all_rule_ids_with_checks() -> set[str]:
    """Every rule id some part of precheck produces: the intake, the stages, the issuance gate."""
    ids = {*upload.RULE_IDS, upload.REUSED}  # upload.reused: when the case store is asked (the service)
    for stage in STAGES:
        ids.update(stage.rule_ids)
    try:
        from pipeline.issuance.gate import RULE_IDS as issuance_ids
    except ImportError:
        issuance_ids = ()
    return ids | set(issuance_ids)
