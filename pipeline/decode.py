"""Bounded decoding of applicants' files into BGR pages: every byte here is hostile until decoded.

Kept apart from the upload stage's rule logic so that the one place touching raw pixels and PDF
objects can be read, fuzzed and bounded on its own. Callers pass :class:`Limits` (from the rule
set); a file that cannot be decoded within them raises :class:`Unreadable`, never anything else
the caller must know about (``MemoryError`` aside, which the bounds below exist to prevent).

Bounds (N = ``max_pixels``, S = ``max_render_side``, R = ``max_render_pixels``, P = ``max_pages``):

* Type: judged from the magic bytes at offset 0 only, by :func:`sniff`. A polyglot (say a JPEG
  whose comment holds a PDF) is whatever its first bytes say, and is only ever handed to the one
  decoder its extension names (Pillow is told the single format it may use).
* Images: width × height read from the header *before* any pixel is decoded; more than N is
  unreadable (Pillow's own bomb guard is set to N too, its warning raised as an error). A JPEG
  whose long side exceeds S is decoded at a reduced DCT scale (never at full size); other formats
  are decoded once at full size and reduced to long side ≤ S. Memory peak ≈ N × 4 bytes (widest
  source mode) + S² × 10 bytes; with the defaults (40 Mpx, 4000) about 320 MB at worst, ≤ 0.6 s.
  Animated GIFs: the first frame only. Truncated JPEGs are errors (``LOAD_TRUNCATED_IMAGES``
  stays False; the OpenCV fast path checks for the end-of-image marker itself).
* PDFs: more than P pages (the page tree's count, read without loading any page) is unreadable
  before anything is rendered. Each page is rendered at ``render_dpi``, lowered until its long
  side is ≤ S pixels and its area ≤ R pixels (a 14400 pt page still renders to ≤ S px), and all
  pages together ≤ D = ``max_document_pixels``: retained memory ≤ D × 3 bytes (144 MB).
  MuPDF's work per page is *not* bounded by the file size (a 50 KB PDF of repeated drawing
  operators costs 1.4 s, 5 MB of them minutes) and MuPDF holds the GIL, so rendering runs in a
  forked child process limited to ``pdf_page_cpu_seconds`` of CPU per page (ITIMER_PROF), to
  ``pdf_cpu_seconds`` for the whole file (RLIMIT_CPU), and
  ``pdf_memory_mb`` more address space (RLIMIT_AS); a child that hits either → unreadable.
  ``metadata["isolated"]`` says whether a child was used (no fork on the platform: in-process,
  with the page and pixel bounds only).
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import math
import os
import pickle
import re
import resource
import select
import signal
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, NoReturn

import cv2
import numpy as np
import pymupdf
from PIL import Image, ImageFile

from pipeline.pages import Page, estimate_a4_dpi

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
_PIL_FORMAT = {"jpeg": "JPEG", "png": "PNG", "gif": "GIF", "bmp": "BMP"}
_META_MAX_CHARS = 200
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


class Unreadable(Exception):
    """The file cannot be decoded within the limits; ``reason`` is technical, ``reason_zh`` for people."""

    def __init__(self, reason: str, reason_zh: str = "文件已损坏", **evidence: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.reason_zh = reason_zh
        self.evidence = evidence


@dataclass(frozen=True)
class Limits:
    """The bounds every decode runs within (from the ``upload.unreadable`` rule's params)."""

    max_pixels: int = 40_000_000
    max_decode_mb: int = 128
    max_pages: int = 20
    render_dpi: float = 200.0
    max_render_side: int = 4000
    max_render_pixels: int = 12_000_000
    max_document_pixels: int = 48_000_000
    pdf_cpu_seconds: int = 8
    pdf_page_cpu_seconds: float = 1.0
    pdf_memory_mb: int = 512


@dataclass(frozen=True)
class Decoded:
    """Pages of a decoded file, what later stages need of its metadata, and decoder complaints
    that did not stop decoding (a person should look: the upload stage reports ``uncertain``)."""

    pages: tuple[Page, ...]
    metadata: dict[str, str]
    warnings: tuple[str, ...] = ()


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
    if content_type == "pdf":
        return render_pdf(data, limits)
    if content_type in _PIL_FORMAT:
        return decode_image(data, content_type, limits)
    raise Unreadable(f"no decoder for {content_type}", "文件格式无法识别")


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
        if content_type == "jpeg" and mode in ("RGB", "L") and max(width, height) <= side:
            bgr = _jpeg_fast(data)
        else:
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


def _jpeg_fast(data: bytes) -> np.ndarray:
    """OpenCV decodes baseline RGB/greyscale JPEGs ~2× faster than Pillow; it only warns on a
    truncated file, so the end-of-image marker must follow the last start-of-scan."""
    if data.rfind(b"\xff\xd9") < data.rfind(b"\xff\xda"):
        raise Unreadable("image file is truncated (no end-of-image marker after the last scan)",
                         "文件不完整（被截断）")
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if bgr is None or bgr.size == 0:
        raise Unreadable("OpenCV could not decode the JPEG data")
    return bgr


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
                meta[key] = _clean(exif.get(tag))
    except Exception:
        meta["exif_error"] = "unreadable EXIF block"
    for key in ("Software", "software", "Comment", "comment"):
        if key in im.info and isinstance(im.info[key], str | bytes):
            meta.setdefault(key.lower(), _clean(im.info[key]))
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


def creator_tool(xmp: bytes) -> str | None:
    """XMP ``xmp:CreatorTool`` (attribute or element form)."""
    found = re.search(rb"CreatorTool(?:\s*=\s*\"([^\"]{0,400})\"|>([^<]{0,400})<)", xmp[:1_000_000])
    if not found:
        return None
    return _clean((found.group(1) or found.group(2)).decode("utf-8", "replace")) or None


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


def _clean(value: object) -> str:
    """Metadata as short printable text: hostile files put megabytes or control bytes there."""
    if isinstance(value, bytes):
        value = value[: _META_MAX_CHARS * 4].decode("utf-8", "replace")
    text = re.sub(r"[\x00-\x1f\x7f]+", " ", str(value)[: _META_MAX_CHARS * 4])
    return text.strip()[:_META_MAX_CHARS]


# ---------------------------------------------------------------- PDFs


def render_pdf(data: bytes, limits: Limits) -> Decoded:
    """Pages of a PDF rendered within the limits, in a forked, resource-limited child.

    A bare ``os.fork`` rather than multiprocessing: it works inside daemonic workers and never
    re-imports the caller's ``__main__``. The child only runs MuPDF, NumPy and pickle; a child that
    deadlocks on a lock another parent thread held at fork time is caught by the wall-clock
    backstop (and reported unreadable) — the price of isolation, paid only by threaded callers.
    """
    if not _FORK_ISOLATION:
        here = _render_pdf_here(data, limits)
        return replace(here, metadata={**here.metadata, "isolated": "false"})
    read_end, write_end = os.pipe()
    with contextlib.suppress(OSError, AttributeError):  # fewer, larger writes for page pixels (Linux)
        fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, 1 << 20)
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_end)
        _render_child(write_end, data, limits)
    os.close(write_end)
    payload, status = _collect(read_end, pid, wall_seconds=limits.pdf_cpu_seconds * 3 + 5)
    try:
        result = pickle.loads(payload) if payload else None
    except Exception:  # a child killed mid-write leaves a partial pickle
        result = None
    if result is None or result[0] == "error":
        cpu = os.WIFSIGNALED(status) and os.WTERMSIG(status) in (signal.SIGPROF, signal.SIGXCPU, signal.SIGKILL)
        detail = result[1] if result else f"wait status {status}"
        raise Unreadable(f"PDF renderer stopped ({detail})", "文件过于复杂，无法在限定时间和内存内打开",
                         limit="cpu" if cpu else "memory-or-crash", page_cpu_seconds=limits.pdf_page_cpu_seconds)
    if result[0] == "unreadable":
        raise Unreadable(result[1], result[2], **result[3])
    decoded: Decoded = result[1]
    return replace(decoded, metadata={**decoded.metadata, "isolated": "true"})


