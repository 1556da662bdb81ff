"""Is one seal impression the same seal as another? Compare their text bands as images.

A case carries the applicant's official seal on six to eight uploads. The arc text of each
impression is read on its own, and some impressions (over an ID card's print, thinly inked) read
unsurely where another reads the name surely. Two impressions of one seal differ by a turn, the
ink, the scan and what lies under them; unrolled around their centres and turned onto each other,
their text bands agree sector by sector. Another organisation's seal — other characters, another
length, another layout — disagrees in many sectors. A seal cut with one character otherwise (a
look-alike) may agree here: this only says the impressions are of one design, and the reads of
both still decide what the text is (``pipeline.stages.seal``).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.seal.arctext import red_only, square_crop

#: The ring compared, as fractions of the radius: inside the rim, outside the star.
BAND = (0.42, 0.95)
_ANGLES = 720  # half a degree a column
_RADII = 32


@dataclass(frozen=True)
class ImpressionMatch:
    """How alike two impressions' text bands are once turned onto each other."""

    correlation: float   # of the whole band (each radius's ring, mean removed)
    turn_deg: float      # the turn that lays the second onto the first
    scale: float         # the second's radius scaled by this (radii are found to a few per cent)
    sectors: int         # sectors of ``sector_deg`` compared (with ink in either)
    lowest: float        # the least alike sector's correlation

    def evidence(self) -> dict[str, float | int]:
        return {"correlation": round(self.correlation, 3), "lowest_sector": round(self.lowest, 3),
                "sectors": self.sectors, "turn_deg": round(self.turn_deg, 1), "scale": self.scale}


def band_image(image: np.ndarray, centre: tuple[float, float], radius: float) -> np.ndarray:
    """The text band's red ink unrolled: rows = angle (``_ANGLES`` around), columns = radius inward
    to outward; ink 1, paper 0, black print under the seal dropped (``red_only``)."""
    crop, (cx, cy) = square_crop(image, centre, radius * 1.02)
    ink = (255 - red_only(crop).astype(np.float32)) / 255.0
    n_rad = max(16, round(radius * BAND[1]))
    polar = cv2.warpPolar(ink, (n_rad, _ANGLES), (cx, cy), radius * BAND[1],
                          cv2.WARP_POLAR_LINEAR + cv2.INTER_AREA)
    polar = polar[:, round(n_rad * BAND[0] / BAND[1]):]
    polar = cv2.resize(polar, (_RADII, _ANGLES), interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(polar, (0, 0), 1.0)


def compare_impressions(image_a: np.ndarray, centre_a: tuple[float, float], radius_a: float,
                        image_b: np.ndarray, centre_b: tuple[float, float], radius_b: float,
                        sector_deg: float = 12.0, scales: tuple[float, ...] = (0.96, 0.98, 1.0, 1.02, 1.04),
                        ) -> ImpressionMatch:
    """Turn the second impression onto the first (the turn and radius scale whose bands correlate
    best: a circular correlation along the angle) and compare them sector by sector (``sector_deg``
    wide, half of it apart, each allowed a degree of play)."""
    raw_a = band_image(image_a, centre_a, radius_a)
    a = _rows_centred(raw_a)
    best: tuple[float, int, float, np.ndarray] | None = None
    for scale in scales:
        raw_b = band_image(image_b, centre_b, radius_b * scale)
        shift, corr = _best_turn(a, _rows_centred(raw_b))
        if best is None or corr > best[0]:
            best = (corr, shift, scale, raw_b)
    assert best is not None
    corr, shift, scale, raw_b = best
    b = np.roll(raw_b, shift, axis=0)
    per_deg = _ANGLES / 360.0
    width, step = max(2, round(sector_deg * per_deg)), max(1, round(sector_deg * per_deg / 2))
    ink = raw_a.mean() + b.mean()
    scores = []
    for start in range(0, _ANGLES, step):
        rows = np.arange(start, start + width) % _ANGLES
        pa = raw_a[rows]
        if pa.mean() + b[rows].mean() < 0.3 * ink:
            continue  # the gap between the name's ends, or blank ring
        scores.append(max(_correlation(pa, b[(rows + d) % _ANGLES]) for d in (-2, -1, 0, 1, 2)))
    return ImpressionMatch(float(corr), (shift / per_deg) % 360.0, scale, len(scores),
                           float(min(scores)) if scores else 0.0)


def _rows_centred(band: np.ndarray) -> np.ndarray:
    """Each radius's ring with its mean removed: the rim and an even ink level say nothing."""
    return band - band.mean(axis=0, keepdims=True)


def _best_turn(a: np.ndarray, b: np.ndarray) -> tuple[int, float]:
    """The circular shift of ``b`` along the angle that correlates best with ``a``, and that
    correlation."""
    fa, fb = np.fft.rfft(a, axis=0), np.fft.rfft(b, axis=0)
    corr = np.fft.irfft((fa * np.conj(fb)).sum(axis=1), n=a.shape[0])
    k = int(np.argmax(corr))
    return k, float(corr[k] / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-9))


def _correlation(x: np.ndarray, y: np.ndarray) -> float:
    x, y = x - x.mean(), y - y.mean()
    return float((x * y).sum() / (np.linalg.norm(x) * np.linalg.norm(y) + 1e-9))
