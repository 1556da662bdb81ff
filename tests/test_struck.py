"""A value struck out by pen on a form (涂改) is found; printed text, underlines, table rules, a
seal over the text and real typed pages are not strokes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pymupdf
import pytest

from fixtures.scans.imaging import draw_seal, mm_to_px, scan, stamp, strike_out
from pipeline.forms.render import form_layout, render_forms
from pipeline.models import Case, Finding, Status
from pipeline.reading.ocr import get_engine
from pipeline.reading.page import read_page
from pipeline.reading.struck import strokes_through
from pipeline.ruleset import load_rule_set
from pipeline.seal.find import red_mask
from pipeline.stages import fields
from pipeline.stages.base import StageContext
from tests.casedata import case_dict
from tests.fields_samples import by_rule, fields_context, upload_of
from tests.test_seal_drawing import imread

DPI = 200
CASE = Case.model_validate(case_dict())


@pytest.fixture(scope="module")
def authorization(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """The case's authorization letter as printed (RGB at DPI), not yet stamped."""
    path = render_forms(CASE, tmp_path_factory.mktemp("forms"))["authorization"]
    with pymupdf.open(path) as doc:
        pix = doc[0].get_pixmap(dpi=DPI, colorspace=pymupdf.csRGB, alpha=False)
        return np.frombuffer(pix.samples, np.uint8).reshape(pix.h, pix.w, 3).copy()


def field_px(name: str) -> tuple[int, int, int, int]:
    k = DPI / 72
    x0, y0, x1, y1 = form_layout("authorization").fields[name].rect
    return round(x0 * k), round(y0 * k), round(x1 * k), round(y1 * k - 2 * k)


def strokes(rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
    page = read_page(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), get_engine("rapidocr"), eager=False, titles=False)
    return [s.line for s in strokes_through(page.image, [ln.box for ln in page.lines], leave_out=red_mask)]


def test_a_printed_letter_with_its_underlines_and_a_seal_shows_no_stroke(authorization: np.ndarray) -> None:
    rng = np.random.default_rng(1)
    k = DPI / 72
    x0, y0, x1, y1 = form_layout("authorization").seal_boxes[0].rect
    stamped = stamp(authorization, draw_seal(CASE.org.name, mm_to_px(42, DPI), rng=rng),
                    ((x0 + x1) / 2 * k, (y0 + y1) / 2 * k))
    assert strokes(scan(stamped, DPI, rng=rng)) == []


@pytest.mark.parametrize(("name", "seed", "lines"), [("handler.mobile", 0, 1), ("handler.id_number", 1, 2),
                                                     ("auth.period_start", 2, 1), ("handler.address", 3, 1)])
def test_a_value_struck_out_by_pen_is_found_on_its_line(authorization: np.ndarray, name: str, seed: int,
                                                        lines: int) -> None:
    rng = np.random.default_rng(seed)
    region = field_px(name)
    found = strokes(scan(strike_out(authorization, region, rng, strokes=lines), DPI, rng=rng))
    assert len(found) == 1
    _, y0, _, y1 = found[0]
    assert region[1] - 10 <= (y0 + y1) / 2 <= region[3] + 10  # the struck value's line, no other


@pytest.mark.parametrize("name", ["stamped_seal_removal_1.jpg", "license_longllovers-business_license_2.jpg"])
def test_real_typed_pages_show_no_stroke(real_samples: Path, name: str) -> None:
    image = imread(real_samples / name)
    page = read_page(image, get_engine("rapidocr"), eager=False, titles=False)
    assert strokes_through(page.image, [ln.box for ln in page.lines]) == []


