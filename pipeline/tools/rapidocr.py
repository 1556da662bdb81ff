"""The only module that runs RapidOCR (PP-OCRv4 models shipped inside the wheel, no network).

The models load once per process (about a quarter of a second) and are shared by every caller;
the Python wrapper is not safe to call from several threads, so a lock serialises calls.
Threads per call default to one: review processes scale by process.

RapidOCR brings the models, the pre- and post-processing and an onnxruntime session per model.
When OpenVINO is installed, the same three ONNX files are run by it instead, at float32 (its
default on CPUs with bf16/AMX units is bf16, which changes reads): on this project's machine it
detects 2.3x and recognises 1.5x faster with the same text (bench/ocr.py --runtimes).
``PRECHECK_OCR_RUNTIME=onnxruntime`` keeps RapidOCR's own sessions.
Results are plain tuples ``(text, (x0, y0, x1, y1), confidence)``; ``pipeline.reading.ocr`` wraps them
(this ground-floor module does not import the service above it).
"""

from __future__ import annotations

import functools
import os
import threading
from typing import Any

import cv2
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


RUNTIMES = ("openvino", "onnxruntime")


def runtime() -> str:
    """The inference runtime: ``PRECHECK_OCR_RUNTIME`` when set, else OpenVINO when importable."""
    chosen = os.environ.get("PRECHECK_OCR_RUNTIME", "").strip().lower()
    if chosen in RUNTIMES:
        return chosen
    try:
        import openvino  # noqa: F401
    except ImportError:
        return "onnxruntime"
    return "openvino"


def threads() -> int:
    """Threads per OCR call (``PRECHECK_OCR_THREADS``, default one: review processes scale by process)."""
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
        n = threads()
        try:
            model = RapidOCR(**_OPTIONS, print_verbose=False, intra_op_num_threads=n, inter_op_num_threads=1)
            _detection_input_by_table(model)
            model.text_rec.postprocess_op = _KeepCharConfidences(model.text_rec.postprocess_op)
            if runtime() == "openvino":
                _on_openvino(model, n)
            else:
                _detection_with_arena(model, n)
            _model = model
        except Exception as exc:
            raise ToolMissingError(f"RapidOCR models could not be loaded: {exc}; {INSTALL_HINT}") from None
    return _model


class _KeepCharConfidences:
    """RapidOCR's CTC decoder, keeping each decoded character's probability as well (RapidOCR
    averages them into the line's confidence): a name judged character by character needs to
    know which characters were read surely. The decoder's own answer is returned unchanged."""

    def __init__(self, decoder: Any) -> None:
        self._decoder = decoder
        #: per image, in the order decoded since the caller cleared it: its text and each character's probability
        self.decoded: list[tuple[str, list[float]]] = []

    def __call__(self, preds: np.ndarray, return_word_box: bool = False, **kwargs: Any) -> Any:
        if return_word_box:  # not used by precheck: RapidOCR's own path, probabilities not kept
            return self._decoder(preds, return_word_box, **kwargs)
        # what the decoder's __call__ does, with each step's probability taken once for both uses
        index = preds.argmax(axis=2)
        prob = np.take_along_axis(preds, index[..., None], axis=2)[..., 0]
        decoded = self._decoder.decode(index, prob, False, is_remove_duplicate=True)
        ignored = self._decoder.get_ignored_tokens()
        for i in range(len(index)):  # the decoder's selection: repeats merged, blanks dropped
            keep = np.ones(len(index[i]), dtype=bool)
            keep[1:] = index[i][1:] != index[i][:-1]
            for token in ignored:
                keep &= index[i] != token
            self.decoded.append((str(decoded[i][0]), [float(p) for p in prob[i][keep]]))
        return decoded

    def __getattr__(self, name: str) -> Any:
        return getattr(self._decoder, name)


def _detection_input_by_table(model: Any) -> None:
    """RapidOCR's detection input normalised by a 256-entry table per channel instead of
    float arithmetic over the whole page: the same float32 values, at a fraction of the cost."""
    det = model.text_det
    make = det.get_preprocess

    def get_preprocess(max_wh: int) -> Any:
        pre = make(max_wh)
        pre.normalize = _table_normalizer(pre.scale, pre.mean, pre.std)
        return pre

    det.get_preprocess = get_preprocess


def _table_normalizer(scale: float, mean: np.ndarray, std: np.ndarray) -> Any:
    """``(img.astype(float32) * scale - mean) / std`` as float32, for uint8 images, by lookup."""
    levels = np.arange(256, dtype=np.float32) * scale
    table = ((levels[:, None] - mean[None, :]) / std[None, :]).astype(np.float32).reshape(1, 256, 3)

    def normalize(img: np.ndarray) -> np.ndarray:
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            return (img.astype("float32") * scale - mean) / std
        return cv2.LUT(img, table)

    return normalize


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


