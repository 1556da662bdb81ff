"""Bounded decoding of applicants' files into BGR pages: every byte here is hostile until decoded.

Kept apart from the upload stage's rule logic so that the one place touching raw pixels and PDF
objects can be read, fuzzed and bounded on its own. Callers pass :class:`Limits` (from the rule
set); a file that cannot be decoded within them raises :class:`Unreadable`, never anything else
the caller must know about (``MemoryError`` aside, which the bounds below exist to prevent).

Bounds (defaults from the rule set; N = ``max_pixels`` 40 Mpx, B = ``max_decode_mb`` 128 MB,
S = ``max_render_side`` 4000 px, R = ``max_render_pixels`` 12 Mpx, D = ``max_document_pixels``
48 Mpx, P = ``max_pages`` 20). Measured figures: bench/RESULTS.md.

* Type: judged from the magic bytes at offset 0 only, by :func:`sniff`. A polyglot (say a JPEG
  whose comment holds a PDF) is whatever its first bytes say, and is only ever handed to the one
  decoder that type names (Pillow is told the single format it may use): named .jpg it is read as
  the JPEG it starts as, named .pdf it fails upload.format (content JPEG ≠ name PDF).
* Images: width × height and mode read from the header *before* any pixel is decoded; more than
  N pixels, or more than B bytes to hold them in that mode at full size, is unreadable (Pillow's
  own bomb guard is set to N too, its warning raised as an error). A JPEG whose long side exceeds
  S is decoded at a reduced DCT scale (≤ S² pixels ever held); others are decoded once and
  reduced by an integer factor to long side ≤ S, each full-size buffer freed as soon as its
  successor exists. Peak memory above the process's own ≈ B + 50 MB; time ≈ 1 s at the caps on
  this machine (PNG inflate is the slow part). Animated GIFs: the first frame only. Truncated
  JPEGs are errors (``LOAD_TRUNCATED_IMAGES`` stays False; the OpenCV fast path takes only files
  whose segments reach the end-of-image marker, Pillow judges the rest).
* PDFs (``pipeline.intake.pdf``): more than P pages (the page tree's count, read without loading
  any page) is unreadable before anything is rendered. Each page is rendered at ``render_dpi``,
  lowered until its long side is ≤ S and its area ≤ R pixels (a 14400 pt page still renders
  small), all pages together ≤ D: retained memory ≤ D × 3 bytes (144 MB). MuPDF's work per page
  is *not* bounded by the file size, so rendering runs in a forked child limited to
  ``pdf_page_cpu_seconds`` of CPU per page (ITIMER_PROF), ``pdf_cpu_seconds`` in all
  (RLIMIT_CPU) and ``pdf_memory_mb`` more address space (RLIMIT_AS); a child stopped by any of
  them means unreadable. ``metadata["isolated"]`` says whether a child was used.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import io
import math
import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageFile

from pipeline.intake.decoded import Decoded, Limits, Unreadable, clean_text, creator_tool
from pipeline.intake.pages import Page, estimate_a4_dpi
from pipeline.intake.pdf import render_pdf
from pipeline.intake.straighten import straighten
from pipeline.intake.streaks import find_streaks, paint_out

__all__ = ["Decoded", "Limits", "Unreadable", "decode", "decode_image", "sniff"]

#: Content types we can name from the first bytes (longest signatures first where they overlap).
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "jpeg"), (b"\x89PNG\r\n\x1a\n", "png"), (b"GIF87a", "gif"), (b"GIF89a", "gif"),
    (b"BM", "bmp"), (b"%PDF-", "pdf"), (b"PK\x03\x04", "zip"), (b"PK\x05\x06", "zip"),
    (b"Rar!\x1a\x07", "rar"), (b"7z\xbc\xaf\x27\x1c", "7z"), (b"\x1f\x8b", "gzip"),
    (b"II*\x00", "tiff"), (b"MM\x00*", "tiff"), (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole"),
    (b"MZ", "exe"), (b"\x7fELF", "elf"), (b"\x00\x00\x00\x0cjP  ", "jpeg2000"),
    (b"{\\rtf", "rtf"), (b"8BPS", "psd"), (b"\xff\x0a", "jpegxl"),
)
#: Human words for the content types, for the applicant's message.
TYPE_NAMES_ZH = {
    "jpeg": "JPEG 图片", "png": "PNG 图片", "gif": "GIF 图片", "bmp": "BMP 图片", "pdf": "PDF 文档",
    "zip": "ZIP 压缩包（或 Word/Excel 文档）", "rar": "RAR 压缩包", "7z": "7z 压缩包", "gzip": "gzip 压缩包",
    "tiff": "TIFF 图片", "ole": "旧版 Word/Excel 文档", "exe": "可执行程序", "elf": "可执行程序",
    "jpeg2000": "JPEG 2000 图片", "rtf": "RTF 文档", "psd": "Photoshop 文件", "jpegxl": "JPEG XL 图片",
    "webp": "WebP 图片", "heic": "HEIC 图片", "text": "文本文件", "unknown": "无法识别的内容",
}
#: In entropy-coded JPEG data, 0xFF is a marker unless stuffed (FF 00) or a restart (FF D0–D7).
_NEXT_MARKER = re.compile(rb"\xff(?![\x00\xd0-\xd7])")
_PIL_FORMAT = {"jpeg": "JPEG", "png": "PNG", "gif": "GIF", "bmp": "BMP"}
_PLAUSIBLE_DPI = (100.0, 2400.0)  # 72/96 are tool defaults, not measurements: treated as unknown
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
#: Bytes per pixel held while decoding a mode at full size (the copies a conversion needs included).
_DECODE_BYTES = {"1": 2, "L": 1, "P": 5, "LA": 2, "PA": 2, "RGB": 3, "YCbCr": 3, "RGBA": 4, "CMYK": 4,
                 "I;16": 5, "I;16B": 5, "I;16L": 5, "I;16N": 5, "I": 4, "F": 4}
#: libjpeg's standard luminance quantisation table (quality 50), for the quality estimate.
_STD_LUMA_SUM = sum((16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57,
                     69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55,
                     64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100,
                     103, 99))
#: EXIF orientation -> (rotate clockwise by k × 90°, then flip left-right?) applied to the stored pixels.
_ORIENT = {2: (0, True), 3: (2, False), 4: (2, True), 5: (1, True), 6: (1, False), 7: (3, True), 8: (3, False)}


def sniff(head: bytes) -> str:
    """The content type named by the first bytes of a file ("unknown" when none is recognised)."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"avif"):
        return "heic"
    if head and all(32 <= b < 127 or b in (9, 10, 13) for b in head[:512]):
        return "text"
    return "unknown"


