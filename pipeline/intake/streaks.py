"""Streaks a sheet-fed scanner draws down a page (dust on its glass): found and painted out.

A document feeder moves the sheet past a fixed line of sensors; a speck of dust on the glass over one
of them draws a thin straight line the whole length of every page, through the values, the seal and
the margins alike. The detector then splits a value at the line, and the recogniser reads the line as a
stroke (an e-mail read ``sohafen@sna.com``). What the document printed never runs from the top margin
to the bottom one: a form's table stops short of the margins, a licence's frame too. So a column at most
``MAX_WIDTH_MM`` wide, darker than the paper beside it along ``MIN_COVER`` of the page's height, is a
streak: its pixels are painted over from the columns beside it, but for those darker than the streak
itself (a glyph's stroke under it). Nothing else is touched.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: A streak is a line at most this wide.
MAX_WIDTH_MM = 0.8
#: ... darker than the paper beside it along this share of the page's height (its margins included).
MIN_COVER = 0.95
#: ... by this many grey levels (the darkest channel: a coloured streak counts).
CONTRAST = 35


@dataclass(frozen=True)
class Streak:
    x0: int  # the first column
    x1: int  # one past the last


def find_streaks(image: np.ndarray, dpi: float) -> list[Streak]:
    """The streaks running down ``image`` (scanned at ``dpi``), left to right."""
    # every page of every upload passes here: OpenCV's whole-image operations, not numpy's (the
    # same values at a tenth of the cost)
    grey = image if image.ndim == 2 else cv2.min(cv2.min(image[..., 0], image[..., 1]), image[..., 2])
    width = max(2, round(MAX_WIDTH_MM * dpi / 25.4))
    # the paper beside a column: the lightest pixel within a few widths either side on its row
    paper = cv2.dilate(grey, np.ones((1, 4 * width + 1), np.uint8))
    # darker by more than CONTRAST: 255 (paper >= grey, so the subtraction never clips)
    _, dark = cv2.threshold(cv2.subtract(paper, grey), CONTRAST, 255, cv2.THRESH_BINARY)
    cover = cv2.reduce(dark, 0, cv2.REDUCE_SUM, dtype=cv2.CV_32S)[0] / (255.0 * grey.shape[0])
    streaks = []
    for x0, x1 in _runs(cover >= MIN_COVER):
        # the frame's own edge (a dark border a crop or a card photo leaves) is no streak on the page
        if x1 - x0 <= width and x0 >= 2 * width and x1 <= grey.shape[1] - 2 * width:
            streaks.append(Streak(x0, x1))
    return streaks


def paint_out(image: np.ndarray, streaks: list[Streak]) -> np.ndarray:
    """A copy of ``image`` whose streak columns (and the column either side, which the scan's blur
    greys) are filled, row by row, with a linear blend of the columns beyond them — except where the
    page is darker than the streak itself (``CONTRAST`` below its own level, the column's median): a
    glyph's stroke that runs under the streak is kept, not painted over with the paper beside it."""
    out = image.copy()
    w = image.shape[1]
    for s in streaks:
        first, last = max(0, s.x0 - 1), min(w - 1, s.x1)  # painted, both included
        a = image[:, max(0, first - 1)].astype(np.float32)
        b = image[:, min(w - 1, last + 1)].astype(np.float32)
        n = last - first + 1
        for k in range(n):
            column = image[:, first + k]
            dark = column if column.ndim == 1 else column.min(axis=1)
            under = dark.astype(np.int16) < int(np.median(dark)) - CONTRAST  # ink darker than the streak
            t = (k + 1) / (n + 1)
            blend = np.round((1 - t) * a + t * b).astype(image.dtype)
            out[:, first + k] = np.where(under[:, None] if column.ndim == 2 else under, column, blend)
    return out


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """The (start, past-end) of each run of True in a 1-D array."""
    edges = np.diff(np.concatenate(([0], flags.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))
