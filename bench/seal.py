"""Seal detection benchmark: recall on stamped pages (faint seals included), false positives on
pages with red ink that is no seal, milliseconds per page — beside a naive baseline (a plain
red-pixel count) run on the same pages in the same run; then the real images in
../shared/real-samples.

    .venv/bin/python bench/seal.py [--pages 120] [--seed 0]

Pages are generated (deterministic for a seed): A4 print at 150/200/300 dpi, a 38–45 mm seal
drawn by two independent seal drawers (tests/test_seal_drawing.py and fixtures/scans/imaging.py),
inks from red to orange to pink, opacity down to 0.35, rotations up to 5° plus 90/180/270,
JPEG 50–90, blur, phone-photo colour cast, some seals half off the page, some pages with red
titles and signatures beside the seal. Negatives: the same pages with red non-seal ink only
(title, signature, pen circle around a word, thin red ring, red table, square seal) or none.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fixtures.scans import imaging  # noqa: E402
from pipeline.intake.pages import estimate_a4_dpi  # noqa: E402
from pipeline.ruleset import load_rule_set  # noqa: E402
from pipeline.seal.find import SealParams, find_seals  # noqa: E402
from tests import test_seal_drawing as draw  # noqa: E402

REAL = ROOT.parent / "shared" / "real-samples"
Page = tuple[np.ndarray, float]  # BGR image, dpi


def baseline(image: np.ndarray, dpi: float) -> bool:
    """Naive: enough strongly red pixels (HSV) to be a tenth of a 40 mm seal's disc."""
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    red = ((h <= 10) | (h >= 160)) & (s >= 70) & (v >= 60)
    disc = np.pi * (20 * dpi / 25.4) ** 2
    return int(red.sum()) >= 0.1 * disc


def _distractors(page: np.ndarray, dpi: float, rng: np.random.Generator, kinds: list[str]) -> None:
    for kind in kinds:
        x, y = rng.uniform(40, 170), rng.uniform(60, 250)
        if kind == "title":
            draw.draw_red_title(page, dpi)
        elif kind == "signature":
            draw.draw_signature(page, dpi, (min(x, 150), y), seed=int(rng.integers(1 << 30)))
        elif kind == "pen-circle":
            draw.draw_pen_circle(page, dpi, (x, y), diameter_mm=rng.uniform(20, 45))
        elif kind == "thin-ring":
            draw.draw_thin_ring(page, dpi, (x, y), diameter_mm=rng.uniform(35, 45))
        elif kind == "table":
            draw.draw_red_table(page, dpi, (20, y - 30, 190, y))
        elif kind == "square-seal":
            draw.draw_square_seal(page, dpi, (x, y))


KINDS = ["title", "signature", "pen-circle", "thin-ring", "table", "square-seal"]


def _finish(page_bgr: np.ndarray, dpi: float, rng: np.random.Generator) -> np.ndarray:
    """Scan (their scanner model), maybe a phone's warm cast, maybe turned by 90/180/270."""
    rgb = cv2.cvtColor(page_bgr, cv2.COLOR_BGR2RGB)
    out = imaging.scan(rgb, dpi, rotate_deg=float(rng.uniform(-5, 5)), noise=float(rng.uniform(1, 4)),
                       blur=float(rng.uniform(0.3, 1.0)), jpeg_quality=int(rng.integers(50, 91)), rng=rng)
    bgr = cv2.cvtColor(out, cv2.COLOR_RGB2BGR)
    if rng.random() < 0.15:  # phone photo under warm light
        bgr = draw.scan(bgr, tint=(0.82, 0.93, 1.0))
    k = int(rng.choice([0, 0, 0, 1, 2, 3]))
    return np.ascontiguousarray(np.rot90(bgr, k)) if k else bgr


def positive(i: int, seed: int) -> Page:
    rng = np.random.default_rng(seed * 100003 + i)
    dpi = float(rng.choice([150, 200, 300]))
    page = draw.blank_page(dpi, seed=i)
    h, w = page.shape[:2]
    diameter = float(rng.uniform(38, 45))
    px = dpi / 25.4
    if rng.random() < 0.1:  # half off an edge
        centre = (float(rng.choice([0, w])), float(rng.uniform(0.2, 0.8) * h))
    else:
        centre = (float(rng.uniform(30, 180) * px), float(rng.uniform(30, 267) * px))
    opacity = float(rng.choice([rng.uniform(0.35, 0.55), rng.uniform(0.6, 0.95)]))
    if i % 2:
        ink = imaging.INKS[i % len(imaging.INKS)]
        seal = imaging.draw_seal("沈阳示例科技有限公司", round(diameter * px), ink, rng=rng, opacity=opacity)
        rgb = imaging.stamp(cv2.cvtColor(page, cv2.COLOR_BGR2RGB), seal, centre, float(rng.uniform(-180, 180)))
        page = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    else:
        draw.draw_seal(page, centre, dpi, diameter_mm=diameter, strength=opacity, patchy=float(rng.uniform(0, 0.6)),
                       rotation_deg=float(rng.uniform(-180, 180)), seed=i)
    if rng.random() < 0.3:
        _distractors(page, dpi, rng, [str(rng.choice(["title", "signature", "table"]))])
    return _finish(page, dpi, rng), dpi