def decode(data: bytes, content_type: str, limits: Limits) -> Decoded:
    """Decode ``data`` (already sniffed as ``content_type``) into pages, or raise Unreadable."""
    try:
        if content_type == "pdf":
            return without_streaks(straighten_pages(render_pdf(data, limits)))
        if content_type in _PIL_FORMAT:
            return without_streaks(straighten_pages(decode_image(data, content_type, limits)))
        raise Unreadable(f"no decoder for {content_type}", "文件格式无法识别")
    finally:
        release_freed_memory()


def straighten_pages(decoded: Decoded) -> Decoded:
    """Phone photos of a sheet: each page's quadrilateral warped upright to A4 before any image stage
    (``pipeline.intake.straighten``); scans and renders that fill their frame pass unchanged. The
    page records what was found, the upload's metadata which pages were straightened."""
    def upright(page: Page) -> tuple[Page, str] | None:
        result = straighten(page.image)
        if not result.done:
            return None
        h, w = result.image.shape[:2]
        return (Page(page.index, np.ascontiguousarray(result.image), estimate_a4_dpi(w, h), "estimated-a4",
                     result.evidence()),
                f"keystone {result.keystone:.0%}" if result.keystone >= 0.005 else result.reason)

    return _each_page(decoded, "straightened", upright)