#: Render PDFs in a forked child (tests of the in-process path switch this off).
_FORK_ISOLATION = hasattr(os, "fork")


def _collect(read_end: int, pid: int, wall_seconds: float) -> tuple[bytes, int]:
    """Read the child's whole answer, then reap it; kill it when the backstop expires."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + wall_seconds
    try:
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([read_end], [], [], left)
            if not ready:
                break
            chunk = os.read(read_end, 1 << 20)
            if not chunk:
                _, status = os.waitpid(pid, 0)
                return b"".join(chunks), status
            chunks.append(chunk)
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        return b"", status
    finally:
        os.close(read_end)


def _render_child(write_end: int, data: bytes, limits: Limits) -> NoReturn:
    """In the child: bound CPU and address space, render, write the pickled result, exit."""
    code = 0
    try:
        global _IN_CHILD
        _IN_CHILD = True
        signal.signal(signal.SIGPROF, signal.SIG_DFL)  # SIGPROF's default action ends the process
        total = max(1, math.ceil(limits.pdf_cpu_seconds))
        resource.setrlimit(resource.RLIMIT_CPU, (total, total + 1))
        _page_cpu_budget(limits)  # opening the file counts as a page
        extra = limits.pdf_memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (_address_space() + extra, resource.RLIM_INFINITY))
        result: tuple[Any, ...]
        try:
            result = ("ok", _render_pdf_here(data, limits))
        except Unreadable as exc:
            result = ("unreadable", exc.reason, exc.reason_zh, exc.evidence)
        except MemoryError:
            result = ("unreadable", f"more than {limits.pdf_memory_mb} MB needed to render",
                      "文件过于复杂，无法在限定内存内打开", {"limit": "memory"})
        except BaseException as exc:  # our bug: the parent reports it, it must not run on here
            result = ("error", f"{type(exc).__name__}: {exc}")
        payload = memoryview(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
        while payload:
            payload = payload[os.write(write_end, payload):]
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _page_cpu_budget(limits: Limits) -> None:
    """In the child, before each page: a fresh ``pdf_page_cpu_seconds`` of CPU (ITIMER_PROF counts
    user + system time, to the microsecond) before SIGPROF ends it; RLIMIT_CPU bounds the total."""
    if _IN_CHILD:
        signal.setitimer(signal.ITIMER_PROF, max(0.01, float(limits.pdf_page_cpu_seconds)))


#: True in the forked renderer only: in-process rendering never arms CPU timers.
_IN_CHILD = False


def _address_space() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


@contextmanager
def _mupdf_errors() -> Iterator[None]:
    """MuPDF raises FileDataError, RuntimeError, ValueError… for broken files: all Unreadable."""
    try:
        yield
    except (Unreadable, MemoryError):
        raise
    except Exception as exc:  # any MuPDF failure on applicant bytes means "broken file"
        raise Unreadable(f"{type(exc).__name__}: {exc}", "文件已损坏") from None


def _mupdf_warnings() -> list[str]:
    text = pymupdf.TOOLS.mupdf_warnings(reset=True)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return [_clean(line) for line in dict.fromkeys(lines)][:10]


def _render_pdf_here(data: bytes, limits: Limits) -> Decoded:
    pymupdf.TOOLS.mupdf_display_errors(False)  # their text goes into the evidence instead of stderr
    pymupdf.TOOLS.mupdf_display_warnings(False)
    pymupdf.TOOLS.reset_mupdf_warnings()
    with _mupdf_errors():
        doc = pymupdf.open(stream=data, filetype="pdf")
    with doc, _mupdf_errors():
        if doc.needs_pass:
            raise Unreadable("encrypted: a password is needed to open it", "文件已加密（需要密码才能打开）",
                             encrypted=True)
        count = doc.page_count
        if count < 1:
            raise Unreadable("the PDF has no pages", "文件没有页面", pages=0, pages_rendered=0)
        if count > limits.max_pages:
            raise Unreadable(f"{count} pages, more than {limits.max_pages}",
                             f"页数过多（{count} 页，最多 {limits.max_pages} 页）",
                             pages=count, max_pages=limits.max_pages, pages_rendered=0)
        repaired = bool(doc.is_repaired)
        opened = _mupdf_warnings()
        metadata = _pdf_metadata(doc)
        pages = [doc.load_page(i) for i in range(count)]
        dpis = render_dpis([(p.rect.width, p.rect.height) for p in pages], limits)
        rendered = []
        for index, (page, dpi) in enumerate(zip(pages, dpis, strict=True)):
            _page_cpu_budget(limits)
            zoom = dpi / 72.0
            pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), colorspace=pymupdf.csRGB, alpha=False)
            rgb = np.frombuffer(pix.samples_mv, np.uint8).reshape(pix.height, pix.width, 3)
            rendered.append(Page(index, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), dpi, "pdf-render"))
        during = _mupdf_warnings()
    metadata.update(pages=str(count), render_dpi=",".join(f"{d:.0f}" for d in dpis))
    if repaired and during:
        raise Unreadable("broken or truncated PDF (MuPDF repaired it, and pages lost content): "
                         + "; ".join(opened + during), "文件不完整或已损坏", repaired=True)
    if repaired:
        metadata["repaired"] = "true"
        return Decoded(tuple(rendered), metadata, ("repaired: " + "; ".join(opened),))
    return Decoded(tuple(rendered), metadata, tuple(opened + during))


def render_dpis(sizes_pt: list[tuple[float, float]], limits: Limits) -> list[float]:
    """The dpi of each page: ``render_dpi``, lowered so its long side is ≤ ``max_render_side``
    pixels and its area ≤ ``max_render_pixels`` (huge page boxes render small, never big), and
    all pages together ≤ ``max_document_pixels``."""
    dpis = []
    for width, height in sizes_pt:
        if not (math.isfinite(width) and math.isfinite(height)) or min(width, height) < 1.0:
            raise Unreadable(f"degenerate page box {width} x {height} pt", "页面尺寸无效")
        w_in, h_in = width / 72.0, height / 72.0
        dpis.append(min(limits.render_dpi, limits.max_render_side / max(w_in, h_in),
                        math.sqrt(limits.max_render_pixels / (w_in * h_in))))
    total = sum(w * h * (dpi / 72.0) ** 2 for (w, h), dpi in zip(sizes_pt, dpis, strict=True))
    if total > limits.max_document_pixels:  # many big pages: all a little smaller, none left out
        factor = math.sqrt(limits.max_document_pixels / total)
        dpis = [dpi * factor for dpi in dpis]
    return dpis


def _pdf_metadata(doc: pymupdf.Document) -> dict[str, str]:
    meta: dict[str, str] = {"format": "pdf"}
    for key, name in (("producer", "producer"), ("creator", "creator"), ("format", "pdf_version"),
                      ("creationDate", "creation_date"), ("modDate", "mod_date"), ("encryption", "encryption")):
        value = (doc.metadata or {}).get(key)
        if value:
            meta[name] = _clean(value)
    try:
        tool = creator_tool(doc.get_xml_metadata().encode("utf-8", "replace"))
    except Exception:  # broken XMP is not a broken document
        tool = None
    if tool:
        meta["creator_tool"] = tool
        meta.setdefault("creator", tool)
    return meta
