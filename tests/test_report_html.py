"""The per-case HTML report: a decision a clerk reads at a glance, evidence she can see on the page.

Reports are built by hand from the real rule set, with a real preview image in a tmp out_dir;
one test runs ``precheck review --out`` on a generated fixture case end to end.
"""

from __future__ import annotations

import html as htmllib
import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.intake.pages import Page
from pipeline.models import Case, Decision, Finding, Report, Status
from pipeline.pageviews import save_preview, to_page_box
from pipeline.report import render_html, write_report
from pipeline.ruleset import RuleSet, load_rule_set
from tests.casedata import case_dict

PAGE_W, PAGE_H = 1000, 1400  # page pixels of the hand-made upload


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rule_set()


@pytest.fixture()
def out_dir(tmp_path: Path) -> Path:
    """An out_dir holding one half-size preview of a 1000 × 1400 px application form page."""
    page = Page(0, np.full((PAGE_H, PAGE_W, 3), 235, np.uint8), 120.0, "metadata")
    save_preview(tmp_path, "application_form", page)
    return tmp_path


def preview(out_dir: Path, scale: float = 0.5) -> dict[str, object]:
    return {"page": 0, "path": "artifacts/pages/application_form-p1.jpg", "scale": scale,
            "width": round(PAGE_W * scale), "height": round(PAGE_H * scale), "page_size": [PAGE_W, PAGE_H]}


def report_of(findings: list[Finding], out_dir: Path | None = None, **extra: object) -> Report:
    uploads = {"application_form": {"file": "application_form.jpg", "size": 123456, "content_type": "jpeg",
                                    "pages": 1, "dpi": [120], "sha256": "ab" * 32}}
    if out_dir is not None:
        uploads["application_form"]["previews"] = [preview(out_dir)]
    statuses = {f.status for f in findings}
    decision = (Decision.REJECTED if Status.FAIL in statuses else
                Decision.NEEDS_REVIEW if Status.UNCERTAIN in statuses else Decision.APPROVED)
    fields: dict[str, object] = {"order_no": "00202611200000604", "decision": decision,
                                 "rule_set": load_rule_set().ref, "findings": findings,
                                 "reviewed_at": datetime(2026, 11, 20, 2, 30, tzinfo=UTC),
                                 "precheck_version": "0.1.0", "case_name": "demo-case", "uploads": uploads}
    fields.update(extra)
    return Report.model_validate(fields)


def marks(page: str) -> list[dict[str, str]]:
    """Each overlay box of the page: its classes, style, data-f and data-box attributes."""
    found = re.findall(r'<div class="mark ([^"]*)" style="([^"]*)" data-f="([^"]*)" data-box="([^"]*)"', page)
    return [{"class": c, "style": s, "f": f, "box": b} for c, s, f, b in found]


def row_id(page: str, rule: str) -> str:
    """The id of the (first) findings-table row of ``rule``."""
    for chunk in page.split('<tr class="finding')[1:]:
        chunk = chunk[:chunk.index("</tr>")]
        if f"<code>{rule}</code>" in chunk:
            return re.search(r'id="(f\d+)"', chunk).group(1)  # type: ignore[union-attr]
    raise AssertionError(f"no row for {rule}")


def test_the_banner_names_the_decision_order_organisation_submission_and_rule_set(rules: RuleSet) -> None:
    # Given a rejected report and its case
    case = Case.model_validate(case_dict())
    report = report_of([rules.finding("data.mobile", Status.FAIL, None, {"value": "123"})])
    # When it is rendered
    page = render_html(report, rules, case)
    start = page.index('<section class="banner')
    banner = page[start:page.index("</section>", start)]
    # Then the banner carries the decision and every identifying line
    assert "不通过（退回申请人）" in banner and "d-rejected" in banner
    assert "00202611200000604" in banner and htmllib.escape(case.org.name) in banner
    assert "申请单位" in banner and "2026-11-20 10:15:00（北京时间）" in banner  # submitted_at of case_dict()
    assert rules.id in banner and f"版本 {rules.version}" in banner and rules.sha256 in banner
    assert "2026-11-20 10:30:00（北京时间）" in banner and "0.1.0" in banner


