"""Stage 'quality' (a gate): can the scan be checked at all, and does it look edited?

``scan.quality`` measures each page at a fixed scale (``work_px_per_mm``), so a threshold means
the same at 150, 200 or 300 dpi:
- blank / too dark / washed out: from the paper level (95th percentile of grey) and the ink
  contrast (paper minus the 0.5th percentile);
- blur: the 99th percentile of the contrast-normalised gradient magnitude over edge pixels —
  how steep the steepest edges are, independent of how much text the page holds (a page with
  three lines scores like a full one), and of the dpi (edges are measured at the work scale);
- resolution: the A4 estimate (``Page.dpi``) says little for a photo of an ID card alone, so
  a page below ``min_dpi`` is judged by what legibility needs: the height of its characters
  in pixels. A sharp card photo whose characters are tall enough passes (whatever its size);
  otherwise it is borderline (``uncertain``), and fails only when an A4-shaped image is below
  ``fail_dpi`` (a whole page scanned small), or another image's characters are too small to read.
``fail`` when nothing can be checked, ``uncertain`` when borderline; a blank page in a
multi-page file is ignored when another page has content. A slot ``uncertain`` for low resolution
alone passes after the review when every check that reads it passed on it (``settle_read_in_full``):
what the resolution asks — can this page be checked? — the checks have then answered.

``scan.edited`` is ``uncertain`` at most: metadata naming an image editor, or a moiré lattice
(periodic peaks in the spectrum of the page's empty paper, across most of it) that a
re-photographed screen leaves. Copies of licences and ID cards are not in its slots.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache, partial

import cv2
import numpy as np

from pipeline.intake.pages import MM_PER_INCH, Page, Upload, estimate_a4_dpi
from pipeline.models import Finding, Status
from pipeline.ruleset import RuleSet
from pipeline.stages.base import Stage, StageContext, guarded

QUALITY = "scan.quality"
EDITED = "scan.edited"

PROBLEMS = {
    "blank": "为空白页",
    "dark": "过暗",
    "washed_out": "过淡（对比度不足）",
    "blurred": "模糊",
    "low_resolution": "分辨率过低",
}
_RANK = {Status.PASS: 0, Status.UNCERTAIN: 1, Status.FAIL: 2}


@dataclass(frozen=True)
class PageQuality:
    index: int
    status: Status
    problems: tuple[str, ...]
    metrics: dict[str, float | str]

    @property
    def blank(self) -> bool:
        return self.problems == ("blank",)


def measure(page: Page, p: dict[str, float]) -> PageQuality:
    """Judge one page against the rule params ``p`` of scan.quality."""
    grey = page.image if page.image.ndim == 2 else cv2.cvtColor(page.image, cv2.COLOR_BGR2GRAY)
    aspect = max(page.width, page.height) / max(1, min(page.width, page.height))
    a4_shaped = abs(aspect / np.sqrt(2) - 1) <= p["a4_aspect_tolerance"]
    dpi = page.dpi
    if a4_shaped and page.dpi_source != "pdf-render":
        # an A4-shaped image is an A4 page: its pixels tell its resolution, whatever the file
        # claims (phones and some scanners write 72 dpi into every file)
        dpi = estimate_a4_dpi(page.width, page.height)
    f = min(1.0, p["work_px_per_mm"] * MM_PER_INCH / dpi)
    if f < 1.0:
        grey = cv2.resize(grey, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    ink_level, paper = _grey_percentiles(grey[::2, ::2], (0.5, 95))
    contrast = paper - ink_level
    metrics: dict[str, float | str] = {
        "paper": round(paper), "contrast": round(contrast), "dpi": round(dpi),
        "dpi_source": page.dpi_source if dpi == page.dpi else "estimated-a4",
    }
    verdicts: list[tuple[Status, str]] = []
    if contrast < p["blank_contrast"]:
        return PageQuality(page.index, Status.FAIL, ("blank",) if paper >= p["dark_paper_fail"]
                           else ("dark",), metrics)
    if paper < p["dark_paper_fail"]:
        verdicts.append((Status.FAIL, "dark"))
    elif paper < p["dark_paper_uncertain"]:
        verdicts.append((Status.UNCERTAIN, "dark"))
    if contrast < p["contrast_fail"]:
        verdicts.append((Status.FAIL, "washed_out"))
    elif contrast < p["contrast_uncertain"]:
        verdicts.append((Status.UNCERTAIN, "washed_out"))

    norm = np.multiply(grey, np.float32(1.0 / contrast), dtype=np.float32)
    mag = cv2.magnitude(cv2.Sobel(norm, cv2.CV_32F, 1, 0), cv2.Sobel(norm, cv2.CV_32F, 0, 1))
    edges = mag[mag > p["edge_min"]]  # a copy: partitioned in place
    sharpness = float(np.percentile(edges, 99, overwrite_input=True)) if edges.size >= 100 else 0.0
    metrics["sharpness"] = round(sharpness, 2)
    if sharpness < p["sharpness_fail"]:
        verdicts.append((Status.FAIL, "blurred"))
    elif sharpness < p["sharpness_uncertain"]:
        verdicts.append((Status.UNCERTAIN, "blurred"))

    text_px = _text_height_px(grey, paper, contrast) / f
    metrics["text_height_px"] = round(text_px, 1)
    if dpi < p["min_dpi"] and text_px < p["legible_text_px"]:
        # the dpi is trusted to fail only an A4-shaped image (a whole page, maybe with a card on
        # it), and it alone: the character height of a sparse page is noisy (6 px measured on a
        # 110-dpi page whose checks read it), and between fail_dpi and min_dpi the checks decide;
        # a card photo fails only when its characters are too small to read
        low = dpi < p["fail_dpi"] if a4_shaped else 0 < text_px < p["fail_text_px"]
        verdicts.append((Status.FAIL if low else Status.UNCERTAIN, "low_resolution"))
    if not verdicts:
        return PageQuality(page.index, Status.PASS, (), metrics)
    worst = max(verdicts, key=lambda v: _RANK[v[0]])[0]
    return PageQuality(page.index, worst, tuple(name for _, name in verdicts), metrics)


def _text_height_px(grey: np.ndarray, paper: float, contrast: float) -> float:
    """Typical character height (work-scale px): 75th percentile of glyph-like ink components.

    The upper quartile, because Chinese characters fall apart into radicals shorter than the
    character; lines, boxes and specks are excluded by their shape.
    """
    dark = (grey < paper - contrast / 2).astype(np.uint8)
    # rejoin the stacked parts of a character (gaps of a pixel or two), not separate lines
    ink = cv2.morphologyEx(dark, cv2.MORPH_CLOSE, np.ones((3, 1), np.uint8))
    # BBDT: the same components as the default algorithm, its statistics ~3× faster here
    n, _, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(ink, 8, cv2.CV_32S, cv2.CCL_BBDT)
    if n <= 1:
        return 0.0
    w, h = stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT]
    keep = (h >= 3) & (w <= 4 * h) & (h <= 8 * w) & (h < grey.shape[0] / 8)
    if keep.sum() < 5:
        return 0.0
    return float(np.percentile(h[keep], 75))


def _grey_percentiles(grey: np.ndarray, percents: tuple[float, ...]) -> list[float]:
    """``np.percentile(grey, percents)`` of uint8 pixels, read off their histogram rather than
    sorted: the same order statistics, interpolated as NumPy's default ("linear") method does."""
    n = grey.size
    if n >= 1 << 24:  # calcHist's float32 counts are exact below 2**24
        return [float(v) for v in np.percentile(grey, percents)]
    cumulative = np.cumsum(cv2.calcHist([grey], [0], None, [256], [0, 256]).ravel().astype(np.int64))
    out = []
    for percent in percents:
        virtual = (n - 1) * (percent / 100)
        below = min(math.floor(virtual), n - 1)
        lower, upper = (float(np.searchsorted(cumulative, k, side="right")) for k in (below, min(below + 1, n - 1)))
        gamma = virtual - below
        out.append(upper - (upper - lower) * (1 - gamma) if gamma >= 0.5 else lower + (upper - lower) * gamma)
    return out


