"""Writing a report: the contract's JSON, and an HTML page a clerk and an auditor trust at a glance.

The HTML is one self-contained file (inline CSS and a few lines of JS, no network, no web fonts)
beside its evidence images: a decision banner, the messages to send the applicant, then each
slot's pages with every located piece of evidence outlined in its status colour and the slot's
findings under them. Everything from the review is escaped (autoescape); image paths are only
used when they point into the report's own ``artifacts/`` folder.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from pipeline.models import Case, Decision, Finding, Report, Status
from pipeline.pageviews import Mark, locate, to_page_box
from pipeline.ruleset import RuleSet

DECISION_ZH = {
    Decision.APPROVED: "通过",
    Decision.REJECTED: "不通过（退回申请人）",
    Decision.NEEDS_REVIEW: "需人工复核",
}
STATUS_ZH = {Status.PASS: "通过", Status.FAIL: "不通过", Status.UNCERTAIN: "需复核", Status.SKIPPED: "未检查"}
_STATUS_ORDER = {Status.FAIL: 0, Status.UNCERTAIN: 1, Status.SKIPPED: 2, Status.PASS: 3}
#: The office's clock (China has no daylight saving time).
BEIJING = timezone(timedelta(hours=8), "北京时间")
#: Evidence keys a clerk reads more easily in Chinese (the key itself stays in a tooltip).
KEY_ZH = {
    "decoded": "识别结果", "order_no": "业务单号", "reader": "识别器", "readers": "识别器", "page": "页序号",
    "bbox": "位置", "box": "位置", "crop": "截图", "strip": "印章文字展开图", "regions": "条码区域",
    "reason": "原因", "reads": "识别",
    "seals": "印章", "pages": "页数", "colour": "颜色", "score": "得分", "centre": "中心",
    "diameter_mm": "直径(mm)", "entered": "填写值", "read": "识别值", "field": "字段", "fields": "各字段",
    "status": "结果", "confidence": "置信度", "label": "标签", "label_box": "标签位置", "label_page": "标签页序号",
    "distance_mm": "距离(mm)", "how": "读取方式", "engine": "OCR 引擎", "expected": "应为", "kind": "识别为",
    "looks_like": "看起来像", "words": "关键词", "runner_up": "次选", "submitted": "提交日期",
    "period": "期限", "valid_until": "有效至", "file": "文件", "size": "大小(字节)", "detected_type": "检测类型",
    "extension": "扩展名", "expected_type": "应为类型", "max_bytes": "上限(字节)", "dpi": "分辨率(dpi)",
    "dpi_source": "分辨率来源", "value": "值", "person": "人员", "birth_date": "出生日期", "problems": "问题",
    "problem": "问题", "sharpness": "清晰度", "contrast": "对比度", "paper": "纸面亮度",
    "text_height_px": "字高(px)", "error": "错误", "crashed": "检查出错", "authority": "登记机关章",
    "chroma": "色彩量",
    "text": "文字", "moire": "摩尔纹", "peak_ratio": "峰值比", "tile_share": "区域占比", "amplitude": "幅度(灰度级)",
    "check_digit_valid": "校验位有效", "repaired": "经纠错", "found_outside_label": "在标签外找到",
    "second_opinion": "第二引擎复核", "slot": "材料", "rotation": "旋转(度)", "visible_fraction": "可见比例",
    "ring_coverage": "环覆盖率", "inner_red_fraction": "内部红色占比", "sha256": "sha256",
    "org": "单位", "payer": "付款单位", "reread": "重读", "detail": "说明", "variant": "读取方式",
    "label_found": "找到标签", "editor": "编辑软件", "metadata_key": "元数据项", "metadata_value": "元数据值",
    "reason_zh": "原因", "method": "付款方式", "payment_status": "付款状态", "warnings": "提示",
    "source": "来源", "decision": "结论", "required": "必需",
    "reused_from": "沿用此前审核的结果", "review_key": "审核编号", "reviewed_at": "审核时间",
    "same_seal_as": "与其他材料上确认的公章为同一枚（图像比对）", "correlation": "图像相关度",
    "lowest_sector": "最不相似扇区相关度", "sectors": "比较扇区数", "turn_deg": "相对旋转(度)", "scale": "缩放",
    "read_reason": "本材料自身识别结论", "read_by": "已通过的识别检查", "lowest_dpi": "最低分辨率(dpi)",
    "second_reader": "由第二识别器读出名称（首次识别不确定之处）",
    "impression": "识别出名称的印迹", "radius": "半径(px)",
    "chars": "各字置信度", "name_probabilities": "各字置信度", "confirmed_by": "由另一印迹确认",
    "seal_lines": "印章五角星下的文字", "seal_line": "印章五角星下的文字", "line": "文字",
    "placed": "印章放置方式", "visible_chars": "页面自带文字数", "images": "页面图片数",
}
_ARTIFACT = re.compile(r"^artifacts/(?!.*\.\.)[A-Za-z0-9_./-]+\.(?:png|jpe?g)$")

_env = Environment(loader=PackageLoader("pipeline", "templates"), autoescape=select_autoescape(["html"]),
                   trim_blocks=True, lstrip_blocks=True)


def _columns(items: list[dict[str, Any]]) -> list[str]:
    """The keys of a list of dicts, in first-seen order: the columns of its evidence table."""
    return list(dict.fromkeys(k for item in items for k in item))


def _is_grid(value: Any) -> bool:
    """A non-empty list of dicts: shown as a table with one row per item."""
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _is_texts(value: Any) -> bool:
    """A list of plain strings (no image paths): shown on one line."""
    return isinstance(value, list) and all(isinstance(v, str) and not is_artifact_image(v) for v in value)


_env.globals.update(columns=_columns, is_grid=_is_grid, is_texts=_is_texts, status_values={s.value for s in Status})


def report_json(report: Report) -> str:
    """The report of CONTRACT §4 as one line of JSON (non-ASCII kept readable)."""
    return json.dumps(report.model_dump(mode="json"), ensure_ascii=False)


@dataclass
class Overlay:
    """One outlined box on a preview: one or more findings' marks at the same place."""

    left: float  # percent of the preview
    top: float
    width: float
    height: float
    box: tuple[int, int, int, int]  # preview pixels
    status: Status
    kind: str
    findings: list[str] = field(default_factory=list)  # row ids, e.g. "f12"
    rules: list[str] = field(default_factory=list)  # the tag on the box, worst verdict first
    ranked: list[tuple[int, str]] = field(default_factory=list)  # (status order, rule) of each mark
    labels: list[str] = field(default_factory=list)  # "rule · field" lines of its tooltip


