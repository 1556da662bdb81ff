"""A seal pressed on paper, not a picture placed by a computer: a PDF's layers (visible text,
images laid over images) tell an 电子章 pasted into the file from a scanned stamp."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pymupdf
import pytest
from PIL import Image

from fixtures.scans.imaging import draw_seal, mm_to_px, scan, stamp
from pipeline.intake.decoded import Limits
from pipeline.intake.pages import Page
from pipeline.intake.pdf import render_pdf
from pipeline.seal.find import find_seals
from pipeline.stages.seal import placed_digitally

DPI = 150
MIN_CHARS = 80
A4_PT = (595.0, 842.0)


def _png(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "PNG")
    return buffer.getvalue()


def _sheet(stamped: bool) -> np.ndarray:
    """An A4 scan at DPI with a few printed lines, the seal pressed on it or not."""
    w, h = mm_to_px(210, DPI), mm_to_px(297, DPI)
    page = np.full((h, w, 3), 255, np.uint8)
    for k in range(8):
        cv2.putText(page, f"APPLICATION FORM LINE {k}", (120, 200 + 90 * k), cv2.FONT_HERSHEY_SIMPLEX, 1.2,
                    (20, 20, 20), 2)
    if stamped:
        page = stamp(page, _seal_picture(), (w * 0.6, h * 0.7))
    return scan(page, DPI, rng=np.random.default_rng(3))


def _seal_picture() -> np.ndarray:
    return draw_seal("沈阳示例科技有限公司", mm_to_px(42, DPI), rng=np.random.default_rng(5))


def _seal_rect() -> pymupdf.Rect:
    cx, cy, side = A4_PT[0] * 0.6, A4_PT[1] * 0.7, 42 / 25.4 * 72
    return pymupdf.Rect(cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def _pdf(build: str) -> bytes:
    doc = pymupdf.open()
    page = doc.new_page(width=A4_PT[0], height=A4_PT[1])
    if build == "scan":
        page.insert_image(page.rect, stream=_png(_sheet(stamped=True)))
    elif build == "scan_with_ocr_layer":  # a searchable scan: the scanner's OCR text is invisible
        page.insert_image(page.rect, stream=_png(_sheet(stamped=True)))
        for k in range(10):
            page.insert_text((60, 80 + 40 * k), "沈阳示例科技有限公司 机构员工数字证书申请表", fontname="china-s",
                             fontsize=11, render_mode=3)
    elif build == "scan_in_strips":  # some scanners store a page as bands, side by side, none over another
        sheet = _sheet(stamped=True)
        half = sheet.shape[0] // 2
        page.insert_image(pymupdf.Rect(0, 0, A4_PT[0], A4_PT[1] / 2), stream=_png(sheet[:half]))
        page.insert_image(pymupdf.Rect(0, A4_PT[1] / 2, A4_PT[0], A4_PT[1]), stream=_png(sheet[half:]))
    elif build == "scan_in_layers":  # a compressing scanner: the page as a background and a foreground
        sheet = _sheet(stamped=True)
        page.insert_image(page.rect, stream=_png(np.full_like(sheet, 250)))
        page.insert_image(page.rect, stream=_png(sheet))
        page.insert_image(pymupdf.Rect(0, A4_PT[1] * 0.55, A4_PT[0], A4_PT[1] * 0.85), stream=_png(sheet[1000:1500]))
    elif build == "seal_over_scan":
        page.insert_image(page.rect, stream=_png(_sheet(stamped=False)))
        page.insert_image(_seal_rect(), stream=_png(_seal_picture()))
    else:  # "drawn": the form as a document, never printed, the seal a picture on it
        for k in range(10):
            page.insert_text((60, 80 + 40 * k), "沈阳示例科技有限公司 机构员工数字证书申请表", fontname="china-s",
                             fontsize=11)
        page.insert_image(_seal_rect(), stream=_png(_seal_picture()))
    out: bytes = doc.tobytes()
    doc.close()
    return out


def _placed(build: str) -> list[str | None]:
    (page,) = render_pdf(_pdf(build), Limits()).pages
    seals = [s for s in find_seals(page.image, page.dpi) if s.colour == "red"]
    assert seals, build
    return [placed_digitally(page, s, MIN_CHARS) for s in seals]


@pytest.mark.parametrize("build", ["scan", "scan_with_ocr_layer", "scan_in_strips", "scan_in_layers"])
def test_a_seal_in_a_scanned_page_was_pressed_on_paper(build: str) -> None:
    assert _placed(build) == [None]


def test_a_seal_picture_pasted_over_a_scan_was_placed_by_a_computer() -> None:
    assert _placed("seal_over_scan") == ["image_over_image"]


def test_a_seal_on_a_page_the_computer_drew_was_placed_by_a_computer() -> None:
    assert _placed("drawn") == ["drawn_page"]


def test_the_pdf_renderer_reports_each_pages_visible_text_and_images() -> None:
    (drawn,) = render_pdf(_pdf("drawn"), Limits()).pages
    (searchable,) = render_pdf(_pdf("scan_with_ocr_layer"), Limits()).pages
    assert drawn.layers is not None and drawn.layers.visible_chars >= MIN_CHARS
    assert searchable.layers is not None and searchable.layers.visible_chars == 0
    (image,) = searchable.layers.images  # the scan over the whole page (its aspect kept)
    assert image == pytest.approx((0.0, 0.0, 1.0, 1.0), abs=0.01)


def test_an_image_upload_has_no_layers_and_is_never_judged_placed() -> None:
    image = cv2.cvtColor(_sheet(stamped=True), cv2.COLOR_RGB2BGR)
    page = Page(0, image, DPI, "metadata")
    seal = next(s for s in find_seals(image, DPI) if s.colour == "red")
    assert placed_digitally(page, seal, MIN_CHARS) is None
