"""Read the horizontal line under a round seal's star: what kind of seal it is.

An organisation's official seal (公章) carries its name on the arc and nothing under the star
(at most a serial number on the bottom arc); its special-purpose seals carry the same name and
say what they are for on a straight line under the star: 合同专用章, 财务专用章, 人事专用章 ….
The guide asks for the 公章, so that line is read here. The seal's bottom is found from its ink
(``line_direction``: between two of the star's points, in the gap between the name's ends) and the
seal turned to put it down before the line is cut out, so a seal stamped at any angle reads. No
rules and no case here: the stage decides what a read means.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.seal.arctext import ReadLine, ink_mask, red_only, square_crop

#: where the line under the star stands, as fractions of the radius below the centre (the
#: star's lower points end at ~0.28, the name's last glyphs begin at ~0.75 from the centre)
LINE_SPAN = (0.3, 0.8)
LINE_HALF_WIDTH = 0.8  # the longest line (…专用章 of five or six glyphs) reaches ~0.6 r each side
LINE_HEIGHT = 48        # px: the recogniser's line height
#: the ring between the star's points and the name's inner edge, where a line under the star
#: stands (fractions of the radius), and the share of it a line inks over ~60° (real: 财务专用章
#: 0.47–0.78 of each ray inked, the same company's 公章 0–0.05)
LINE_RING = (0.36, 0.66)
LINE_MIN_INK = 0.15
#: the inner half of the name's ring, to find the gap between its ends (a serial number on the
#: bottom arc stands further out, by the rim)
NAME_RING = (0.6, 0.76)
#: the star's points (fractions of the radius: inside its points, outside its notches) and how
#: clearly five-fold the ink there must be to be a star
STAR_RING = (0.14, 0.28)
STAR_MIN_PERIODICITY = 0.2


@dataclass(frozen=True)
class LineRead:
    text: str
    confidence: float
    chars: tuple[float, ...]
    bottom_deg: float  # the seal's bottom the line was cut out under (image coordinates, 90 = down)


def read_line_under_star(image: np.ndarray, centre: tuple[float, float], radius: float,
                         readers: list[ReadLine]) -> list[LineRead]:
    """Every reader's read of the line under the star; nothing when no line stands there."""
    bottom = line_direction(image, centre, radius)
    if bottom is None:
        return []
    reads = []
    for line in line_under_star(image, centre, radius, bottom):
        for read in readers:
            got = read(line)
            if got is not None and got[0].strip():
                reads.append(LineRead(got[0].strip(), got[1], got[2], bottom))
    return reads


def line_direction(image: np.ndarray, centre: tuple[float, float], radius: float) -> float | None:
    """The angle (degrees, image coordinates, 90 = down) of the seal's bottom when a line stands
    under its star, else None. The star's five points fix the five directions the bottom can
    have (each between two points); the bottom is the one of them in the gap between the ends
    of the name where the ring between the star and the name is inked as a line of text is (a
    公章 leaves it bare). Found from the ink alone, so a seal stamped at any angle, with or without
    a serial number on its bottom arc, is turned right; a seal with no five-pointed star is tried
    at its usual bottom."""
    crop, (cx, cy) = square_crop(image, centre, radius)
    steps = max(32, int(radius))
    polar = cv2.warpPolar(ink_mask(crop), (steps, 360), (cx, cy), radius,
                          cv2.WARP_POLAR_LINEAR + cv2.INTER_NEAREST) > 0

    def ring(span: tuple[float, float]) -> np.ndarray:  # per degree: the share of the ring inked
        return np.asarray(polar[:, round(steps * span[0]):round(steps * span[1])].mean(axis=1), dtype=float)

    star = ring(STAR_RING)
    turn = np.exp(5j * np.radians(np.arange(360)))
    fifth = complex((star * turn).sum()) / max(float(star.sum()), 1e-9)
    if abs(fifth) >= STAR_MIN_PERIODICITY:
        point = float(np.degrees(np.angle(fifth))) / 5
        bottoms = [(point + 36 + 72 * k) % 360 for k in range(5)]
    else:
        bottoms = [90.0]

    def around(profile: np.ndarray, angle: float, half: int) -> float:
        return float(np.take(profile, np.arange(round(angle) - half, round(angle) + half + 1), mode="wrap").mean())

    name, line = ring(NAME_RING), ring(LINE_RING)
    # the bottom: the gap between the name's ends, where a line under the star inks the most
    # (its lowest glyphs may reach the name's ring; the name's own glyphs reach the line's)
    bottom = max(bottoms, key=lambda b: around(line, b, 20) - around(name, b, 15))
    return bottom if around(line, bottom, 20) >= LINE_MIN_INK else None


