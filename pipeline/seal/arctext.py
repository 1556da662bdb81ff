"""Read the arc text of a round seal: unroll the ring into a straight strip, then OCR it.

The organisation name runs clockwise along the top of the ring, each character upright toward
the centre. A polar transform (``cv2.warpPolar``) maps the ring to rows of angle × radius;
turned so the outer edge is on top, the characters stand upright and read left to right.
Where the strip starts matters (the OCR must not see the name cut in two): the gap between
the end and the start of the name is found from the ink profile along the ring, with the
bottom of the seal (its usual place) tried too, so a seal stamped at an angle reads as well.
No rules and no case here; the stage compares the text with the entered name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.reading.matching import normalise_name
from pipeline.seal.find import red_mask

#: The text band of a seal, as fractions of its outer radius (the rim itself is ~0.93–1.0).
BAND = (0.52, 0.93)
STRIP_HEIGHT = 48  # what the recogniser is trained on
#: rows inked at least this share of the most inked row are the glyphs' (``text_rows``)
GLYPH_ROW_SHARE = 0.25

#: Seals of the registration authority printed on a business licence, not the applicant's.
AUTHORITY_WORDS = ("市场监督管理局", "工商行政管理局", "市场监管局", "工商管理局", "行政审批局",
                   "工商局", "管理局", "监督局")

#: text, confidence and each character's probability (empty when the engine gives none)
ReadLine = Callable[[np.ndarray], "tuple[str, float, tuple[float, ...]] | None"]


@dataclass(frozen=True)
class ArcRead:
    text: str
    confidence: float
    start_deg: float
    flipped: bool
    chars: tuple[float, ...] = ()  # each character's probability, aligned with ``text`` (or empty)
    band: tuple[float, float] = BAND  # the ring unrolled, as fractions of the radius
    reader: str = ""  # the recogniser that read it, when not the first (the seal stage's second reader)


def unroll(image: np.ndarray, centre: tuple[float, float], radius: float, start_deg: float = 90.0,
           band: tuple[float, float] = BAND, height: int = STRIP_HEIGHT) -> np.ndarray:
    """The seal's text band as a strip ``height`` px high, outer edge on top, read clockwise.

    ``start_deg`` is the angle (image coordinates: 0 = right, 90 = down) where the strip
    begins; the strip runs clockwise through the full circle back to it.
    """
    crop, (cx, cy) = square_crop(image, centre, radius)
    r = radius
    n_angle = max(64, round(2 * np.pi * r * (band[0] + band[1]) / 2))
    n_radius = max(8, round(r * band[1]))
    polar = cv2.warpPolar(crop, (n_radius, n_angle), (cx, cy), r * band[1],
                          cv2.WARP_POLAR_LINEAR + cv2.INTER_LINEAR)
    polar = polar[:, round(n_radius * band[0] / band[1]):]          # rows: angle, cols: radius
    shift = round(start_deg / 360.0 * n_angle) % n_angle
    polar = np.roll(polar, -shift, axis=0)
    strip = cv2.flip(cv2.transpose(polar), 0)                             # outer radius on top
    width = max(16, round(strip.shape[1] * height / strip.shape[0]))
    return cv2.resize(strip, (width, height), interpolation=cv2.INTER_AREA)


def gap_angle(image: np.ndarray, centre: tuple[float, float], radius: float,
              band: tuple[float, float] = (0.6, 0.9)) -> float | None:
    """The angle (degrees, image coordinates) in the middle of the widest ink-free stretch
    of the text band, or None when the band has ink all round (no gap to start at)."""
    crop, (cx, cy) = square_crop(image, centre, radius)
    mask = ink_mask(crop)
    n = 360
    polar = cv2.warpPolar(mask, (int(radius), n), (cx, cy), radius, cv2.WARP_POLAR_LINEAR + cv2.INTER_NEAREST)
    profile = (polar[:, int(radius * band[0]):int(radius * band[1])] > 0).mean(axis=1)
    smooth = np.convolve(np.concatenate([profile[-5:], profile, profile[:5]]), np.ones(11) / 11, "valid")
    if smooth.max() <= 0:
        return None
    empty = smooth < 0.15 * smooth.max()
    if empty.all() or not empty.any():
        return None
    runs = _circular_runs(empty)
    start, length = max(runs, key=lambda t: t[1])
    if length < 8:
        return None
    return float((start + length / 2) % n)


def text_band(image: np.ndarray, centre: tuple[float, float], radius: float,
              default: tuple[float, float] = BAND) -> tuple[float, float]:
    """The ring the name is read from, as fractions of the radius: ``default``, its outer edge
    moved to just inside the rim found from the red ink's radial profile (the innermost step of
    the outer run inked most of the way round). Seal makers cut the name at their own radius: a
    fixed band takes in the rim's inner edge where the glyphs reach it, and it reads as a stroke
    over them (业 as 亚). The inner edge stays (a band fitted to the glyphs' height too read the
    seal bench no better). ``default`` where the profile shows no rim."""
    crop, (cx, cy) = square_crop(image, centre, radius * 1.1)
    mask = ink_mask(crop)
    steps = max(32, int(radius * 1.1))
    polar = cv2.warpPolar(mask, (steps, 360), (cx, cy), radius * 1.1, cv2.WARP_POLAR_LINEAR + cv2.INTER_NEAREST)
    cover = (polar > 0).mean(axis=0)  # per radius step: the share of angles inked
    at = np.arange(steps) * 1.1 / steps  # each step's radius as a fraction of ``radius``
    rim = np.flatnonzero((cover >= 0.8) & (at >= 0.75))
    if len(rim) == 0:
        return default
    k = int(rim[-1])  # the rim's run, walked inward from its outermost step
    while k > 0 and cover[k - 1] >= 0.8:
        k -= 1
    top = float(at[k]) - 0.01
    if not 0.8 <= top <= 0.96:
        return default
    return default[0], min(top, default[1])


def ink_mask(crop: np.ndarray) -> np.ndarray:
    """The seal's ink as a 0/255 mask: red ink in colour, dark ink (Otsu) in grey."""
    if crop.ndim == 3:
        return red_mask(crop)
    return cv2.threshold(crop, 0, 255, cv2.THRESH_OTSU | cv2.THRESH_BINARY_INV)[1]


