"""Reading documents precheck has never seen (issue 11): a different name never passes, a clear
different value fails only when a second reading agrees, implausible reads stay uncertain, the
employee table is found by its headings wherever it stands, and no page is declared unread
before the slow path has read it whole."""

from __future__ import annotations

import re
from datetime import date
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np
import pytest
from email_validator import validate_email
from PIL import Image, ImageDraw, ImageFont
from stdnum.cn import uscc

from fixtures.scans.nearmiss import ENTRY_FIELDS, ENTRY_KINDS, ENTRY_RULES, RULES, make_near_miss, mutate_entry
from pipeline.forms.render import render_forms
from pipeline.identifiers import resident_id_problem
from pipeline.models import Case, Status
from pipeline.reading.compare import Thresholds, judge_exact, judge_name
from pipeline.reading.documents import read_upload, table_rows
from pipeline.reading.matching import shows_name
from pipeline.reading.ocr import OcrEngine, TextBox, get_engine
from pipeline.reading.page import ReadOptions, Value
from pipeline.review import review_case
from pipeline.ruleset import load_rule_set
from pipeline.stages.fields import ApplyDateTuning, judge_unlikely_date
from tests.casedata import BASE_CASE, make_ric
from tests.fields_samples import pdf_pages

NOTO = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
COLUMNS = {"name": ["姓名"], "id_number": ["身份证号码", "身份证号"], "email": ["电子邮件"], "business": ["业务类型"]}


def _value(text: str, confidence: float = 0.99) -> Value:
    return Value(text, (0, 0, 100, 20), confidence, "姓名", "right")


# ------------------------------------------------------------------ names: exact or not at all
@pytest.mark.parametrize("read", ["沈阳示范科技有限公司", "沈阳示例科技限公司", "沈阳示例科技有限公司大连分公司",
                                  "沈阳示例技科有限公司", "沈阳示例新科技有限公司"])
def test_a_name_one_character_away_never_passes(read: str) -> None:
    for confidence in (0.5, 0.9, 0.999):
        verdict = judge_name("org.name", "沈阳示例科技有限公司", _value(read, confidence), Thresholds())
        assert verdict.status is not Status.PASS, (read, confidence)


def test_a_near_miss_read_with_high_confidence_is_a_fail_candidate_and_with_low_confidence_uncertain() -> None:
    clear = judge_name("handler.name", "高海峰", _value("高海锋", 0.99), Thresholds())
    vague = judge_name("handler.name", "高海峰", _value("高海锋", 0.7), Thresholds())
    assert (clear.status, clear.notes.get("near_miss")) == (Status.FAIL, True)
    assert vague.status is Status.UNCERTAIN


def test_a_two_character_name_one_character_off_is_a_near_miss_not_another_name() -> None:
    # one character of two is half the score, as low as another name; it is still a near miss: it fails
    # only when read clearly (and confirmed by a second engine in the fields stage), else a clerk looks
    th = Thresholds(fail_score=50.0)
    clear = judge_name("handler.name", "王赟", _value("王赞", 0.99), th)
    vague = judge_name("handler.name", "王赟", _value("王赞", 0.87), th)
    assert (clear.status, clear.notes.get("near_miss")) == (Status.FAIL, True)
    assert vague.status is Status.UNCERTAIN
    assert judge_name("handler.name", "王赟", _value("李强", 0.87), th).status is Status.FAIL  # another name


def test_the_entered_name_shown_exactly_passes_with_brackets_of_either_width_and_its_label_before_it() -> None:
    assert judge_name("org.name", "大连海湾物流（集团）有限公司", _value("大连海湾物流(集团)有限公司"),
                      Thresholds()).status is Status.PASS
    assert shows_name("张伟", "姓名：张伟")
    assert not shows_name("张伟", "张伟华") and not shows_name("张伟", "李张伟")


# ------------------------------------------------------------------ plausibility before fail
def test_a_date_after_the_submission_is_uncertain_never_a_different_date() -> None:
    verdict = judge_exact("auth.issue_date", "2026 年 01 月 17 日", _value("2028年1月17日"), Thresholds(), "date",
                          latest=date(2026, 1, 20))
    assert verdict.status is Status.UNCERTAIN and verdict.notes["reason"] == "implausible date"


