"""The one entry point: ``review_case``. The CLI, the workers and the web all call it.

The stage list below is the whole review, top to bottom. Each stage takes typed inputs and
returns findings; a stage that crashes yields ``uncertain`` findings, never a crashed review.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from pipeline import __version__, pageviews
from pipeline.casefolder import CaseFolder, load_case_folder
from pipeline.decision import decide
from pipeline.models import Finding, Report, Status
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


def review_case(
    case: Path | str | CaseFolder,
    rules: RuleSet | None = None,
    *,
    out_dir: Path | None = None,
    options: ReviewOptions | None = None,
) -> Report:
    """Review one case folder and return its report; raise CaseError if it cannot be read."""
    rules = rules or load_rule_set()
    folder = case if isinstance(case, CaseFolder) else load_case_folder(Path(case), set(rules.slots))
    intake = upload.intake(folder, rules)
    findings: list[Finding] = list(intake.findings)
    blocked = set(intake.blocked_slots)
    artifacts = Artifacts(out_dir)
    for stage in STAGES:
        ctx = StageContext(
            case=folder.case,
            rules=rules,
            uploads={s: u for s, u in intake.uploads.items() if s not in blocked},
            blocked_slots=frozenset(blocked),
            artifacts=artifacts,
            options=options or ReviewOptions(),
        )
        stage_findings = _skipped(ctx, stage) + _run_stage(ctx, stage)
        findings.extend(stage_findings)
        if stage.gate:
            blocked |= {f.slot for f in stage_findings if f.status is Status.FAIL and f.slot}
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
    )


def _run_stage(ctx: StageContext, stage: Stage) -> list[Finding]:
    try:
        return stage.run(ctx)
    except Exception as exc:
        log.exception("stage %s crashed", stage.name)
        evidence = {"error": f"{type(exc).__name__}: {exc}", "crashed": True}
        out = []
        for rule_id in stage.rule_ids:
            slots = ctx.rules.rule(rule_id).slots
            for slot in [s for s in slots if s in ctx.uploads] if slots else [None]:
                out.append(ctx.finding(rule_id, Status.UNCERTAIN, slot, evidence))
        return out


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
    ids = set(upload.RULE_IDS)
    for stage in STAGES:
        ids.update(stage.rule_ids)
    try:
        from pipeline.issuance.gate import RULE_IDS as issuance_ids
    except ImportError:
        issuance_ids = ()
    return ids | set(issuance_ids)
