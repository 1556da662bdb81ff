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
    ctx = fields_context({"application_form": [cv2.cvtColor(form, cv2.COLOR_RGB2BGR)]})
    upload = ctx.uploads["application_form"]
    ctx.uploads["application_form"] = replace(upload, pages=(replace(upload.pages[0], streaks=((700, 702),)),))
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
