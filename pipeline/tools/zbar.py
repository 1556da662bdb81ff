"""The only module that calls zbar (via pyzbar; Debian ``libzbar0``).

zbar finds a barcode anywhere on an upright page and survives ink over the bars, but misses
rotated and some upscaled codes, and misreads when every symbology is enabled — so only
Code 128 is ever enabled here. ``probe`` says how to install the library when it is missing.
Results are plain tuples ``(text, (x0, y0, x1, y1))`` in the input image's pixels.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from pipeline.errors import ToolError, ToolMissingError

INSTALL_HINT = "apt-get install libzbar0"

Symbol = tuple[str, tuple[int, int, int, int]]


@cache
def _pyzbar() -> Any:
    try:
        from pyzbar import pyzbar  # imports libzbar through ctypes
    except ImportError as exc:
        raise ToolMissingError(f"zbar is not usable ({exc}); install it with: {INSTALL_HINT}") from None
    return pyzbar


@cache
def probe() -> dict[str, str]:
    """Check that libzbar loads; ToolMissingError with the install command when it does not."""
    pyzbar = _pyzbar()
    pyzbar.decode(np.full((8, 8), 255, np.uint8), symbols=[pyzbar.ZBarSymbol.CODE128])
    return {"engine": "zbar", "version": "libzbar0 via pyzbar"}


def decode_code128(image: np.ndarray) -> list[Symbol]:
    """Every Code 128 symbol zbar finds in a grey (or BGR) uint8 image."""
    pyzbar = _pyzbar()
    grey = np.ascontiguousarray(image if image.ndim == 2 else image[:, :, 2])
    try:
        found = pyzbar.decode(grey, symbols=[pyzbar.ZBarSymbol.CODE128])
    except Exception as exc:  # ctypes errors of any kind become one ToolError
        raise ToolError(f"zbar failed: {exc}") from None
    out: list[Symbol] = []
    for sym in found:
        text = sym.data.decode("utf-8", errors="replace")
        r = sym.rect
        out.append((text, (int(r.left), int(r.top), int(r.left + r.width), int(r.top + r.height))))
    return out