def test_the_authorization_with_a_struck_value_is_for_a_clerk_and_a_clean_one_passes(authorization: np.ndarray) -> None:
    rng = np.random.default_rng(4)
    clean = cv2.cvtColor(scan(authorization, DPI, rng=rng), cv2.COLOR_RGB2BGR)
    altered = cv2.cvtColor(scan(strike_out(authorization, field_px("handler.id_number"), rng), DPI, rng=rng),
                           cv2.COLOR_RGB2BGR)
    for page, status in ((clean, Status.PASS), (altered, Status.UNCERTAIN)):
        found = by_rule(fields.run(fields_context({"authorization": [page]})))[("auth.altered", "authorization")]
        assert found.status is status
    assert found.evidence["reason"] == "struck_through" and len(found.evidence["strokes"]) == 1
    assert "涂改" in found.message


def test_a_value_found_different_only_on_a_struck_line_is_uncertain_and_elsewhere_still_fails() -> None:
    ctx = fields_context({})
    altered = ctx.finding("auth.altered", Status.UNCERTAIN, "authorization",
                          {"reason": "struck_through", "strokes": [{"box": [556, 1873, 789, 1916]}]})

    def handler_fail(box: list[int]) -> Finding:
        return ctx.finding("ocr.handler", Status.FAIL, "authorization", {
            "entered": "13704053377", "read": "43704053377", "field": "手机号码",
            "fields": [{"field": "handler.name", "status": "pass", "box": [345, 474, 464, 529]},
                       {"field": "handler.mobile", "status": "fail", "box": box}]})

    on_the_stroke, elsewhere = handler_fail([556, 1870, 789, 1915]), handler_fail([556, 1946, 887, 1998])
    settled = fields._struck_values_unsure(ctx, [altered, on_the_stroke, elsewhere])
    assert [f.status for f in settled] == [Status.UNCERTAIN, Status.UNCERTAIN, Status.FAIL]
    assert settled[1].evidence["reason"] == "struck_out" and "涂改" in settled[1].message


def test_a_crashed_alteration_check_leaves_the_other_findings_as_they_are() -> None:
    ctx = fields_context({})
    crashed = ctx.finding("auth.altered", Status.UNCERTAIN, "authorization", {"crashed": "RuntimeError: boom"})
    fail = ctx.finding("ocr.handler", Status.FAIL, "authorization",
                       {"entered": "1", "read": "4", "field": "手机号码", "box": [0, 0, 10, 10]})
    assert fields._struck_values_unsure(ctx, [crashed, fail]) == [crashed, fail]


def _letter(spec_name: str, struck: str = "") -> tuple[Case, np.ndarray]:
    """The unseen set's authorization letter of ``spec_name`` as uploaded (BGR), ``struck`` struck out
    and written again, with the case it belongs to."""
    from dataclasses import replace

    from fixtures.scans import unseen

    spec = next(s for s in unseen.CASES if s.name == spec_name)
    sheet = replace(unseen.sheets(spec)["authorization"], struck=struck)
    page = cv2.imdecode(np.frombuffer(unseen.build(sheet), np.uint8), cv2.IMREAD_COLOR)
    assert page is not None
    return Case.model_validate(unseen.case_data(spec)), page


def test_a_name_struck_out_inside_a_sentence_is_found_and_glyphs_set_tight_are_not_strokes() -> None:
    # Given a tune-side letter in Zen Hei, whose tight glyphs join into rows (作为附件, 内容要填写),
    # with the handler's name after 兹授权 struck out and written again — too little of its line for
    # the whole-line rule
    case, clean = _letter("tune_clean_v1_zenhei_association")
    _, altered = _letter("tune_clean_v1_zenhei_association", struck="handler.name")

    def judged(page: np.ndarray) -> Finding:
        uploads = {"authorization": upload_of("authorization", [page])}
        ctx = StageContext(case=case, rules=load_rule_set(), uploads=uploads)
        return by_rule(fields.run(ctx))[("auth.altered", "authorization")]

    # Then the printed letter passes, though its tight glyphs make short strokes (they read no entered value)
    page = read_page(clean, get_engine("rapidocr"), eager=False, titles=False)
    assert any(s.part is not None for s in strokes_through(page.image, [ln.box for ln in page.lines],
                                                          short_heights=2.0, leave_out=red_mask))
    assert judged(clean).status is Status.PASS
    # and the struck letter goes to a clerk, the stroke on the name's line only, its read showing the name
    found = judged(altered)
    assert found.status is Status.UNCERTAIN, found.evidence
    assert [case.handler.name in s["struck_read"] for s in found.evidence["strokes"]] == [True]