@pytest.mark.parametrize(("dates", "status"), [
    ([date(2026, 1, 30), date(2026, 1, 30)], Status.FAIL),       # read alike twice, surely: out of date
    ([date(2026, 1, 30), date(2026, 11, 30)], Status.PASS),      # the reread shows a date the form may carry
    ([date(2026, 1, 30), date(2025, 11, 30)], Status.UNCERTAIN),  # read two ways, both too old
    ([date(2026, 1, 30)], Status.UNCERTAIN),                     # the reread shows no date
    ([date(2028, 1, 17), date(2028, 1, 17)], Status.UNCERTAIN),  # after the submission, read alike
    ([date(2028, 1, 17), date(2026, 11, 17)], Status.PASS),      # … one reading a misread of the other
])
def test_an_unlikely_apply_date_fails_only_when_too_old_and_read_alike_and_read_two_ways_is_judged_unread(
        dates: list[date], status: Status) -> None:
    # a hand-written 申请日期 2026年11月30日 read 2026年1月30日 at 0.97 on the page, 11月 on the reread
    submitted = date(2026, 12, 2)
    got, reason = judge_unlikely_date(dates[0], 0.97, dates, submitted, ApplyDateTuning(unread_status="pass"))
    assert got is status and (reason == "read two ways") == (status is Status.PASS)
    # an unsettled date follows the rule set's choice for an unread one
    strict, _ = judge_unlikely_date(dates[0], 0.97, dates, submitted, ApplyDateTuning(unread_status="uncertain"))
    assert strict is (Status.UNCERTAIN if status is Status.PASS else status)
    # a date too old read alike but unsurely is not clearly read
    assert judge_unlikely_date(date(2026, 1, 30), 0.6, [date(2026, 1, 30)] * 2, submitted,
                               ApplyDateTuning())[0] is Status.UNCERTAIN


@pytest.mark.parametrize("read", ["口更新,年限", "周雪梅，周雪", "姓名:业务类型", "使", "李，"])
def test_a_read_no_name_is_written_like_is_uncertain_never_another_name(read: str) -> None:
    # a table cell taken from the wrong column or running over two cells (a tick box read 口, a
    # list's comma, a label's colon), or a lone character (a watermark's glyph beside the label),
    # read surely: the document shows no other name
    verdict = judge_name("user.name", "那日苏", _value(read, 0.99), Thresholds())
    assert verdict.status is Status.UNCERTAIN and verdict.notes["reason"] == "implausible name"


def test_marks_at_the_ends_of_a_read_name_are_the_cells_edge() -> None:
    # another name with the cell's comma after it is still another name, clearly read
    assert judge_name("user.name", "那日苏", _value("李强，", 0.9), Thresholds()).status is Status.FAIL
    assert judge_name("user.name", "那日苏", _value("那日苏，", 0.9), Thresholds()).status is Status.PASS


def test_a_mobile_number_one_digit_short_is_uncertain_and_one_digit_changed_fails() -> None:
    short = judge_exact("handler.mobile", "15599947401", _value("1559994740"), Thresholds(), "phone")
    other = judge_exact("handler.mobile", "15599947401", _value("15599947402"), Thresholds(), "phone")
    assert (short.status, other.status) == (Status.UNCERTAIN, Status.FAIL)


@pytest.mark.parametrize(("read", "passes"), [
    ("wujiaqiehuaxin-zn.com", True),            # the @ of a Kai-face or hand-written address read e
    ("邮箱：wujiaqiahuaxin-zn.com", True),       # … or a, the label's tail before it
    ("wujiaqiehuaxin-cn.com", False),           # another domain as well: not the entered address
    ("wujiaqi@huaxln-zn.con", False),           # an @ was read: the rest must match as it does today
    ("wujiaqixhuaxin-zn.com", False),           # x is no look-alike of @
])
def test_an_email_whose_at_sign_was_read_as_a_letter_still_shows_the_address(read: str, passes: bool) -> None:
    verdict = judge_exact("handler.email", "wujiaqi@huaxin-zn.com", _value(read, 0.9), Thresholds(), "email")
    assert (verdict.status is Status.PASS) is passes, verdict
    if passes:
        assert verdict.notes["at_sign_read_as"] in "ea"


