"""Decoded uploads: what the upload stage hands to every later stage.

Later stages never touch raw bytes: they get pages as BGR ``numpy`` arrays with a resolution,
already bounded in size by the upload stage (see ``pipeline.stages.upload`` for the bounds).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: A4 is 210 × 297 mm; used to estimate the dpi of images that do not declare one.
A4_MM = (210.0, 297.0)
MM_PER_INCH = 25.4


@dataclass(frozen=True)
class PdfLayers:
    """What a PDF page is made of beyond its pixels: how many characters it draws visibly (a
    scanner's OCR layer is invisible text) and where it places images, as fractions of the page
    (x0, y0, x1, y1) in drawing order. A scan is one image over the whole page; a page the computer
    drew, or a picture laid over a scan, is not."""

    visible_chars: int
    images: tuple[tuple[float, float, float, float], ...] = ()


@dataclass(frozen=True)
class Page:
    """One page of an upload, as a BGR uint8 image."""

    index: int
    image: np.ndarray
    dpi: float
    dpi_source: str  # "pdf-render", "metadata" or "estimated-a4"
    #: Set when a phone photo's page was warped upright (``pipeline.intake.straighten``): what was found.
    straightened: dict[str, object] | None = None
    #: A PDF page's text and images (None for an image upload).
    layers: PdfLayers | None = None
    #: Columns (from, past-end) of a document feeder's streaks painted out of the image
    #: (``pipeline.intake.streaks``): a glyph's stroke under one may be lost with it.
    streaks: tuple[tuple[int, int], ...] = ()

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    def px_per_mm(self) -> float:
        return self.dpi / MM_PER_INCH


@dataclass(frozen=True)
class Upload:
    """One slot's file after the upload stage judged it readable."""

    slot: str
    path: Path
    size: int
    sha256: str
    extension: str
    content_type: str
    pages: tuple[Page, ...]
    metadata: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        """What the report records about the file (no pixels)."""
        return {
            "file": self.path.name,
            "size": self.size,
            "sha256": self.sha256,
            "content_type": self.content_type,
            "pages": len(self.pages),
            "dpi": [round(p.dpi) for p in self.pages],
            **page_notes(self.metadata),
        }


#: What decoding did to an upload's pages, as its metadata says (a photo's page warped upright or a
#: scan cut out of its bed; a document feeder's streaks painted out): carried into its summary.
PAGE_NOTES = ("straightened", "streaks")


def page_notes(metadata: dict[str, str]) -> dict[str, str]:
    """The notes of ``PAGE_NOTES`` an upload's metadata holds."""
    return {k: metadata[k] for k in PAGE_NOTES if k in metadata}


def estimate_a4_dpi(width_px: int, height_px: int) -> float:
    """Resolution an image would have if it were a whole A4 page (either orientation)."""
    short_px, long_px = sorted((width_px, height_px))
    return max(short_px / (A4_MM[0] / MM_PER_INCH), long_px / (A4_MM[1] / MM_PER_INCH))