def test_each_failing_message_is_listed_once_for_the_applicant_and_uncertain_ones_for_the_clerk(
        rules: RuleSet) -> None:
    report = report_of([
        rules.finding("data.mobile", Status.FAIL, None, {"value": "123"}),
        rules.finding("data.mobile", Status.FAIL, None, {"value": "123"}),
        rules.finding("seal.present", Status.FAIL, "application_form", {"seals": []}),
        rules.finding("seal.position", Status.UNCERTAIN, "application_form", {"label": "申请机构盖章"}),
        rules.finding("data.email", Status.PASS, None, {"value": "a@b.cn"}),
    ])
    page = render_html(report, rules)
    block = page[page.index('id="to-applicant"'):page.index("</section>", page.index('id="to-applicant"'))]
    fail_mobile, fail_seal = report.findings[0].message, report.findings[2].message
    copy_text = re.search(r'<textarea id="applicant-text"[^>]*>(.*?)</textarea>', block, re.S)
    assert copy_text is not None
    assert copy_text.group(1).count(htmllib.escape(fail_mobile)) == 1
    assert f"1. {htmllib.escape(fail_mobile)}" in copy_text.group(1)
    assert f"2. {htmllib.escape(fail_seal)}" in copy_text.group(1)
    assert report.findings[3].message not in block and report.findings[4].message not in block
    clerk = page[page.index('id="to-clerk"'):page.index("</section>", page.index('id="to-clerk"'))]
    assert htmllib.escape(report.findings[3].message) in clerk


def test_an_approved_report_asks_nothing_of_the_applicant(rules: RuleSet) -> None:
    page = render_html(report_of([rules.finding("data.email", Status.PASS, None, {"value": "a@b.cn"})]), rules)
    assert "d-approved" in page and 'id="to-applicant"' not in page and 'id="to-clerk"' not in page


def test_an_evidence_box_is_drawn_on_the_preview_scaled_to_the_preview_and_linked_to_its_row(
        rules: RuleSet, out_dir: Path) -> None:
    # Given a barcode found at (100, 200)-(300, 260) page px on the first page, previewed at half size
    finding = rules.finding("barcode.order_no", Status.PASS, "application_form",
                            {"decoded": "00202611200000604", "page": 0, "bbox": [100, 200, 300, 260],
                             "crop": "artifacts/barcode_application_form_p1.png"})
    page = render_html(report_of([finding], out_dir), rules)
    # Then one box sits there in preview pixels and in percent of the page, labelled with the rule
    (mark,) = marks(page)
    assert mark["box"] == "50 100 150 130"
    assert "left: 10.000%; top: 14.286%; width: 20.000%; height: 4.286%" in mark["style"]
    assert "st-pass" in mark["class"]
    assert mark["f"] == row_id(page, "barcode.order_no")
    assert '<span class="tag">barcode.order_no</span>' in page
    assert 'src="artifacts/pages/application_form-p1.jpg"' in page
    assert (out_dir / "artifacts/pages/application_form-p1.jpg").exists()


def test_one_seal_judged_by_three_rules_is_one_box_in_the_colour_of_the_worst_verdict(
        rules: RuleSet, out_dir: Path) -> None:
    seal = {"page": 0, "bbox": [600, 900, 840, 1140]}
    report = report_of([
        rules.finding("seal.present", Status.PASS, "application_form", {"seals": [{**seal, "colour": "red"}]}),
        rules.finding("seal.org_name", Status.FAIL, "application_form", {"seals": [seal], "bbox": seal["bbox"]}),
        rules.finding("seal.position", Status.UNCERTAIN, "application_form",
                      {"label": "申请机构盖章", "label_page": 0, "label_box": [100, 1000, 300, 1040],
                       "seals": [seal]}),
    ], out_dir)
    page = render_html(report, rules)
    found = [m for m in marks(page) if "k-found" in m["class"]]
    labels = [m for m in marks(page) if "k-label" in m["class"]]
    assert len(found) == 1 and "st-fail" in found[0]["class"] and found[0]["box"] == "300 450 420 570"
    assert set(found[0]["f"].split()) == {row_id(page, r) for r in ("seal.present", "seal.org_name", "seal.position")}
    assert len(labels) == 1 and labels[0]["box"] == "50 500 150 520"
    assert '<span class="tag">seal.org_name · seal.position · seal.present</span>' in page  # worst first


def test_each_matched_field_gets_its_own_box_in_the_colour_of_its_own_verdict(rules: RuleSet, out_dir: Path) -> None:
    fields = [{"field": "user.name", "status": "pass", "entered": "张伟", "read": "张伟", "page": 0,
               "box": [200, 300, 260, 330]},
              {"field": "user.id_number", "status": "fail", "entered": "210102198503150152",
               "read": "210102198503150161", "page": 0, "box": [400, 300, 700, 330]}]
    finding = rules.finding("ocr.user", Status.FAIL, "application_form", {"fields": fields})
    page = render_html(report_of([finding], out_dir), rules)
    by_box = {m["box"]: m["class"] for m in marks(page)}
    assert "st-pass" in by_box["100 150 130 165"] and "st-fail" in by_box["200 150 350 165"]
    assert "ocr.user · user.id_number" in page  # the tooltip names the field


