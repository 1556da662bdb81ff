"""Find round official seals (公章) on a page image: pure image analysis, no rules, no case.

A seal is a ring of red ink of a known physical size (38–45 mm) with red content inside (a
star, the organisation name along the arc). So the detector builds a colour mask relative to
the page's own paper colour (scans and phone photos shift red toward orange or pink), fits
circles to the outlines of red blobs with RANSAC (robust to a seal cut by the page edge or
touching red text), and keeps a circle only when red ink runs along most of its rim *and*
there is red content inside — a thin red pen circle, a red rectangle, a red title or red
table lines fail one of these tests. Pages with no red seal are searched once more for a
grey ring (a photocopied seal), which callers report as uncertain, never as a red seal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

import cv2
import numpy as np

MM_PER_INCH = 25.4
SealColour = Literal["red", "grey"]


@dataclass(frozen=True)
class SealParams:
    """Thresholds of the detector; the rule set's ``seal.present`` params override them."""

    min_diameter_mm: float = 25.0
    max_diameter_mm: float = 60.0
    size_tolerance: float = 0.2          # relative slack for dpi estimation errors
    min_ring_coverage: float = 0.55      # share of the visible rim with red ink on it
    min_ring_roundness: float = 0.8      # share of inked rim angles whose ink is on the circle
    min_inner_red_fraction: float = 0.06  # red share of the disc inside the rim
    max_inner_red_fraction: float = 0.5  # above: a filled red disc (emblem), not a seal
    min_visible_fraction: float = 0.3    # share of the rim inside the page (骑缝章 ≈ 0.5)
    red_min_chroma: float = 8.0          # Cr above the paper's, for ink to count as red
    red_hue_min_deg: float = -45.0       # hue window atan2(-Cb, Cr) of "red" (pink … orange)
    red_hue_max_deg: float = 52.0
    grey_min_ring_coverage: float = 0.62  # rim darker than inside and outside it, share of angles
    grey_min_diameter_mm: float = 34.0   # grey rings: only seal sizes (text makes chance rings)
    grey_max_diameter_mm: float = 48.0
    line_min_mm: float = 20.0            # straight red runs this long are table lines, not seal
    work_width_px: int = 1000

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> SealParams:
        """Take the known keys of a rule's params; ignore the rest (other rules' knobs)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


@dataclass(frozen=True)
class SealCandidate:
    """A round seal found on a page, in page pixels."""

    centre: tuple[float, float]
    radius: float
    colour: SealColour
    score: float
    ring_coverage: float
    inner_red_fraction: float
    visible_fraction: float
    diameter_mm: float

    @property
    def bbox(self) -> tuple[int, int, int, int]:
        """x0, y0, x1, y1 of the seal's square (may reach past the page edge)."""
        x, y, r = self.centre[0], self.centre[1], self.radius
        return (round(x - r), round(y - r), round(x + r), round(y + r))

    def clipped_bbox(self, width: int, height: int) -> tuple[int, int, int, int]:
        x0, y0, x1, y1 = self.bbox
        return (max(0, x0), max(0, y0), min(width, x1), min(height, y1))

    def evidence(self) -> dict[str, Any]:
        return {
            "bbox": list(self.bbox),
            "centre": [round(self.centre[0]), round(self.centre[1])],
            "diameter_mm": round(self.diameter_mm, 1),
            "colour": self.colour,
            "score": round(self.score, 3),
            "ring_coverage": round(self.ring_coverage, 3),
            "inner_red_fraction": round(self.inner_red_fraction, 3),
            "visible_fraction": round(self.visible_fraction, 3),
        }


@dataclass(frozen=True)
class _Work:
    """The page scaled to the working width, with its colour planes relative to the paper."""

    scale: float
    px_per_mm: float
    ycc: np.ndarray       # uint8 Y, Cr, Cb
    paper: tuple[int, int, int]
    red: np.ndarray       # uint8 0/255

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.red.shape[0]), int(self.red.shape[1]))


