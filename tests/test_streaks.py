"""A document feeder's streak (dust on its glass: a thin line down the whole page) is painted out
before the image stages; what documents print — a table's rules, a licence's frame, a card photo's
dark edge — is not a streak."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pymupdf
import pytest

from fixtures.scans.imaging import encode_jpeg, scan
from pipeline.forms.render import render_forms
from pipeline.intake.images import Limits, decode
from pipeline.intake.streaks import find_streaks, paint_out
from pipeline.models import Case
from tests.casedata import case_dict
from tests.test_seal_drawing import imread

DPI = 200


@pytest.fixture(scope="module")
def form(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """The application form as printed and scanned (RGB): tables with rules, no streak."""
    path = render_forms(Case.model_validate(case_dict()), tmp_path_factory.mktemp("forms"))["application_form"]
    with pymupdf.open(path) as doc:
        pix = doc[0].get_pixmap(dpi=DPI, colorspace=pymupdf.csRGB, alpha=False)
        page = np.frombuffer(pix.samples, np.uint8).reshape(pix.h, pix.w, 3).copy()
    return scan(page, DPI, 0.0, rng=np.random.default_rng(2))


def streaked(page: np.ndarray, xs: tuple[int, ...], width: int = 2, level: int = 110) -> np.ndarray:
    out = page.copy()
    for x in xs:
        out[:, x:x + width] = np.minimum(out[:, x:x + width], level)
    return out


def test_a_printed_and_scanned_form_shows_no_streak(form: np.ndarray) -> None:
    assert find_streaks(form, DPI) == []


@pytest.mark.parametrize(("width", "level"), [(1, 150), (2, 110), (4, 60)])
def test_a_streak_down_the_page_is_found_and_painted_out(form: np.ndarray, width: int, level: int) -> None:
    xs = (411, 1203)  # through the form's values and its table
    dirty = streaked(form, xs, width, level)
    found = find_streaks(dirty, DPI)
    assert [(s.x0 <= x and x + width <= s.x1) for s, x in zip(found, xs, strict=True)] == [True, True]
    cleaned = paint_out(dirty, found)
    # the streak's columns look like the page again: the paper as it was (a glyph's stroke under the
    # streak is lost with it: the columns beside it say nothing of it)
    for x in xs:
        before = np.abs(dirty[:, x:x + width].astype(int) - form[:, x:x + width].astype(int)).max(axis=(1, 2))
        after = np.abs(cleaned[:, x:x + width].astype(int) - form[:, x:x + width].astype(int)).max(axis=(1, 2))
        assert np.median(after) <= 6 < np.median(before)
        assert after.mean() < 0.3 * before.mean()
    assert find_streaks(cleaned, DPI) == []


def test_an_upload_with_a_streak_is_decoded_clean_and_says_where(form: np.ndarray) -> None:
    dirty = streaked(form, (700,))
    decoded = decode(encode_jpeg(dirty, DPI, 85), "jpeg", Limits())
    assert "page 1: x 7" in decoded.metadata["streaks"]
    assert np.median(decoded.pages[0].image[:, 700:702]) > 200  # painted out: paper again


@pytest.mark.parametrize("name", ["license_longllovers-business_license_2.jpg", "stamped_seal_removal_1.jpg",
                                  "idcard_chineseocr_1.jpg", "license_cicba_1.png"])
def test_real_scans_show_no_streak(real_samples: Path, name: str) -> None:
    image = imread(real_samples / name)
    assert find_streaks(image, DPI) == []
    assert find_streaks(cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA), DPI / 2) == []


def test_a_value_found_different_only_across_a_painted_out_streak_is_uncertain_and_elsewhere_still_fails(
        form: np.ndarray) -> None:
    from dataclasses import replace

    from pipeline.models import Status
    from pipeline.stages import fields
    from tests.fields_samples import fields_context

    # Given the form uploaded with a streak painted out of it at columns 700–702
    made = fields_context({"application_form": [cv2.cvtColor(form, cv2.COLOR_RGB2BGR)]})
    upload = made.uploads["application_form"]
    streaked = replace(upload, pages=(replace(upload.pages[0], streaks=((700, 702),)),))
    ctx = replace(made, uploads={"application_form": streaked})
    review = fields._Review(ctx)

    def mobile_fail(box: list[int]) -> Status:
        f = ctx.finding("ocr.form_fields", Status.FAIL, "application_form", {
            "entered": "13704053377", "read": "13104053377", "field": "手机号码",
            "fields": [{"field": "handler.name", "status": "pass", "box": [100, 100, 200, 140], "page": 0},
                       {"field": "handler.mobile", "status": "fail", "box": box, "page": 0}]})
        return fields._streaked_values_unsure(review, [f])[0].status

    # Then a number read across the streak is uncertain (a stroke under it may be gone), one read elsewhere fails
    assert mobile_fail([650, 900, 860, 940]) is Status.UNCERTAIN
    assert mobile_fail([900, 900, 1100, 940]) is Status.FAIL


def test_a_handler_value_read_in_the_employee_table_is_no_fail() -> None:
    # Given a tune-side form (v2: the employee table on page 1, the employee in row 2 under a colleague)
    from dataclasses import replace

    from fixtures.scans import unseen
    from pipeline.models import Status
    from pipeline.reading.compare import Verdict
    from pipeline.ruleset import load_rule_set
    from pipeline.stages import fields
    from pipeline.stages.base import StageContext
    from tests.fields_samples import upload_of

    spec = next(s for s in unseen.CASES if s.name == "tune_clean_employee_in_row2")
    sheet = unseen.sheets(spec)["application_form"]
    page = cv2.imdecode(np.frombuffer(unseen.build(sheet), np.uint8), cv2.IMREAD_COLOR)
    assert page is not None
    case = Case.model_validate(unseen.case_data(spec))
    uploads = {"application_form": upload_of("application_form", [page])}
    ctx = StageContext(case=case, rules=load_rule_set(), uploads=uploads)
    review = fields._Review(ctx)
    row, rows = review.employee_row("application_form")
    assert row is not None and rows == 2
    colleague = next(r for r in review.employee_rows("application_form") if r is not row)
    number = colleague.get("id_number")
    assert number is not None

    def judged(value: object) -> Verdict:
        v = Verdict(Status.FAIL, "handler.id_number", case.handler.id_number, number.text, 0.0, value)  # type: ignore[arg-type]
        return review._not_another_entry("application_form", v, [])

    # When the handler's number is "read" in the colleague's row (its label not legible, the search
    # reached the table's column of the same heading), the read is no fail
    found = judged(number)
    assert found.status is Status.UNCERTAIN and found.notes["reason"] == "read in the employee table"
    # while the same number read outside the table (in the handler's own section) still fails
    elsewhere = replace(number, box=(number.box[0], 40, number.box[2], 40 + number.box[3] - number.box[1]))
    assert judged(elsewhere).status is Status.FAIL