def _quality(ctx: StageContext, slot: str, upload: Upload) -> list[Finding]:
    params = {k: float(v) for k, v in ctx.rules.rule(QUALITY).params.items() if isinstance(v, int | float)}
    pages = [measure(page, params) for page in upload.pages]
    content = [q for q in pages if not q.blank] or pages
    worst = max(content, key=lambda q: _RANK[q.status])
    evidence: dict[str, object] = {
        "pages": [{"page": q.index, "status": q.status.value, "problems": list(q.problems),
                   **q.metrics} for q in pages],
    }
    if worst.status is Status.PASS:
        return [ctx.finding(QUALITY, Status.PASS, slot, evidence)]
    problems = [n for q in content if q.status is worst.status for n in q.problems]
    evidence["problem"] = "、".join(dict.fromkeys(PROBLEMS[n] for n in problems))
    if len(pages) > 1:
        evidence["page"] = worst.index
    return [ctx.finding(QUALITY, worst.status, slot, evidence)]


#: evidence ``reason`` of a low-resolution slot passed because the checks that read it passed
READ_IN_FULL = "read_in_full"


def settle_read_in_full(rules: RuleSet, findings: list[Finding]) -> list[Finding]:
    """Pass ``scan.quality`` on each slot ``uncertain`` for low resolution alone whose reading went
    through: the rules that read text on it (``read_rules``, at least ``read_rules_min`` of them) all
    passed there, none for a reason of its own (a date not read, a value read only with light marks
    dropped); one confirmed by another upload's reading (``confirmed_elsewhere``: the seal the same
    impression as another's) is left out either way. A phone messenger sends pages at 110–140 dpi; the checks, not
    the pixel count, say whether such a page could be checked, and a page they could not read stays
    with a clerk. Findings this step passed before (a re-review's) are judged again from scratch."""
    params = rules.rule(QUALITY).params
    reading = set(params.get("read_rules", ()))  # absent from rule sets before 13: nothing settled
    elsewhere = dict(params.get("confirmed_elsewhere", {}))
    by_slot: dict[str, list[Finding]] = {}
    for f in findings:
        if f.slot and f.rule in reading:
            by_slot.setdefault(f.slot, []).append(f)
    out = []
    for f in findings:
        if f.rule == QUALITY and f.evidence.get("reason") == READ_IN_FULL:
            f = rules.finding(QUALITY, Status.UNCERTAIN, f.slot, {
                k: v for k, v in f.evidence.items() if k not in ("reason", "read_by", "lowest_dpi")})
        read = [r for r in by_slot.get(f.slot or "", []) if not _confirmed_elsewhere(r, elsewhere)]
        if (f.rule == QUALITY and f.status is Status.UNCERTAIN and _low_resolution_only(f)
                and len(read) >= int(params.get("read_rules_min", 1))
                and all(_read_plainly(r) for r in read)):
            low = [int(p["dpi"]) for p in f.evidence.get("pages", []) if p.get("status") != Status.PASS.value]
            f = rules.finding(QUALITY, Status.PASS, f.slot, {
                **f.evidence, "reason": READ_IN_FULL, "read_by": sorted({r.rule for r in read}),
                "lowest_dpi": min(low) if low else None})
        out.append(f)
    return out


