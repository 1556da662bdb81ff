"""The barcode reader on real photos of Code 128 that no one here drew (../shared/real-samples).

Their texts are not order numbers, so the order-number filter is off (accept=None). Turned by
30° they defeat zxing-cpp on the whole image, so the region finder and deskew must do the work.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from fixtures.scans.imaging import turn_on_canvas
from pipeline.intake.pages import estimate_a4_dpi
from pipeline.stages.barcode import read_code128
from pipeline.tools import zbar, zxing

SAMPLES = Path(__file__).resolve().parents[1] / ".." / "shared" / "real-samples"
PHOTOS = sorted(p.name for p in SAMPLES.glob("barcode_zxing_*.png"))


def _read(image: np.ndarray) -> set[str]:
    px_mm = estimate_a4_dpi(image.shape[1], image.shape[0]) / 25.4
    regions, _ = read_code128(image, px_mm, accept=None)
    return {text for region in regions for text in region.texts()}


def test_there_are_real_code_128_photos_to_read() -> None:
    assert len(PHOTOS) >= 4


@pytest.mark.parametrize("name", PHOTOS)
def test_every_real_code_128_decodes_to_the_text_beside_it(name: str) -> None:
    image = np.asarray(cv2.imread(str(SAMPLES / name)))
    expected = (SAMPLES / name).with_suffix(".txt").read_text(encoding="utf-8").strip()
    assert _read(image) == {expected}


@pytest.mark.parametrize("name", PHOTOS)
def test_a_real_code_128_turned_by_30_degrees_is_found_deskewed_and_decoded(name: str) -> None:
    # Given a real photo turned by 30°, which zxing-cpp does not decode on the whole image
    image = turn_on_canvas(np.asarray(cv2.imread(str(SAMPLES / name))), 30)
    expected = (SAMPLES / name).with_suffix(".txt").read_text(encoding="utf-8").strip()
    red = np.ascontiguousarray(image[:, :, 2])
    assert expected not in {t for t, _ in zxing.decode_code128(red, try_downscale=False)}
    # When the reader locates and deskews the region, Then it decodes the text
    assert _read(image) == {expected}


def test_zbar_is_installed_and_says_so() -> None:
    assert zbar.probe()["engine"] == "zbar"