def test_a_value_on_a_line_of_its_own_is_not_struck_by_its_glued_glyphs_and_struck_whole_still_is() -> None:
    # Given a tune-side letter at 150 dpi in Zen Hei whose e-mail's Latin glyphs join into a row
    # along half the address (its joined stretch reads as most of the entered e-mail)
    from dataclasses import replace

    from fixtures.scans import unseen

    spec = next(s for s in unseen.CASES if s.name == "tune_clean_v2_zenhei_law_firm")
    spec = replace(spec, name="struck_probe", base=replace(spec.base, days_before=11, hand=True, seed=8106))
    case = Case.model_validate(unseen.case_data(spec))

    def judged(struck: str) -> Finding:
        sheet = replace(unseen.sheets(spec)["authorization"], struck=struck)
        page = cv2.imdecode(np.frombuffer(unseen.build(sheet), np.uint8), cv2.IMREAD_COLOR)
        assert page is not None
        uploads = {"authorization": upload_of("authorization", [page])}
        ctx = StageContext(case=case, rules=load_rule_set(), uploads=uploads)
        return by_rule(fields.run(ctx))[("auth.altered", "authorization")]

    # Then the printed letter passes: a value that makes its whole line is struck across its line or not at all
    clean = judged("")
    assert clean.status is Status.PASS, clean.evidence
    # and the same letter with the e-mail, or the handler's name in its sentence, struck out goes to a clerk
    for name in ("handler.email", "handler.name"):
        assert judged(name).status is Status.UNCERTAIN, name


def test_a_name_struck_in_a_sentence_whose_line_box_stands_well_above_its_glyphs_is_found() -> None:
    # Given a letter whose 兹授权 line box is half again as high as its glyphs (padding, the underline,
    # the name written again by hand): a stroke through the 3-character name is under twice the box's height
    case, _ = _letter("tune_clean_v2_uming_school")
    _, altered = _letter("tune_clean_v2_uming_school", struck="handler.name")
    uploads = {"authorization": upload_of("authorization", [altered])}
    found = by_rule(fields.run(StageContext(case=case, rules=load_rule_set(), uploads=uploads)))
    # Then the stretch is measured against the glyphs' height, and the struck name goes to a clerk
    assert found[("auth.altered", "authorization")].status is Status.UNCERTAIN


@pytest.mark.parametrize(("spec_name", "field_name"), [
    ("tune_clean_150dpi_phone_keystone_08", "handler.mobile"),  # 144 dpi: the ballpoint through digits 7–9 px
    ("tune_clean_150dpi_phone_keystone_24", "handler.name"),    # below min_dpi: black strokes are not judged
])
def test_a_blue_pens_stroke_on_a_phones_photo_is_found_by_its_colour(
        tmp_path: Path, spec_name: str, field_name: str) -> None:
    from dataclasses import replace

    from fixtures.scans import unseen
    from pipeline.review import review_case

    # Given a phone's photo of a 150-dpi letter with a value struck out in blue ballpoint
    spec = next(s for s in unseen.CASES if s.name == spec_name)
    folder = unseen.make_case(tmp_path, spec)
    sheet = replace(unseen.sheets(spec)["authorization"], struck=field_name)
    (folder / "uploads" / f"authorization.{sheet.fmt}").write_bytes(unseen.build(sheet))
    # Then the stroke is a coloured pen's over black print, and the letter goes to a clerk
    found = next(f for f in review_case(folder).findings if f.rule == "auth.altered")
    assert found.status is Status.UNCERTAIN, found.evidence
    assert any(s.get("pen") == "coloured" for s in found.evidence["strokes"])