def line_under_star(image: np.ndarray, centre: tuple[float, float], radius: float,
                    bottom_deg: float = 90.0) -> list[np.ndarray]:
    """The line under the star, upright, dark on white, cut to its inked rows and to the run of
    columns around the middle (the name's last glyphs, further out, are left out): as scanned
    (the darkest channel: red ink is dark in green and blue; JPEG keeps its strokes there, while
    the colour it halves blurs them) and as the red ink alone (black print under it erased);
    none when nothing is inked there."""
    crop, (cx, cy) = square_crop(image, centre, radius)
    turn = cv2.getRotationMatrix2D((cx, cy), bottom_deg - 90.0, 1.0)
    size = (crop.shape[1], crop.shape[0])
    red = cv2.warpAffine(red_only(crop), turn, size, flags=cv2.INTER_LINEAR, borderValue=255)
    darkest = crop if crop.ndim == 2 else crop.min(axis=2)
    scanned = cv2.warpAffine(darkest, turn, size, flags=cv2.INTER_LINEAR, borderValue=255)
    r = radius
    y0, y1 = max(0, round(cy + LINE_SPAN[0] * r)), round(cy + LINE_SPAN[1] * r)
    x0, x1 = max(0, round(cx - LINE_HALF_WIDTH * r)), round(cx + LINE_HALF_WIDTH * r)
    yy, xx = np.mgrid[y0:y1, x0:x1]
    outside = (xx - cx) ** 2 + (yy - cy) ** 2 > (LINE_SPAN[1] * r) ** 2  # the rim and the name
    parts = []
    for ink in (scanned, red):
        part = ink[y0:y1, x0:x1].copy()
        part[outside[:part.shape[0], :part.shape[1]]] = 255
        parts.append(part)
    box = _line_box(parts[1] < 200, r)
    if box is None:
        return []
    top, low, left, right = box
    return [_upright_line(part[top:low, left:right]) for part in parts]


def _line_box(inked: np.ndarray, r: float) -> tuple[int, int, int, int] | None:
    """Top, bottom, left and right of the line in ``inked`` (with a margin), or None."""
    if inked.size == 0:
        return None
    middle = inked.shape[1] // 2
    rows = np.flatnonzero(inked[:, middle - round(0.3 * r):middle + round(0.3 * r)].sum(axis=1) >= 2)
    if len(rows) < max(3, round(0.08 * r)):
        return None
    top, low = int(rows[0]), int(rows[-1]) + 1
    cols = _middle_run(inked[top:low].sum(axis=0) >= 1, gap=max(2, round(0.12 * r)))
    if cols is None:
        return None
    pad = max(2, (low - top) // 4)
    box = max(0, top - pad), low + pad, max(0, cols[0] - pad), cols[1] + pad
    if box[3] - box[2] < box[1] - box[0]:  # narrower than one glyph: no line of text
        return None
    return box


def _upright_line(line: np.ndarray) -> np.ndarray:
    """``line`` with its darkest ink black, ``LINE_HEIGHT`` px high."""
    darkest = float(line.min())
    line = np.clip((line.astype(np.float32) - darkest) * (255 / max(1.0, 255 - darkest)), 0, 255).astype(np.uint8)
    scale = LINE_HEIGHT / line.shape[0]
    return cv2.resize(line, (max(16, round(line.shape[1] * scale)), LINE_HEIGHT), interpolation=cv2.INTER_CUBIC)


def _middle_run(inked: np.ndarray, gap: int) -> tuple[int, int] | None:
    """The first and past-last inked column of the run through the middle, runs closer than
    ``gap`` joined; None when the middle has no ink within ``gap``."""
    cols = np.flatnonzero(inked)
    if len(cols) == 0:
        return None
    middle = len(inked) // 2
    nearest = int(cols[np.argmin(np.abs(cols - middle))])
    if abs(nearest - middle) > gap:
        return None
    i = int(np.searchsorted(cols, nearest))
    lo = hi = i
    while lo > 0 and cols[lo] - cols[lo - 1] <= gap:
        lo -= 1
    while hi < len(cols) - 1 and cols[hi + 1] - cols[hi] <= gap:
        hi += 1
    return int(cols[lo]), int(cols[hi]) + 1
