"""Writing a report: the contract's JSON, and an HTML page a clerk can open with no network."""

from __future__ import annotations

import json
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from pipeline.models import Decision, Report, Status
from pipeline.ruleset import RuleSet

DECISION_ZH = {
    Decision.APPROVED: "通过",
    Decision.REJECTED: "不通过（退回申请人）",
    Decision.NEEDS_REVIEW: "需人工复核",
}
STATUS_ZH = {Status.PASS: "通过", Status.FAIL: "不通过", Status.UNCERTAIN: "需复核", Status.SKIPPED: "未检查"}
_STATUS_ORDER = {Status.FAIL: 0, Status.UNCERTAIN: 1, Status.SKIPPED: 2, Status.PASS: 3}

_env = Environment(loader=PackageLoader("pipeline", "templates"), autoescape=select_autoescape(["html"]))


def report_json(report: Report) -> str:
    """The report of CONTRACT §4 as one line of JSON (non-ASCII kept readable)."""
    return json.dumps(report.model_dump(mode="json"), ensure_ascii=False)


def render_html(report: Report, rules: RuleSet) -> str:
    findings = sorted(report.findings, key=lambda f: (_STATUS_ORDER[f.status], f.slot or "", f.rule))
    return _env.get_template("report.html").render(
        report=report,
        findings=findings,
        decision_zh=DECISION_ZH[report.decision],
        status_zh=STATUS_ZH,
        rules=rules,
        image_keys=("crop", "page_image"),
    )


def write_report(report: Report, rules: RuleSet, out_dir: Path) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.html`` into ``out_dir`` (evidence images sit beside them)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "report.json"
    html_path = out_dir / "report.html"
    json_path.write_text(
        json.dumps(report.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    html_path.write_text(render_html(report, rules), encoding="utf-8")
    return json_path, html_path
