"""The only module that runs RapidOCR (PP-OCRv4 models shipped inside the wheel, no network).

The models load once per process (about a quarter of a second) and are shared by every caller;
onnxruntime sessions are safe to call from several threads, the Python wrapper is not, so a
lock serialises calls. Threads per call default to one: review processes scale by process.
Results are plain tuples ``(text, (x0, y0, x1, y1), confidence)``; ``pipeline.reading.ocr`` wraps them
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
_OPTIONS: dict[str, Any] = {
    "use_cls": False,
    "text_score": 0.3,
    "det_limit_type": "max",  # never upscale: callers choose the resolution
    "rec_img_shape": [3, 48, 128],  # less padding of short lines: -30 % time, same text (bench)
    # one line per recognition run: in a batch every line is padded to the widest, which
    # changes what a line reads as, so a cached read would depend on which lines shared its
    # batch; alone is also cheaper here (less padding; bench/ocr.py)
    "rec_batch_num": 1,
}
#: What decides the answers besides the package version (part of the OCR cache's key).
SETTINGS = "; ".join(f"{k}={v}" for k, v in sorted(_OPTIONS.items()))


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
            _model = RapidOCR(**_OPTIONS, print_verbose=False, intra_op_num_threads=n, inter_op_num_threads=1)
            _detection_with_arena(_model, n)
        except Exception as exc:
            raise ToolMissingError(f"RapidOCR models could not be loaded: {exc}; {INSTALL_HINT}") from None
    return _model


def _detection_with_arena(model: Any, threads: int) -> None:
    """Give the detection model a memory arena that is kept between pages.

    RapidOCR turns the arena off for every model. That suits recognition (many small inputs of
    changing width: no gain measured), but detection allocates the same large buffers page after
    page: with the arena it costs about a quarter less CPU (bench/ocr.py, RESULTS.md).
    """
    import onnxruntime as ort

    infer = model.text_det.infer
    opts = ort.SessionOptions()
    opts.log_severity_level = 4
    opts.enable_cpu_mem_arena = True
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    cpu = ("CPUExecutionProvider", {"arena_extend_strategy": "kSameAsRequested"})
    infer.session = ort.InferenceSession(infer.session._model_path, sess_options=opts, providers=[cpu])


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
    """Detect and recognise every text line of a BGR or grey image (boxes in its pixels)."""
    model = _load()
    try:
        with _lock:
            result, _ = model(_as_bgr(image), use_cls=False)
    except Exception as exc:
        raise ToolError(f"RapidOCR failed on an image of shape {image.shape}: {exc}") from exc
    return [(str(text).strip(), _box(points), float(score)) for points, text, score in result or []]


def read_line(image: np.ndarray) -> Line | None:
    """Recognise a crop that holds one line of text (no detection: fast)."""
    if image.size == 0 or min(image.shape[:2]) < 4:
        return None
    model = _load()
    try:
        with _lock:
            result, _ = model(_as_bgr(image), use_det=False, use_cls=False)
    except Exception as exc:
        raise ToolError(f"RapidOCR failed on a line of shape {image.shape}: {exc}") from exc
    if not result:
        return None
    h, w = image.shape[:2]
    return (str(result[0][0]).strip(), (0, 0, w, h), float(result[0][1]))


Quad = list[list[float]]  # four corner points, clockwise from top-left


def detect(image: np.ndarray) -> list[Quad]:
    """Text-line quadrilaterals of an image, top to bottom (detection only: no recognition)."""
    model = _load()
    img = _as_bgr(image)
    try:
        with _lock:
            boxes, _ = model.text_det(img)
    except Exception as exc:
        raise ToolError(f"RapidOCR detection failed on an image of shape {image.shape}: {exc}") from exc
    if boxes is None or len(boxes) == 0:
        return []
    return [np.asarray(b, dtype=np.float32).tolist() for b in model.sorted_boxes(boxes)]


def crops(image: np.ndarray, quads: list[Quad]) -> list[np.ndarray]:
    """Each quadrilateral cut out and straightened (tall crops turned to lie flat)."""
    model = _load()
    return list(model.get_crop_img_list(_as_bgr(image), [np.asarray(q, dtype=np.float32) for q in quads]))


def recognise(line_images: list[np.ndarray]) -> list[tuple[str, float]]:
    """Text and confidence of each one-line crop; each is recognised alone (``rec_batch_num=1``),
    so a crop reads the same whatever other crops come with it."""
    if not line_images:
        return []
    model = _load()
    try:
        with _lock:
            result, _ = model.text_rec([_as_bgr(i) for i in line_images])
    except Exception as exc:
        raise ToolError(f"RapidOCR recognition failed: {exc}") from exc
    return [(str(t).strip(), float(c)) for t, c, *_ in result]


def upside_down(line_images: list[np.ndarray]) -> list[float]:
    """For each one-line crop, the classifier's probability that it is turned 180 degrees."""
    if not line_images:
        return []
    model = _load()
    try:
        with _lock:
            _, res, _ = model.text_cls([_as_bgr(i).copy() for i in line_images])
    except Exception as exc:
        raise ToolError(f"RapidOCR direction classifier failed: {exc}") from exc
    return [float(score) if "180" in str(label) else 1.0 - float(score) for label, score in res]


def _as_bgr(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return np.ascontiguousarray(np.stack([image] * 3, axis=-1))
    return np.ascontiguousarray(image[:, :, :3])