def without_streaks(decoded: Decoded) -> Decoded:
    """A sheet-fed scanner's streaks (a thin line down the whole page: dust on its glass) painted out
    of each page before any image stage (``pipeline.intake.streaks``); the upload's metadata says
    where."""
    def painted(page: Page) -> tuple[Page, str] | None:
        streaks = find_streaks(page.image, page.dpi)
        if not streaks:
            return None
        return (replace(page, image=paint_out(page.image, streaks), streaks=tuple((s.x0, s.x1) for s in streaks)),
                "x " + ", ".join(f"{s.x0}–{s.x1 - 1}" for s in streaks))

    return _each_page(decoded, "streaks", painted)


def _each_page(decoded: Decoded, note: str, change: Callable[[Page], tuple[Page, str] | None]) -> Decoded:
    """``decoded`` with each page ``change`` gives a new one for replaced, and what it did noted per
    page under ``note`` in the metadata; ``decoded`` itself when no page changed."""
    pages, notes = [], []
    for page in decoded.pages:
        changed = change(page)
        pages.append(page if changed is None else changed[0])
        if changed is not None:
            notes.append(f"page {page.index + 1}: {changed[1]}")
    if not notes:
        return decoded
    return Decoded(tuple(pages), {**decoded.metadata, note: "; ".join(notes)}, decoded.warnings)


def _trimmer() -> Any:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to hand back this way
        return None


_MALLOC_TRIM = _trimmer()


