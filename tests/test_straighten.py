"""Phone photos with keystone are warped upright before the image stages; scans are left alone.

The photos are made by ``fixtures.scans.photo.phone_photo`` from a page whose marks' places are
known, so the straightened page can be checked for where the marks ended up, not only its shape.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fixtures.scans.imaging import encode_jpeg, scan
from fixtures.scans.photo import cast_shadow, phone_photo
from pipeline.intake.images import Limits, decode
from pipeline.intake.straighten import A4_RATIO, straighten

DPI = 100
W, H = round(210 / 25.4 * DPI), round(297 / 25.4 * DPI)
#: Black squares at these places (share of the page's width, height): the four corners' marks and one off-centre.
MARKS = ((0.1, 0.08), (0.9, 0.08), (0.9, 0.92), (0.1, 0.92), (0.3, 0.6))


def _page() -> np.ndarray:
    """An A4 page at 100 dpi with ruled lines and five black squares (RGB)."""
    page = np.full((H, W, 3), 250, np.uint8)
    for y in range(120, H - 120, 40):
        cv2.line(page, (60, y), (W - 60, y), (40, 40, 40), 1)
    for fx, fy in MARKS:
        x, y = round(fx * W), round(fy * H)
        cv2.rectangle(page, (x - 12, y - 12), (x + 12, y + 12), (0, 0, 0), -1)
    return page


def _marks(image: np.ndarray) -> list[tuple[float, float]]:
    """Centres of the black squares, as shares of the image's width and height, in MARKS' order."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    _, ink = cv2.threshold(grey, 60, 255, cv2.THRESH_BINARY_INV)
    _, _, stats, centres = cv2.connectedComponentsWithStats(ink)
    h, w = grey.shape
    found = [(cx / w, cy / h) for i, (cx, cy) in enumerate(centres) if i and stats[i, cv2.CC_STAT_AREA] > 150
             and 0.6 < stats[i, cv2.CC_STAT_WIDTH] / max(1, stats[i, cv2.CC_STAT_HEIGHT]) < 1.6]
    def nearest(m: tuple[float, float]) -> tuple[float, float]:
        return min(found, key=lambda p: (p[0] - m[0]) ** 2 + (p[1] - m[1]) ** 2)

    return [nearest(m) for m in MARKS]


@pytest.mark.parametrize("keystone", [0.08, 0.12, 0.16, 0.24])
@pytest.mark.parametrize("side", ["top", "left"])
def test_a_phone_photo_with_keystone_is_warped_to_an_upright_a4_page(keystone: float, side: str) -> None:
    # Given a page photographed at an angle: a trapezoid on a dark desk
    photo = phone_photo(_page(), keystone, np.random.default_rng(7), side=side)
    # When it is straightened
    result = straighten(photo)
    # Then the page is found, measured, and warped to A4 proportions
    assert result.done, result.reason
    assert result.keystone == pytest.approx(keystone, abs=0.03)
    h, w = result.image.shape[:2]
    assert h / w == pytest.approx(A4_RATIO, rel=0.01)
    # and every mark is where it was printed (within 1.5 % of the page)
    for (x, y), (mx, my) in zip(_marks(result.image), MARKS, strict=True):
        assert abs(x - mx) < 0.015 and abs(y - my) < 0.015


@pytest.mark.parametrize(("angle_deg", "reach"), [(35, 0.3), (0, 0.35), (90, 0.4), (60, 0.5)])
@pytest.mark.parametrize("keystone", [0.08, 0.16])
def test_a_phone_photo_with_a_shadow_across_the_page_is_warped_to_the_whole_page(
        keystone: float, angle_deg: float, reach: float) -> None:
    # Given a page photographed at an angle with the phone's shadow over part of it: the shadowed
    # paper darker than one threshold takes, and where the shadow covers a whole side the lit part
    # is itself four-cornered (rule set 13's straightener warped that part, or gave up)
    photo = cast_shadow(phone_photo(_page(), keystone, np.random.default_rng(11), side="top"),
                        np.random.default_rng(0), depth=0.5, angle_deg=angle_deg, reach=reach)
    # When it is straightened
    result = straighten(photo)
    # Then the whole page is found: every mark is where it was printed
    assert result.done, result.reason
    assert result.keystone == pytest.approx(keystone, abs=0.03)
    for (x, y), (mx, my) in zip(_marks(result.image), MARKS, strict=True):
        assert abs(x - mx) < 0.015 and abs(y - my) < 0.015


