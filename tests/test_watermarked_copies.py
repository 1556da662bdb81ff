"""Copies marked 仅供办理数字证书使用 in a light tiled watermark (what applicants' phone apps lay over
ID cards and licences) or annotated by a blue pen across their print (此复印件与原件一致, signed and
dated): read through, their seals found, no label taken for a value."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from fixtures.scans import imaging, unseen
from pipeline.models import Status
from pipeline.reading.ocr import drop_light_marks, drop_pen_ink
from pipeline.reading.page import Line, PageText
from pipeline.review import review_case
from pipeline.ruleset import load_rule_set
from pipeline.seal.find import SealParams, find_redder_seals, find_seals
from tests.test_seal_drawing import blank_page, draw_seal

#: Watermark styles: a grey app's and a blue one's (RGB ink, opacity, angle).
STYLES = {"grey": {}, "blue": {"colour": (40, 80, 200), "alpha": 0.3, "angle": 25.0}}


def test_light_marks_go_white_and_the_print_keeps_its_shades() -> None:
    # Given black print with a light grey watermark laid over the page
    page = Image.new("RGB", (1200, 800), (242, 242, 240))
    draw = ImageDraw.Draw(page)
    f = imaging.font("sans", 40)
    for y in range(100, 700, 80):
        draw.text((100, y), "统一社会信用代码 91210106MA10BN6R0A", fill=(30, 30, 30), font=f)
    marked = imaging.watermark(np.asarray(page), 150, alpha=0.35)
    bgr = np.ascontiguousarray(marked[:, :, ::-1])
    # When its light marks are dropped
    grey = drop_light_marks(bgr)
    # Then the watermark between the lines is paper again, and the print is as dark as it was
    assert grey is not None
    print_ink = np.asarray(page.convert("L")) < 100
    between = ~cv2.dilate(print_ink.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    assert (np.asarray(Image.fromarray(marked).convert("L"))[between] < 225).mean() > 0.05  # the mark was there
    assert (grey[between] < 225).mean() < 0.002
    assert np.median(grey[print_ink]) < 100


def test_a_page_without_ink_has_no_levels_to_set() -> None:
    assert drop_light_marks(np.full((400, 300, 3), 240, np.uint8)) is None


def test_a_seal_under_a_light_red_watermark_is_found() -> None:
    # Given a page with a seal, a light red watermark tiled over all of it
    page = blank_page(200)
    draw_seal(page, (1000, 1500), 200)
    rgb = imaging.watermark(np.ascontiguousarray(page[:, :, ::-1]), 200, colour=(225, 50, 50), angle=40.0, mm=6.0)
    marked = np.ascontiguousarray(rgb[:, :, ::-1])
    params = load_rule_set().tuning("seal.present", SealParams)
    # When seals are looked for (the red ink everywhere joins every outline at first)
    found = [c for c in find_seals(marked, 200, params) if c.colour == "red"]
    # Then the seal is found where it was stamped, among the redder ink
    assert len(found) == 1
    assert np.hypot(found[0].centre[0] - 1000, found[0].centre[1] - 1500) < 15


def test_a_seal_lost_in_a_red_watermark_beside_one_found_is_found_among_redder_ink() -> None:
    # Given a licence-like page: the authority's seal and the applicant's, a light red watermark over both
    page = blank_page(200)
    draw_seal(page, (1200, 1900), 200, text="沈阳市铁西区市场监督管理局")
    draw_seal(page, (700, 1000), 200)
    rgb = imaging.watermark(np.ascontiguousarray(page[:, :, ::-1]), 200, colour=(225, 50, 50), angle=40.0, mm=6.0)
    marked = np.ascontiguousarray(rgb[:, :, ::-1])
    params = load_rule_set().tuning("seal.present", SealParams)
    # When the seals are looked for among redder ink only (the seal stage does, when it found only
    # the authority's)
    found = find_redder_seals(marked, 200, params)
    # Then both seals are there
    assert len(found) == 2
    for x, y in ((700, 1000), (1200, 1900)):
        assert any(np.hypot(c.centre[0] - x, c.centre[1] - y) < 15 for c in found), (x, y)


def test_a_label_under_a_value_not_seen_is_never_taken_for_the_value() -> None:
    # Given a licence whose 名称 value went unseen, 法定代表人 right below the label
    lines = [Line((100, 100, 180, 140), "名称", 0.99, True), Line((100, 180, 260, 220), "法定代表人", 0.99, True),
             Line((300, 180, 420, 220), "韩建军", 0.99, True)]
    page = PageText(np.full((400, 600, 3), 255, np.uint8), 0, lines, engine=None)  # type: ignore[arg-type]
    printed = load_rule_set().rule("doc.kind").params["printed_labels"]["business_license"]
    # Then the rule set's printed labels keep it from being the organisation's name
    assert page.value_for(0, 2, "名称", stop_labels=("名称",)) is not None  # the gap the labels close
    assert page.value_for(0, 2, "名称", stop_labels=tuple(printed)) is None


def test_a_cards_name_is_read_beside_its_label_never_from_the_line_below() -> None:
    # Given a card whose name went unseen beside 姓名, 性别 男 on the line below
    lines = [Line((100, 100, 180, 140), "姓名", 0.99, True), Line((100, 180, 260, 220), "别男正", 0.9, True)]
    page = PageText(np.full((400, 600, 3), 255, np.uint8), 0, lines, engine=None)  # type: ignore[arg-type]
    order = load_rule_set().rule("doc.kind").params["value_order"]["id_card"]
    # Then with the rule set's order for a card's names, nothing is taken for the name
    assert page.value_for(0, 2, "姓名") is not None  # the plain order reaches below
    assert page.value_for(0, 2, "姓名", order=tuple(order["user.name"])) is None
    assert page.value_for(0, 2, "姓名", order=tuple(order["handler.name"])) is None


def test_a_watermarked_card_whose_sex_line_was_read_as_a_name_is_not_rejected(tmp_path: Path) -> None:
    # Given a tune case of the unseen set whose copies carry a blue watermark: the handler's card's
    # name went unseen, and the line under 姓名 was read 别男正 (a fail, the case rejected, before)
    spec = next(s for s in unseen.CASES if s.name == "tune_clean_employee_in_row2")
    base = unseen.make_case(tmp_path / "made", spec)
    folder = imaging.watermark_copies(base, tmp_path / "marked", **STYLES["blue"])
    # When it is reviewed
    report = review_case(folder)
    # Then no finding fails: what the watermark hides goes to a clerk at worst
    assert [(f.rule, f.slot) for f in report.findings if f.status is Status.FAIL] == []
    assert report.decision.value != "rejected"


@pytest.mark.parametrize("style", sorted(STYLES))
def test_a_clean_case_whose_copies_are_watermarked_is_approved(
        fixture_cases: list[Path], tmp_path: Path, style: str) -> None:
    # Given a clean case whose licence and ID copies carry a light watermark
    clean = next(p for p in fixture_cases if p.name == "clean_shenyang_jpg_150")
    folder = imaging.watermark_copies(clean, tmp_path / f"{clean.name}_{style}", **STYLES[style])
    # When it is reviewed
    report = review_case(folder)
    # Then it is approved, and the evidence says which values were read with the marks dropped
    assert report.decision.value == "approved", [(f.rule, f.slot, f.status.value) for f in report.findings
                                                 if f.status is not Status.PASS]
    dropped = {(f.rule, f.slot) for f in report.findings if "light marks dropped" in json.dumps(
        f.evidence, ensure_ascii=False)}
    assert ("ocr.user", "employee_id") in dropped


def test_a_blue_pens_annotation_goes_white_and_the_black_print_under_it_stays() -> None:
    # Given black print with a blue-black pen's annotation written across it, saved as a JPEG
    page = Image.new("RGB", (1400, 300), (240, 240, 236))
    ImageDraw.Draw(page).text((80, 120), "公民身份号码 210105199109160583", fill=(30, 30, 30),
                              font=imaging.font("sans", 44))
    printed = np.asarray(page.convert("L")) < 100
    pen = imaging.handwriting("此复印件与原件一致", 60, np.random.default_rng(5), face="ukai")
    written = imaging.stamp(np.asarray(page), pen, (700, 150), -6.0)
    bgr = cv2.imdecode(np.frombuffer(imaging.encode_jpeg(written, 200, 85), np.uint8), cv2.IMREAD_COLOR)
    assert bgr is not None
    # When the pen's ink is dropped
    grey = drop_pen_ink(bgr)
    # Then the pen's strokes off the print are paper, and the print is still dark
    assert grey is not None
    alone = imaging.stamp(np.full_like(written, 240), pen, (700, 150), -6.0)
    stroke = cv2.cvtColor(alone, cv2.COLOR_RGB2GRAY) < 140
    assert (grey[stroke & ~cv2.dilate(printed.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)]
            > 200).mean() > 0.9
    assert (grey[printed & ~cv2.dilate(stroke.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)]
            < 120).mean() > 0.9
    # and a page with no pen on it is not read again
    plain = cv2.imdecode(np.frombuffer(imaging.encode_jpeg(np.asarray(page), 200, 85), np.uint8), cv2.IMREAD_COLOR)
    assert plain is not None and drop_pen_ink(plain) is None


def test_a_case_whose_id_copy_is_annotated_by_pen_across_its_number_is_approved(tmp_path: Path) -> None:
    # Given a tune case whose copies carry 本复印件仅用于办理UKey, signed and dated, in blue-black pen:
    # on the handler's card it runs through the 公民身份号码 line, detected as one line with the number
    spec = next(s for s in unseen.CASES if s.name == "tune_clean_v2_uming_school")
    base = unseen.make_case(tmp_path / "made", spec)
    folder = imaging.annotated_copy(base, tmp_path / "annotated", np.random.default_rng(9509))
    # When it is reviewed
    report = review_case(folder)
    # Then the number is read with the pen's ink dropped, and the case is approved
    assert report.decision.value == "approved", report.uncertain_rules()
    handler = next(f for f in report.findings if f.rule == "ocr.handler" and f.slot == "handler_id")
    assert "pen ink dropped" in json.dumps(handler.evidence, ensure_ascii=False)