@pytest.mark.parametrize(("spec_name", "field_name", "thick_whole"), [
    # on a line of its own: a row as thick as glued digits, across the value
    ("tune_clean_150dpi_phone_keystone_08", "handler.mobile", True),
    # struck twice inside 兹授权 …: one dark band, the line's read changed by it
    ("tune_clean_150dpi_phone_keystone_08", "handler.name", False),
    # the name's line, struck and written again, inks 0.42 of its box: no block of a seal on a colour page
    ("tune_clean_150dpi_phone_keystone_16", "handler.name", False),
    # as printed: glued glyphs cross no entered value's place
    ("tune_clean_150dpi_phone_keystone_08", "", None),
])
def test_a_black_pens_stroke_on_a_phones_photo_is_told_by_what_it_crosses(
        tmp_path: Path, spec_name: str, field_name: str, thick_whole: bool | None) -> None:
    from dataclasses import replace

    from fixtures.scans import unseen
    from pipeline.review import review_case

    # Given a phone's photo (144 dpi) of a 150-dpi letter with a value struck out by a black gel pen
    spec = next(s for s in unseen.CASES if s.name == spec_name)
    folder = unseen.make_case(tmp_path, spec)
    sheet = replace(unseen.sheets(spec)["authorization"], struck=field_name, struck_pen="black")
    (folder / "uploads" / f"authorization.{sheet.fmt}").write_bytes(unseen.build(sheet))
    found = next(f for f in review_case(folder).findings if f.rule == "auth.altered")
    if thick_whole is None:  # Then the printed letter passes
        assert found.status is Status.PASS, found.evidence
        return
    # Then the stroke, too thick for a pen's line yet no colour, counts by what it crosses: a clerk looks
    assert found.status is Status.UNCERTAIN, found.evidence
    thick = [s for s in found.evidence["strokes"] if s.get("thick")]
    assert thick and all("pen" not in s for s in thick)
    assert any(("struck_read" not in s) == thick_whole for s in thick)


def test_a_seal_saved_in_grey_over_the_letters_lines_is_no_stroke(tmp_path: Path) -> None:
    from fixtures.scans import unseen
    from fixtures.scans.imaging import scanning_app_copy
    from pipeline.review import review_case

    # Given a clean case whose uploads went through a scanning app's grey filter: the seal is as dark as
    # print, and a line box it covers is inked over 0.4 of its area
    spec = next(s for s in unseen.CASES if s.name == "tune_clean_v1_zenhei")
    folder = scanning_app_copy(unseen.make_case(tmp_path / "made", spec), tmp_path / "grey", "grey")
    # Then on a page saved in grey such a line is a block, not text: the letter shows no stroke
    found = next(f for f in review_case(folder).findings if f.rule == "auth.altered")
    assert found.status is Status.PASS, found.evidence


def test_a_thin_stroke_through_a_name_that_blurs_the_lines_read_is_found_by_what_it_crosses(tmp_path: Path) -> None:
    from dataclasses import replace

    from fixtures.scans import unseen
    from pipeline.review import review_case

    # Given a 150-dpi scan of a letter whose handler's name after 兹授权 is struck by a black gel pen and
    # written again: the line reads 兹授权阴晓蝶期晓峰 (two characters of 欧阳晓峰 in a run), the stroke's
    # crossing 联阳晓蜂阳 to the first reader and 阳晓峰 to the stronger one
    spec = next(s for s in unseen.CASES if s.name == "tune_clean_150dpi_dated_10_days_before")
    folder = unseen.make_case(tmp_path, spec)
    sheet = replace(unseen.sheets(spec)["authorization"], struck="handler.name", struck_pen="black")
    (folder / "uploads" / f"authorization.{sheet.fmt}").write_bytes(unseen.build(sheet))
    found = next(f for f in review_case(folder).findings if f.rule == "auth.altered")
    # Then the line may show the name a character short, the crossing in full: a clerk looks
    assert found.status is Status.UNCERTAIN, found.evidence
    assert any("晓峰" in s.get("struck_read", "") for s in found.evidence["strokes"])
