"""scan.edited: an editor named in the file's metadata, or the moiré of a re-photographed screen.

Never ``fail``: a clerk looks. The moiré here is drawn: a slowly bending sinusoidal beat, a
few per cent deep, tinted, then JPEG-compressed — what a camera sees of a screen's pixel grid.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.models import Status
from pipeline.stages import quality
from tests.test_barcode_synth import stage_context, synth_page, upload_of


def _screen_photo(page: np.ndarray, period_px: float, angle_deg: float, depth: float) -> np.ndarray:
    h, w = page.shape[:2]
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    a = np.radians(angle_deg)
    phase = 2 * np.pi * (x * np.cos(a) + y * np.sin(a)) / period_px + 3 * np.sin(x / w * 3.1)
    out = page.astype(np.float32) * (1 + depth * np.sin(phase))[:, :, None]
    out[:, :, 0] *= 1 + depth / 2 * np.cos(phase)
    _, buf = cv2.imencode(".jpg", np.clip(out, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 80])
    return np.asarray(cv2.imdecode(buf, cv2.IMREAD_COLOR))


def _edited(tmp_path: Path, pages: list[np.ndarray], slot: str = "authorization",
            metadata: dict[str, str] | None = None) -> list:
    ctx = stage_context(tmp_path, [upload_of(tmp_path, slot, pages, metadata=metadata)])
    return [f for f in quality.run(ctx) if f.rule == "scan.edited"]


@pytest.mark.parametrize("key,value", [("software", "Adobe Photoshop 25.0 (Windows)"),
                                       ("producer", "GIMP 2.10.36"), ("creator", "美图秀秀")])
def test_metadata_naming_an_image_editor_is_left_to_a_person(tmp_path: Path, key: str, value: str) -> None:
    [finding] = _edited(tmp_path, [synth_page()], metadata={key: value})
    assert finding.status is Status.UNCERTAIN
    assert finding.evidence["metadata_value"] == value and value in finding.message


def test_metadata_of_a_scanner_or_a_pdf_printer_is_fine(tmp_path: Path) -> None:
    [finding] = _edited(tmp_path, [synth_page()], metadata={"producer": "Canon iR-ADV C5535 PDF",
                                                           "creator": "Microsoft Print to PDF",
                                                           "software": "Skia/PDF m120 (canvas)"})
    assert finding.status is Status.PASS


@pytest.mark.parametrize("period,angle", [(4, 20), (7, 45), (12, 30), (20, 60)])
def test_a_page_re_photographed_from_a_screen_is_left_to_a_person(
        tmp_path: Path, period: float, angle: float) -> None:
    [finding] = _edited(tmp_path, [_screen_photo(synth_page(), period, angle, 0.06)])
    assert finding.status is Status.UNCERTAIN
    assert "翻拍" in finding.message


@pytest.mark.parametrize("kwargs", [
    {"jpeg_quality": q, "seed": s, "angle": a}
    for q, s, a in [(30, 0, 0), (30, 1, 2), (50, 0, 0), (50, 2, 5), (70, 1, 0), (90, 0, 3)]
] + [{"dpi": 150}, {"dpi": 300, "seal_over_barcode": True}, {"angle": 15}])
def test_ordinary_scans_are_not_taken_for_screen_photos(tmp_path: Path, kwargs: dict[str, object]) -> None:
    [finding] = _edited(tmp_path, [synth_page(**kwargs)])  # type: ignore[arg-type]
    assert finding.status is Status.PASS, finding.evidence


def test_copies_of_id_cards_and_licences_are_not_flagged_at_all(tmp_path: Path) -> None:
    for slot in ("handler_id", "employee_id", "org_license"):
        assert _edited(tmp_path, [synth_page()], slot=slot, metadata={"software": "Photoshop"}) == []


def test_a_page_that_failed_scan_quality_is_skipped_not_judged(tmp_path: Path) -> None:
    [finding] = _edited(tmp_path, [np.full((2339, 1654, 3), 246, np.uint8)], metadata={"software": "GIMP"})
    assert finding.status is Status.SKIPPED


@pytest.mark.parametrize(("dpi", "seed", "side"), [(300, 0, 1080), (300, 2, 1080), (300, 1, 1280), (200, 1, 1080)])
def test_a_page_shrunk_and_recompressed_by_a_phone_messenger_is_not_taken_for_a_screen_photo(
        tmp_path: Path, dpi: float, seed: int, side: int) -> None:
    """Its resampled JPEG grid stands out over a clean page's noise floor 12–19× — at 0.01 grey levels."""
    page = synth_page(dpi=dpi, seed=seed)
    scale = side / max(page.shape[:2])
    small = cv2.resize(page, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    _, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 75])
    [finding] = _edited(tmp_path, [np.asarray(cv2.imdecode(buf, cv2.IMREAD_COLOR))])
    assert finding.status is Status.PASS, finding.evidence
    [score] = finding.evidence["moire"]
    assert score["peak_ratio"] >= 12 and score["amplitude"] < 0.5  # the old rule flagged it
