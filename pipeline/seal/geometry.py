"""Circles on ink masks: fitting them (RANSAC), measuring how much of a rim is inked, and
finding grey rings (a photocopied or black-and-white scanned round seal) on a grey page.

Pure geometry: the caller (``pipeline.seal.find``) decides what counts as a seal.

Grey rings. Black print is everywhere on a page, so ink along a circle proves nothing: a ring must be
darker than the page just inside and just outside it, along most of its rim. Circles come
from a Hough transform on a strongly reduced page (its time grows fast with the radius),
then climb to the best-fitting ring on a finer one.
"""

from __future__ import annotations

import cv2
import numpy as np

Circle = tuple[float, float, float]


def grey_rings(grey: np.ndarray, search: tuple[float, float], keep: tuple[float, float],
               candidates: int = 3) -> list[tuple[Circle, float, float]]:
    """(circle, coverage, visible) of the best rings on a grey page, in its pixels.

    ``search``: radius range the Hough transform looks in; ``keep``: the range a ring is
    refined within (seal sizes).
    """
    r_min, r_max = search
    r_lo, r_hi = keep
    g = max(1, int(r_min // 12))  # Hough over the whole size range, ring ~12+ px
    f = max(1, int(r_lo // 40))   # climb and verify: ~40+ px
    coarse = reduce(grey, g)
    circles = cv2.HoughCircles(cv2.GaussianBlur(coarse, (5, 5), 1.2), cv2.HOUGH_GRADIENT, dp=1, minDist=r_min / g,
                               param1=80, param2=25, minRadius=int(r_min / g), maxRadius=int(r_max / g) + 1)
    if circles is None:
        return []
    darkness = (255 - reduce(grey, f)).astype(np.float32)
    out = []
    for cx, cy, r in circles[0][:candidates]:
        s = g / f
        (cx, cy, r), coverage, visible = _climb(darkness, float(cx) * s, float(cy) * s, float(r) * s,
                                                r_lo / f, r_hi / f)
        out.append(((cx * f, cy * f, r * f), coverage, visible))
    return out


def reduce(image: np.ndarray, k: int) -> np.ndarray:
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


def polish(mask: np.ndarray, circle: tuple[float, float, float]) -> tuple[float, float, float]:
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
