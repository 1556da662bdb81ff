"""What decoding gives and takes: the bounds, the decoded pages, the one error, and the metadata
cleaners. Shared by the image decoder and the PDF renderer, so neither imports the other's types."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pipeline.intake.pages import Page

_META_MAX_CHARS = 200


class Unreadable(Exception):
    """The file cannot be decoded within the limits; ``reason`` is technical, ``reason_zh`` for people."""

    def __init__(self, reason: str, reason_zh: str = "文件已损坏", **evidence: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.reason_zh = reason_zh
        self.evidence = evidence


@dataclass(frozen=True)
class Limits:
    """The bounds every decode runs within (from the ``upload.unreadable`` rule's params)."""

    max_pixels: int = 40_000_000
    max_decode_mb: int = 128
    max_pages: int = 20
    render_dpi: float = 200.0
    max_render_side: int = 4000
    max_render_pixels: int = 12_000_000
    max_document_pixels: int = 48_000_000
    pdf_cpu_seconds: int = 8
    pdf_page_cpu_seconds: float = 1.0
    pdf_memory_mb: int = 512


@dataclass(frozen=True)
class Decoded:
    """Pages of a decoded file, what later stages need of its metadata, and decoder complaints
    that did not stop decoding (a person should look: the upload stage reports ``uncertain``)."""

    pages: tuple[Page, ...]
    metadata: dict[str, str]
    warnings: tuple[str, ...] = ()


def creator_tool(xmp: bytes) -> str | None:
    """XMP ``xmp:CreatorTool`` (attribute or element form)."""
    found = re.search(rb"CreatorTool(?:\s*=\s*\"([^\"]{0,400})\"|>([^<]{0,400})<)", xmp[:1_000_000])
    if not found:
        return None
    return clean_text((found.group(1) or found.group(2)).decode("utf-8", "replace")) or None


def clean_text(value: object) -> str:
    """Metadata as short printable UTF-8 text: hostile files put megabytes, control bytes or lone
    surrogates (which would crash the report's encoder) there."""
    if isinstance(value, bytes):
        value = value[: _META_MAX_CHARS * 4].decode("utf-8", "replace")
    text = str(value)[: _META_MAX_CHARS * 4].encode("utf-8", "replace").decode("utf-8")
    return re.sub(r"[\x00-\x1f\x7f]+", " ", text).strip()[:_META_MAX_CHARS]