def _circular_runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of each run of True, joining a run that wraps around the end."""
    n = len(flags)
    first_false = int(np.argmin(flags))
    rolled = np.roll(flags, -first_false)
    runs, i = [], 0
    while i < n:
        if rolled[i]:
            j = i
            while j < n and rolled[j]:
                j += 1
            runs.append(((i + first_false) % n, j - i))
            i = j
        else:
            i += 1
    return runs


def read_arc(image: np.ndarray, centre: tuple[float, float], radius: float, read_line: ReadLine,
             good_enough: Callable[[ArcRead], bool] = lambda _r: False,
             upright: Callable[[ArcRead], bool] = lambda _r: False, reader: str = "") -> list[ArcRead]:
    """OCR the arc text from a few starting angles, upright then turned 180°; stop early
    once ``good_enough`` accepts a read, and read no turned strips once ``upright`` accepts one
    (the text stands the way it was read). Returns every read, best confidence first, each
    marked with ``reader``."""
    starts: list[float] = []
    gap = gap_angle(image, centre, radius)
    for angle in ([gap] if gap is not None else []) + [90.0, 45.0, 135.0]:
        if all(abs((angle - s + 180) % 360 - 180) > 20 for s in starts):
            starts.append(angle)
    crop, (cx, cy) = square_crop(image, centre, radius)
    variants = (crop, red_only(crop))  # as scanned; then with black print under the seal erased
    band = text_band(image, centre, radius)
    # unrolled at the band's own resolution (no finer than the recogniser's height), then cut to its
    # glyphs' rows: a strip scaled up and down again blurs (精 read 程)
    height = max(STRIP_HEIGHT, round(radius * (band[1] - band[0])))
    reads: list[ArcRead] = []
    for flipped in (False, True):
        if flipped and any(upright(r) for r in reads):
            break
        for start in starts[:3]:
            for variant in variants:
                strip = text_rows(inked_part(unroll(variant, (cx, cy), radius, start, band, height)))
                if flipped:  # text upright away from the centre reads counter-clockwise
                    strip = cv2.rotate(strip, cv2.ROTATE_180)
                got = read_line(strip)
                if got is None or not clean(got[0]):
                    continue
                text, chars = clean_with_chars(got[0], got[2])
                read = ArcRead(text, got[1], start, flipped, chars, band, reader)
                reads.append(read)
                if good_enough(read):
                    return sorted(reads, key=lambda r: -r.confidence)
    return sorted(reads, key=lambda r: -r.confidence)


def inked_part(strip: np.ndarray, worth: float = 0.1) -> np.ndarray:
    """The strip from its first to its last inked column, half its height kept as margin.

    The strip starts in the gap between the name's end and start, so both ends are bare ring;
    recognition costs by the width, and a fifth of it is nothing to read. Kept whole when
    trimming saves less than ``worth`` of it.
    """
    h, w = strip.shape[:2]
    cols = np.flatnonzero(_strip_ink(strip).sum(axis=0) >= 2)
    if len(cols) == 0:
        return strip
    x0, x1 = max(0, int(cols[0]) - h // 2), min(w, int(cols[-1]) + 1 + h // 2)
    if x1 - x0 > (1 - worth) * w:
        return strip
    return strip[:, x0:x1]


def text_rows(strip: np.ndarray, height: int = STRIP_HEIGHT, share: float = GLYPH_ROW_SHARE,
              margin: float = 0.15) -> np.ndarray:
    """The strip cut to the rows the name's glyphs ink (``margin`` of their height kept above and
    below), ``height`` px high.

    The band must hold a name cut at any seal maker's radius, so the glyphs fill about half of it:
    at half the size the recogniser is trained on they read as look-alikes (塔 as 路, 业 as 亚, 葫 as
    湖). Rows inked at least ``share`` of the most inked row are the glyphs': a pen's line across the
    seal inks a column or two of each row. Kept whole where the glyphs fill nearly all of it."""
    inked = _strip_ink(strip).mean(axis=1)
    h = strip.shape[0]
    if inked.max() > 0:
        rows = np.flatnonzero(inked >= share * inked.max())
        y0, y1 = int(rows[0]), int(rows[-1]) + 1
        keep = round(margin * (y1 - y0))
        y0, y1 = max(0, y0 - keep), min(h, y1 + keep)
        if y1 - y0 < 0.85 * h:
            strip = strip[y0:y1]
    width = max(16, round(strip.shape[1] * height / strip.shape[0]))
    return cv2.resize(strip, (width, height), interpolation=cv2.INTER_AREA)


def _strip_ink(strip: np.ndarray) -> np.ndarray:
    """Where a strip is inked: well darker than its paper (red ink is dark in green and blue)."""
    darkest = strip if strip.ndim == 2 else strip.min(axis=2)
    return np.asarray(darkest < float(np.percentile(darkest, 90)) - 60)


def red_only(image: np.ndarray) -> np.ndarray:
    """Grey image of the red ink alone, dark on white: black print (R ≈ G ≈ B) disappears."""
    if image.ndim == 2:
        return image
    b, g, r = (image[..., k].astype(np.int16) for k in range(3))
    redness = np.clip(r - np.maximum(g, b), 0, 255).astype(np.float32)
    top = max(float(np.percentile(redness, 99)), 1.0)
    return np.clip(255 - redness * (255 / top), 0, 255).astype(np.uint8)


_NOISE = re.compile(r"[^\w（）()]+")


def clean(text: str) -> str:
    """The read without spaces and stray punctuation (OCR reads ring bits as 'I', '|', '-')."""
    return _NOISE.sub("", normalise_name(text))


def clean_with_chars(text: str, chars: Sequence[float]) -> tuple[str, tuple[float, ...]]:
    """``clean(text)`` and the probabilities of the characters it keeps (empty when ``chars``
    does not match ``text`` character for character, or cleaning is not character by character)."""
    cleaned = clean(text)
    if len(chars) != len(text):
        return cleaned, ()
    kept = [(c, p) for ch, p in zip(text, chars, strict=True) for c in clean(ch)]
    if "".join(c for c, _ in kept) != cleaned:
        return cleaned, ()
    return cleaned, tuple(p for _, p in kept)


def is_authority(text: str, words: Sequence[str] = AUTHORITY_WORDS) -> bool:
    """A registration authority's seal (on a business licence), not the applicant's."""
    return any(w in text for w in words)


def square_crop(image: np.ndarray, centre: tuple[float, float],
                 radius: float) -> tuple[np.ndarray, tuple[float, float]]:
    """The seal's square (padded with white where it leaves the page) and the centre in it."""
    h, w = image.shape[:2]
    pad = int(np.ceil(radius * 1.05))
    x0, y0 = round(centre[0]) - pad, round(centre[1]) - pad
    x1, y1 = x0 + 2 * pad, y0 + 2 * pad
    crop = image[max(0, y0):min(h, y1), max(0, x0):min(w, x1)]
    top, left = max(0, -y0), max(0, -x0)
    bottom, right = max(0, y1 - h), max(0, x1 - w)
    if top or left or bottom or right:
        crop = cv2.copyMakeBorder(crop, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(255, 255, 255))
    return crop, (centre[0] - x0, centre[1] - y0)
