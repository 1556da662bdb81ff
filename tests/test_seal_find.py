"""The seal detector on drawn pages and on real seal images no one here drew."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.intake.pages import estimate_a4_dpi
from pipeline.ruleset import load_rule_set
from pipeline.seal.find import SealParams, find_seals
from tests.test_seal_drawing import (
    blank_page,
    draw_pen_circle,
    draw_red_table,
    draw_red_title,
    draw_seal,
    draw_signature,
    draw_square_seal,
    draw_thin_ring,
    scan,
)

DPI = 200
PX = DPI / 25.4


@pytest.fixture(scope="module")
def params() -> SealParams:
    return load_rule_set().tuning("seal.present", SealParams)


def red(found: list) -> list:
    return [c for c in found if c.colour == "red"]


def test_a_red_round_seal_on_a_form_page_is_found_with_its_size_and_place(params: SealParams) -> None:
    # Given a form page with a 42 mm seal stamped over its print
    page = blank_page(DPI)
    draw_seal(page, (1100, 1900), DPI)
    # When the page is searched
    found = red(find_seals(scan(page, quality=80), DPI, params))
    # Then exactly that seal is found
    assert len(found) == 1
    seal = found[0]
    assert abs(seal.diameter_mm - 42) < 2.5
    assert np.hypot(seal.centre[0] - 1100, seal.centre[1] - 1900) < 8
    assert seal.inner_red_fraction > params.min_inner_red_fraction


def test_a_seal_partly_outside_the_page_counts_as_present(params: SealParams) -> None:
    # Given half a seal at the left edge (骑缝章) and a third of one at the bottom
    page = blank_page(DPI)
    draw_seal(page, (0, 900), DPI)
    draw_seal(page, (900, page.shape[0] + 60), DPI)
    found = red(find_seals(page, DPI, params))
    assert len(found) == 2
    assert all(c.visible_fraction < 0.6 for c in found)


@pytest.mark.parametrize("tint", [(1.0, 1.0, 1.0), (0.75, 0.92, 1.0), (1.0, 0.85, 1.0), (0.95, 0.95, 0.9)],
                         ids=["neutral", "orange-shift", "pink-shift", "warm-paper"])
def test_a_faint_patchy_seal_in_a_colour_shifted_scan_is_found(params: SealParams,
                                                               tint: tuple[float, float, float]) -> None:
    page = blank_page(DPI, seed=3)
    draw_seal(page, (700, 1500), DPI, strength=0.45, patchy=0.6, rotation_deg=35, seed=5)
    scanned = scan(page, seed=1, angle=2.0, blur=0.8, noise=4, quality=60, tint=tint)
    found = red(find_seals(scanned, DPI, params))
    assert len(found) == 1, [c.evidence() for c in found]


def test_a_seal_on_a_150_dpi_phone_photo_sized_page_is_found(params: SealParams) -> None:
    page = blank_page(150)
    draw_seal(page, (600, 1300), 150, diameter_mm=40)
    found = red(find_seals(scan(page, quality=50, blur=1.0), 150, params))
    assert len(found) == 1


NEGATIVES = {
    "red-title": lambda p: draw_red_title(p, DPI),
    "red-signature": lambda p: draw_signature(p, DPI, (60, 230), seed=2),
    "red-pen-circle": lambda p: draw_pen_circle(p, DPI, (100, 230)),
    "thin-red-ring": lambda p: draw_thin_ring(p, DPI, (100, 230)),
    "red-table": lambda p: draw_red_table(p, DPI, (20, 200, 190, 260)),
    "square-seal": lambda p: draw_square_seal(p, DPI, (150, 240)),
}


@pytest.mark.parametrize("draw", NEGATIVES.values(), ids=NEGATIVES.keys())
def test_red_ink_that_is_no_round_seal_is_not_taken_for_one(params: SealParams,
                                                          draw: Callable[[np.ndarray], None]) -> None:
    page = blank_page(DPI)
    draw(page)
    assert red(find_seals(scan(page, quality=75), DPI, params)) == []


def test_a_seal_stamped_over_a_thin_red_ring_is_still_found(params: SealParams) -> None:
    page = blank_page(DPI)
    draw_thin_ring(page, DPI, (110, 200))
    draw_seal(page, (100 * PX, 190 * PX), DPI)
    found = red(find_seals(page, DPI, params))
    assert len(found) == 1
    assert np.hypot(found[0].centre[0] - 100 * PX, found[0].centre[1] - 190 * PX) < 10


# ---------------------------------------------------------------------------- real images


def load(real_samples: Path, name: str) -> np.ndarray:
    image = cv2.imread(str(real_samples / name), cv2.IMREAD_COLOR)
    assert image is not None, name
    return image


# The seal photos are crops: their dpi is the one that makes the photo the width it shows,
# judged by eye from the seal (a company seal is 38–45 mm): getseal ≈ 55 mm wide, SealCut's
# three seals ≈ 200 mm, sealhacker's one seal ≈ 48 mm.
SEAL_PHOTOS = {"seal_getseal_source.png": (55, 1), "seal_sealcut_three.jpg": (200, 2),
               "seal_sealhacker_test.jpg": (48, 1)}


@pytest.mark.parametrize("name", SEAL_PHOTOS)
def test_every_round_seal_in_the_real_seal_photos_is_found(real_samples: Path, params: SealParams,
                                                           name: str) -> None:
    image = load(real_samples, name)
    width_mm, expected = SEAL_PHOTOS[name]
    found = red(find_seals(image, image.shape[1] / width_mm * 25.4, params))
    assert len(found) == expected, [c.evidence() for c in found]


def test_the_round_seal_on_a_real_audit_report_is_found_but_not_its_square_cpa_seals(
        real_samples: Path, params: SealParams) -> None:
    image = load(real_samples, "stamped_seal_removal_1.jpg")
    found = red(find_seals(image, estimate_a4_dpi(image.shape[1], image.shape[0]), params))
    assert len(found) == 1
    x, y = found[0].centre
    assert 550 < x < 720 and 1000 < y < 1200  # the round seal left of the signatures


@pytest.mark.parametrize("name", ["license_cicba_1.png", "license_longllovers-business_license_1.jpg",
                                  "license_longllovers-business_license_2.jpg"])
def test_the_registration_seal_of_a_real_business_licence_is_found_and_the_emblem_is_not(
        real_samples: Path, params: SealParams, name: str) -> None:
    image = load(real_samples, name)
    found = red(find_seals(image, estimate_a4_dpi(image.shape[1], image.shape[0]), params))
    assert len(found) == 1
    h, w = image.shape[:2]
    assert found[0].centre[1] > h * 0.6 and found[0].centre[0] > w * 0.5  # lower right, not the emblem on top


def test_a_faint_grey_photocopied_seal_is_reported_grey_and_never_red(real_samples: Path,
                                                                     params: SealParams) -> None:
    # Given a black-and-white scan whose seal is only a faint grey ring (page scanned at ~290 dpi)
    image = load(real_samples, "stamped_remove_seal_1.png")
    found = find_seals(image, 290, params)
    # Then no red seal is reported, and the grey ring is
    assert red(found) == []
    assert [c.colour for c in found] == ["grey"]
    assert 35 < found[0].diameter_mm < 46