class OpenVinoModel:
    """One ONNX model compiled by OpenVINO, called the way RapidOCR calls its sessions
    (``model(batch)[0]`` is the first output)."""

    def __init__(self, path: str, threads: int) -> None:
        import openvino as ov

        core = ov.Core()
        # no pinning: OpenVINO would pin each process's inference thread to the same first core,
        # so two review processes on two cores shared one (bench/service.py: 1.1x for 2 workers)
        config = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": threads,
                  "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY", "ENABLE_CPU_PINNING": False}
        self._request = core.compile_model(core.read_model(path), "CPU", config).create_infer_request()

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        self._request.infer({0: batch})
        return [self._request.get_output_tensor(0).data.copy()]


def _on_openvino(model: Any, threads: int) -> None:
    """Run RapidOCR's detection, direction and recognition models on OpenVINO."""
    model.text_det.infer = OpenVinoModel(model.text_det.infer.session._model_path, threads)
    model.text_cls.infer = OpenVinoModel(model.text_cls.infer.session._model_path, threads)
    model.text_rec.session = OpenVinoModel(model.text_rec.session.session._model_path, threads)


def probe() -> dict[str, str]:
    """Version and model files, loading the models (so a broken install shows up here)."""
    import rapidocr_onnxruntime

    _load()
    from importlib.metadata import version

    used = runtime()
    runtime_version = version("openvino") if used == "openvino" else version("onnxruntime")
    return {"engine": "rapidocr", "version": version("rapidocr-onnxruntime"),
            "runtime": f"{used} {runtime_version}",
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


#: A line read alone: text, box, confidence, and each character's probability (text order).
LineRead = tuple[str, tuple[int, int, int, int], float, tuple[float, ...]]


def read_line(image: np.ndarray) -> LineRead | None:
    """Recognise a crop that holds one line of text (no detection: fast)."""
    if image.size == 0 or min(image.shape[:2]) < 4:
        return None
    model = _load()
    try:
        with _lock:
            model.text_rec.postprocess_op.decoded = []
            result, _ = model(_as_bgr(image), use_det=False, use_cls=False)
            decoded = model.text_rec.postprocess_op.decoded
    except Exception as exc:
        raise ToolError(f"RapidOCR failed on a line of shape {image.shape}: {exc}") from exc
    if not result:
        return None
    h, w = image.shape[:2]
    text, chars = _stripped(str(result[0][0]), decoded[0] if len(decoded) == 1 else ("", []))
    return (text, (0, 0, w, h), float(result[0][1]), chars)


def _stripped(raw: str, decoded: tuple[str, list[float]]) -> tuple[str, tuple[float, ...]]:
    """The read without surrounding spaces, and its characters' probabilities (empty unless they
    were decoded for this very text, character for character)."""
    text = raw.strip()
    decoded_text, probs = decoded
    if decoded_text != raw or len(probs) != len(raw):
        return text, ()
    lead = len(raw) - len(raw.lstrip())
    return text, tuple(probs[lead:lead + len(text)])


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


def recognise(line_images: list[np.ndarray]) -> list[tuple[str, float, tuple[float, ...]]]:
    """Text, confidence and characters' probabilities of each one-line crop; each is recognised
    alone (``rec_batch_num=1``), so a crop reads the same whatever other crops come with it."""
    if not line_images:
        return []
    model = _load()
    images = [_as_bgr(i) for i in line_images]
    try:
        with _lock:
            model.text_rec.postprocess_op.decoded = []
            result, _ = model.text_rec(images)
            decoded = model.text_rec.postprocess_op.decoded
    except Exception as exc:
        raise ToolError(f"RapidOCR recognition failed: {exc}") from exc
    # RapidOCR recognises the crops narrowest first (its own order, recomputed here)
    order = np.argsort(np.array([i.shape[1] / float(i.shape[0]) for i in images]))
    probs: list[tuple[str, list[float]]] = [("", []) for _ in images]
    if len(decoded) == len(images):
        for k, i in enumerate(order):
            probs[int(i)] = decoded[k]
    out = []
    for (t, c, *_), p in zip(result, probs, strict=True):
        text, chars = _stripped(str(t), p)
        out.append((text, float(c), chars))
    return out


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


@functools.cache
def known_characters() -> frozenset[str]:
    """Every character the recognition model can put out (its dictionary): a character outside
    it is read as a look-alike inside it (锒 as 银), so no reading can tell the two apart. Made
    once: the model is loaded once per process, and name findings ask for it on every review."""
    return frozenset(_load().text_rec.postprocess_op.character)


def _as_bgr(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return np.ascontiguousarray(np.stack([image] * 3, axis=-1))
    return np.ascontiguousarray(image[:, :, :3])
