"""Page previews for the HTML report, and where each located piece of evidence sits on them.

A clerk trusts a finding when she sees it on the page: the report shows every page of every
readable upload, downscaled, with the barcode, the seals and the matched fields outlined.
Previews are JPEGs (the scans are lossy already; a PNG of the same preview is several times
larger). Stages give boxes in page pixels (``Page.image``); a preview records its ``scale``
(preview px per page px) and the page's size, so the report can place boxes on it exactly.

Evidence conventions read here (see ``locate``): a dict holding ``bbox`` or ``box``
(x0, y0, x1, y1 in page pixels) is a located thing; its page is the nearest ``page`` key
(``Page.index``: 0 is the first page), its status the nearest ``status`` key, else the
finding's, its slot the nearest ``slot`` key (a form's page read from its ``_extra`` upload).
``label_box`` with ``label_page`` is the printed label a thing was judged against. A box
given on the upright page carries ``rotation`` (degrees clockwise the page was turned) and, when
the page was then levelled, ``skew`` (degrees, about the page's centre).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2

from pipeline.intake.pages import Page, Upload
from pipeline.models import Finding, Status

#: Longest side of a preview in pixels: sharp enough to read a field at report size.
PREVIEW_LONG_SIDE = 1400
#: Pages previewed per upload; the upload stage bounds the page count, this bounds the report.
MAX_PREVIEW_PAGES = 12
JPEG_QUALITY = 82
PREVIEW_DIR = "artifacts/pages"

Box = tuple[float, float, float, float]


# ---------------------------------------------------------------------------- saving previews


def upload_summaries(uploads: Mapping[str, Upload], out_dir: Path | None) -> dict[str, dict[str, Any]]:
    """``report.uploads``: each upload's summary, with its page previews when there is an out_dir."""
    out: dict[str, dict[str, Any]] = {}
    for slot, upload in uploads.items():
        summary = dict(upload.summary())
        if out_dir is not None:
            summary["previews"] = [save_preview(out_dir, slot, page) for page in upload.pages[:MAX_PREVIEW_PAGES]]
        out[slot] = summary
    return out


