"""Stage 'barcode': the application form's Code 128 must carry the case's order number.

Neither decoder wins everywhere (see issue 4): zxing-cpp is fast and reads turned codes but is
thrown by a red seal over the bars; zbar survives ink but misses rotated codes and is slow on a
whole page. So every page is read on its RED channel (red seal ink turns white there): first
by zxing-cpp on the whole page (a few ms; most scans end here); when that reads nothing
acceptable, barcode-like regions are located with a structure tensor
(strong, one-directional gradients: bars, not text) which also gives the skew, each region is
cut out upright, and both readers try it at 1× and 2× (low-dpi scans), raw and binarised.
Upright-with-bars-vertical covers 0/90/180/270° and any skew: a 1D code reads both ways.
Only values in the order-number format (rule param) are accepted, so stray codes don't count.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from pipeline.models import Finding, Status
from pipeline.stages.base import Stage, StageContext, guarded
from pipeline.tools import zbar, zxing

RULE = "barcode.order_no"
SLOT = "application_form"

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Read:
    text: str
    reader: str  # "zxing" or "zbar"
    variant: str  # "page", "1x", "2x", "2x-binary", ...


@dataclass
class Region:
    """One barcode-like place on a page and what each attempt read there."""

    bbox: Box  # x0, y0, x1, y1 in page pixels
    crop: np.ndarray
    reads: list[Read] = field(default_factory=list)
    crop_2x: np.ndarray | None = None

    def crops(self) -> dict[str, np.ndarray]:
        up = self.crop_2x if self.crop_2x is not None else cv2.resize(
            self.crop, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
        return {"1x": self.crop, "2x": up}

    def texts(self) -> set[str]:
        return {r.text for r in self.reads}


@dataclass(frozen=True)
class Tuning:
    """Rule-set params of barcode.order_no (see the rule set for their meaning)."""

    work_px_per_mm: float = 4.0
    window_mm: float = 6.0
    min_energy: float = 2.0
    min_coherence: float = 0.75
    min_length_mm: float = 12.0
    min_height_mm: float = 3.0
    max_regions: int = 4
    margin_mm: float = 4.0
    min_transitions: int = 20


Accept = Callable[[str], bool]


def read_code128(image: np.ndarray, px_per_mm: float, accept: Accept | None = None,
                 tuning: Tuning | None = None) -> tuple[list[Region], bool]:
    """Barcode regions of a BGR page with their accepted reads; and whether the page has ink at all.

    ``accept`` filters decoded texts (the order-number format); None accepts any Code 128.
    """
    tuning = tuning or Tuning()
    ok: Accept = accept or (lambda _t: True)
    red = np.ascontiguousarray(image[:, :, 2] if image.ndim == 3 else image)
    regions = _fast_path(red, ok)
    if regions:
        return regions, True
    candidates, has_ink = _locate(red, px_per_mm, tuning)
    cut = [_cut_and_read(red, c, px_per_mm, tuning, ok) for c in candidates[: tuning.max_regions]]
    regions = [r for r in cut if r is not None]
    if any(r.reads for r in regions):
        return regions, has_ink
    # Nothing read. The dpi may be wrong (a close-up photo has far more px/mm than its A4
    # estimate, so its bars are too wide for the window): look again as if it were 2× and 4×,
    # keeping only regions that read, so a page without a barcode still has none.
    for factor in (2.0, 4.0):
        for c in _locate(red, factor * px_per_mm, tuning)[0][: tuning.max_regions]:
            region = _cut_and_read(red, c, px_per_mm, tuning, ok, readers=("zxing",))
            if region is not None and region.reads:
                return [*regions, region], has_ink
    return regions, has_ink


def _cut_and_read(red: np.ndarray, candidate: tuple[tuple[float, float], tuple[float, float], float],
                  px_per_mm: float, tuning: Tuning, ok: Accept,
                  readers: tuple[str, ...] = ("zxing", "zbar")) -> Region | None:
    """The candidate cut out upright and read; None when it does not even look like bars."""
    centre, size, angle = candidate
    # the quiet zone is 10 modules: about 7 % of a Code 128's length, whatever the scale
    margin = max(tuning.margin_mm * px_per_mm, 0.08 * size[0])
    crop, bbox = _upright_crop(red, centre, size, angle, margin)
    crop_2x = _upright_crop(red, centre, size, angle, margin, 2.0)[0]
    if _transitions(crop_2x) < tuning.min_transitions:
        return None
    region = Region(bbox, crop, crop_2x=crop_2x)
    region.reads = _decode_crop(region.crops(), ok, exhaustive=False, readers=readers)
    return region


def _transitions(upright: np.ndarray) -> int:
    """Dark/light changes along the mean of a horizontal band: bars run through the whole band.

    Text and table rows give few (their strokes average out, lines are far apart); any Code 128
    has at least 25. The best of three bands, so a blot across part of the bars still counts.
    """
    lo, hi = (float(v) for v in np.percentile(upright[::2, ::2], [5, 95]))
    if hi - lo < 30:
        return 0
    h = upright.shape[0]
    best = 0
    for a, b in ((0.15, 0.45), (0.35, 0.65), (0.55, 0.85)):
        profile = upright[int(h * a):max(int(h * b), int(h * a) + 1)].mean(axis=0)
        dark = profile < (lo + hi) / 2
        best = max(best, int(np.count_nonzero(dark[1:] != dark[:-1])))
    return best


def _fast_path(red: np.ndarray, ok: Accept) -> list[Region]:
    """zxing-cpp on the whole red channel (try_rotate covers 90/270°), cropped around each read."""
    regions = []
    # upright pages first (about 1 ms), then zxing's own 90/270° scan (a few ms more)
    found = zxing.decode_code128(red, try_rotate=False, try_downscale=False)
    if not any(ok(text) for text, _ in found):
        found = zxing.decode_code128(red, try_rotate=True, try_downscale=False)
    for text, (x0, y0, x1, y1) in found:
        if not ok(text):
            continue
        pad = max(8, (y1 - y0) // 2, (x1 - x0) // 10)
        bx0, by0 = max(0, x0 - pad), max(0, y0 - pad)
        bx1, by1 = min(red.shape[1], x1 + pad), min(red.shape[0], y1 + pad)
        crop = red[by0:by1, bx0:bx1]
        regions.append(Region((bx0, by0, bx1, by1), crop, [Read(text, "zxing", "page")]))
    return regions


def _locate(red: np.ndarray, px_per_mm: float,
            tuning: Tuning) -> tuple[list[tuple[tuple[float, float], tuple[float, float], float]], bool]:
    """Rotated rectangles (page px) of strong one-directional texture, largest first.

    The structure tensor of the contrast-normalised page, averaged over a few millimetres, is
    large and coherent over bars (an edge every half millimetre), large but incoherent over
    text, and a few times smaller along table lines (two edges per row).
    """
    f = min(1.0, tuning.work_px_per_mm / px_per_mm)
    small = cv2.resize(red, None, fx=f, fy=f, interpolation=cv2.INTER_AREA) if f < 1 else red
    lo, hi = np.percentile(small[::4, ::4], [1, 99])
    s = small.astype(np.float32) * np.float32(1.0 / max(float(hi - lo), 32.0))  # contrast-normalised
    gx = cv2.Sobel(s, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(s, cv2.CV_32F, 0, 1, ksize=3)
    work = px_per_mm * f
    k = max(3, round(tuning.window_mm * work)) | 1
    jxx = cv2.blur(gx * gx, (k, k))
    jyy = cv2.blur(gy * gy, (k, k))
    jxy = cv2.blur(gx * gy, (k, k))
    energy = jxx + jyy
    has_ink = float(energy.max()) >= tuning.min_energy * 0.25
    aniso = cv2.sqrt((jxx - jyy) ** 2 + 4 * jxy * jxy)
    strong = ((energy >= tuning.min_energy) & (aniso >= tuning.min_coherence * energy)).astype(np.uint8)
    # wide spaces between bars can split one code into pieces: close gaps up to a window wide
    mask = cv2.morphologyEx(strong, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    found = []
    for i in range(1, n):
        if stats[i, cv2.CC_STAT_AREA] < (tuning.min_length_mm * tuning.min_height_mm) * work * work:
            continue
        x, y, w, h = stats[i, :4]
        sub = labels[y:y + h, x:x + w] == i
        pts = np.column_stack(np.nonzero(sub)[::-1]).astype(np.float32) + np.array([x, y], np.float32)
        # the gradient direction (across the bars) from the summed tensor of the component
        theta = 0.5 * np.arctan2(2 * jxy[y:y + h, x:x + w][sub].sum(),
                                 (jxx - jyy)[y:y + h, x:x + w][sub].sum())
        along = np.array([np.cos(theta), np.sin(theta)], np.float32)
        across = np.array([-along[1], along[0]], np.float32)
        c = pts.mean(axis=0)
        u, v = (pts - c) @ along, (pts - c) @ across
        length, height = float(np.ptp(u)) + 1, float(np.ptp(v)) + 1
        if length < tuning.min_length_mm * work or height < tuning.min_height_mm * work:
            continue
        centre = ((c + along * (u.max() + u.min()) / 2 + across * (v.max() + v.min()) / 2) / f)
        found.append(((float(centre[0]), float(centre[1])), (length / f, height / f),
                      float(np.degrees(theta)), length * height))
    found.sort(key=lambda t: -t[3])
    return [(c, sz, a) for c, sz, a, _ in found], has_ink


def _upright_crop(red: np.ndarray, centre: tuple[float, float], size: tuple[float, float],
                  angle_deg: float, margin: float, scale: float = 1.0) -> tuple[np.ndarray, Box]:
    """Cut the rotated rectangle out of the page with the bars vertical; its page bounding box.

    ``scale`` 2 upsamples in the same warp (one interpolation, not two): low-dpi scans need it.
    """
    w = int(size[0] + 2 * margin)
    h = int(size[1] + 2 * margin)
    m = cv2.getRotationMatrix2D(centre, angle_deg, scale)
    m[0, 2] += w * scale / 2 - centre[0]
    m[1, 2] += h * scale / 2 - centre[1]
    crop = cv2.warpAffine(red, m, (round(w * scale), round(h * scale)),
                          flags=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    corners = cv2.boxPoints((centre, (w, h), angle_deg))
    x0, y0 = np.floor(corners.min(axis=0)).astype(int)
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int)
    hp, wp = red.shape[:2]
    return crop, (max(0, int(x0)), max(0, int(y0)), min(wp, int(x1)), min(hp, int(y1)))


def _binary(img: np.ndarray) -> np.ndarray:
    return cv2.threshold(img, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)[1]


def _decode_crop(crops: dict[str, np.ndarray], ok: Accept, exhaustive: bool,
                 readers: tuple[str, ...] = ("zxing", "zbar")) -> list[Read]:
    """Both readers on the crop's variants; stop at the first accepted read unless ``exhaustive``.

    ``crops`` holds the region cut at 1× and 2×. Order: zxing (fast) on 1×, 2×, their
    binarised forms, then zbar on the same. A read equal to the order number needs no second
    opinion (a misread that lands exactly on it is not credible, Code 128 has a checksum); any
    other read is looked at again exhaustively by the caller, where readers may disagree.
    """
    variants = [("1x", crops["1x"]), ("2x", crops["2x"]),
                ("1x-binary", _binary(crops["1x"])), ("2x-binary", _binary(crops["2x"]))]
    available: dict[str, Callable[[np.ndarray], list[tuple[str, Box]]]] = {
        "zxing": lambda img: zxing.decode_code128(img, try_rotate=False),
        "zbar": zbar.decode_code128,
    }
    reads: list[Read] = []
    for name in readers:
        reader = available[name]
        for variant, img in variants:
            reads += [Read(t, name, variant) for t, _ in reader(img) if ok(t)]
            if reads and not exhaustive:
                return reads
    return reads


def run(ctx: StageContext) -> list[Finding]:
    if SLOT not in ctx.slots_for(RULE):
        return []
    return guarded(ctx, RULE, SLOT, lambda: [_check(ctx)])


def _check(ctx: StageContext) -> Finding:
    upload = ctx.uploads[SLOT]
    pattern = re.compile(str(ctx.rules.param(RULE, "order_no_pattern")))
    tuning = ctx.rules.tuning(RULE, Tuning)
    order_no = ctx.case.order_no

    def accept(text: str) -> bool:
        return pattern.fullmatch(text) is not None

    found: list[tuple[int, Region]] = []
    legible = False
    for page in upload.pages:
        regions, has_ink = read_code128(page.image, page.px_per_mm(), accept, tuning)
        legible |= has_ink
        for region in regions:
            texts = region.texts()
            if texts and texts != {order_no}:
                # a value other than the order number: look again with every attempt before judging
                region.reads += _decode_crop(region.crops(), accept, exhaustive=True)
            found.append((page.index, region))
    return _judge(ctx, order_no, found, legible)


def _judge(ctx: StageContext, order_no: str, found: list[tuple[int, Region]], legible: bool) -> Finding:
    read = [(p, r) for p, r in found if r.texts()]
    summary = [{"page": p, "bbox": list(r.bbox), "decoded": sorted(r.texts()),
                "readers": sorted({x.reader for x in r.reads})} for p, r in found]
    base: dict[str, object] = {"order_no": order_no, "regions": summary}
    mismatched, conflicted, matched = [], [], []
    for p, r in read:
        texts = r.texts()
        if texts == {order_no}:
            matched.append((p, r))
        elif order_no in texts or len(texts) > 1:
            conflicted.append((p, r, "readers_disagree"))
        elif len(r.reads) >= 2:
            mismatched.append((p, r))  # another number, read the same way more than once
        else:
            conflicted.append((p, r, "single_read"))  # read once only: not consistent enough to fail
    if mismatched:
        p, r = mismatched[0]
        value = next(iter(r.texts()))
        return ctx.finding(RULE, Status.FAIL, SLOT, _evidence(ctx, base, p, r, value))
    if conflicted:
        p, r, reason = conflicted[0]
        decoded = " / ".join(sorted(r.texts()))
        ev = _evidence(ctx, base, p, r, decoded)
        ev["reads"] = [{"reader": x.reader, "variant": x.variant, "decoded": x.text} for x in r.reads]
        ev["reason"] = reason
        ev["detail"] = f"（识别结果：{decoded}）"
        return ctx.finding(RULE, Status.UNCERTAIN, SLOT, ev)
    if matched:
        p, r = matched[0]
        return ctx.finding(RULE, Status.PASS, SLOT, _evidence(ctx, base, p, r, order_no))
    if found:
        p, r = found[0]
        ev = _evidence(ctx, base, p, r, "")
        ev["reason"] = "barcode_unreadable"
        return ctx.finding(RULE, Status.UNCERTAIN, SLOT, ev)
    if not legible:
        return ctx.finding(RULE, Status.UNCERTAIN, SLOT, {**base, "decoded": "", "reason": "page_illegible"})
    return ctx.finding(RULE, Status.FAIL, SLOT, {**base, "decoded": "未找到", "reason": "no_barcode"})


def _evidence(ctx: StageContext, base: dict[str, object], page: int, region: Region,
              decoded: str) -> dict[str, object]:
    readers = sorted({x.reader for x in region.reads if x.text in decoded.split(" / ")})
    crop = ctx.artifacts.save_png(f"barcode_{SLOT}_p{page + 1}", region.crop)
    return {**base, "decoded": decoded, "reader": "+".join(readers), "page": page,
            "bbox": list(region.bbox), "crop": crop}


#: Per file: the application form's own pages against the entered order number.
STAGE = Stage(name="barcode", rule_ids=(RULE,), run=run, per_file=(RULE,))
