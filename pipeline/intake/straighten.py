"""Phone photos of a sheet: find the page's quadrilateral and warp it to an upright A4 rectangle.

A photo taken at an angle shows the page as a trapezoid (keystone) on a darker table; the image
stages (seal rings, barcode, reading by labels) expect a page that fills the frame, with round
seals round and lines straight. :func:`straighten` finds the paper — lighter than what lies
around it — as the largest bright region, fits a four-cornered polygon to its outline
(``cv2.approxPolyDP``) and maps those corners onto a rectangle of A4 proportions whose long side
is the longer of the quadrilateral's two long edges (no resolution is invented or thrown away).

It does nothing, and says why, when:

* the frame's edges are as light as the page (a flatbed scan, a PDF render, a page cut to its
  edges): there is no background to find a page on;
* no confident quadrilateral is found (not four corners, not convex, too small, or its outline
  strays from the four straight edges: a curled page, a hand over it, a busy background), or
  the quadrilateral is not shaped like an A4 page (a label, a card photographed on its own);
* the page is seen nearly square-on (keystone under 4 %) and fills most of the frame: levelling
  (``pipeline.pageviews``) handles what is left, and the pixels stay the applicant's — cut out of
  the frame when a darker surround is left around it (a flatbed scanned with its lid open, or the
  sheet laid off the glass's corner: the bed is no page).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

A4_RATIO = 297.0 / 210.0
_WORK_SIDE = 800  # the page is looked for on a copy with this long side
_BORDER = 0.02  # the frame strip judged for background, as a share of each side
_MIN_CONTRAST = 50  # page minus background, grey levels, for a background to count
_MIN_AREA = 0.25  # the quadrilateral's share of the frame
_MAX_STRAY = 0.04  # outline area outside the quadrilateral's edges (or missing), share of its area
_MIN_SKEW = 0.01  # corners this close (share of the side) to the frame's: nothing to straighten
_PAGE_RATIO = (1.25, 1.55)  # long / short edges of a photographed A4 page (an ID card alone is 1.58)
_MIN_KEYSTONE = 0.04  # below this, a page that fills most of the frame is left to levelling
_MOSTLY = 0.8  # the share of the frame a page fills when it "fills most of it"
_MOSTLY_CUT = 0.97  # a page seen square-on is cut out when its box is less than this share of the frame
_FLAT_KEYSTONE = 0.01  # ... and seen flat (a flatbed has no perspective; a phone photo near square-on
# has a little, and its page found by the light may leave a shadowed strip of the sheet outside)
_EDGE_LOW, _EDGE_HIGH = 40, 120  # Canny's thresholds for the page's edge (a shadow's soft edge stays below)
_LARGER = 1.03  # a page found by its edges this much larger than the light region's is taken instead


@dataclass(frozen=True)
class Straightened:
    """The outcome: the image (the input itself when nothing was done), and what was found."""

    image: np.ndarray
    done: bool
    reason: str
    corners: tuple[tuple[float, float], ...] = ()  # tl, tr, br, bl in the input's pixels
    keystone: float = 0.0  # 1 - shorter / longer of the two opposite edges that differ most

    def evidence(self) -> dict[str, object]:
        out: dict[str, object] = {"straightened": self.done, "reason": self.reason}
        if self.corners:
            out["corners"] = [[round(x), round(y)] for x, y in self.corners]
            out["keystone"] = round(self.keystone, 3)
        return out


def _order(pts: np.ndarray) -> np.ndarray:
    """Corners as top-left, top-right, bottom-right, bottom-left."""
    s, d = pts.sum(axis=1), np.diff(pts, axis=1).ravel()
    return np.array([pts[np.argmin(s)], pts[np.argmin(d)], pts[np.argmax(s)], pts[np.argmax(d)]], np.float32)


def _has_background(grey: np.ndarray) -> bool:
    h, w = grey.shape
    by, bx = max(2, round(h * _BORDER)), max(2, round(w * _BORDER))
    frame = np.concatenate([grey[:by].ravel(), grey[-by:].ravel(), grey[:, :bx].ravel(), grey[:, -bx:].ravel()])
    centre = grey[h // 4: 3 * h // 4, w // 4: 3 * w // 4]
    return float(np.median(centre)) - float(np.median(frame)) >= _MIN_CONTRAST


def find_page(image: np.ndarray) -> tuple[np.ndarray | None, str]:
    """The page's corners (tl, tr, br, bl) in ``image``'s pixels, or None and why not.

    The paper is first taken as the light side of one threshold over the photo. A shadow across the
    sheet (the phone's, a hand's) darkens part of the paper below that threshold and bites a corner
    out of the outline; the page's own edge stays sharp in the shadow, so the outline is then looked
    for again as the outermost closed run of edges."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    scale = _WORK_SIDE / max(grey.shape)
    small = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else grey
    scale = min(scale, 1.0)
    if not _has_background(small):
        return None, "the page fills the frame (no darker background)"
    blurred = cv2.GaussianBlur(small, (0, 0), 2.0)
    _, mask = cv2.threshold(blurred, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (9, 9)))
    quad, reason = _quadrilateral(mask)
    edges = cv2.dilate(cv2.Canny(blurred, _EDGE_LOW, _EDGE_HIGH), cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3)))
    by_edges, edges_reason = _quadrilateral(edges)
    # the lit part of a shadowed page can itself be four-cornered: a page found larger by its
    # edges is the page
    if by_edges is not None and (quad is None or cv2.contourArea(by_edges) > _LARGER * cv2.contourArea(quad)):
        quad = by_edges
    if quad is None:
        return None, f"{reason}; by its edges: {edges_reason}"
    return _order(quad / scale), "found"