# ------------------------------------------------------------------ the employee table
def _table_page(rows: list[tuple[str, str, str]], above: list[str]) -> np.ndarray:
    """An A4 page at 150 dpi: some section text, then the employee table with ``rows``."""
    page = Image.new("RGB", (1240, 1754), "white")
    draw = ImageDraw.Draw(page)
    font = ImageFont.truetype(NOTO, 26)
    small = ImageFont.truetype(NOTO, 22)
    y = 120
    for line in above:
        draw.text((90, y), line, fill="black", font=font)
        y += 60
    xs = (90, 300, 560, 900)
    for x, heading in zip(xs, ("姓名", "业务类型", "身份证号码", "电子邮件"), strict=True):
        draw.text((x, y), heading, fill="black", font=font)
    draw.line((80, y + 45, 1160, y + 45), fill="black", width=2)
    y += 70
    for name, number, email in rows:
        draw.text((xs[0], y), name, fill="black", font=font)
        draw.text((xs[1], y), "新申请", fill="black", font=font)
        draw.text((xs[2], y), number, fill="black", font=small)
        draw.text((xs[3], y), email, fill="black", font=small)
        draw.line((80, y + 45, 1160, y + 45), fill="black", width=1)
        y += 70
    return np.asarray(page)[:, :, ::-1].copy()


COLLEAGUE = ("王秀英", make_ric("21020219860721062"), "wangxy@example.cn")
EMPLOYEE = ("张伟", make_ric("21010219850315015"), "zhangwei@example.cn")


@pytest.mark.parametrize("rows", [[COLLEAGUE, EMPLOYEE], [EMPLOYEE], [EMPLOYEE, COLLEAGUE, ("", "", "")]])
def test_the_employee_row_is_found_under_the_tables_headings_below_another_section(
        rows: list[tuple[str, str, str]]) -> None:
    # Given a first page whose employee table stands under section V (another form version)
    page = _table_page(rows, ["V. 申请机构基本资料", "机构名称：沈阳北方精密机械有限公司"])
    doc = read_upload([page], get_engine("rapidocr"), ReadOptions(), mode="lazy")
    # When the table is read by its headings
    found = table_rows(doc, COLUMNS, ("name", "id_number"))
    by_name = {r.get("name").text: r for r in found if r.get("name") is not None}  # type: ignore[union-attr]
    # Then every person row is there, each number in its own row, whatever row the employee is in
    for name, number, _ in rows:
        if name:
            cell = by_name[name].get("id_number")
            assert cell is not None and number in cell.text.replace(" ", "")


def _ruled_table_page(rows: list[tuple[str, str, str]]) -> np.ndarray:
    """An A4 page at 150 dpi with the employee table ruled and its headings centred in their cells
    (as the portal's Word forms print them); the names written at their cell's left edge, the
    business-type cell two lines of tick boxes, the second a short one."""
    page = Image.new("RGB", (1240, 1754), "white")
    draw = ImageDraw.Draw(page)
    font = ImageFont.truetype(NOTO, 26)
    small = ImageFont.truetype(NOTO, 22)
    rules = (40, 300, 740, 1010, 1235)  # the vertical rules: four cells
    top, row_h = 300, 110

    def centred(text: str, left: int, right: int, y: int) -> None:
        draw.text(((left + right - draw.textlength(text, font=font)) / 2, y), text, fill="black", font=font)

    for (a, b), heading in zip(pairwise(rules), ("姓名", "业务类型", "身份证号码", "电子邮件"),
                               strict=True):
        centred(heading, a, b, top + 12)
    y = top + 60
    for name, number, email in rows:
        draw.text((rules[0] + 10, y + 35), name, fill="black", font=font)
        draw.text((rules[1] + 10, y + 10), "☑新申请，年限壹年（大写） □变更 □注销", fill="black", font=small)
        draw.text((rules[1] + 10, y + 60), "□更新，年限", fill="black", font=small)
        draw.text((rules[2] + 10, y + 35), number, fill="black", font=small)
        draw.text((rules[3] + 10, y + 35), email, fill="black", font=small)
        y += row_h
    for x in rules:
        draw.line((x, top, x, y), fill="black", width=2)
    for yy in (top, top + 60, *range(top + 60 + row_h, y + 1, row_h)):
        draw.line((rules[0], yy, rules[-1], yy), fill="black", width=2)
    return np.asarray(page)[:, :, ::-1].copy()


def test_a_ruled_tables_columns_end_at_its_rules_not_at_its_centred_headings() -> None:
    # Given a table whose headings stand centred in their cells: a name written at its cell's left
    # edge lies left of 姓名 by more than the heading's width, and the business-type cell's short
    # second line lies nearer 姓名's column than 业务类型's heading
    employee = ("那日苏", make_ric("21018119790130017"), "narisu@example.cn")
    page = _ruled_table_page([employee, COLLEAGUE])
    doc = read_upload([page], get_engine("rapidocr"), ReadOptions(), mode="lazy")
    found = table_rows(doc, COLUMNS, ("name", "id_number"))
    # Then each name is read from its own cell, and no business-type text is taken for a name
    names = [r.get("name").text for r in found if r.get("name") is not None]  # type: ignore[union-attr]
    assert names == ["那日苏", "王秀英"]
    assert found[0].get("id_number") is not None and employee[1] in found[0].get("id_number").text  # type: ignore[union-attr]


