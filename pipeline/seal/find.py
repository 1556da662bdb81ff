"""Find round official seals (公章) on a page image: pure image analysis, no rules, no case.

A seal is a ring of red ink of a known physical size (38–45 mm) with red content inside (a
star, the organisation name along the arc). So the detector builds a colour mask relative to
the paper colour around each pixel (scans and phone photos shift red toward orange or pink,
and light a sheet unevenly), erases long straight red lines (tables), fits circles to the
outlines of red blobs with RANSAC (robust to a seal cut by the page edge or touching red
text; a Hough transform gives a second chance), and keeps a circle only when red ink runs
along most of its rim, *round* (a square seal is not), *and* there is red content inside —
a thin red pen circle, a red rectangle, a red title or red table lines fail one of these
tests. Pages with no red seal are searched once more for a grey ring (a photocopied seal),
which callers report as uncertain, never as a red seal. Geometry lives in ``sealgeom``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, Literal

import cv2
import numpy as np

from pipeline.seal.geometry import fit_circle_ransac, grey_rings, inner_fraction, polish, reduce, ring_profile

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
    line_min_mm: float = 30.0            # straight red runs this long are table lines, not seal
    red_retry_step: float = 12.0         # no seal found among much red: look again at ink this much redder …
    red_retry_max_chroma: float = 44.0   # … step by step up to this (a light red watermark over a copy)
    work_width_px: int = 1000
    work_dpi: float = 100.0


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
        found, work = _under_light_red(image, dpi, params, work)
    if not found:
        found = _grey_seals(work, r_min, r_max, params)
    return [_to_page(c, work) for c in found]


def _under_light_red(image: np.ndarray, dpi: float, params: SealParams,
                     work: _Work) -> tuple[list[SealCandidate], _Work]:
    """Red seals looked for again among redder ink only, when the page holds much red but no
    seal was found in it: a light red watermark (仅供办理…使用) tiled over a copy joins every
    outline into one red field. A seal's ink is the reddest on such a page; the circles found
    are judged as ever. The first (all-red) work when none is found."""
    r_min, _ = _radius_range(work.px_per_mm, params)
    if cv2.countNonZero(work.red) < 4 * np.pi * r_min * r_min * params.min_inner_red_fraction:
        return [], work  # less red than one seal holds: nothing to see through
    for redder in _redder(image, dpi, params):
        found = _red_seals(redder, *_radius_range(redder.px_per_mm, params), params)
        if found:
            return found, redder
    return [], work


def find_redder_seals(image: np.ndarray, dpi: float, params: SealParams | None = None) -> list[SealCandidate]:
    """Red seals found among redder ink only, every step of it: for a page whose seals were
    found but not the one looked for (a licence under a light red watermark shows its printed
    registration authority's seal, while the applicant's is lost in the watermark's red)."""
    params = params or SealParams()
    found = [_to_page(c, work) for work in _redder(image, dpi, params)
             for c in _red_seals(work, *_radius_range(work.px_per_mm, params), params)]
    return _dedupe(found)


def _redder(image: np.ndarray, dpi: float, params: SealParams) -> Iterator[_Work]:
    """The page prepared again with ink counting as red only when redder, step by step."""
    chroma = params.red_min_chroma + params.red_retry_step
    while chroma <= params.red_retry_max_chroma:
        yield _prepare(image, dpi, replace(params, red_min_chroma=chroma))
        chroma += params.red_retry_step


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


def page_chroma(image: np.ndarray, side: int = 800) -> float:
    """How much colour a page carries: the 99.9th percentile of (max − min) over its channels on
    the page reduced to ``side`` px. A page saved in grey (a black-and-white scan, a scanning
    app's grey or B&W filter) measures 0–2 and cannot show whether its seal was red; a colour
    scan measures more (the paper's tint, colour fringes of print, red ink)."""
    if image.ndim == 2:
        return 0.0
    f = min(1.0, side / max(image.shape[:2]))
    small = image if f == 1.0 else cv2.resize(image, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    spread = small.max(axis=2).astype(np.int16) - small.min(axis=2)
    return float(np.percentile(spread, 99.9))


# ---------------------------------------------------------------------------- preparation


def _prepare(image: np.ndarray, dpi: float, params: SealParams) -> _Work:
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    w = image.shape[1]
    # An integer INTER_AREA step is ~20× faster than an arbitrary ratio and keeps thin faint
    # strokes (averaged, not skipped). Work at ~work_dpi (a seal ring stays 4+ px wide), and
    # never wider than 1.5 × work_width_px (a photo whose dpi is only an estimate).
    k = max(1, int(dpi // params.work_dpi))
    while w / k > 1.5 * params.work_width_px:
        k += 1
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
    rows = cv2.reduce(red, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S)
    cols = cv2.reduce(red, 0, cv2.REDUCE_SUM, dtype=cv2.CV_32S)
    if max(int(rows.max()), int(cols.max())) < 0.8 * n * 255:
        return red  # no row or column holds that much red: no line to erase (most pages)
    lines = np.zeros_like(red)
    for along, across in (((n, 1), (1, 9)), ((1, n), (9, 1))):
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
        out.append(int(np.median(bg)) if hi - lo <= 4 else cv2.resize(bg, (w, h), interpolation=cv2.INTER_LINEAR))
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
                candidate = _judge(work, work.red, polish(work.red, circle), "red", params)
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
    small = cv2.GaussianBlur(reduce(work.red, g), (5, 5), 1.2)
    circles = cv2.HoughCircles(small, cv2.HOUGH_GRADIENT, dp=1, minDist=r_min / g, param1=100, param2=20,
                               minRadius=int(r_min / g), maxRadius=int(r_max / g) + 1)
    found = []
    for cx, cy, r in ([] if circles is None else circles[0][:3]):
        circle = (float(cx) * g, float(cy) * g, float(r) * g)
        candidate = _judge(work, work.red, polish(work.red, circle), "red", params)
        if candidate is not None:
            found.append(candidate)
    return found


def _near_miss(work: _Work, circle: tuple[float, float, float], params: SealParams) -> bool:
    """Worth polishing: seal-like content inside and ink on a good part of the rim."""
    inner = inner_fraction(work.red, *circle)
    if not params.min_inner_red_fraction <= inner <= params.max_inner_red_fraction:
        return False
    return ring_profile(work.red, *circle)[0] >= 0.6 * params.min_ring_coverage


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


def _dedupe(found: list[SealCandidate]) -> list[SealCandidate]:
    """Drop a candidate whose centre lies within another, better one."""
    kept: list[SealCandidate] = []
    for c in sorted(found, key=lambda c: -c.score):
        if all(np.hypot(c.centre[0] - k.centre[0], c.centre[1] - k.centre[1]) > 0.5 * k.radius for k in kept):
            kept.append(c)
    return kept


# ---------------------------------------------------------------------------- grey seals


def _grey_seals(work: _Work, r_min: float, r_max: float, params: SealParams) -> list[SealCandidate]:
    """Rings of dark, colourless ink (a photocopied seal); never reported as red."""
    grey = work.ycc[..., 0].copy()
    grey[work.red > 0] = work.paper[0]  # red ink is judged by the red path alone
    rings = grey_rings(grey, (r_min, r_max), (params.grey_min_diameter_mm / 2 * work.px_per_mm,
                                              params.grey_max_diameter_mm / 2 * work.px_per_mm))
    found = []
    for (cx, cy, r), coverage, visible in rings:
        if visible < params.min_visible_fraction or coverage < params.grey_min_ring_coverage:
            continue
        found.append(SealCandidate(centre=(cx, cy), radius=r, colour="grey", score=0.5 * coverage,
                                   ring_coverage=coverage, inner_red_fraction=inner_fraction(work.red, cx, cy, r),
                                   visible_fraction=visible, diameter_mm=2 * r / work.px_per_mm))
    return _dedupe(found)