def _quadrilateral(mask: np.ndarray) -> tuple[np.ndarray | None, str]:
    """The four corners of the largest outline in ``mask`` (its pixels), or None and why not."""
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None, "no light region"
    outline = max(contours, key=cv2.contourArea)
    area = cv2.contourArea(outline)
    if area < _MIN_AREA * mask.shape[0] * mask.shape[1]:
        return None, "the light region is too small to be the page"
    peri = cv2.arcLength(outline, True)
    quad = None
    for eps in (0.01, 0.02, 0.03, 0.05):
        approx = cv2.approxPolyDP(outline, eps * peri, True)
        if len(approx) == 4:
            quad = approx.reshape(4, 2).astype(np.float32)
            break
    if quad is None or not cv2.isContourConvex(quad.reshape(4, 1, 2).astype(np.int32)):
        return None, "no four-cornered convex outline"
    quad_area = cv2.contourArea(quad)
    stray = abs(quad_area - area) / max(quad_area, 1.0)
    if stray > _MAX_STRAY:
        return None, f"the outline strays from four straight edges ({stray:.0%})"
    return quad, "found"


def _dark_around(image: np.ndarray, page: np.ndarray) -> bool:
    """What a cut would take away is darker than the page it keeps by ``_MIN_CONTRAST`` (a bed, not
    a strip of the sheet)."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    kept = page if page.ndim == 2 else cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)
    total, inside = float(grey.sum(dtype=np.float64)), float(kept.sum(dtype=np.float64))
    removed = (total - inside) / max(1, grey.size - kept.size)  # the mean grey of what is cut away
    return float(np.median(kept)) - removed >= _MIN_CONTRAST


def straighten(image: np.ndarray) -> Straightened:
    """``image`` with the photographed page warped upright to A4 proportions, or unchanged."""
    corners, reason = find_page(image)
    if corners is None:
        return Straightened(image, False, reason)
    h, w = image.shape[:2]
    tl, tr, br, bl = corners
    frame = np.array([(0, 0), (w, 0), (w, h), (0, h)], np.float32)
    if float(np.abs(corners - frame).max()) < _MIN_SKEW * max(h, w):
        return Straightened(image, False, "the page's corners are the frame's", tuple(map(tuple, corners)))
    top, bottom = float(np.linalg.norm(tr - tl)), float(np.linalg.norm(br - bl))
    left, right = float(np.linalg.norm(bl - tl)), float(np.linalg.norm(br - tr))
    keystone = max(1 - min(top, bottom) / max(top, bottom), 1 - min(left, right) / max(left, right))
    found = tuple(map(tuple, corners))
    portrait = left + right >= top + bottom
    ratio = max(left + right, top + bottom) / max(1.0, min(left + right, top + bottom))
    if not _PAGE_RATIO[0] <= ratio <= _PAGE_RATIO[1]:
        return Straightened(image, False, f"the quadrilateral is not A4-shaped (sides {ratio:.2f}:1)", found, keystone)
    share = cv2.contourArea(corners) / float(h * w)
    if keystone < _MIN_KEYSTONE and share >= _MOSTLY:
        # a flatbed's open lid (or a sheet laid off the glass's corner): a dark bed around a page
        # scanned square-on. Cut away, not warped: the page's pixels stay the applicant's
        x0, y0 = np.floor(corners.min(axis=0)).astype(int).clip(0)
        x1, y1 = np.ceil(corners.max(axis=0)).astype(int)
        cropped = image[y0:min(h, y1), x0:min(w, x1)]
        if keystone < _FLAT_KEYSTONE and cropped.size < _MOSTLY_CUT * image.size and _dark_around(image, cropped):
            return Straightened(cropped, True, "page cut out of a darker surround", found, keystone)
        return Straightened(image, False, "seen nearly square-on and filling the frame", found, keystone)
    if portrait:
        out_h = round(max(left, right))
        out_w = round(out_h / A4_RATIO)
    else:
        out_w = round(max(top, bottom))
        out_h = round(out_w / A4_RATIO)
    target = np.array([(0, 0), (out_w, 0), (out_w, out_h), (0, out_h)], np.float32)
    m = cv2.getPerspectiveTransform(corners, target)
    warped = cv2.warpPerspective(image, m, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return Straightened(warped, True, "page quadrilateral warped to A4", found, keystone)