def test_a_field_read_on_the_extra_upload_is_drawn_on_that_upload_not_on_the_form(rules: RuleSet,
                                                                                   out_dir: Path) -> None:
    # the employee's name printed on page 2 of the form, uploaded as application_form_extra
    finding = rules.finding("ocr.user", Status.PASS, "application_form",
                            {"fields": [{"field": "user.name", "slot": "application_form_extra", "page": 0,
                                         "box": [200, 300, 260, 330]}]})
    report = report_of([finding], out_dir)
    extra = dict(report.uploads["application_form"])
    report.uploads["application_form_extra"] = {**extra, "file": "application_form_extra.jpg"}
    report.uploads["application_form"] = {k: v for k, v in extra.items() if k != "previews"}
    page = render_html(report, rules)
    extra_section = page[page.index('id="slot-application_form_extra"'):]
    form_section = page[page.index('id="slot-application_form"'):page.index('id="slot-application_form_extra"')]
    assert [m["box"] for m in marks(extra_section)] == ["100 150 130 165"] and marks(form_section) == []
    assert marks(extra_section)[0]["f"] == row_id(form_section, "ocr.user") and "图中已标出" in form_section


def test_a_box_read_on_the_upright_page_is_turned_back_onto_the_page_as_uploaded(rules: RuleSet,
                                                                                 out_dir: Path) -> None:
    # a page turned 90° clockwise to read it is 1400 wide and 1000 high; a box at its top left ...
    assert to_page_box((0, 0, 100, 50), 90, PAGE_W, PAGE_H) == (0, 1300, 50, 1400)
    assert to_page_box((0, 0, 100, 50), 180, PAGE_W, PAGE_H) == (900, 1350, 1000, 1400)
    assert to_page_box((0, 0, 100, 50), 270, PAGE_W, PAGE_H) == (950, 0, 1000, 100)
    finding = rules.finding("ocr.user", Status.PASS, "application_form",
                            {"fields": [{"field": "user.name", "page": 0, "rotation": 90, "box": [0, 0, 100, 50]}]})
    (mark,) = marks(render_html(report_of([finding], out_dir), rules))
    assert mark["box"] == "0 650 25 700"


def test_a_box_without_a_page_or_off_the_page_is_not_drawn_anywhere(rules: RuleSet, out_dir: Path) -> None:
    report = report_of([
        rules.finding("ocr.user", Status.PASS, "application_form", {"fields": [{"box": [10, 10, 50, 50]}]}),
        rules.finding("barcode.order_no", Status.PASS, "application_form", {"page": 1, "bbox": [10, 10, 50, 50]}),
        rules.finding("seal.present", Status.PASS, "application_form",
                      {"seals": [{"page": 0, "bbox": [5000, 5000, 5100, 5100]}]}),
    ], out_dir)
    page = render_html(report, rules)
    assert marks(page) == [] and "图中已标出" not in page


def test_messages_and_evidence_from_a_review_are_escaped(rules: RuleSet, out_dir: Path) -> None:
    hostile = Finding(rule="ocr.org_name", slot="application_form", status=Status.FAIL,
                      message='单位名称为<script>alert("x")</script>', evidence={
                          "read": "<img src=x onerror=alert(1)>", "<b>key</b>": ["<i>", 1],
                          "fields": [{"field": "org.name", "label": "</table><script>", "page": 0,
                                      "box": [1, 1, 50, 50]}]})
    page = render_html(report_of([hostile], out_dir), rules)
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<b>key</b>" not in page and "</table><script>" not in page
    assert page.count("<script>") == 1  # only the report's own


def test_the_page_needs_no_network_and_never_links_a_url_from_evidence(rules: RuleSet, out_dir: Path) -> None:
    finding = rules.finding("barcode.order_no", Status.UNCERTAIN, "application_form",
                            {"crop": "https://example.com/x.png", "page_image": "../../etc/passwd.png",
                             "page": 0, "bbox": [1, 1, 9, 9]})
    page = render_html(report_of([finding], out_dir), rules)
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert not re.search(r'(src|href)="\.\./', page)
    assert "@import" not in page and "@font-face" not in page
    clean = render_html(report_of([rules.finding("data.email", Status.PASS, None, {"value": "a@b.cn"})], out_dir),
                        rules)
    assert "http://" not in clean and "https://" not in clean


def test_nested_evidence_is_shown_as_small_tables_and_crops_as_thumbnails(rules: RuleSet, out_dir: Path) -> None:
    finding = rules.finding("seal.present", Status.PASS, "application_form", {
        "seals": [{"page": 0, "bbox": [600, 900, 840, 1140], "colour": "red", "score": 0.97,
                   "crop": "artifacts/seal_application_form_p0_0.png"},
                  {"page": 0, "bbox": [100, 100, 300, 300], "colour": "grey", "score": 0.5}],
        "reads": {"text": "沈阳示例科技有限公司", "confidence": 0.93}, "authority": False})
    page = render_html(report_of([finding], out_dir), rules)
    assert '<table class="grid">' in page and '<table class="kv">' in page
    assert "{'" not in page and "[{" not in page and "False" not in page
    assert '<img src="artifacts/seal_application_form_p0_0.png"' in page
    assert "[600, 900, 840, 1140]" in page and ">否<" in page.replace("\n", "")


