"""The only module that runs Tesseract (in-process via tesserocr; language data from Debian's
tesseract-ocr-chi-sim).

The engine is loaded once per process and page-segmentation mode (loading chi_sim costs a
quarter of a second, which a program run per line paid every time); calls are serialised by a
lock. ``probe`` reports the version and installed languages and says how to install what is
missing; every recognition has a time limit. Word boxes and confidences come from Tesseract's
TSV output, grouped into lines. Failures and timeouts become ``ToolError``; missing language
data becomes ``ToolMissingError``. Results are plain tuples ``(text, (x0, y0, x1, y1), confidence 0..1)``.
"""

from __future__ import annotations

import glob
import os
import threading
from functools import cache
from typing import Any

import cv2
import numpy as np
from PIL import Image

from pipeline.errors import ToolError, ToolMissingError

INSTALL_HINT = "apt-get install tesseract-ocr-chi-sim; pip install tesserocr"
LANGUAGES = ("chi_sim", "eng")
#: What decides the answers besides the program's version (part of the OCR cache's key).
SETTINGS = f"lang={'+'.join(LANGUAGES)}; psm 3 for pages, 7 for lines"

Line = tuple[str, tuple[int, int, int, int], float]

_lock = threading.Lock()
_apis: dict[int, Any] = {}


def _timeout_s() -> float:
    try:
        return float(os.environ.get("PRECHECK_TESSERACT_TIMEOUT_S", "30"))
    except ValueError:
        return 30.0


def _tessdata() -> str:
    """The folder of language data: ``TESSDATA_PREFIX`` when set, else Debian's."""
    if os.environ.get("TESSDATA_PREFIX"):
        return os.environ["TESSDATA_PREFIX"]
    found = sorted(glob.glob("/usr/share/tesseract-ocr/*/tessdata/chi_sim.traineddata"), reverse=True)
    return os.path.dirname(found[0]) if found else "/usr/share/tesseract-ocr/5/tessdata"


@cache
def probe() -> dict[str, str]:
    """Version and languages; ToolMissingError with the install command when anything lacks."""
    try:
        import tesserocr
    except ImportError as exc:
        raise ToolMissingError(f"tesserocr is not installed ({exc}); install it with: {INSTALL_HINT}") from None
    version = tesserocr.tesseract_version().split()[1]
    _, langs = tesserocr.get_languages(_tessdata())
    missing = [lang for lang in LANGUAGES if lang not in langs]
    if missing:
        raise ToolMissingError(
            f"Tesseract {version} lacks language data {', '.join(missing)} in {_tessdata()}; "
            f"install it with: {INSTALL_HINT}"
        )
    return {"engine": "tesseract", "version": version, "languages": ",".join(sorted(langs))}


def _api(psm: int) -> Any:
    """The engine for one page-segmentation mode, built on first use (call under ``_lock``)."""
    if psm not in _apis:
        import tesserocr

        try:
            _apis[psm] = tesserocr.PyTessBaseAPI(path=_tessdata(), lang="+".join(LANGUAGES), psm=psm)
        except RuntimeError as exc:
            raise ToolMissingError(f"Tesseract cannot start ({exc}); {INSTALL_HINT}") from None
    return _apis[psm]


_TSV = ("level", "page_num", "block_num", "par_num", "line_num", "word_num",
        "left", "top", "width", "height", "conf", "text")


def _data(image: np.ndarray, psm: int) -> dict[str, list[str]]:
    probe()
    pil = Image.fromarray(image if image.ndim == 2 else image[:, :, ::-1].copy())
    with _lock:
        api = _api(psm)
        try:
            api.SetImage(pil)
            if not api.Recognize(timeout=max(1, int(_timeout_s() * 1000))):
                raise ToolError(f"Tesseract timed out after {_timeout_s():g} s on an image of shape {image.shape}")
            tsv = api.GetTSVText(0)
        except RuntimeError as exc:
            raise ToolError(f"Tesseract failed: {exc}") from None
        finally:
            api.Clear()
    out: dict[str, list[str]] = {key: [] for key in _TSV}
    for row in tsv.splitlines():
        cells = row.split("\t")
        if len(cells) < len(_TSV):
            cells += [""] * (len(_TSV) - len(cells))
        for key, cell in zip(_TSV, cells, strict=False):
            out[key].append(cell)
    return out


def _lines(data: dict[str, list[str]]) -> list[Line]:
    """Words grouped by (block, paragraph, line); chi_sim puts spaces between characters: drop them."""
    groups: dict[tuple[int, int, int], list[int]] = {}
    for i, word in enumerate(data["text"]):
        if str(word).strip() and float(data["conf"][i]) >= 0:
            key = (int(data["block_num"][i]), int(data["par_num"][i]), int(data["line_num"][i]))
            groups.setdefault(key, []).append(i)
    lines: list[Line] = []
    for idx in groups.values():
        x0 = min(int(data["left"][i]) for i in idx)
        y0 = min(int(data["top"][i]) for i in idx)
        x1 = max(int(data["left"][i]) + int(data["width"][i]) for i in idx)
        y1 = max(int(data["top"][i]) + int(data["height"][i]) for i in idx)
        text = _join([str(data["text"][i]).strip() for i in idx])
        conf = min(float(data["conf"][i]) for i in idx) / 100.0
        lines.append((text, (x0, y0, x1, y1), conf))
    return lines


def _join(words: list[str]) -> str:
    """Join words, keeping a space only between two Latin/digit words."""
    out = ""
    for word in words:
        if out and out[-1].isascii() and out[-1].isalnum() and word[0].isascii() and word[0].isalnum():
            out += " "
        out += word
    return out


def read(image: np.ndarray) -> list[Line]:
    """Every text line of a page or region (page segmentation mode 3, automatic)."""
    return _lines(_data(image, psm=3))


def read_line(image: np.ndarray) -> Line | None:
    """One line of text in a crop (psm 7); None when nothing is read."""
    if image.size == 0 or min(image.shape[:2]) < 4:
        return None
    h = image.shape[0]
    if h < 64:  # Tesseract reads best with glyphs some 30-40 px tall
        image = cv2.resize(image, None, fx=64 / h, fy=64 / h, interpolation=cv2.INTER_CUBIC)
    lines = _lines(_data(image, psm=7))
    if not lines:
        return None
    h, w = image.shape[:2]
    text = "".join(t for t, _, _ in lines)
    return (text, (0, 0, w, h), min(c for _, _, c in lines))
