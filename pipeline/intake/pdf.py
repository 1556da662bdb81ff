"""PDF pages rendered within bounds, in a forked, resource-limited child process.

Why a child: MuPDF's work per page is not bounded by the file's size (a 150 KB PDF of repeated
drawing operators costs 4 s of CPU, 5 MB of them minutes) and MuPDF holds the GIL, so no thread
can stop it. The bounds are stated in ``pipeline.intake.images``'s docstring; the parent only waits,
reads the answer from a pipe and the pixels from shared memory, and reaps the child.

MuPDF draws each page straight into the shared memory (RGB, its order of channels); the parent
turns it into the BGR page as it copies it out. Each full-page buffer a child writes is fresh
memory it must fault in, so one buffer less per page is a few milliseconds less per page.
"""

from __future__ import annotations

import json
import math
import mmap
import os
import resource
import select
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from typing import Any, NoReturn

import cv2
import numpy as np
import pymupdf
from pymupdf import mupdf

from pipeline.intake.decoded import Decoded, Limits, Unreadable, clean_text, creator_tool
from pipeline.intake.pages import Page, PdfLayers


def render_pdf(data: bytes, limits: Limits) -> Decoded:
    """Pages of a PDF rendered within the limits, in a forked, resource-limited child.

    A bare ``os.fork`` rather than multiprocessing: it works inside daemonic workers and never
    re-imports the caller's ``__main__``. The child only runs MuPDF, NumPy and json; a child that
    deadlocks on a lock another parent thread held at fork time is caught by the wall-clock
    backstop (and reported unreadable) — the price of isolation, paid only by threaded callers.
    """
    if not _FORK_ISOLATION:
        here = _render_pdf_here(data, limits)
        pages = tuple(replace(page, image=_bgr(page.image)) for page in here.pages)
        return Decoded(pages, {**here.metadata, "isolated": "false"}, here.warnings)
    # Pixels come back through shared memory (pages cost no pickling, no pipe copies); the pipe
    # carries only the small answer. Untouched pages of the mapping cost no memory.
    canvas = mmap.mmap(-1, _canvas_bytes(limits))
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_end)
        _render_child(write_end, data, limits, canvas)
    os.close(write_end)
    try:
        payload, status = _collect(read_end, pid, wall_seconds=limits.pdf_cpu_seconds * 3 + 5)
        return _answer(payload, status, limits, canvas)
    finally:
        canvas.close()


def _answer(payload: bytes, status: int, limits: Limits, canvas: mmap.mmap) -> Decoded:
    """The child's answer as Decoded (pages copied out of the shared canvas), or Unreadable."""
    try:  # JSON, not pickle: even a child subverted by a hostile file cannot run code here
        result = json.loads(payload) if payload else None
    except ValueError:  # a child killed mid-write leaves a partial answer
        result = None
    if result is not None and result[0] == "error":  # our bug, not the file's: the stage says uncertain
        raise RuntimeError(f"PDF renderer failed: {result[1]}")
    if result is None:
        signum = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
        limits_hit = {int(signal.SIGPROF): "cpu", int(signal.SIGXCPU): "cpu", int(signal.SIGKILL): "killed"}
        limit = limits_hit.get(signum, "memory-or-crash")
        raise Unreadable(f"PDF renderer stopped (wait status {status})", "文件过于复杂，无法在限定时间和内存内打开",
                         limit=limit, page_cpu_seconds=limits.pdf_page_cpu_seconds)
    if result[0] == "unreadable":
        raise Unreadable(result[1], result[2], **result[3])
    _, metadata, warnings, placed, layers = result
    pages = tuple(Page(index, _bgr(np.ndarray((height, width, 3), np.uint8, canvas, offset)), dpi, "pdf-render",
                       layers=PdfLayers(int(chars), tuple((float(a), float(b), float(c), float(d))
                                                          for a, b, c, d in images)))
                  for (index, dpi, offset, height, width), (chars, images) in zip(placed, layers, strict=True))
    return Decoded(pages, {**metadata, "isolated": "true"}, tuple(warnings))


def _bgr(rgb: np.ndarray) -> np.ndarray:
    """The BGR page of MuPDF's RGB pixels: a new array (the parent's copy out of the canvas)."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def _canvas_bytes(limits: Limits) -> int:
    """Room for every page render_dpis allows, plus a row and a column of rounding per page."""
    per_page_rounding = (2 * limits.max_render_side + 1) * 3
    return limits.max_document_pixels * 3 + limits.max_pages * per_page_rounding + 4096


class _Canvas:
    """Hands out consecutive RGB page arrays inside the shared mapping (in the child)."""

    def __init__(self, canvas: mmap.mmap) -> None:
        self.canvas = canvas
        self.offset = 0
        self.placed: list[tuple[int, float, int, int, int]] = []

    def __call__(self, index: int, dpi: float, height: int, width: int) -> np.ndarray:
        size = height * width * 3
        if self.offset + size > len(self.canvas):
            raise Unreadable("rendered pages exceed the document pixel budget", "页面尺寸无效")
        array = np.ndarray((height, width, 3), np.uint8, self.canvas, self.offset)
        self.placed.append((index, dpi, self.offset, height, width))
        self.offset += size
        return array


#: Render PDFs in a forked child; without fork (not Linux/macOS) in-process, page and pixel caps only.
_FORK_ISOLATION = hasattr(os, "fork")


def _collect(read_end: int, pid: int, wall_seconds: float) -> tuple[bytes, int]:
    """Read the child's whole answer, then reap it; kill it when the backstop expires."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + wall_seconds
    poller = select.poll()  # not select.select: a busy server's descriptors may exceed FD_SETSIZE
    poller.register(read_end, select.POLLIN | select.POLLHUP)
    try:
        while (left := deadline - time.monotonic()) > 0:
            if not poller.poll(left * 1000):
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