def release_freed_memory() -> None:
    """Hand the memory freed by a decoding back to the system (glibc ``malloc_trim``).

    A 40-Mpx upload's full-size buffers, once freed, stay in the allocator's heaps; the next
    upload's large buffers are mapped anew beside them, so without this the peaks of two
    uploads add up (the hostile-set memory bound in tests/test_upload_hostile.py).
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


# ---------------------------------------------------------------- images


@contextmanager
def _pillow_bounds(max_pixels: int) -> Iterator[None]:
    """Pillow's bomb guard at our cap (its warning turned into an error); anything Pillow raises
    while decoding hostile bytes (OSError, SyntaxError, ValueError, struct.error, …) → Unreadable."""
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = max_pixels
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (Unreadable, MemoryError):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise Unreadable(f"decompression bomb: {exc}", "图像尺寸过大", max_pixels=max_pixels) from None
    except Exception as exc:  # the decoder's whole error zoo means "corrupt file"
        zh = "文件不完整（被截断）" if "truncated" in str(exc) else "文件已损坏"
        raise Unreadable(f"{type(exc).__name__}: {exc}", zh) from None
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def decode_image(data: bytes, content_type: str, limits: Limits) -> Decoded:
    """One upright BGR page from JPEG/PNG/GIF/BMP bytes, long side ≤ ``max_render_side``."""
    side = limits.max_render_side
    with _pillow_bounds(limits.max_pixels):
        im = Image.open(io.BytesIO(data), formats=[_PIL_FORMAT[content_type]])
        width, height, mode = im.size[0], im.size[1], im.mode
        _check_header(width, height, mode, content_type, limits)
        metadata = _image_metadata(im, content_type)
        orientation = _orientation(im)
        declared = _declared_dpi(im)
        fast = content_type == "jpeg" and mode in ("RGB", "L") and max(width, height) <= side
        bgr = _jpeg_fast(data) if fast else None
        if bgr is None:
            bgr = _decode_with_pillow(im, content_type, side)
    bgr = _upright(bgr, orientation)
    scale = max(bgr.shape[:2]) / max(width, height)
    if declared is not None:
        dpi, source = declared * scale, "metadata"
    else:
        dpi, source = estimate_a4_dpi(bgr.shape[1], bgr.shape[0]), "estimated-a4"
    metadata.update(width=str(width), height=str(height), mode=mode)
    return Decoded((Page(0, bgr, dpi, source),), metadata)


def _check_header(width: int, height: int, mode: str, content_type: str, limits: Limits) -> None:
    """Refuse before decoding: too many pixels, or too many bytes to hold while decoding."""
    pixels = width * height
    if width <= 0 or height <= 0 or pixels > limits.max_pixels:
        raise Unreadable(f"{width}x{height} pixels exceeds the cap of {limits.max_pixels}",
                         "图像尺寸过大", width=width, height=height, max_pixels=limits.max_pixels)
    if content_type == "jpeg" and max(width, height) > limits.max_render_side:
        return  # decoded at a reduced DCT scale: at most max_render_side² pixels ever held
    held = pixels * _DECODE_BYTES.get(mode, 5)
    if held > limits.max_decode_mb * 1024 * 1024:
        raise Unreadable(f"{width}x{height} {mode} needs {held >> 20} MB to decode, over {limits.max_decode_mb}",
                         "图像尺寸过大", width=width, height=height, mode=mode, max_decode_mb=limits.max_decode_mb)


def _jpeg_fast(data: bytes) -> np.ndarray | None:
    """OpenCV decodes baseline RGB/greyscale JPEGs ~2× faster than Pillow, but only warns on a
    truncated file: so it gets only files whose marker walk reaches the end-of-image marker
    (None otherwise: Pillow then judges the file, and raises on truncation)."""
    if not _jpeg_complete(data):
        return None
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    return None if bgr is None or bgr.size == 0 else bgr


def _jpeg_complete(data: bytes) -> bool:
    """Walk the JPEG's segments from SOI to EOI, skipping entropy-coded data after each SOS.
    What follows EOI is ignored (phones append motion-photo video there)."""
    pos, end = 2, len(data)
    while pos + 2 <= end:
        if data[pos] != 0xFF:
            return False
        marker = data[pos + 1]
        if marker == 0xD9:
            return True
        if marker == 0xFF or 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 1 if marker == 0xFF else 2  # fill byte, or a marker without a length
            continue
        if pos + 4 > end:
            return False
        pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
        if marker == 0xDA:
            found = _NEXT_MARKER.search(data, pos)
            if found is None:
                return False
            pos = found.start()
    return False


def _decode_with_pillow(im: Image.Image, content_type: str, side: int) -> np.ndarray:
    """Decode once, reduce by an integer factor (box filter) to ≤ ``side``, then RGB on white and
    BGR; every full-size buffer is closed as soon as its smaller successor exists."""
    width, height = im.size
    if content_type == "jpeg" and max(width, height) > side:
        # DCT-domain reduction to the smallest scale still ≥ side/2: never decoded at full size
        im.draft(im.mode, (max(1, width * side // (2 * max(width, height))),
                           max(1, height * side // (2 * max(width, height)))))
    im.load()  # for an animated GIF: the first frame
    if im.mode.startswith("I;16"):
        im = _replace(im, _high_bytes(im))
    elif im.mode in ("1", "P"):
        im = _replace(im, im.convert("RGBA" if "transparency" in im.info else "L" if im.mode == "1" else "RGB"))
    factor = math.ceil(max(im.size) / side)
    if factor > 1:
        im = _replace(im, im.reduce(factor))
    if im.mode in ("I", "F"):
        im = _replace(im, _scaled_to_8bit(im))
    rgb = _replace(im, _to_rgb(im))
    raw = rgb.tobytes("raw", "BGR")
    shape = (rgb.size[1], rgb.size[0], 3)
    rgb.close()
    return np.frombuffer(raw, np.uint8).reshape(shape).copy()


def _replace(old: Image.Image, new: Image.Image) -> Image.Image:
    """``new``, having freed ``old``'s pixels (Image.close drops the core image)."""
    if new is not old:
        old.close()
    return new