@pytest.mark.parametrize("angle", [0.0, 1.5, -3.0])
def test_a_flatbed_scan_whose_page_fills_the_frame_is_left_unchanged(angle: float) -> None:
    scanned = scan(_page(), DPI, angle, rng=np.random.default_rng(3))
    result = straighten(scanned)
    assert not result.done
    assert result.image is scanned
    assert "fills the frame" in result.reason


def test_a_dark_image_without_a_page_shape_is_left_unchanged() -> None:
    # a light blob that is no quadrilateral (a round plate on a dark desk)
    image = np.full((900, 700, 3), 70, np.uint8)
    cv2.circle(image, (350, 450), 300, (240, 240, 240), -1)
    result = straighten(image)
    assert not result.done
    assert result.image is image


def test_a_keystone_photo_upload_is_decoded_straightened_and_says_so() -> None:
    photo = phone_photo(_page(), 0.12, np.random.default_rng(11), side="top")
    decoded = decode(encode_jpeg(photo, 72, 85), "jpeg", Limits())
    page = decoded.pages[0]
    assert page.straightened is not None and page.straightened["straightened"] is True
    assert page.height / page.width == pytest.approx(A4_RATIO, rel=0.01)
    assert "keystone 1" in decoded.metadata["straightened"]


def test_a_scanned_upload_is_decoded_without_straightening() -> None:
    scanned = scan(_page(), DPI, 1.0, rng=np.random.default_rng(5))
    decoded = decode(encode_jpeg(scanned, DPI, 85), "jpeg", Limits())
    assert decoded.pages[0].straightened is None
    assert "straightened" not in decoded.metadata


def test_an_id_card_photographed_alone_is_not_stretched_to_a4() -> None:
    # a card (85.6 × 54 mm) photographed on a dark desk is no A4 page: warping it to A4 would distort it
    card = np.full((540, 856, 3), 235, np.uint8)
    photo = phone_photo(card, 0.06, np.random.default_rng(2), side="top")
    result = straighten(photo)
    assert not result.done
    assert "not A4-shaped" in result.reason


@pytest.mark.parametrize(("offset_mm", "angle"), [((6, 9), 0.0), ((11, 4), 0.8)])
def test_a_flatbed_scan_with_its_lid_open_is_cut_out_of_the_dark_bed_unwarped(
        offset_mm: tuple[float, float], angle: float) -> None:
    # Given a page scanned square-on with the lid open: the bed (A4 glass, the sheet laid off its corner)
    # is near black around it
    page = scan(_page(), DPI, angle, rng=np.random.default_rng(4))
    dx, dy = (round(mm / 25.4 * DPI) for mm in offset_mm)
    bed = np.full((H + dy + 20, W + dx + 12, 3), 28, np.uint8)
    bed[dy:dy + H, dx:dx + W] = page
    # When it is straightened
    result = straighten(bed)
    # Then the page is cut out, its pixels as scanned (no warp), the bed gone
    assert result.done and "cut out" in result.reason, result.reason
    h, w = result.image.shape[:2]
    assert abs(h - H) <= 6 and abs(w - W) <= 6
    found = np.argwhere((result.image == page[0, 0]).all(axis=2))
    assert found.size  # a pixel of the page, unchanged
    assert result.image.mean() > 0.9 * page.mean()  # no dark bed left beside the page
    for (x, y), (mx, my) in zip(_marks(result.image), MARKS, strict=True):
        assert abs(x - mx) < 0.02 and abs(y - my) < 0.02  # the scan turned the page 0.8° within it