def _render_child(write_end: int, data: bytes, limits: Limits, canvas: mmap.mmap) -> NoReturn:
    """In the child: bound CPU and address space, render into the canvas, write the answer, exit."""
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
            place = _Canvas(canvas)
            decoded = _render_pdf_here(data, limits, place)
            layers = [(p.layers.visible_chars, p.layers.images) if p.layers else (0, ()) for p in decoded.pages]
            result = ("ok", decoded.metadata, decoded.warnings, place.placed, layers)
        except Unreadable as exc:
            result = ("unreadable", exc.reason, exc.reason_zh, exc.evidence)
        except MemoryError:
            result = ("unreadable", f"more than {limits.pdf_memory_mb} MB needed to render",
                      "文件过于复杂，无法在限定内存内打开", {"limit": "memory"})
        except BaseException as exc:  # our bug: the parent reports it, it must not run on here
            result = ("error", f"{type(exc).__name__}: {exc}")
        payload = memoryview(json.dumps(result).encode("utf-8"))
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
    return [clean_text(line) for line in dict.fromkeys(lines)][:10]


Allocator = Callable[[int, float, int, int], np.ndarray]


def _new_page(index: int, dpi: float, height: int, width: int) -> np.ndarray:
    return np.empty((height, width, 3), np.uint8)


def _render_pdf_here(data: bytes, limits: Limits, allocate: Allocator = _new_page) -> Decoded:
    """The PDF's pages as RGB arrays from ``allocate`` (callers turn them into BGR pages)."""
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
            rgb = _draw_rgb(page, dpi / 72.0, partial(allocate, index, dpi))
            rendered.append(Page(index, rgb, dpi, "pdf-render", layers=_layers(page)))
        during = _mupdf_warnings()
    metadata.update(pages=str(count), render_dpi=",".join(f"{d:.0f}" for d in dpis))
    if repaired and during:
        raise Unreadable("broken or truncated PDF (MuPDF repaired it, and pages lost content): "
                         + "; ".join(opened + during), "文件不完整或已损坏", repaired=True)
    if repaired:
        metadata["repaired"] = "true"
        return Decoded(tuple(rendered), metadata, ("repaired: " + "; ".join(opened),))
    return Decoded(tuple(rendered), metadata, tuple(opened + during))


#: images of a page recorded in its layers (a hostile page may place thousands)
_MAX_LAYER_IMAGES = 32


def _layers(page: pymupdf.Page) -> PdfLayers:
    """The page's visibly drawn characters (trace type 3 is invisible text, a scanner's OCR
    layer) and its images' places as fractions of the page as rendered (rotation applied)."""
    visible = sum(len(span["chars"]) for span in page.get_texttrace() if span["type"] != 3)
    width, height = page.rect.width or 1.0, page.rect.height or 1.0
    images = []
    for info in page.get_image_info()[:_MAX_LAYER_IMAGES]:
        box = pymupdf.Rect(info["bbox"]) * page.rotation_matrix
        box.normalize()
        images.append((round(box.x0 / width, 4), round(box.y0 / height, 4),
                       round(box.x1 / width, 4), round(box.y1 / height, 4)))
    return PdfLayers(visible, tuple(images))


def _draw_rgb(page: pymupdf.Page, zoom: float, allocate: Callable[[int, int], np.ndarray]) -> np.ndarray:
    """The pixels of ``page.get_pixmap(matrix=Matrix(zoom, zoom), colorspace=csRGB, alpha=False)``,
    drawn by MuPDF into ``allocate(height, width)`` rather than into a pixmap of its own: the same
    steps as PyMuPDF's (display list, rounded box, white background, draw device)."""
    listed = page.get_displaylist(annots=True).this
    ctm = mupdf.FzMatrix(zoom, 0, 0, zoom, 0, 0)
    box = mupdf.fz_round_rect(mupdf.fz_transform_rect(mupdf.fz_bound_display_list(listed), ctm))
    height, width = box.y1 - box.y0, box.x1 - box.x0
    if height < 1 or width < 1:
        raise Unreadable(f"empty page box {width} x {height} px", "页面尺寸无效")
    rgb = allocate(height, width)
    with rgb.reshape(-1).data as samples:  # borrowed by the pixmap: released only after it is gone
        pixmap = mupdf.fz_new_pixmap_with_bbox_and_data(
            mupdf.FzColorspace(mupdf.FzColorspace.Fixed_RGB), box, mupdf.FzSeparations(), 0,
            mupdf.python_mutable_buffer_data(samples))
        mupdf.fz_clear_pixmap_with_value(pixmap, 0xFF)
        device = mupdf.fz_new_draw_device(ctm, pixmap)
        mupdf.fz_run_display_list(listed, device, mupdf.FzMatrix(), mupdf.FzRect(mupdf.FzRect.Fixed_INFINITE),
                                  mupdf.FzCookie())
        mupdf.fz_close_device(device)
        del device, pixmap
    return rgb


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
            meta[name] = clean_text(value)
    try:
        tool = creator_tool(doc.get_xml_metadata().encode("utf-8", "replace"))
    except Exception:  # broken XMP is not a broken document
        tool = None
    if tool:
        meta["creator_tool"] = tool
        meta.setdefault("creator", tool)
    return meta
