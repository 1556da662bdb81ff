"""The only module that calls zxing-cpp.

zxing-cpp is fast and reads rotated and noisy codes, but has no region finder worth the name on
a whole A4 page and is thrown by red ink over the bars: callers feed it a located, deskewed
crop of the red channel. Only Code 128 is enabled (all formats gave false decodes).
Results are plain tuples ``(text, (x0, y0, x1, y1))`` in the input image's pixels.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import zxingcpp

from pipeline.errors import ToolError

Symbol = tuple[str, tuple[int, int, int, int]]


@cache
def probe() -> dict[str, str]:
    return {"engine": "zxing-cpp", "version": str(getattr(zxingcpp, "__version__", "3"))}


def decode_code128(image: np.ndarray, *, try_rotate: bool = True, try_downscale: bool = True) -> list[Symbol]:
    """Every valid Code 128 symbol zxing-cpp finds in a grey or BGR uint8 image.

    ``try_rotate`` adds zxing's own 90/270° scan (about 4× the time of an upright-only scan);
    ``try_downscale`` adds scans of smaller copies (costly on a whole page).
    """
    try:
        found = zxingcpp.read_barcodes(
            np.ascontiguousarray(image), formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.Code128),
            try_rotate=try_rotate, try_downscale=try_downscale, try_invert=False,
        )
    except Exception as exc:  # native errors of any kind become one ToolError
        raise ToolError(f"zxing-cpp failed: {exc}") from None
    out: list[Symbol] = []
    for bc in found:
        if not bc.valid:
            continue
        pos = bc.position
        xs = [pos.top_left.x, pos.top_right.x, pos.bottom_left.x, pos.bottom_right.x]
        ys = [pos.top_left.y, pos.top_right.y, pos.bottom_left.y, pos.bottom_right.y]
        out.append((bc.text, (int(min(xs)), int(min(ys)), int(max(xs)), int(max(ys)))))
    return out