def test_slots_follow_the_rule_set_case_level_findings_stand_apart_and_skipped_ones_are_muted(
        rules: RuleSet, out_dir: Path) -> None:
    report = report_of([
        rules.finding("data.uscc", Status.FAIL, None, {"value": "9121"}),
        rules.finding("upload.missing", Status.FAIL, "employee_id"),
        rules.finding("doc.kind", Status.SKIPPED, "employee_id"),
        rules.finding("upload.missing", Status.PASS, "application_form", {"file": "application_form.jpg"}),
    ], out_dir)
    page = render_html(report, rules)
    order = [page.index(f'id="slot-{s}"') for s in ("application_form", "employee_id")]
    assert order == sorted(order) and page.index('id="case-level"') > order[-1]
    assert 'id="slot-seal_form"' not in page  # no upload, no finding: nothing to show
    assert rules.slot_title("employee_id") in page and "未上传" in page
    case_level = page[page.index('id="case-level"'):]
    assert "data.uscc" in case_level and "upload.missing" not in case_level
    assert re.search(r'<tr class="finding st-skipped"[^>]*>\s*<td class="c-st">', page)


def test_write_report_puts_json_and_html_side_by_side(rules: RuleSet, out_dir: Path) -> None:
    report = report_of([rules.finding("data.email", Status.PASS, None, {"value": "a@b.cn"})], out_dir)
    json_path, html_path = write_report(report, rules, out_dir)
    assert json.loads(json_path.read_text(encoding="utf-8"))["order_no"] == report.order_no
    assert html_path.parent == json_path.parent and "预审报告" in html_path.read_text(encoding="utf-8")


def test_a_preview_is_a_jpeg_at_most_1400_px_long_with_its_scale_recorded(tmp_path: Path) -> None:
    page = Page(1, np.full((3508, 2480, 3), 200, np.uint8), 300.0, "pdf-render")
    info = save_preview(tmp_path, "seal_form", page)
    image = cv2.imread(str(tmp_path / str(info["path"])))
    assert info["page"] == 1 and info["path"] == "artifacts/pages/seal_form-p2.jpg"
    assert image is not None and image.shape[:2] == (1400, 990) and (info["width"], info["height"]) == (990, 1400)
    assert info["scale"] == pytest.approx(990 / 2480, abs=1e-6) and info["page_size"] == [2480, 3508]


def test_precheck_review_out_saves_page_previews_and_the_html_outlines_each_seal_on_its_page(tmp_path: Path) -> None:
    # Given a generated two-page PDF application form, alone in its case folder (kept small: fast)
    from fixtures.scans.generate import generate_all

    (folder,) = generate_all(tmp_path / "cases", only=["clean_dalian_pdf_200"])
    for upload in (folder / "uploads").iterdir():
        if not upload.name.startswith("application_form."):
            upload.unlink()
    # When it is reviewed with --out
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "pipeline", "review", str(folder), "--out", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr  # the other required documents are missing
    # Then each page has a preview on disk, recorded in the report, shown in the HTML
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    previews = report["uploads"]["application_form"]["previews"]
    assert [p["page"] for p in previews] == [0, 1]
    page = (out / "report.html").read_text(encoding="utf-8")
    for p in previews:
        image = cv2.imread(str(out / p["path"]))
        assert image is not None and max(image.shape[:2]) <= 1400
        assert image.shape[1] == p["width"] and p["scale"] == pytest.approx(p["width"] / p["page_size"][0], abs=1e-4)
        assert f'src="{p["path"]}"' in page
    # and each seal the review found is outlined on its own page, linked to its finding's row
    present = next(f for f in report["findings"]
                   if f["rule"] == "seal.present" and f["slot"] == "application_form")
    row = f'f{report["findings"].index(present)}'
    figures = {int(m.group(1)): m.group(2) for m in
               re.finditer(r'<figure class="page[^"]*" data-page="(\d+)">(.*?)</figure>', page, re.S)}
    assert len(present["evidence"]["seals"]) == 2  # one stamped on each page of the form
    for seal in present["evidence"]["seals"]:
        scale = previews[seal["page"]]["scale"]
        box = " ".join(str(round(v * scale)) for v in seal["bbox"])
        assert any(m["box"] == box and row in m["f"].split() for m in marks(figures[seal["page"]]))
    assert "http://" not in page and "https://" not in page