def _high_bytes(im: Image.Image) -> Image.Image:
    """16-bit greyscale to 8 bits by its high byte (Pillow's convert would clip above 255)."""
    big_endian = im.mode in ("I;16B", "I;16BS")
    pairs = np.frombuffer(im.tobytes(), np.uint8).reshape(im.size[1], im.size[0], 2)
    return Image.fromarray(np.ascontiguousarray(pairs[:, :, 0 if big_endian else 1]), "L")


def _scaled_to_8bit(im: Image.Image) -> Image.Image:
    arr = np.asarray(im)
    top = max(float(arr.max(initial=0)), 255.0)
    return Image.fromarray(np.clip(arr.astype(np.float32) * (255.0 / top), 0, 255).astype(np.uint8), "L")


def _to_rgb(im: Image.Image) -> Image.Image:
    """RGB on white: transparent areas of a scan are paper, not black."""
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in _ALPHA_MODES:
        rgba = im.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return im if im.mode == "RGB" else im.convert("RGB")


def _upright(bgr: np.ndarray, orientation: int) -> np.ndarray:
    """Apply the EXIF orientation (what ImageOps.exif_transpose does) on the final, small array."""
    turns, flip = _ORIENT.get(orientation, (0, False))
    if turns:
        bgr = np.rot90(bgr, k=-turns)  # k<0: clockwise
    if flip:
        bgr = bgr[:, ::-1]
    return np.ascontiguousarray(bgr)


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(0x0112, 1)
        return int(value) if isinstance(value, int) and 1 <= value <= 8 else 1
    except Exception:  # a corrupt EXIF block leaves the image as stored
        return 1


def _declared_dpi(im: Image.Image) -> float | None:
    dpi = im.info.get("dpi")
    try:
        x = float(dpi[0]) if isinstance(dpi, tuple) and dpi else None
    except (TypeError, ValueError):
        return None
    if x is None or not (_PLAUSIBLE_DPI[0] <= x <= _PLAUSIBLE_DPI[1]):
        return None
    return x


def _image_metadata(im: Image.Image, content_type: str) -> dict[str, str]:
    """Editor names and the like, tolerant of corrupt blocks: metadata never makes a file unreadable."""
    meta: dict[str, str] = {"format": content_type}
    try:
        exif = im.getexif()
        for tag, key in ((305, "software"), (11, "processing_software"), (271, "make"), (272, "model"),
                         (306, "datetime"), (0x0112, "exif_orientation")):
            if exif.get(tag) is not None:
                meta[key] = clean_text(exif.get(tag))
    except Exception:
        meta["exif_error"] = "unreadable EXIF block"
    for key in ("Software", "software", "Comment", "comment"):
        if key in im.info and isinstance(im.info[key], str | bytes):
            meta.setdefault(key.lower(), clean_text(im.info[key]))
    xmp = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
    if isinstance(xmp, str | bytes):
        tool = creator_tool(xmp if isinstance(xmp, bytes) else xmp.encode("utf-8", "replace"))
        if tool:
            meta["creator"] = tool
    if content_type == "jpeg":
        quality = _jpeg_quality(getattr(im, "quantization", None))
        if quality is not None:
            meta["jpeg_quality"] = str(quality)
    if getattr(im, "is_animated", False):
        meta["animated"] = "true"
    return meta


def _jpeg_quality(tables: Any) -> int | None:
    """libjpeg-scale quality from the luminance table (order-free: the sum against the standard)."""
    try:
        luma = list(tables[0])
        if len(luma) != 64:
            return None
        scale = 100.0 * sum(luma) / _STD_LUMA_SUM
    except Exception:
        return None
    quality = (200.0 - scale) / 2.0 if scale <= 100.0 else 5000.0 / scale
    return round(min(max(quality, 1.0), 100.0))