def find_seals(image: np.ndarray, dpi: float, params: SealParams | None = None) -> list[SealCandidate]:
    """All round seals on a BGR page, red ones first, best score first within a colour."""
    params = params or SealParams()
    work = _prepare(image, dpi, params)
    r_min, r_max = _radius_range(work.px_per_mm, params)
    found = _red_seals(work, r_min, r_max, params)
    if not found:
        found = _grey_seals(work, r_min, r_max, params)
    return [_to_page(c, work) for c in found]


def red_mask(image: np.ndarray, params: SealParams | None = None, px_per_mm: float | None = None) -> np.ndarray:
    """uint8 mask (0/255) of red-ish ink, judged against the paper colour around it.

    Without ``px_per_mm`` the image is taken to be one seal's crop and the paper is the
    median of its brighter half.
    """
    params = params or SealParams()
    ycc = cv2.cvtColor(image, cv2.COLOR_BGR2YCrCb)
    if px_per_mm is None:
        paper = _paper(ycc)
        bg: tuple[np.ndarray | int, np.ndarray | int] = (paper[1], paper[2])
    else:
        bg = _local_paper(ycc, px_per_mm, params)
    return _red_from_ycc(ycc, bg, params)


# ---------------------------------------------------------------------------- preparation


def _prepare(image: np.ndarray, dpi: float, params: SealParams) -> _Work:
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    w = image.shape[1]
    # An integer INTER_AREA step is ~20× faster than an arbitrary ratio and keeps thin faint
    # strokes (averaged, not skipped); the working width lands within 0.67–1.5× the target.
    k = max(1, round(w / params.work_width_px))
    small = image if k == 1 else cv2.resize(image, None, fx=1 / k, fy=1 / k, interpolation=cv2.INTER_AREA)
    scale = small.shape[1] / w
    ycc = cv2.cvtColor(small, cv2.COLOR_BGR2YCrCb)
    px_per_mm = dpi * scale / MM_PER_INCH
    red = _red_from_ycc(ycc, _local_paper(ycc, px_per_mm, params), params)
    return _Work(scale=scale, px_per_mm=px_per_mm, ycc=ycc, paper=_paper(ycc),
                 red=_drop_lines(red, px_per_mm, params))


def _drop_lines(red: np.ndarray, px_per_mm: float, params: SealParams) -> np.ndarray:
    """The red mask without long straight horizontal or vertical lines (red tables, rules).

    A table line crossing a seal breaks its outline; one crossing a bare red circle fakes
    "content inside". A line is a run longer than ``line_min_mm`` (a seal's arc is never that
    straight); runs tilted by a few degrees still fit after a little thickening across them.
    """
    n = max(15, round(params.line_min_mm * px_per_mm))
    lines = np.zeros_like(red)
    for along, across in (((n, 1), (1, 5)), ((1, n), (5, 1))):
        thick = cv2.dilate(red, cv2.getStructuringElement(cv2.MORPH_RECT, across))
        lines |= cv2.morphologyEx(thick, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, along))
    if not lines.any():
        return red
    return cv2.bitwise_and(red, cv2.bitwise_not(cv2.dilate(lines, np.ones((3, 3), np.uint8))))


def _paper(ycc: np.ndarray) -> tuple[int, int, int]:
    """The paper's Y, Cr, Cb: the median of the brighter half of a pixel sample."""
    step = max(1, int(np.sqrt(ycc.shape[0] * ycc.shape[1] / 40000)))
    sample = ycc[::step, ::step].reshape(-1, 3)
    bright = sample[sample[:, 0] >= np.percentile(sample[:, 0], 50)]
    y, cr, cb = np.median(bright, axis=0)
    return int(y), int(cr), int(cb)