def save_preview(out_dir: Path, slot: str, page: Page) -> dict[str, Any]:
    """Write one page as ``artifacts/pages/<slot>-p<N>.jpg`` (N from 1); what the report needs to place boxes.

    ``page`` is the page's index (0 first), like the ``page`` of stage evidence.
    """
    scale = min(1.0, PREVIEW_LONG_SIDE / max(page.width, page.height, 1))
    image = page.image
    if scale < 1.0:
        size = (max(1, round(page.width * scale)), max(1, round(page.height * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    name = f"{re.sub(r'[^A-Za-z0-9_.-]', '_', slot)}-p{page.index + 1}.jpg"
    target = out_dir / PREVIEW_DIR / name
    target.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(target), image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
        raise OSError(f"cannot write page preview {target}")
    height, width = image.shape[:2]
    return {"page": page.index, "path": f"{PREVIEW_DIR}/{name}", "scale": round(width / page.width, 6),
            "width": int(width), "height": int(height), "page_size": [page.width, page.height]}


# ---------------------------------------------------------------------------- locating evidence


@dataclass(frozen=True)
class Mark:
    """One box of one finding's evidence on one page of one slot."""

    finding: int  # index into report.findings
    rule: str
    slot: str
    page: int  # Page.index: 0 is the first page
    box: Box  # page pixels, upright as the upload's page
    status: Status
    label: str  # what the box is, e.g. "user.name" or 「单位盖章」; "" when the rule says it all
    kind: str  # "found" (a thing the check found) or "label" (a printed label it was measured from)
    rotation: int = 0  # the box is on the page turned this many degrees clockwise
    skew: float = 0.0  # and then levelled by this many degrees (readers.page.level)


_STATUSES = {s.value: s for s in Status}
_BOX_KEYS = ("bbox", "box")


def locate(findings: Sequence[Finding]) -> list[Mark]:
    """Every box the findings' evidence places on a page, once per finding."""
    marks: list[Mark] = []
    for i, f in enumerate(findings):
        if f.slot is None:
            continue
        seen: set[tuple[str, int, Box, str]] = set()
        for m in _walk(f.evidence, i, f, {"page": None, "status": f.status, "slot": f.slot, "rotation": 0,
                                          "skew": 0.0}):
            key = (m.slot, m.page, m.box, m.kind)
            if key not in seen:
                seen.add(key)
                marks.append(m)
    return marks


def _walk(node: Any, i: int, f: Finding, up: dict[str, Any]) -> Iterator[Mark]:
    if isinstance(node, list):
        for item in node:
            yield from _walk(item, i, f, up)
        return
    if not isinstance(node, dict):
        return
    here = dict(up)
    if _is_int(node.get("page")):
        here["page"] = int(node["page"])
    if isinstance(node.get("status"), str) and node["status"] in _STATUSES:
        here["status"] = _STATUSES[node["status"]]
    if isinstance(node.get("slot"), str):
        here["slot"] = node["slot"]
    if _is_int(node.get("rotation")) and int(node["rotation"]) % 90 == 0:
        here["rotation"] = int(node["rotation"]) % 360
    if isinstance(node.get("skew"), int | float) and not isinstance(node["skew"], bool) and abs(node["skew"]) <= 45:
        here["skew"] = float(node["skew"])
    name = str(node.get("field") or "")
    for key in _BOX_KEYS:
        box = _box(node.get(key))
        if box is not None and here["page"] is not None:
            yield Mark(i, f.rule, here["slot"], here["page"], box, here["status"], name, "found", here["rotation"],
                       here["skew"])
            break
    label_box = _box(node.get("label_box"))
    label_page = node.get("label_page", here["page"])
    if label_box is not None and _is_int(label_page):
        text = str(node.get("label") or "")
        yield Mark(i, f.rule, here["slot"], int(label_page), label_box, here["status"],
                   f"「{text}」" if text else "", "label", here["rotation"], here["skew"])
    for key, value in node.items():
        if key not in (*_BOX_KEYS, "label_box") and isinstance(value, dict | list):
            yield from _walk(value, i, f, here)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _box(value: Any) -> Box | None:
    if not isinstance(value, list | tuple) or len(value) != 4:
        return None
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        return None
    x0, y0, x1, y1 = (float(v) for v in value)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def to_page_box(box: Box, rotation: int, page_w: float, page_h: float, skew: float = 0.0) -> Box:
    """A box on the page turned ``rotation``° clockwise (and then levelled by ``skew``° about its
    centre), back on the page as uploaded."""
    x0, y0, x1, y1 = _unlevel(box, skew, *((page_h, page_w) if rotation in (90, 270) else (page_w, page_h)))
    if rotation == 90:  # upright (u, v) = (h - y, x)
        return (y0, page_h - x1, y1, page_h - x0)
    if rotation == 180:
        return (page_w - x1, page_h - y1, page_w - x0, page_h - y0)
    if rotation == 270:  # upright (u, v) = (y, w - x)
        return (page_w - y1, x0, page_w - y0, x1)
    return (x0, y0, x1, y1)


def _unlevel(box: Box, skew: float, width: float, height: float) -> Box:
    """The box's corners turned back by ``skew``° about the centre of a ``width`` × ``height``
    page (what ``readers.page.level`` did), as the box around them."""
    if not skew:
        return box
    x0, y0, x1, y1 = box
    t = math.radians(skew)  # level() turned the page by +skew (counter-clockwise on screen)
    cx, cy, cos, sin = width / 2, height / 2, math.cos(t), math.sin(t)
    # level() maps p to R(p - c) + c with R = [[cos, sin], [-sin, cos]]; back is R^T
    xs, ys = [], []
    for x, y in ((x0, y0), (x1, y0), (x0, y1), (x1, y1)):
        dx, dy = x - cx, y - cy
        xs.append(cos * dx - sin * dy + cx)
        ys.append(sin * dx + cos * dy + cy)
    return (min(xs), min(ys), max(xs), max(ys))
