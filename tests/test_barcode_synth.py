"""Synthetic A4 scans with a Code 128 order number, for the barcode and quality tests and bench.

Drawn here (not from the forms helper) so every nasty case is one keyword away: a red seal over
the bars, skew, 90/180/270° turns, low dpi, JPEG artefacts, a damaged or absent barcode.
The barcode is drawn at 1200 dpi and area-resampled to the page's dpi, like a scanner sees print.
The tests below check the generator itself does what the keywords promise; ``upload_of`` and
``stage_context`` wrap pages the way the upload stage hands them to later stages.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import zxingcpp

from fixtures.scans.imaging import turn_on_canvas
from pipeline.intake.pages import Page, Upload, estimate_a4_dpi
from pipeline.models import Case
from pipeline.ruleset import load_rule_set
from pipeline.stages.base import Artifacts, StageContext
from pipeline.tools import zxing
from tests.casedata import case_dict

A4_MM = (210.0, 297.0)
ORDER_NO = "00202009200000604"


def barcode_image(text: str, dpi: float, module_mm: float = 0.33, height_mm: float = 12.0) -> np.ndarray:
    """A grey Code 128 of ``text`` with quiet zones, as printed at ``module_mm`` and scanned at ``dpi``."""
    modules = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.Code128).to_image(
        scale=1, add_quiet_zones=True)
    row = np.asarray(modules)[0]
    hi = 1200 / 25.4  # px/mm of the drawing
    width_hi = round(len(row) * module_mm * hi)
    hi_row = cv2.resize(row[None, :], (width_hi, 1), interpolation=cv2.INTER_NEAREST)
    hi_img = np.repeat(hi_row, round(height_mm * hi), axis=0)
    scale = dpi / 1200
    return cv2.resize(hi_img, (max(1, round(width_hi * scale)), max(1, round(hi_img.shape[0] * scale))),
                      interpolation=cv2.INTER_AREA)


def _text_block(page: np.ndarray, px_mm: float, rng: np.random.Generator, top_mm: float) -> None:
    """Lines of printed text and a table, so the page is not just a barcode."""
    h, w = page.shape[:2]
    scale = 0.11 * px_mm
    thick = max(1, round(0.09 * px_mm))
    y = top_mm * px_mm
    words = ["Applicant", "Organisation", "Shenyang", "Example", "Tech", "Co", "Ltd", "USCC",
             "91210100MA0Y8K3N2", "Handler", "Li Na", "Mobile", "13912345678", "Department"]
    while y < h - 40 * px_mm:
        line = " ".join(rng.choice(words, size=6))
        cv2.putText(page, line, (round(20 * px_mm), round(y)), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (30, 30, 30), thick, cv2.LINE_AA)
        y += 8 * px_mm
        if rng.random() < 0.15:
            cv2.line(page, (round(15 * px_mm), round(y - 5 * px_mm)), (w - round(15 * px_mm),
                     round(y - 5 * px_mm)), (40, 40, 40), thick)


def draw_seal(page: np.ndarray, centre: tuple[int, int], px_mm: float, diameter_mm: float = 42,
              colour: tuple[int, int, int] = (40, 40, 215), alpha: float = 0.85) -> None:
    """A red round seal (ring, star, arc of marks) blended over the page like ink."""
    ink = np.full_like(page, 255)
    r = round(diameter_mm / 2 * px_mm)
    cv2.circle(ink, centre, r, colour, max(2, round(1.2 * px_mm)), cv2.LINE_AA)
    star = np.array([[np.cos(a) * (0.3 if i % 2 else 0.75) * r * 0.45,
                      np.sin(a) * (0.3 if i % 2 else 0.75) * r * 0.45]
                     for i, a in enumerate(np.linspace(-np.pi / 2, 1.5 * np.pi, 10, endpoint=False))])
    cv2.fillPoly(ink, [(star + centre).astype(np.int32)], colour, cv2.LINE_AA)
    for a in np.linspace(np.pi * 0.85, np.pi * 2.15, 12):
        p = (round(centre[0] + np.cos(a) * r * 0.75), round(centre[1] + np.sin(a) * r * 0.75))
        cv2.circle(ink, p, max(2, round(1.6 * px_mm)), colour, -1, cv2.LINE_AA)
    cv2.putText(ink, "SEAL", (centre[0] - r // 3, centre[1] + r // 2), cv2.FONT_HERSHEY_SIMPLEX,
                0.12 * px_mm, colour, max(1, round(0.4 * px_mm)), cv2.LINE_AA)
    mixed = page.astype(np.float32) * (ink.astype(np.float32) / 255.0)
    page[:] = np.clip(page * (1 - alpha) + mixed * alpha, 0, 255).astype(np.uint8)


def synth_page(
    text: str | None = ORDER_NO,
    *,
    dpi: float = 200,
    angle: float = 0.0,
    turn: int = 0,
    seal_over_barcode: bool = False,
    jpeg_quality: int | None = None,
    damaged: bool = False,
    second_barcode: str | None = None,
    seed: int = 0,
    module_mm: float = 0.33,
) -> np.ndarray:
    """A BGR A4 page scanned at ``dpi``: barcode top right, text below, optional defects.

    ``angle`` skews the whole page (degrees, counter-clockwise), ``turn`` rotates it by a
    multiple of 90°, ``damaged`` blots out a band across the bars.
    """
    rng = np.random.default_rng(seed)
    px_mm = dpi / 25.4
    w, h = round(A4_MM[0] * px_mm), round(A4_MM[1] * px_mm)
    page: np.ndarray = np.full((h, w, 3), 250, np.uint8)
    cv2.putText(page, "APPLICATION FORM", (round(60 * px_mm), round(45 * px_mm)), cv2.FONT_HERSHEY_SIMPLEX,
                0.25 * px_mm, (20, 20, 20), max(1, round(0.25 * px_mm)), cv2.LINE_AA)
    box = None
    for i, value in enumerate(t for t in (text, second_barcode) if t):
        bars = barcode_image(value, dpi, module_mm)
        x = w - bars.shape[1] - round(12 * px_mm)
        y = round((12 + i * 250) * px_mm)
        page[y:y + bars.shape[0], x:x + bars.shape[1]] = np.minimum(
            page[y:y + bars.shape[0], x:x + bars.shape[1]], bars[:, :, None])
        cv2.putText(page, value, (x + round(6 * px_mm), y + bars.shape[0] + round(4 * px_mm)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.1 * px_mm, (20, 20, 20), max(1, round(0.08 * px_mm)),
                    cv2.LINE_AA)
        if i == 0:
            box = (x, y, bars.shape[1], bars.shape[0])
    _text_block(page, px_mm, rng, 60)
    if box is not None and damaged:
        x, y, bw, bh = box
        page[y + bh // 4:y + 3 * bh // 4, x + bw // 5:x + 4 * bw // 5] = 20
        page[y:y + bh, x + bw // 3:x + 2 * bw // 3] = 250
    if box is not None and seal_over_barcode:
        x, y, bw, bh = box
        draw_seal(page, (x + bw // 2, y + bh // 2 + round(8 * px_mm)), px_mm)
    if angle:  # like a phone photo of the sheet: the whole sheet, turned, on a larger canvas
        page = turn_on_canvas(page, angle, (250, 250, 250))
    noise = rng.normal(0, 3, page.shape)
    page = np.clip(cv2.GaussianBlur(page, (3, 3), 0.6) + noise, 0, 255).astype(np.uint8)
    return _finish(page, turn, jpeg_quality)


def _finish(page: np.ndarray, turn: int, jpeg_quality: int | None) -> np.ndarray:
    if turn % 4:
        page = np.ascontiguousarray(np.rot90(page, k=turn % 4))
    if jpeg_quality is not None:
        _, buf = cv2.imencode(".jpg", page, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
        return np.asarray(cv2.imdecode(buf, cv2.IMREAD_COLOR))
    return page


def _zxing_texts(image: np.ndarray) -> set[str]:
    return {text for text, _ in zxing.decode_code128(image)}


def test_a_clean_synthetic_page_carries_its_order_number_as_code_128() -> None:
    assert ORDER_NO in _zxing_texts(synth_page(dpi=200))


def test_a_synthetic_page_has_the_size_of_a4_at_the_requested_dpi() -> None:
    page = synth_page(dpi=150, turn=1)
    assert page.shape[:2] == (round(210 / 25.4 * 150), round(297 / 25.4 * 150))


def test_the_synthetic_seal_hides_the_bars_from_a_reader_fed_the_grey_page_but_not_the_red_channel() -> None:
    page = synth_page(seal_over_barcode=True, seed=3)
    grey = cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)
    assert ORDER_NO not in _zxing_texts(grey)
    assert ORDER_NO in _zxing_texts(np.ascontiguousarray(page[:, :, 2]))


def upload_of(tmp_path: Path, slot: str, pages: list[np.ndarray], dpi: float | None = None,
              metadata: dict[str, str] | None = None) -> Upload:
    """An Upload of real image pages, written to ``tmp_path`` as the upload stage would see them.

    ``dpi`` None means an image upload whose resolution is the upload stage's A4 estimate.
    """
    path = tmp_path / f"{slot}.png"
    cv2.imwrite(str(path), pages[0])
    data = path.read_bytes()
    made = tuple(
        Page(i, img, dpi if dpi is not None else estimate_a4_dpi(img.shape[1], img.shape[0]),
             "pdf-render" if dpi is not None else "estimated-a4")
        for i, img in enumerate(pages))
    return Upload(slot, path, len(data), hashlib.sha256(data).hexdigest(), "png", "png", made,
                  metadata or {})


def stage_context(tmp_path: Path, uploads: list[Upload], order_no: str = ORDER_NO) -> StageContext:
    return StageContext(case=Case.model_validate(case_dict(order_no=order_no)), rules=load_rule_set(),
                        uploads={u.slot: u for u in uploads}, artifacts=Artifacts(tmp_path / "out"))