def _local_paper(ycc: np.ndarray, px_per_mm: float, params: SealParams) -> tuple[np.ndarray | int, np.ndarray | int]:
    """Cr and Cb of the paper around each pixel: a median over windows wider than a seal.

    Phone photos light the sheet unevenly (one corner pinker than another) and show a red-brown
    table around it; a single paper colour for the page then turns whole areas "red".
    """
    h, w = ycc.shape[:2]
    step = max(1, int(params.max_diameter_mm * px_per_mm / 12))  # a big seal ≈ 12 px here
    small = ycc[step // 2::step, step // 2::step]  # a median needs no averaging: subsample
    k = 21 if min(small.shape[:2]) > 21 else max(3, (min(small.shape[:2]) // 2) * 2 - 1)
    out: list[np.ndarray | int] = []
    for plane in (1, 2):
        bg = cv2.medianBlur(np.ascontiguousarray(small[..., plane]), k)
        lo, hi = np.percentile(bg, (2, 98))
        # Evenly lit paper (a flatbed scan): one value, and the subtraction stays cheap.
        out.append(int(np.median(bg)) if hi - lo <= 3 else cv2.resize(bg, (w, h), interpolation=cv2.INTER_LINEAR))
    return out[0], out[1]


def _red_from_ycc(ycc: np.ndarray, bg: tuple[np.ndarray | int, np.ndarray | int], params: SealParams) -> np.ndarray:
    """Red where Cr rises above the paper's and the hue angle atan2(-Cb, Cr) is in the window.

    YCrCb is a linear transform of the pixels (a tenth of the cost of Lab here) and serves
    the same purpose: red ink is high Cr, and the hue angle in the Cr/Cb plane tells red,
    pink and orange (seal inks) from gold and yellow (licence titles, tinted paper). All in
    saturating uint8 OpenCV arithmetic: numpy int16 planes cost 5× more on a page.
    """
    cr, cb = ycc[..., 1], ycc[..., 2]
    bcr = np.full_like(cr, bg[0]) if isinstance(bg[0], int) else bg[0]
    bcb = np.full_like(cb, bg[1]) if isinstance(bg[1], int) else bg[1]
    dcr = cv2.subtract(cr, bcr)
    warm = cv2.subtract(bcb, cb)   # toward orange / yellow
    cool = cv2.subtract(cb, bcb)   # toward pink / magenta
    hi = np.tan(np.radians(params.red_hue_max_deg))
    lo = -np.tan(np.radians(params.red_hue_min_deg))
    red = cv2.compare(dcr, np.full_like(dcr, round(params.red_min_chroma)), cv2.CMP_GE)
    red = cv2.bitwise_and(red, cv2.compare(warm, cv2.convertScaleAbs(dcr, alpha=hi), cv2.CMP_LE))
    return cv2.bitwise_and(red, cv2.compare(cool, cv2.convertScaleAbs(dcr, alpha=lo), cv2.CMP_LE))


def _radius_range(px_per_mm: float, params: SealParams) -> tuple[float, float]:
    tol = params.size_tolerance
    return (params.min_diameter_mm / 2 * px_per_mm * (1 - tol),
            params.max_diameter_mm / 2 * px_per_mm * (1 + tol))


def _to_page(c: SealCandidate, work: _Work) -> SealCandidate:
    s = work.scale
    return SealCandidate(
        centre=(c.centre[0] / s, c.centre[1] / s), radius=c.radius / s, colour=c.colour,
        score=c.score, ring_coverage=c.ring_coverage, inner_red_fraction=c.inner_red_fraction,
        visible_fraction=c.visible_fraction, diameter_mm=c.diameter_mm,
    )


# ---------------------------------------------------------------------------- red seals


def _red_seals(work: _Work, r_min: float, r_max: float, params: SealParams) -> list[SealCandidate]:
    k = max(3, round(work.px_per_mm * 0.6) | 1)
    closed = cv2.morphologyEx(work.red, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    # Outer boundaries, including those of blobs inside another blob's hole (a seal on a
    # licence photographed on a red-brown table lies inside the table's hole).
    contours, hierarchy = cv2.findContours(closed, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    h, w = work.shape
    found: list[SealCandidate] = []
    outer = [c for c, (_n, _p, _child, parent) in zip(contours, hierarchy[0], strict=True) if parent < 0] \
        if hierarchy is not None else []
    for contour in outer:
        _x, _y, cw, ch = cv2.boundingRect(contour)
        if max(cw, ch) < r_min or len(contour) < 20:
            continue  # too small even for half a seal
        points = contour.reshape(-1, 2).astype(np.float32)
        inside = ((points[:, 0] > 1) & (points[:, 1] > 1) & (points[:, 0] < w - 2) & (points[:, 1] < h - 2))
        points = points[inside]
        for _ in range(3):  # a blob may hold two overlapping seals, or a seal and a red ring
            circle = fit_circle_ransac(points, r_min, r_max)
            if circle is None:
                break
            candidate = _judge(work, work.red, circle, "red", params)
            if candidate is None and _near_miss(work, circle, params):
                candidate = _judge(work, work.red, _polish(work.red, circle), "red", params)
            if candidate is not None:
                found.append(candidate)
            cx, cy, r = circle
            points = points[np.abs(np.hypot(points[:, 0] - cx, points[:, 1] - cy) - r) > max(2.0, 0.06 * r)]
            if len(points) < np.pi * r_min:  # not enough outline left for another seal
                break
    if not found:
        found = _red_hough(work, r_min, r_max, params)
    return _dedupe(found)


def _red_hough(work: _Work, r_min: float, r_max: float, params: SealParams) -> list[SealCandidate]:
    """Second chance for a seal whose outline merged with other red ink (a red table over it):
    circles voted by the red mask's edges, polished and judged like the others."""
    g = max(1, int(r_min // 12))
    small = cv2.GaussianBlur(_reduce(work.red, g), (5, 5), 1.2)
    circles = cv2.HoughCircles(small, cv2.HOUGH_GRADIENT, dp=1, minDist=r_min / g, param1=100, param2=20,
                               minRadius=int(r_min / g), maxRadius=int(r_max / g) + 1)
    found = []
    for cx, cy, r in ([] if circles is None else circles[0][:3]):
        circle = (float(cx) * g, float(cy) * g, float(r) * g)
        candidate = _judge(work, work.red, _polish(work.red, circle), "red", params)
        if candidate is not None:
            found.append(candidate)
    return found


def fit_circle_ransac(points: np.ndarray, r_min: float, r_max: float, iterations: int = 200,
                      seed: int = 0) -> tuple[float, float, float] | None:
    """Circle (cx, cy, r) through most of ``points`` with r in range; robust to outliers."""
    if len(points) < 12:
        return None
    rng = np.random.default_rng(seed)
    sample = points if len(points) <= 600 else points[rng.choice(len(points), 600, replace=False)]
    idx = rng.integers(0, len(sample), size=(iterations, 3))
    a, b, c = sample[idx[:, 0]], sample[idx[:, 1]], sample[idx[:, 2]]
    d = 2 * (a[:, 0] * (b[:, 1] - c[:, 1]) + b[:, 0] * (c[:, 1] - a[:, 1]) + c[:, 0] * (a[:, 1] - b[:, 1]))
    ok = np.abs(d) > 1e-6
    if not ok.any():
        return None
    a, b, c, d = a[ok], b[ok], c[ok], d[ok]
    sa, sb, sc = (a ** 2).sum(1), (b ** 2).sum(1), (c ** 2).sum(1)
    ux = (sa * (b[:, 1] - c[:, 1]) + sb * (c[:, 1] - a[:, 1]) + sc * (a[:, 1] - b[:, 1])) / d
    uy = (sa * (c[:, 0] - b[:, 0]) + sb * (a[:, 0] - c[:, 0]) + sc * (b[:, 0] - a[:, 0])) / d
    r = np.hypot(a[:, 0] - ux, a[:, 1] - uy)
    good = (r >= r_min) & (r <= r_max)
    if not good.any():
        return None
    ux, uy, r = ux[good], uy[good], r[good]
    dist = np.hypot(sample[None, :, 0] - ux[:, None], sample[None, :, 1] - uy[:, None])
    tol = np.maximum(1.5, 0.04 * r)[:, None]
    votes = (np.abs(dist - r[:, None]) < tol).sum(1)
    best = int(np.argmax(votes))
    if votes[best] < 12:
        return None
    return _refine(points, float(ux[best]), float(uy[best]), float(r[best]), r_min, r_max)


def _refine(points: np.ndarray, cx: float, cy: float, r: float,
            r_min: float, r_max: float) -> tuple[float, float, float]:
    """Least-squares (Kåsa) fit on the inliers of the RANSAC circle; keep it if sane."""
    dist = np.hypot(points[:, 0] - cx, points[:, 1] - cy)
    inl = points[np.abs(dist - r) < max(1.5, 0.05 * r)].astype(np.float64)
    if len(inl) < 12:
        return cx, cy, r
    x, y = inl[:, 0], inl[:, 1]
    m = np.column_stack([x, y, np.ones_like(x)])
    sol, *_ = np.linalg.lstsq(m, x ** 2 + y ** 2, rcond=None)
    nx, ny = sol[0] / 2, sol[1] / 2
    nr = float(np.sqrt(max(sol[2] + nx ** 2 + ny ** 2, 0.0)))
    if r_min <= nr <= r_max and np.hypot(nx - cx, ny - cy) < 0.1 * r:
        return float(nx), float(ny), nr
    return cx, cy, r


def _near_miss(work: _Work, circle: tuple[float, float, float], params: SealParams) -> bool:
    """Worth polishing: seal-like content inside and ink on a good part of the rim."""
    inner = inner_fraction(work.red, *circle)
    if not params.min_inner_red_fraction <= inner <= params.max_inner_red_fraction:
        return False
    return ring_profile(work.red, *circle)[0] >= 0.6 * params.min_ring_coverage


def _polish(mask: np.ndarray, circle: tuple[float, float, float]) -> tuple[float, float, float]:
    """Hill-climb a near-miss circle to the best rim coverage: a seal photographed at a slant
    is a slight ellipse, and the outline's best circle may run inside its rim."""
    best = circle
    score = ring_profile(mask, *best, angles=60)[0]
    step = max(1.0, 0.02 * circle[2])
    for _ in range(25):
        moves = [(best[0] + dx * step, best[1] + dy * step, best[2] + dr * step)
                 for dx, dy, dr in ((1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1))]
        top, move = max(((ring_profile(mask, *m, angles=60)[0], m) for m in moves), key=lambda t: t[0])
        if top <= score:
            break
        best, score = move, top
    return best


def _judge(work: _Work, mask: np.ndarray, circle: tuple[float, float, float], colour: SealColour,
           params: SealParams) -> SealCandidate | None:
    """Keep a circle that has ink along its rim and red content inside; score it."""
    cx, cy, r = circle
    coverage, visible, roundness = ring_profile(mask, cx, cy, r)
    if visible < params.min_visible_fraction or roundness < params.min_ring_roundness:
        return None
    need = params.min_ring_coverage if colour == "red" else params.grey_min_ring_coverage
    if coverage < need:
        return None
    inner = inner_fraction(work.red, cx, cy, r)
    if colour == "red" and not (params.min_inner_red_fraction <= inner <= params.max_inner_red_fraction):
        return None
    score = 0.7 * coverage + 0.3 * min(1.0, inner / 0.08) if colour == "red" else 0.5 * coverage
    return SealCandidate(centre=(cx, cy), radius=r, colour=colour, score=float(score),
                         ring_coverage=coverage, inner_red_fraction=inner, visible_fraction=visible,
                         diameter_mm=2 * r / work.px_per_mm)


def ring_profile(mask: np.ndarray, cx: float, cy: float, r: float,
                 angles: int = 180) -> tuple[float, float, float]:
    """(coverage, visible, roundness) of the rim of a circle on an ink mask.

    Along each ray the outermost ink between 0.7 r and 1.25 r must sit within 0.9–1.08 r.
    coverage: share of the visible rim angles where it does (a faint, broken ring is low);
    roundness: share of the inked angles where it does — a circle is near 1, a square
    (corners at 1.41× its inscribed radius) or a blob is not, however much ink it has.
    """
    h, w = mask.shape
    theta = np.linspace(0, 2 * np.pi, angles, endpoint=False)
    rho = np.linspace(0.7, 1.25, max(12, int(r * 0.55)))  # about one sample per pixel
    xs = cx + np.outer(np.cos(theta), rho * r)
    ys = cy + np.outer(np.sin(theta), rho * r)
    rim_x, rim_y = cx + r * np.cos(theta), cy + r * np.sin(theta)
    visible = (rim_x >= 0) & (rim_x < w) & (rim_y >= 0) & (rim_y < h)
    if not visible.any():
        return 0.0, 0.0, 0.0
    xi, yi = np.rint(xs).astype(np.int32), np.rint(ys).astype(np.int32)
    inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
    ink = np.zeros(xs.shape, dtype=bool)
    ink[inside] = mask[yi[inside], xi[inside]] > 0
    has = ink.any(axis=1)
    last = len(rho) - 1 - np.argmax(ink[:, ::-1], axis=1)
    outer = rho[last]
    hit = has & (outer >= 0.9) & (outer <= 1.08) & visible
    inked = int((has & visible).sum())
    roundness = float(hit.sum() / inked) if inked else 0.0
    return float(hit.sum() / visible.sum()), float(visible.mean()), roundness


def inner_fraction(mask: np.ndarray, cx: float, cy: float, r: float) -> float:
    """Share of ink pixels in the visible disc of radius 0.8 r (inside the rim and its text)."""
    h, w = mask.shape
    ri = 0.8 * r
    x0, x1 = max(0, int(cx - ri)), min(w, int(cx + ri) + 1)
    y0, y1 = max(0, int(cy - ri)), min(h, int(cy + ri) + 1)
    if x1 <= x0 or y1 <= y0:
        return 0.0
    yy, xx = np.ogrid[y0:y1, x0:x1]
    disc = (xx - cx) ** 2 + (yy - cy) ** 2 <= ri * ri
    area = int(disc.sum())
    if area == 0:
        return 0.0
    return float((mask[y0:y1, x0:x1][disc] > 0).sum() / area)


def _dedupe(found: list[SealCandidate]) -> list[SealCandidate]:
    """Drop a candidate whose centre lies within another, better one."""
    kept: list[SealCandidate] = []
    for c in sorted(found, key=lambda c: -c.score):
        if all(np.hypot(c.centre[0] - k.centre[0], c.centre[1] - k.centre[1]) > 0.5 * k.radius for k in kept):
            kept.append(c)
    return kept


# ---------------------------------------------------------------------------- grey seals


def _grey_seals(work: _Work, r_min: float, r_max: float, params: SealParams) -> list[SealCandidate]:
    """Rings of dark, colourless ink (a photocopied seal); never reported as red.

    Black text is everywhere on a page, so ink along a circle proves nothing: a ring must be
    darker than the page just inside and just outside it, along most of its rim. Circles come
    from a Hough transform on a strongly reduced page (its time grows fast with the radius),
    then climb to the best-fitting ring on a finer one.
    """
    grey = work.ycc[..., 0].copy()
    grey[work.red > 0] = work.paper[0]  # red ink is judged by the red path alone
    r_lo = params.grey_min_diameter_mm / 2 * work.px_per_mm
    r_hi = params.grey_max_diameter_mm / 2 * work.px_per_mm
    g = max(1, int(r_min // 12))  # Hough over the whole seal size range, ring ~12+ px
    f = max(1, int(r_lo // 40))   # climb and verify: ~40+ px
    coarse = _reduce(grey, g)
    circles = cv2.HoughCircles(cv2.GaussianBlur(coarse, (5, 5), 1.2), cv2.HOUGH_GRADIENT, dp=1, minDist=r_min / g,
                               param1=80, param2=25, minRadius=int(r_min / g), maxRadius=int(r_max / g) + 1)
    if circles is None:
        return []
    darkness = (255 - _reduce(grey, f)).astype(np.float32)
    found = []
    for cx, cy, r in circles[0][:3]:
        s = g / f
        (cx, cy, r), coverage, visible = _climb(darkness, float(cx) * s, float(cy) * s, float(r) * s,
                                                r_lo / f, r_hi / f)
        if visible < params.min_visible_fraction or coverage < params.grey_min_ring_coverage:
            continue
        cx, cy, r = cx * f, cy * f, r * f
        found.append(SealCandidate(centre=(cx, cy), radius=r, colour="grey", score=0.5 * coverage,
                                   ring_coverage=coverage, inner_red_fraction=inner_fraction(work.red, cx, cy, r),
                                   visible_fraction=visible, diameter_mm=2 * r / work.px_per_mm))
    return _dedupe(found)


def _reduce(image: np.ndarray, k: int) -> np.ndarray:
    return image if k == 1 else cv2.resize(image, None, fx=1 / k, fy=1 / k, interpolation=cv2.INTER_AREA)


def _climb(darkness: np.ndarray, cx: float, cy: float, r: float, r_min: float,
           r_max: float) -> tuple[tuple[float, float, float], float, float]:
    """Search centre and radius for the ring with the best contrast: a coarse grid around the
    Hough circle (its centre can be a few pixels off), then 1 px hill-climbing."""
    r = min(max(r, r_min), r_max)
    steps = np.array([-8, -4, 0, 4, 8], dtype=np.float64)
    gx, gy, gr = np.meshgrid(cx + steps, cy + steps, np.clip(r + steps, r_min, r_max), indexing="ij")
    grid = np.stack([gx.ravel(), gy.ravel(), gr.ravel()], axis=1)
    cov, _ = ring_contrast(darkness, grid, angles=72)  # coarse look, then the full rim
    best = grid[int(np.argmax(cov))]
    cov, vis = ring_contrast(darkness, best[None, :])
    score, visible = float(cov[0]), float(vis[0])
    unit = np.array([(1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)], dtype=np.float64)
    for _ in range(20):
        moves = best + unit
        moves[:, 2] = np.clip(moves[:, 2], r_min, r_max)
        cov, vis = ring_contrast(darkness, moves)
        i = int(np.argmax(cov))
        if cov[i] <= score:
            break
        best, score, visible = moves[i], float(cov[i]), float(vis[i])
    return (float(best[0]), float(best[1]), float(best[2])), score, visible


def ring_contrast(darkness: np.ndarray, circles: np.ndarray, angles: int = 180,
                  margin: float = 6.0) -> tuple[np.ndarray, np.ndarray]:
    """(coverage, visible) per circle (rows cx, cy, r): the share of visible rim angles where the
    rim is darker than the page at both 0.85 r and 1.15 r by ``margin`` grey levels."""
    h, w = darkness.shape
    theta = np.linspace(0, 2 * np.pi, angles, endpoint=False)
    cx, cy, r = (circles[:, k, None, None] for k in range(3))
    # radii per circle: five across the rim, then 0.85 r, 1.15 r
    rr = np.concatenate([r + np.array([-1.5, -0.75, 0.0, 0.75, 1.5]), 0.85 * r, 1.15 * r], axis=2)
    x = np.rint(cx + rr * np.cos(theta)[None, :, None]).astype(np.int32)
    y = np.rint(cy + rr * np.sin(theta)[None, :, None]).astype(np.int32)
    ok = (x >= 0) & (x < w) & (y >= 0) & (y < h)
    v = np.where(ok, darkness[np.clip(y, 0, h - 1), np.clip(x, 0, w - 1)], 0.0)
    rim = v[..., :5].max(axis=2)
    visible = ok[..., 2]
    hit = (rim > np.maximum(v[..., 5], v[..., 6]) + margin) & visible
    n_vis = visible.sum(axis=1)
    return hit.sum(axis=1) / np.maximum(n_vis, 1), n_vis / angles