def negative(i: int, seed: int) -> Page:
    rng = np.random.default_rng(seed * 200003 + i)
    dpi = float(rng.choice([150, 200, 300]))
    page = draw.blank_page(dpi, seed=i + 7)
    if i % 7:
        kinds = [KINDS[i % len(KINDS)]] + [str(k) for k in rng.choice(KINDS, int(rng.integers(0, 3)))]
        _distractors(page, dpi, rng, kinds)
    return _finish(page, dpi, rng), dpi


def measure(pages: list[Page], test: Callable[[np.ndarray, float], bool]) -> tuple[int, list[float], list[float]]:
    """Hits, wall ms and CPU ms per page (CPU time is steadier on a shared machine)."""
    hits, wall, cpu = 0, [], []
    for image, dpi in pages:
        t, c = time.perf_counter(), time.process_time()
        hit = test(image, dpi)
        wall.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
        hits += hit
    return hits, wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=120, help="positive pages (and as many negative)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="OpenCV threads (1: one core per page, as a worker)")
    args = ap.parse_args()
    cv2.setNumThreads(args.threads)
    params = load_rule_set().tuning("seal.present", SealParams)

    def ours(image: np.ndarray, dpi: float) -> bool:
        return any(c.colour == "red" for c in find_seals(image, dpi, params))

    t0 = time.perf_counter()
    pos = [positive(i, args.seed) for i in range(args.pages)]
    neg = [negative(i, args.seed) for i in range(args.pages)]
    print(f"generated {len(pos)} stamped + {len(neg)} unstamped pages in {time.perf_counter() - t0:.0f} s")
    ours(*pos[0])  # warm-up (imports, allocations)
    rows = []
    for name, test in (("sealfind (ring + content)", ours), ("baseline (red-pixel count)", baseline)):
        tp, wall_p, cpu_p = measure(pos, test)
        fp, wall_n, cpu_n = measure(neg, test)
        wall, cpu = wall_p + wall_n, cpu_p + cpu_n
        rows.append((name, tp / len(pos), fp / len(neg), statistics.median(wall), float(np.percentile(wall, 95)),
                     statistics.median(cpu)))
    print(f"\n{'detector':28} {'recall':>8} {'false pos':>10} {'median ms':>10} {'p95 ms':>8} {'median CPU ms':>14}")
    for name, rec, fpr, med, p95, cpu_med in rows:
        print(f"{name:28} {rec:8.1%} {fpr:10.1%} {med:10.1f} {p95:8.1f} {cpu_med:14.1f}")
    (_, r0, f0, m0, _, c0), (_, r1, f1, m1, _, c1) = rows
    print(f"{'ratio ours/baseline':28} {r0 / max(r1, 1e-9):8.2f} {f0 / max(f1, 1e-9):10.2f} {m0 / m1:10.2f}"
          f" {'':8} {c0 / c1:14.2f}")
    _real(params, ours)


REAL_SET = [  # file, dpi (None: estimated as A4), red round seals expected
    ("seal_getseal_source.png", 266 / 55 * 25.4, 1), ("seal_sealcut_three.jpg", 930 / 200 * 25.4, 2),
    ("seal_sealhacker_test.jpg", 566 / 48 * 25.4, 1), ("stamped_seal_removal_1.jpg", None, 1),
    ("license_cicba_1.png", None, 1), ("license_longllovers-business_license_1.jpg", None, 1),
    ("license_longllovers-business_license_2.jpg", None, 1), ("stamped_remove_seal_1.png", 290, 0),
]


def _real(params: SealParams, ours: Callable[[np.ndarray, float], bool]) -> None:
    print(f"\nreal samples ({REAL}): red round seals found / expected, grey, baseline says 'seal'")
    for name, dpi, expected in REAL_SET:
        image = cv2.imread(str(REAL / name))
        if image is None:
            print(f"  {name}: missing")
            continue
        dpi = dpi or estimate_a4_dpi(image.shape[1], image.shape[0])
        t = time.perf_counter()
        found = find_seals(image, dpi, params)
        ms = (time.perf_counter() - t) * 1000
        red = sum(c.colour == "red" for c in found)
        grey = sum(c.colour == "grey" for c in found)
        ok = "ok " if red == expected else "MISS" if red < expected else "EXTRA"
        print(f"  {ok} {name:44} red {red}/{expected}  grey {grey}  baseline {baseline(image, dpi)!s:5}  {ms:5.0f} ms")


if __name__ == "__main__":
    main()