# ------------------------------------------------------------------ never leave a page unread
class _ShortSighted(OcrEngine):
    """The real RapidOCR engine whose detection sees no text on a reduced page (as small Song-face
    print at 200 dpi goes unseen at the fast path's resolution); full-size pages it sees."""

    name = "short-sighted"

    def __init__(self, blind_below: int) -> None:
        self.inner = get_engine("rapidocr")
        self.blind_below = blind_below

    def read(self, image: np.ndarray) -> list[TextBox]:
        return self.inner.read(image)

    def read_lines(self, images: list[np.ndarray]) -> list[TextBox | None]:
        return self.inner.read_lines(images)

    def detect(self, image: np.ndarray) -> list[TextBox] | None:
        return [] if max(image.shape[:2]) < self.blind_below else self.inner.detect(image)

    def upside_down(self, images: list[np.ndarray]) -> list[float] | None:
        return self.inner.upside_down(images)


def test_a_page_the_fast_path_sees_nothing_on_is_read_whole_before_a_field_is_not_found(tmp_path: Path) -> None:
    # Given the application form's VI page and a fast path (1000 px) that detects nothing on it
    vi_page = pdf_pages(render_forms(Case.model_validate(BASE_CASE), tmp_path)["application_form"])[1]
    options = ReadOptions()
    engine = _ShortSighted(blind_below=options.work_side + 1)
    # When it is read and a label is looked for
    doc = read_upload([vi_page], engine, options, mode="lazy")
    value = doc.field("user.id_number", ["身份证号码"], order=("below", "right"))
    # Then the slow path detected the whole page at full_side: the kind is told, the value read,
    # and the evidence says which path read it
    assert doc.kind.kind == "application_form"
    assert value is not None and value.page is not None and value.text == BASE_CASE["user"]["id_number"]
    assert value.page.where()["read_path"] == "whole page"


# ------------------------------------------------------------------ near misses end to end
@pytest.mark.parametrize(("field", "kind"), [("org.name", "homophone"), ("handler.name", "lookalike"),
                                             ("user.name", "other"), ("user.id_number", "digit"),
                                             ("org.id_number", "swap"), ("handler.mobile", "digit")])
def test_documents_naming_someone_one_character_away_pass_no_reading_rule(
        fixture_cases: list[Path], tmp_path: Path, field: str, kind: str) -> None:
    # Given a clean case whose entered name is a near miss of what every document shows
    clean = next(p for p in fixture_cases if p.name == "clean_shenyang_jpg_150")
    folder, shown, entered = make_near_miss(clean, tmp_path, field, kind)
    # When it is reviewed
    report = review_case(folder)
    # Then no reading rule of that field passes on any document, and the case is not approved
    rules = {**RULES, **ENTRY_RULES}[field]
    passed = [(f.rule, f.slot) for f in report.findings if f.rule in rules and f.status is Status.PASS]
    assert passed == [], (shown, entered)
    assert report.decision.value != "approved"


@pytest.mark.parametrize("field", ENTRY_FIELDS)
def test_a_near_miss_entry_is_another_valid_one_so_only_reading_can_tell(field: str) -> None:
    leaf = field.split(".")[1]
    shown = {"org.id_number": BASE_CASE["org"]["id_number"], "handler.mobile": "13704053377",
             "handler.email": "wujiaqi@huaxin-zn.com"}.get(field, make_ric("21010219900307001"))
    for kind in ENTRY_KINDS:
        entered = mutate_entry(shown, kind, field)
        assert entered != shown and len(entered) >= len(shown) - 4, kind
        if field == "org.id_number":
            assert uscc.is_valid(entered), kind
        elif leaf == "id_number":
            assert resident_id_problem(entered) == "", kind
        elif leaf == "mobile":
            assert re.fullmatch(load_rule_set().param("data.mobile", "pattern"), entered), kind
        else:
            assert validate_email(entered, check_deliverability=False), kind


