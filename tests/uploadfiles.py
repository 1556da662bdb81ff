"""Upload files made at test time, good and hostile, each from a real encoder (Pillow, PyMuPDF, zipfile).

Nothing here is committed as a binary: each maker says how its file is built. The hostile ones
are the set CONTRACT §2 and issue 3 item 5 name (bomb PNG, zip-as-jpg, polyglot PDF/JPEG,
truncated JPEG, encrypted PDF, 10,000-page PDF) plus a PDF whose drawing operators cost seconds.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pymupdf
from PIL import Image

from pipeline.casefolder import CaseFolder, load_case_folder
from pipeline.ruleset import RuleSet
from pipeline.stages.upload import Intake, intake
from tests.casedata import write_case

#: PyMuPDF's AES-256 encryption method (its type stubs do not list the constant).
AES_256: int = pymupdf.PDF_ENCRYPT_AES_256  # type: ignore[attr-defined]
REQUIRED = ("application_form", "seal_form", "authorization", "org_license", "handler_id", "employee_id")


def page_image(width: int = 620, height: int = 877, seed: int = 0) -> np.ndarray:
    """An RGB 'scanned page': white paper, dark text-like bars, a red disc (the seal)."""
    rng = np.random.default_rng(seed)
    img = np.full((height, width, 3), 250, np.uint8)
    for row in range(height // 12, height - height // 8, max(height // 30, 4)):
        start = int(rng.integers(width // 12, width // 4))
        img[row:row + max(height // 120, 2), start:width - start // 2] = 30
    yy, xx = np.ogrid[:height, :width]
    disc = (yy - height * 0.8) ** 2 + (xx - width * 0.7) ** 2 < (min(width, height) * 0.12) ** 2
    img[disc] = (200, 30, 40)
    return img


def encode(img: np.ndarray | Image.Image, fmt: str, **options: Any) -> bytes:
    im = img if isinstance(img, Image.Image) else Image.fromarray(img)
    buf = io.BytesIO()
    im.save(buf, fmt, **options)
    return buf.getvalue()


def jpeg(width: int = 620, height: int = 877, **options: Any) -> bytes:
    return encode(page_image(width, height), "JPEG", quality=options.pop("quality", 85), **options)


def png(width: int = 620, height: int = 877) -> bytes:
    return encode(page_image(width, height), "PNG")


def bmp(width: int = 300, height: int = 420) -> bytes:
    return encode(page_image(width, height), "BMP")


def gif_animated(frames: int = 4) -> bytes:
    """Frame 0 is a page; later frames are solid black (so 'first frame' is checkable)."""
    first = Image.fromarray(page_image(200, 280)).convert("P")
    rest = [Image.new("P", (200, 280), 0) for _ in range(frames - 1)]
    return encode(first, "GIF", save_all=True, append_images=rest, duration=100, loop=0)


def pdf(pages: int = 1, width: float = 595, height: float = 842, **save: Any) -> bytes:
    """Pages with text and an embedded JPEG scan, as a scanner's PDF would have."""
    doc = pymupdf.open()
    scan = jpeg(400, 566)
    for number in range(pages):
        page = doc.new_page(width=width, height=height)
        page.insert_image(pymupdf.Rect(0, 0, width, height * 0.9), stream=scan)
        page.insert_text((36, height - 36), f"page {number + 1}")
    return doc.tobytes(**save)


def encrypted_pdf() -> bytes:
    return pdf(encryption=AES_256, user_pw="secret", owner_pw="owner")


def many_pages_pdf(count: int) -> bytes:
    """A well-formed PDF with ``count`` blank pages, written directly (PyMuPDF's new_page takes
    6 s for 10,000): catalog, one page tree node, the pages, an exact xref table."""
    objects = [b"<</Type/Catalog/Pages 2 0 R>>",
               b"<</Type/Pages/Count %d/Kids[" % count
               + b" ".join(b"%d 0 R" % (i + 3) for i in range(count)) + b"]>>"]
    objects += [b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>"] * count
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def operator_bomb_pdf(operators: int = 6_000_000) -> bytes:
    """One page whose Flate content stream repeats a tiny filled rectangle: ~150 KB of file,
    78 MB of operators, about 4 s of MuPDF's CPU if nothing stops it (5 MB of file: minutes)."""
    doc = pymupdf.open()
    page = doc.new_page()
    xref = doc.get_new_xref()
    doc.update_object(xref, "<<>>")
    doc.update_stream(xref, b"0 0 1 1 re f\n" * operators)
    doc.xref_set_key(page.xref, "Contents", f"{xref} 0 R")
    return doc.tobytes(deflate=True)


#: PNG colour type and bit depth, bytes per pixel (0 = 1 bit) of the flat PNGs below.
_PNG_KINDS = {"1bit": (0, 1, 0), "rgb": (2, 8, 3), "rgba": (6, 8, 4)}


def flat_png(width: int, height: int, kind: str = "1bit") -> bytes:
    """A valid all-black PNG, written chunk by chunk: a 30000 × 30000 1-bit one is ~100 KB on
    disk (Pillow's encoder takes 3 s to make it)."""
    def chunk(tag: bytes, body: bytes) -> bytes:
        return len(body).to_bytes(4, "big") + tag + body + zlib.crc32(tag + body).to_bytes(4, "big")

    colour, depth, per_pixel = _PNG_KINDS[kind]
    packer = zlib.compressobj(9)
    row = bytes(1 + (width * per_pixel if per_pixel else (width + 7) // 8))  # filter byte, pixels
    idat = b"".join(packer.compress(row * min(1000, height - done)) for done in range(0, height, 1000))
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([depth, colour, 0, 0, 0])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat + packer.flush())
            + chunk(b"IEND", b""))


def bomb_png(side: int = 30000) -> bytes:
    """A side × side one-colour PNG: ~100 KB on disk, 900 Mpx (2.7 GB as RGB) when decoded."""
    return flat_png(side, side)


def zip_file() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("scan.jpg", jpeg(100, 140))
    return buf.getvalue()


def polyglot_jpeg_pdf() -> bytes:
    """A JPEG whose comment segment holds a whole PDF: valid as both for lenient readers."""
    inner = pdf()
    body = jpeg(200, 280)
    comment = b"\xff\xfe" + (len(inner) + 2).to_bytes(2, "big") + inner
    assert len(inner) + 2 < 65536
    return body[:2] + comment + body[2:]


def review_uploads(tmp_path: Path, rules: RuleSet, uploads: dict[str, bytes]) -> Intake:
    """Intake of a case folder holding ``uploads`` (file name -> bytes) and valid case.json."""
    return intake(case_folder(tmp_path, rules, uploads), rules)


def case_folder(tmp_path: Path, rules: RuleSet, uploads: dict[str, bytes]) -> CaseFolder:
    return load_case_folder(write_case(tmp_path, uploads=uploads), set(rules.slots))


def statuses(result: Intake, slot: str) -> dict[str, str]:
    """rule id -> status of the findings on ``slot``."""
    return {f.rule: f.status.value for f in result.findings if f.slot == slot}