def _confirmed_elsewhere(f: Finding, reasons: dict[str, str]) -> bool:
    """A pass another upload's reading gave (``confirmed_elsewhere``): no read of this page, no doubt of it."""
    return f.status is Status.PASS and f.rule in reasons and f.evidence.get("reason") == reasons[f.rule]


def _read_plainly(f: Finding) -> bool:
    """A pass given for what was read, not for a reason of its own — the finding's or a field's."""
    fields = f.evidence.get("fields")
    field_reasons = isinstance(fields, list) and any(isinstance(v, dict) and v.get("reason") for v in fields)
    return f.status is Status.PASS and not f.evidence.get("reason") and not field_reasons


def _low_resolution_only(f: Finding) -> bool:
    pages = [p for p in f.evidence.get("pages", []) if p.get("status") != Status.PASS.value]
    return bool(pages) and all(p.get("status") == Status.UNCERTAIN.value and p.get("problems") == ["low_resolution"]
                               for p in pages)


def moire_score(image: np.ndarray, p: dict[str, float]) -> tuple[float, float, float]:
    """(peak ratio, share of paper tiles showing the peak, the peak's amplitude in grey levels) of the
    page's empty-paper spectrum.

    Tiles with no ink are cut at native resolution; their mean power spectrum is searched for a
    peak off both axes (scanner streaks) and off the JPEG 8-pixel grid's frequencies; the peak
    must stand out in most tiles on its own, so local halftone shading does not count. The ratio
    is over the noise floor, which a clean page barely has: its amplitude says whether the ripple
    is there to see at all (a page shrunk and recompressed by a phone messenger stands out 12–24×
    over its floor at 0.01–0.04 grey levels; a screen's moiré one per cent deep is 1.6–2.4).
    """
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    n = int(p["moire_tile_px"])
    [paper] = _grey_percentiles(grey[::4, ::4], (95,))
    rows, cols = grey.shape[0] // n, grey.shape[1] // n
    tiles = grey[:rows * n, :cols * n].reshape(rows, n, cols, n)  # a view: tile (row, col) is [row, :, col, :]
    paper_tiles = tiles.swapaxes(1, 2)[tiles.min(axis=(1, 3)) > paper - p["moire_max_ripple"]]  # reading order
    if len(paper_tiles) < p["moire_min_tiles"]:
        return 0.0, 0.0, 0.0
    step = max(1, len(paper_tiles) // int(p["moire_max_tiles"]))
    stack = paper_tiles[::step].astype(np.float32)
    stack -= stack.mean(axis=(1, 2), keepdims=True)
    allowed, radius, rings = _spectrum_cells(n, p["moire_axis_deg"])
    power = np.abs(np.fft.rfft2(stack * _window(n))) ** 2
    mean = power.mean(axis=0)
    ring_floor = _ring_medians(mean, radius, rings)
    norm = np.where(allowed, mean / ring_floor[radius], 0.0)
    peak = np.unravel_index(int(np.argmax(norm)), norm.shape)
    ratio = float(norm[peak])
    if ratio <= 0:
        return 0.0, 0.0, 0.0
    ring = rings[int(radius[peak])]
    per_tile_floor = np.median(power.reshape(len(power), -1)[:, ring], axis=1) + 1e-6
    share = float(np.mean(power[:, peak[0], peak[1]] / per_tile_floor > p["moire_tile_ratio"]))
    amplitude = 2 * float(np.sqrt(mean[peak])) / float(_window(n).sum())  # a sinusoid's, in grey levels
    return ratio, share, amplitude


@lru_cache(maxsize=4)
def _window(n: int) -> np.ndarray:
    window = np.outer(np.hanning(n), np.hanning(n)).astype(np.float32)
    window.flags.writeable = False
    return window


@lru_cache(maxsize=4)
def _spectrum_cells(n: int, axis_deg: float) -> tuple[np.ndarray, np.ndarray, dict[int, np.ndarray]]:
    """Where an n-px tile's half spectrum is searched: the allowed cells, every cell's integer
    radius, and the flat indices of the allowed cells at each radius (the same for every page)."""
    fy = np.abs(np.fft.fftfreq(n) * n)[:, None]
    fx = np.arange(n // 2 + 1)[None, :]
    grid = n / 16  # JPEG: 8-px luma blocks, 16-px chroma blocks; their harmonics are not moiré
    # scanner streaks and JPEG block artefacts lie on and near the axes: search a diagonal wedge
    angle = np.degrees(np.arctan2(fy, np.maximum(fx, 1e-6)))
    wedge = (angle >= axis_deg) & (angle <= 90 - axis_deg)
    allowed = (wedge & (np.hypot(fx, fy) >= 6) & (np.hypot(fx, fy) <= n * 0.45)
               & (np.abs(fx / grid - np.round(fx / grid)) * grid > 1.0)
               & (np.abs(fy / grid - np.round(fy / grid)) * grid > 1.0))
    radius = np.rint(np.hypot(fx, fy)).astype(int) + np.zeros_like(fy, dtype=int)
    rings = {int(r): np.flatnonzero(allowed & (radius == r)) for r in np.unique(radius[allowed])}
    for array in (allowed, radius, *rings.values()):
        array.flags.writeable = False
    return allowed, radius, rings


def _ring_medians(power: np.ndarray, radius: np.ndarray, rings: dict[int, np.ndarray]) -> np.ndarray:
    """Median power at each integer radius: the noise floor, which falls with frequency."""
    out = np.full(int(radius.max()) + 1, np.inf)
    flat = power.ravel()
    for r, cells in rings.items():
        out[r] = float(np.median(flat[cells])) + 1e-6
    return out


def _names(text: str, editor: str) -> bool:
    """``editor`` occurs in ``text`` as a name: "GIMP 2.10" yes, "canvas" for "canva" no."""
    if not editor.isascii():
        return editor in text
    return re.search(rf"(?<![a-z]){re.escape(editor)}(?![a-z])", text) is not None


def _edited(ctx: StageContext, slot: str, upload: Upload) -> list[Finding]:
    spec = ctx.rules.rule(EDITED).params
    editors = [str(e).casefold() for e in spec["editors"]]
    for key in ("software", "producer", "creator"):
        value = str(upload.metadata.get(key, "") or "")
        hit = next((e for e in editors if _names(value.casefold(), e)), None)
        if hit:
            return [ctx.finding(EDITED, Status.UNCERTAIN, slot,
                                {"reason": f"文件信息显示使用了 {value}", "metadata_key": key,
                                 "metadata_value": value, "editor": hit})]
    params = {k: float(v) for k, v in spec.items() if k.startswith("moire_")}
    scores = []
    for page in upload.pages:
        ratio, share, amplitude = moire_score(page.image, params)
        scores.append({"page": page.index, "peak_ratio": round(ratio, 1), "tile_share": round(share, 2),
                       "amplitude": round(amplitude, 2)})
        if (ratio >= params["moire_peak_ratio"] and share >= params["moire_min_share"]
                and amplitude >= params.get("moire_min_amplitude", 0.0)):  # absent from rule sets before 13
            return [ctx.finding(EDITED, Status.UNCERTAIN, slot,
                                {"reason": "疑似屏幕翻拍（摩尔纹）", "page": page.index,
                                 "moire": scores[-1]})]
    return [ctx.finding(EDITED, Status.PASS, slot, {"moire": scores})]


def run(ctx: StageContext) -> list[Finding]:
    findings: list[Finding] = []
    for slot in ctx.slots_for(QUALITY):
        findings += guarded(ctx, QUALITY, slot, partial(_quality, ctx, slot, ctx.uploads[slot]))
    failed = {f.slot for f in findings if f.status is Status.FAIL}
    for slot in ctx.slots_for(EDITED):
        if slot in failed:  # nothing to judge on a page that cannot be checked
            findings.append(ctx.finding(EDITED, Status.SKIPPED, slot))
            continue
        findings += guarded(ctx, EDITED, slot, partial(_edited, ctx, slot, ctx.uploads[slot]))
    return findings


#: Per file: each slot's pages are measured alone (scan.edited is skipped after the same slot's scan.quality fails).
STAGE = Stage(name="quality", rule_ids=(QUALITY, EDITED), run=run, gate=True, per_file=(QUALITY, EDITED))