@dataclass
class PageView:
    page: int
    path: str
    width: int
    height: int
    overlays: list[Overlay]


@dataclass
class Row:
    """One finding as a table row."""

    id: str
    finding: Finding
    title: str
    located: bool  # has a box drawn on a preview


@dataclass
class SlotView:
    slot: str
    title: str
    upload: dict[str, Any] | None
    pages: list[PageView]
    rows: list[Row]
    worst: Status | None


def render_html(report: Report, rules: RuleSet, case: Case | None = None) -> str:
    """The report as one HTML page; ``case`` (optional) adds the organisation and submission date."""
    return _env.get_template("report.html").render(**view_context(report, rules, case))


def view_context(report: Report, rules: RuleSet, case: Case | None = None) -> dict[str, Any]:
    """What the report's templates draw from (``report_parts.html``): each slot's pages with the evidence
    placed over them, the findings as rows, the messages. The web console's case page uses it too."""
    marks = locate(report.findings)
    return dict(
        report=report,
        decision_zh=DECISION_ZH[report.decision],
        status_zh=STATUS_ZH,
        counts={s: sum(1 for f in report.findings if f.status is s) for s in Status},
        meta=_meta(report, case),
        to_applicant=applicant_messages(report),
        to_clerk=_clerk_items(report, rules),
        slots=_slot_views(report, rules, marks),
        case_rows=_rows(report, rules, [i for i, f in enumerate(report.findings) if f.slot is None], set()),
        key_zh=KEY_ZH,
        is_image=is_artifact_image,
        columns=_columns, is_grid=_is_grid, is_texts=_is_texts, status_values={s.value for s in Status},
    )


def applicant_messages(report: Report) -> list[str]:
    """The Chinese sentences of the failing findings, each once: what the applicant is told."""
    return _messages(report.findings, Status.FAIL)


