"""Decoding good files of every shape a scanner or phone produces into upright BGR pages."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pymupdf
import pytest
from PIL import Image

from pipeline.intake import pdf as decode_pdf
from pipeline.intake.images import Limits, decode, sniff
from pipeline.intake.pages import estimate_a4_dpi
from pipeline.intake.pdf import render_dpis
from tests.uploadfiles import bmp, encode, gif_animated, page_image, pdf

pytestmark = pytest.mark.timeout(60)
LIMITS = Limits()


def only_page(data: bytes, content_type: str) -> np.ndarray:
    decoded = decode(data, content_type, LIMITS)
    assert len(decoded.pages) == 1
    image = decoded.pages[0].image
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3 and image.flags.c_contiguous
    return image


def test_an_exif_rotated_jpeg_comes_out_upright() -> None:
    # Given an upright page whose top band is red, stored turned 90° anticlockwise with
    # EXIF orientation 6 ("rotate 90° clockwise to display"), as phones do
    upright = np.full((400, 300, 3), 255, np.uint8)
    upright[:80] = (220, 0, 0)
    stored = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)
    exif = stored.getexif()
    exif[0x0112] = 6
    data = encode(stored, "JPEG", quality=95, exif=exif)
    # When decoded
    image = only_page(data, "jpeg")
    # Then it is portrait, and its top band is red (BGR: red is the last channel)
    assert image.shape[:2] == (400, 300)
    assert image[:60, :, 2].mean() > 200 and image[:60, :, 0].mean() < 40
    assert image[-100:].mean() > 240


def test_a_cmyk_jpeg_is_converted_to_colour() -> None:
    data = encode(Image.new("CMYK", (120, 90), (0, 255, 255, 0)), "JPEG")  # CMYK red
    image = only_page(data, "jpeg")
    blue, green, red = (int(c) for c in image[45, 60])
    assert red > 200 and green < 60 and blue < 60


def test_a_16_bit_greyscale_png_keeps_its_tones_instead_of_clipping_to_white() -> None:
    ramp = np.tile(np.linspace(0, 65535, 256, dtype=np.uint16), (40, 1))
    image = only_page(encode(Image.fromarray(ramp), "PNG"), "png")
    assert image[20, 0].tolist() == [0, 0, 0] and image[20, -1].tolist() == [255, 255, 255]
    assert 100 < int(image[20, 128, 0]) < 156


def test_a_palette_png_with_transparency_is_put_on_white_paper() -> None:
    im = Image.new("P", (50, 50), 0)
    im.putpalette([0, 0, 0] * 256)
    data = encode(im, "PNG", transparency=0)
    assert only_page(data, "png").min() == 255


def test_la_and_one_bit_images_become_rgb() -> None:
    la = Image.new("LA", (40, 30), (0, 255))
    assert only_page(encode(la, "PNG"), "png").max() == 0
    one_bit = Image.new("1", (40, 30), 1)
    assert only_page(encode(one_bit, "PNG"), "png").min() == 255


def test_an_animated_gif_gives_its_first_frame_only() -> None:
    data = gif_animated(frames=4)
    decoded = decode(data, "gif", LIMITS)
    assert len(decoded.pages) == 1 and decoded.metadata["animated"] == "true"
    assert decoded.pages[0].image.mean() > 150  # frame 0 is a page; the later frames are black


def test_a_bmp_decodes() -> None:
    image = only_page(bmp(300, 420), "bmp")
    assert image.shape == (420, 300, 3)
    assert np.abs(image.astype(int) - page_image(300, 420)[:, :, ::-1]).max() == 0


def test_a_declared_300_dpi_is_used_and_a_72_dpi_default_is_not_trusted() -> None:
    declared = decode(encode(page_image(620, 877), "JPEG", dpi=(300, 300)), "jpeg", LIMITS).pages[0]
    assert (round(declared.dpi), declared.dpi_source) == (300, "metadata")
    default = decode(encode(page_image(620, 877), "PNG", dpi=(72, 72)), "png", LIMITS).pages[0]
    assert default.dpi_source == "estimated-a4" and default.dpi == pytest.approx(estimate_a4_dpi(620, 877))


def test_an_image_larger_than_the_render_side_is_reduced_and_its_dpi_scaled() -> None:
    limits = Limits(max_render_side=1000)
    for fmt, content_type in (("JPEG", "jpeg"), ("PNG", "png")):
        data = encode(page_image(1600, 2262), fmt, dpi=(400, 400))
        page = decode(data, content_type, limits).pages[0]
        assert max(page.image.shape[:2]) <= 1000 and page.dpi_source == "metadata"
        assert page.dpi == pytest.approx(400 * page.image.shape[0] / 2262, rel=0.01)


def test_editor_names_reach_the_metadata_later_stages_read() -> None:
    im = Image.fromarray(page_image(200, 280))
    exif = im.getexif()
    exif[305] = "Adobe Photoshop 25.0 (Windows)"
    assert decode(encode(im, "JPEG", exif=exif), "jpeg", LIMITS).metadata["software"].startswith("Adobe Photoshop")
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Software", "GIMP 2.10")
    assert decode(encode(im, "PNG", pnginfo=info), "png", LIMITS).metadata["software"] == "GIMP 2.10"
    xmp = b'<x:xmpmeta><rdf:Description xmp:CreatorTool="Meitu 9.0"/></x:xmpmeta>'
    assert decode(encode(im, "JPEG", xmp=xmp), "jpeg", LIMITS).metadata["creator"] == "Meitu 9.0"


def test_a_pdf_page_is_rendered_at_the_fixed_dpi_with_producer_and_creator() -> None:
    doc = pymupdf.open(stream=pdf(pages=2), filetype="pdf")
    doc.set_metadata({"producer": "Canon iR-ADV C5535", "creator": "ScanGear"})
    decoded = decode(doc.tobytes(), "pdf", LIMITS)
    assert [p.dpi for p in decoded.pages] == [200.0, 200.0]
    assert decoded.pages[0].dpi_source == "pdf-render"
    assert decoded.pages[0].image.shape == (2339, 1653, 3)  # 595 × 842 pt at 200 dpi
    assert decoded.metadata["producer"] == "Canon iR-ADV C5535" and decoded.metadata["creator"] == "ScanGear"
    assert decoded.metadata["isolated"] == "true" and decoded.warnings == ()


def _pdf_of_every_kind_of_content() -> bytes:
    """A scanner's page, a page of vector text, shapes and annotations, a rotated page and one
    with a crop box off the origin."""
    doc = pymupdf.open(stream=pdf(), filetype="pdf")
    page = doc.new_page(width=595, height=842)
    page.insert_text((72, 100), "Hello 你好", fontsize=24, fontname="china-s")
    page.draw_rect(pymupdf.Rect(100, 200, 300, 400), color=(1, 0, 0), fill=(0, 0, 1), fill_opacity=0.4)
    page.add_highlight_annot(pymupdf.Rect(72, 80, 300, 110))
    page.add_freetext_annot(pymupdf.Rect(50, 600, 300, 650), "annotation", fontsize=14)
    turned = doc.new_page(width=595, height=842)
    turned.insert_text((72, 100), "turned", fontsize=30)
    turned.set_rotation(90)
    cropped = doc.new_page(width=612, height=792)
    cropped.insert_text((100, 300), "cropped", fontsize=40)
    cropped.set_cropbox(pymupdf.Rect(37.3, 51.7, 500.2, 700.9))
    return doc.tobytes()


@pytest.mark.parametrize("isolated", [True, False])
def test_pdf_pages_have_exactly_the_pixels_of_mupdfs_own_rendering(monkeypatch: pytest.MonkeyPatch,
                                                                   isolated: bool) -> None:
    # Given a PDF of every kind of content, rendered in the forked child or in-process
    data = _pdf_of_every_kind_of_content()
    monkeypatch.setattr(decode_pdf, "_FORK_ISOLATION", isolated)
    decoded = decode(data, "pdf", LIMITS)
    assert decoded.metadata["isolated"] == str(isolated).lower()
    # Then each page is what PyMuPDF's get_pixmap draws at the page's dpi, in BGR order
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        for page, rendered in zip(doc, decoded.pages, strict=True):
            zoom = rendered.dpi / 72
            pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), colorspace=pymupdf.csRGB, alpha=False)
            rgb = np.frombuffer(pix.samples_mv, np.uint8).reshape(pix.height, pix.width, 3)
            assert np.array_equal(rendered.image, rgb[:, :, ::-1])
            assert rendered.image.flags.c_contiguous and rendered.image.flags.writeable


def test_a_huge_pdf_page_box_renders_within_the_side_and_area_caps() -> None:
    # Given a 14400 × 14400 pt page (200 × 200 inches: 40000 px a side at 200 dpi)
    decoded = decode(pdf(width=14400, height=14400), "pdf", LIMITS)
    image = decoded.pages[0].image
    assert max(image.shape[:2]) <= LIMITS.max_render_side
    assert image.shape[0] * image.shape[1] <= LIMITS.max_render_pixels * 1.01
    assert decoded.pages[0].dpi < 20


def test_many_big_pages_share_the_document_pixel_budget() -> None:
    dpis = render_dpis([(842.0, 1191.0)] * 20, LIMITS)  # 20 A3 pages
    total = sum(842 / 72 * d * 1191 / 72 * d for d in dpis)
    assert total <= LIMITS.max_document_pixels * 1.001 and len(set(dpis)) == 1


@pytest.mark.parametrize(("head", "expected"), [
    (b"\xff\xd8\xff\xe0", "jpeg"), (b"\x89PNG\r\n\x1a\n", "png"), (b"GIF89a", "gif"), (b"BM", "bmp"),
    (b"%PDF-1.7", "pdf"), (b"PK\x03\x04", "zip"), (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "webp"),
    (b"\x00\x00\x00\x18ftypheic", "heic"), (b"<html>", "text"), (b"\x00\x01\x02", "unknown")])
def test_content_types_are_named_from_the_magic_bytes_at_offset_0(head: bytes, expected: str) -> None:
    assert sniff(head) == expected


def test_a_pillow_image_round_trip_of_each_format_is_sniffed_as_itself() -> None:
    for fmt, expected in (("JPEG", "jpeg"), ("PNG", "png"), ("GIF", "gif"), ("BMP", "bmp")):
        buf = io.BytesIO()
        Image.new("RGB", (8, 8)).save(buf, fmt)
        assert sniff(buf.getvalue()) == expected


def test_every_real_sample_image_decodes_cleanly_at_its_own_size(real_samples: Path) -> None:
    # Given the third-party photos and scans in ../shared/real-samples (JPEG and PNG, RGB/RGBA/P/L)
    images = sorted(p for p in real_samples.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    assert len(images) >= 10
    for path in images:
        data = path.read_bytes()
        decoded = decode(data, sniff(data), LIMITS)
        with Image.open(path) as im:
            width, height = im.size
        assert decoded.warnings == () and decoded.pages[0].image.shape[:2] == (height, width), path.name
