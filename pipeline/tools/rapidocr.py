"""The only module that runs RapidOCR (PP-OCRv4 models shipped inside the wheel, no network).

The models load once per process (about a quarter of a second) and are shared by every caller;
onnxruntime sessions are safe to call from several threads, the Python wrapper is not, so a
lock serialises calls. Threads per call default to one: review processes scale by process.
Results are plain tuples ``(text, (x0, y0, x1, y1), confidence)``; ``pipeline.ocr`` wraps them
(this ground-floor module does not import the service above it).
"""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np

from pipeline.errors import ToolError, ToolMissingError

INSTALL_HINT = "pip install rapidocr-onnxruntime==1.4.4 (its wheel carries the models; needs Debian libgl1)"

_lock = threading.Lock()
_model: Any = None


def _threads() -> int:
    try:
        return max(1, int(os.environ.get("PRECHECK_OCR_THREADS", "1")))
    except ValueError:
        return 1


def _load() -> Any:
    """The RapidOCR object, built on first use and kept for the life of the process."""
    global _model
    if _model is None:
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ToolMissingError(f"RapidOCR is not installed ({exc}); {INSTALL_HINT}") from None
        n = _threads()
        try:
            _model = RapidOCR(
                use_cls=False,
                text_score=0.3,
                det_limit_type="max",  # never upscale: callers choose the resolution
                print_verbose=False,
                intra_op_num_threads=n,
                inter_op_num_threads=1,
            )
        except Exception as exc:  # noqa: BLE001 - any model-loading failure is a tool failure
            raise ToolMissingError(f"RapidOCR models could not be loaded: {exc}; {INSTALL_HINT}") from None
    return _model


def probe() -> dict[str, str]:
    """Version and model files, loading the models (so a broken install shows up here)."""
    import rapidocr_onnxruntime

    _load()
    from importlib.metadata import version

    return {"engine": "rapidocr", "version": version("rapidocr-onnxruntime"),
            "package": os.path.dirname(rapidocr_onnxruntime.__file__)}


def _box(points: Any) -> tuple[int, int, int, int]:
    pts = np.asarray(points, dtype=np.float32).reshape(-1, 2)
    return (int(pts[:, 0].min()), int(pts[:, 1].min()), int(np.ceil(pts[:, 0].max())),
            int(np.ceil(pts[:, 1].max())))


Line = tuple[str, tuple[int, int, int, int], float]


def read(image: np.ndarray) -> list[Line]:
    """Detect and recognise every text line of a BGR or grey image."""
    model = _load()
    try:
        with _lock:
            result, _ = model(_as_bgr(image), use_cls=False)
    except Exception as exc:  # noqa: BLE001
        raise ToolError(f"RapidOCR failed on an image of shape {image.shape}: {exc}") from exc
    return [(str(text), _box(points), float(score)) for points, text, score in result or []]


def read_line(image: np.ndarray) -> Line | None:
    """Recognise a crop that holds one line of text (no detection: fast)."""
    if image.size == 0 or min(image.shape[:2]) < 4:
        return None
    model = _load()
    try:
        with _lock:
            result, _ = model(_as_bgr(image), use_det=False, use_cls=False)
    except Exception as exc:  # noqa: BLE001
        raise ToolError(f"RapidOCR failed on a line of shape {image.shape}: {exc}") from exc
    if not result:
        return None
    h, w = image.shape[:2]
    return (str(result[0][0]), (0, 0, w, h), float(result[0][1]))


def _as_bgr(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return np.ascontiguousarray(np.stack([image] * 3, axis=-1))
    return np.ascontiguousarray(image[:, :, :3])
