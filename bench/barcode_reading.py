"""Benchmark of barcode.order_no's reader against naive baselines, on generated application forms.

    .venv/bin/python bench/barcode_reading.py [--seeds N]

Pages: the real pre-filled application form (pipeline.forms.render_forms, page 1 and the VI
page), rendered at 150/200/300 dpi and taken through the fixture scanner (fixtures.scans.imaging:
paper tint, uneven light, blur, noise) with rotations up to 5°, 90/180/270° turns, JPEG 50–90,
a red seal pressed over the barcode, a 15° phone-photo skew (whole sheet on a larger canvas),
and 100-dpi pages. Negative pages (a form printed without barcode, and one with another order
number) count wrong reads. Baselines run in the same process on the same pages: pyzbar on the
untouched (grey) page, and zxing-cpp on the untouched page. Then the real Code 128 photos in
../shared/real-samples, as they are and turned by 30°.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pymupdf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fixtures.scans.imaging import INKS, draw_seal, scan, stamp, turn_on_canvas  # noqa: E402
from pipeline.forms.render import form_layout, render_forms  # noqa: E402
from pipeline.intake.pages import estimate_a4_dpi  # noqa: E402
from pipeline.models import Case  # noqa: E402
from pipeline.stages.barcode import read_code128  # noqa: E402
from pipeline.tools import zbar, zxing  # noqa: E402
from tests.casedata import case_dict  # noqa: E402

SAMPLES = ROOT / ".." / "shared" / "real-samples"
ORDER_NO = "00202009200000604"
OTHER_NO = "00202009200000999"
PATTERN = re.compile(r"^\d{17}$")

Reader = Callable[[np.ndarray, float], set[str]]


def _accept(text: str) -> bool:
    return PATTERN.fullmatch(text) is not None


def ours(page: np.ndarray, px_mm: float) -> set[str]:
    regions, _ = read_code128(page, px_mm, _accept)
    return {t for r in regions for t in r.texts()}


def naive_zbar(page: np.ndarray, px_mm: float) -> set[str]:
    return {t for t, _ in zbar.decode_code128(cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)) if _accept(t)}


def naive_zxing(page: np.ndarray, px_mm: float) -> set[str]:
    return {t for t, _ in zxing.decode_code128(cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)) if _accept(t)}


READERS: dict[str, Reader] = {"ours": ours, "pyzbar page": naive_zbar, "zxing page": naive_zxing}


def _render(pdf: Path, dpi: int) -> list[np.ndarray]:
    """RGB pages of a PDF at ``dpi``."""
    out = []
    with pymupdf.open(pdf) as doc:
        for pg in doc:
            pix = pg.get_pixmap(dpi=dpi)
            out.append(np.frombuffer(pix.samples, np.uint8).reshape(pix.h, pix.w, pix.n)[:, :, :3].copy())
    return out


def build_pages(seeds: int) -> list[tuple[str, str | None, np.ndarray, float]]:
    """(condition, expected text or None, BGR page, px/mm) for every bench page."""
    case = Case.model_validate(case_dict(order_no=ORDER_NO))
    barcode_rect = form_layout("application_form").barcodes[0][1]
    pages: list[tuple[str, str | None, np.ndarray, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        good = render_forms(case, Path(tmp) / "good")["application_form"]
        other = render_forms(case, Path(tmp) / "other", overrides={"barcode": OTHER_NO})["application_form"]
        none = render_forms(case, Path(tmp) / "none", overrides={"barcode": ""})["application_form"]
        renders = {dpi: _render(good, dpi) for dpi in (100, 150, 200, 300)}
        negatives = {"another number": (_render(other, 200), OTHER_NO), "no barcode": (_render(none, 200), None)}
    for seed in range(seeds):
        rng = np.random.default_rng(seed)

        def add(name: str, expected: str | None, rgb: np.ndarray, dpi: float) -> None:
            pages.append((name, expected, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), dpi / 25.4))

        for dpi in (150, 200, 300):
            first, vi = renders[dpi]
            for angle in (0.0, 1.0, -3.0, 5.0):
                add(f"{dpi} dpi, {angle:+.0f}°", ORDER_NO, scan(first, dpi, angle, rng=rng), dpi)
            add(f"{dpi} dpi, VI page", ORDER_NO, scan(vi, dpi, 2.0, rng=rng), dpi)
            for k in (1, 2, 3):
                add(f"{dpi} dpi, turned {90 * k}°", ORDER_NO, np.rot90(scan(first, dpi, 1.0, rng=rng), k), dpi)
            for q in (50, 70, 90):
                add(f"{dpi} dpi, JPEG {q}", ORDER_NO, scan(first, dpi, 2.0, jpeg_quality=q, rng=rng), dpi)
            x0, y0, x1, y1 = (v * dpi / 72 for v in barcode_rect)
            seal = draw_seal("沈阳示例科技有限公司", round(42 / 25.4 * dpi), INKS[seed % len(INKS)], rng=rng)
            sealed = stamp(first, seal, ((x0 + x1) / 2 + rng.uniform(-40, 40), (y0 + y1) / 2 + rng.uniform(0, 60)),
                           float(rng.uniform(0, 360)))
            add(f"{dpi} dpi, seal over barcode", ORDER_NO, scan(sealed, dpi, 1.0, jpeg_quality=80, rng=rng), dpi)
            for angle in (15.0, -15.0):
                photo = turn_on_canvas(scan(first, dpi, 0.0, rng=rng), angle, (120, 110, 100))
                add(f"{dpi} dpi, phone skew {angle:+.0f}°", ORDER_NO, photo, dpi)
        first, vi = renders[100]
        for angle in (0.0, 2.0, -4.0):
            add(f"100 dpi, {angle:+.0f}°", ORDER_NO, scan(first, 100, angle, rng=rng), 100)
        add("100 dpi, JPEG 70", ORDER_NO, scan(vi, 100, 1.0, jpeg_quality=70, rng=rng), 100)
        for name, (rendered, expected) in negatives.items():
            add(name, expected, scan(rendered[0], 200, 1.0, rng=rng), 200)
    return pages


def run_bench(pages: list[tuple[str, str | None, np.ndarray, float]]) -> dict[str, dict[str, object]]:
    results: dict[str, dict[str, object]] = {}
    for name, reader in READERS.items():
        reader(pages[0][2], pages[0][3])  # warm-up: library loading is not per-page cost
        times, cpu, hits, wrong, missed = [], [], 0, 0, []
        positives = 0
        per_condition: dict[str, list[bool]] = {}
        condition_ms: dict[str, list[float]] = {}
        for condition, expected, page, px_mm in pages:
            t0, c0 = time.perf_counter(), time.process_time()
            texts = reader(page, px_mm)
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
            wrong += len(texts - {expected}) if expected else len(texts)
            if expected:
                positives += 1
                ok = expected in texts
                hits += ok
                key = condition if condition.startswith("100 dpi") else condition.split(", ", 1)[-1]
                per_condition.setdefault(key, []).append(ok)
                condition_ms.setdefault(key, []).append(times[-1])
                if not ok:
                    missed.append(condition)
        by_kind: dict[str, list[float]] = {}
        for (condition, _, _, _), ms in zip(pages, times, strict=True):
            by_kind.setdefault(condition.split(",")[0], []).append(ms)
        results[name] = {"by_dpi_ms": {k: statistics.median(v) for k, v in by_kind.items()},
                         "rate": hits / positives, "hits": hits, "positives": positives, "wrong": wrong,
                         "median_ms": statistics.median(times), "p95_ms": float(np.percentile(times, 95)),
                         "median_cpu_ms": statistics.median(cpu),
                         "condition_ms": {k: statistics.median(v) for k, v in condition_ms.items()},
                         "per_condition": per_condition, "missed": missed}
    return results


def real_samples() -> list[tuple[str, str, bool, bool]]:
    """(file, text, ours read it, pyzbar on the untouched image read it) — as is and turned 30°."""
    out = []
    for png in sorted(SAMPLES.glob("barcode_zxing_*.png")):
        expected = png.with_suffix(".txt").read_text(encoding="utf-8").strip()
        image = np.asarray(cv2.imread(str(png)))
        for label, img in (("", image), (" turned 30°", turn_on_canvas(image, 30))):
            px_mm = estimate_a4_dpi(img.shape[1], img.shape[0]) / 25.4
            regions, _ = read_code128(img, px_mm, None)
            got = {t for r in regions for t in r.texts()}
            base = {t for t, _ in zbar.decode_code128(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))}
            out.append((png.name + label, expected, got == {expected}, expected in base))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=2, help="repetitions of the page set with new noise")
    args = parser.parse_args()
    pages = build_pages(args.seeds)
    print(f"{len(pages)} pages: {sum(1 for p in pages if p[1])} with a barcode to read "
          f"({sum(1 for p in pages if p[1] == ORDER_NO)} of the order number), "
          f"{sum(1 for p in pages if not p[1])} without")
    results = run_bench(pages)
    base = results["pyzbar page"]
    print(f"\n{'reader':<14}{'read rate':>12}{'wrong reads':>13}{'median ms':>11}{'p95 ms':>9}"
          f"{'median CPU ms':>15}{'speed vs pyzbar':>17}")
    for name, r in results.items():
        ratio = float(base["median_ms"]) / float(r["median_ms"])  # type: ignore[arg-type]
        print(f"{name:<14}{r['hits']:>5}/{r['positives']:<3} {100 * float(r['rate']):5.1f}%"  # type: ignore[arg-type]
              f"{r['wrong']:>10}{float(r['median_ms']):>11.1f}{float(r['p95_ms']):>9.1f}"  # type: ignore[arg-type]
              f"{float(r['median_cpu_ms']):>15.1f}{ratio:>16.1f}×")  # type: ignore[arg-type]
    print("\nmedian ms per page by resolution: " + "; ".join(
        f"{name}: " + ", ".join(f"{k} {v:.1f}" for k, v in r["by_dpi_ms"].items())  # type: ignore[attr-defined]
        for name, r in results.items()))
    conditions = list(results["ours"]["per_condition"])  # type: ignore[call-overload]
    print(f"\n{'condition':<22}" + "".join(f"{n:>14}" for n in results) + f"{'ours median ms':>16}")
    for cond in conditions:
        cells = []
        for r in results.values():
            oks = r["per_condition"][cond]  # type: ignore[index]
            cells.append(f"{sum(oks)}/{len(oks)}")
        ms = results["ours"]["condition_ms"][cond]  # type: ignore[index]
        print(f"{cond:<22}" + "".join(f"{c:>14}" for c in cells) + f"{ms:>16.1f}")
    if results["ours"]["missed"]:
        print("\nours missed:", ", ".join(results["ours"]["missed"]))  # type: ignore[arg-type]
    print("\nreal Code 128 photos (../shared/real-samples, order-number filter off):")
    for name, text, ok, base_ok in real_samples():
        print(f"  {name:<44} {text!r:<24} ours {'read' if ok else 'MISSED':<7} pyzbar page "
              f"{'read' if base_ok else 'missed'}")


if __name__ == "__main__":
    main()