def write_report(report: Report, rules: RuleSet, out_dir: Path, case: Case | None = None) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.html`` into ``out_dir`` (evidence images sit beside them)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "report.json"
    html_path = out_dir / "report.html"
    json_path.write_text(
        json.dumps(report.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    html_path.write_text(render_html(report, rules, case), encoding="utf-8")
    return json_path, html_path


def is_artifact_image(value: Any) -> bool:
    """A relative path into the report's own artifacts folder (never a URL, never ``..``)."""
    return isinstance(value, str) and _ARTIFACT.match(value) is not None


# ---------------------------------------------------------------------------- building the view


def _meta(report: Report, case: Case | None) -> list[tuple[str, str, str]]:
    """(label, value, css class) lines under the banner."""
    org = case.org.name if case else getattr(report, "org_name", None)
    submitted = case.submitted_at if case else getattr(report, "submitted_at", None)
    rows = [("业务单号", report.order_no, "mono")]
    if org:
        rows.append(("申请单位", str(org), ""))
    if isinstance(submitted, datetime):
        rows.append(("提交时间", _when(submitted), ""))
    if report.case_name:
        rows.append(("案卷", report.case_name, "mono"))
    rows.append(("规则集", f"{report.rule_set.id} · 版本 {report.rule_set.version}", "mono"))
    rows.append(("规则集 sha256", report.rule_set.sha256, "mono hash"))
    if report.reviewed_at:
        rows.append(("审核时间", _when(report.reviewed_at), ""))
    if report.precheck_version:
        rows.append(("precheck 版本", report.precheck_version, "mono"))
    return rows


def _when(moment: datetime) -> str:
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S（北京时间）")


def _messages(findings: list[Finding], status: Status) -> list[str]:
    """The Chinese messages of findings with ``status``, each once, in report order."""
    return list(dict.fromkeys(f.message for f in findings if f.status is status and f.message))


def _clerk_items(report: Report, rules: RuleSet) -> list[tuple[str, str, str]]:
    """(row id, where, message) of each uncertain finding: what a person must look at."""
    return [(f"f{i}", rules.slot_title(f.slot) if f.slot else "申请信息", f.message)
            for i, f in enumerate(report.findings) if f.status is Status.UNCERTAIN]


def _rule_order(rules: RuleSet) -> dict[str, int]:
    return {rid: n for n, rid in enumerate(rules.rules)}


def _rows(report: Report, rules: RuleSet, indices: list[int], located: set[int]) -> list[Row]:
    order = _rule_order(rules)
    indices = sorted(indices, key=lambda i: (_STATUS_ORDER[report.findings[i].status],
                                             order.get(report.findings[i].rule, len(order)), i))
    out = []
    for i in indices:
        f = report.findings[i]
        title = rules.rules[f.rule].title if f.rule in rules.rules else ""
        out.append(Row(f"f{i}", f, title, i in located))
    return out


def _slot_views(report: Report, rules: RuleSet, marks: list[Mark]) -> list[SlotView]:
    by_slot: dict[str, list[int]] = {}
    for i, f in enumerate(report.findings):
        if f.slot is not None:
            by_slot.setdefault(f.slot, []).append(i)
    names = list(rules.slots) + sorted((set(by_slot) | set(report.uploads)) - set(rules.slots))
    shown = [s for s in names if s in report.uploads or s in by_slot]  # not an optional slot nobody used
    pages = {s: _pages(report.uploads.get(s), [m for m in marks if m.slot == s]) for s in shown}
    # a form's field may be drawn on its _extra upload: "located" counts boxes on any slot's pages
    drawn = {int(fid[1:]) for ps in pages.values() for p in ps for o in p.overlays for fid in o.findings}
    views = []
    for slot in shown:
        rows = _rows(report, rules, by_slot.get(slot, []), drawn)
        statuses = [r.finding.status for r in rows]
        worst = min(statuses, key=lambda s: _STATUS_ORDER[s]) if statuses else None
        views.append(SlotView(slot, rules.slot_title(slot) or slot, report.uploads.get(slot), pages[slot], rows,
                              worst))
    return views


def _pages(upload: dict[str, Any] | None, marks: list[Mark]) -> list[PageView]:
    if not upload:
        return []
    out = []
    for p in upload.get("previews") or []:
        try:
            number, path, scale = int(p["page"]), str(p["path"]), float(p["scale"])
            width, height = int(p["width"]), int(p["height"])
            page_w, page_h = (float(v) for v in p["page_size"])
        except (KeyError, TypeError, ValueError):
            continue
        if not is_artifact_image(path) or scale <= 0 or width <= 0 or height <= 0:
            continue
        overlays = _overlays([m for m in marks if m.page == number], scale, width, height, page_w, page_h)
        out.append(PageView(number, path, width, height, overlays))
    return out


def _overlays(marks: list[Mark], scale: float, width: int, height: int,
              page_w: float, page_h: float) -> list[Overlay]:
    """Marks at the same place merge into one box (a seal found by three rules is one seal)."""
    merged: dict[tuple[int, int, int, int, str], Overlay] = {}
    for m in marks:
        x0, y0, x1, y1 = to_page_box(m.box, m.rotation, page_w, page_h, m.skew)
        x0, y0, x1, y1 = max(0.0, x0), max(0.0, y0), min(page_w, x1), min(page_h, y1)
        if x1 <= x0 or y1 <= y0:
            continue  # off the page: a box for another page size; never draw it somewhere wrong
        box = (round(x0 * scale), round(y0 * scale), round(x1 * scale), round(y1 * scale))
        key = (*box, m.kind)
        o = merged.get(key)
        if o is None:
            o = merged[key] = Overlay(100 * x0 / page_w, 100 * y0 / page_h, 100 * (x1 - x0) / page_w,
                                      100 * (y1 - y0) / page_h, box, m.status, m.kind)
        elif _STATUS_ORDER[m.status] < _STATUS_ORDER[o.status]:
            o.status = m.status
        fid = f"f{m.finding}"
        if fid not in o.findings:
            o.findings.append(fid)
        o.ranked.append((_STATUS_ORDER[m.status], m.rule))
        label = f"{m.rule} · {m.label}" if m.label else m.rule
        if label not in o.labels:
            o.labels.append(label)
    for o in merged.values():  # the tag names the rule that gave the box its colour first
        o.rules = list(dict.fromkeys(rule for _, rule in sorted(o.ranked, key=lambda t: t[0])))
    # big boxes first, so a small field inside a big region stays clickable on top
    return sorted(merged.values(), key=lambda o: -(o.width * o.height))