# ------------------------------------------------------------------ seal arc text
@pytest.mark.parametrize(("read", "verdict"), [
    ("辽宁宏图建设集团有限公司", "different"),  # another organisation of the same trade name, read clearly
    ("沈阳宏图建设工程限公司", "unknown"),  # one character lost: a misread as likely as another seal
    ("沈阳宏图建设工程有限公司", "unknown"),  # the name itself is judged by shows_name, not here
])
def test_a_clearly_read_seal_of_another_organisation_is_different_and_a_near_miss_is_not(
        read: str, verdict: str) -> None:
    from pipeline.ruleset import load_rule_set
    from pipeline.seal.arctext import ArcRead
    from pipeline.stages.seal import _verdict

    params = load_rule_set().rule("seal.org_name").params
    assert _verdict("沈阳宏图建设工程有限公司", [ArcRead(read, 0.97, 90.0, False)], params) == verdict


def test_a_seal_arc_read_from_inside_the_name_shows_it_whole_and_a_near_miss_does_not() -> None:
    assert shows_name("丹东鸭绿江食品股份有限公司", "品股份有限公司丹东鸭绿江食", seal=True)
    assert not shows_name("丹东鸭绿江食品股份有限公司", "江食品股份有限公司丹东鸭综", seal=True)
    assert not shows_name("丹东鸭绿江食品股份有限公司", "品股份有限公司丹东鸭绿江食", seal=False)


def test_a_hand_filled_row_read_a_character_short_is_still_the_employees_row_and_only_it() -> None:
    from pipeline.reading.documents import TableRow
    from pipeline.stages.fields import _row_is_near

    def row(name: str, number: str) -> TableRow:
        return TableRow({"name": _value(name), "id_number": _value(number)}, 0)

    entered_name, entered_id = "阿依古丽·买买提", "21010319950903062X"
    # a tune-side probe's hand-filled row: the name read with 买 dropped, the number a digit short
    assert _row_is_near(row("阿依古丽·买提", "2101031950903062x"), entered_name, entered_id)
    assert _row_is_near(row("", "21010319950903062x"), entered_name, entered_id)
    # a colleague's row is not near: another name, another number
    assert not _row_is_near(row("董立新", "210103198503300137"), entered_name, entered_id)
    # a short name one character away is another person's, never near (张伟 / 张玮)
    assert not _row_is_near(row("张玮", "210103198503300137"), "张伟", "210102198503150150")


@pytest.mark.parametrize("degrees", [1.8, -1.4])
def test_the_employee_table_of_a_page_scanned_a_little_askew_is_found(tmp_path: Path, degrees: float) -> None:
    # Given the VI page turned less than 2° (a hand-filled PDF probe's table headings, 1.9° askew, were not
    # read as one row: 姓名 at the left stood a third of a line lower than 身份证号码)
    case = Case.model_validate(BASE_CASE)
    page = pdf_pages(render_forms(case, tmp_path)["application_form"])[1]
    h, w = page.shape[:2]
    askew = cv2.warpAffine(page, cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0), (w, h),
                           borderValue=(255, 255, 255))
    doc = read_upload([askew], get_engine("rapidocr"), ReadOptions(), mode="lazy")
    # Then the page is levelled and the employee's row is read under the table's headings
    rows = table_rows(doc, COLUMNS, ("name", "id_number"))
    assert any((r.get("name") is not None and r.get("name").text == case.user.name)  # type: ignore[union-attr]
               for r in rows), [(k, v.text) for r in rows for k, v in r.cells.items()]


def test_a_licence_term_wrapped_after_its_first_character_of_long_term_is_still_read_open_ended() -> None:
    # Given a tune-side licence at 150 dpi whose 营业期限 "2014年08月20日 至 长期" wraps: 期 alone below 长
    from dataclasses import replace

    from fixtures.scans import unseen
    from pipeline.reading.documents import read_period

    spec = next(s for s in unseen.CASES if s.name == "tune_clean_v2_uming")
    spec = replace(spec, base=replace(spec.base, dpi=150, user_row=1, seed=2120))
    page = cv2.imdecode(np.frombuffer(unseen.build(unseen.sheets(spec)["org_license"]), np.uint8), cv2.IMREAD_COLOR)
    assert page is not None
    doc = read_upload([page], get_engine("auto"), ReadOptions())
    # Then the row is read in order — its own line, then what wrapped under it — and says 长期
    period = read_period(doc, ["营业期限"], need_start=False)
    assert period is not None and period.open_ended and period.start == date(2014, 8, 20), period
