"""Robustness of the whole review on clean cases made in ways the fixture set does not make:
other scanners (noise, blur, JPEG quality, resolution, a turn of up to 7°) and other fonts on the forms.

    .venv/bin/python bench/variants.py [--cases clean_shenyang_jpg_150,...] [--variants noisy300q50,...]

Each clean fixture case is generated again with one change and reviewed (all stages, cold OCR
cache, one core). A clean case must never be rejected (a false ``fail``); ``needs_review`` is
allowed (a person looks) and its rules are listed. The reference column is the case as the
fixture set makes it. Figures: approved / needs review / rejected per variant, CPU s per case.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

import pymupdf  # noqa: E402

from fixtures.scans import generate  # noqa: E402
from fixtures.scans.cases import CASES, Base, Spec  # noqa: E402
from pipeline.forms import render as forms  # noqa: E402
from pipeline.models import Status  # noqa: E402
from pipeline.reading import ocr  # noqa: E402

UMING = Path("/usr/share/fonts/truetype/arphic/uming.ttc")
#: name -> (what changes in the scan, the forms' font buffer or None for the fixture's own)
SCANNERS: dict[str, dict[str, Any]] = {
    "as generated": {},
    "noisy300q50": {"dpi": 300, "noise": 5.0, "blur": 1.0, "quality": 50, "max_rotate": 3.0},
    "blurry200": {"dpi": 200, "blur": 1.4, "noise": 3.0, "quality": 60},
    "rot4_png": {"max_rotate": 4.0, "png": True},
    "rot7": {"max_rotate": 7.0},
    "dpi120": {"dpi": 120, "quality": 70},
}
FONTS: dict[str, Callable[[], bytes]] = {
    "font Droid Sans Fallback": lambda: bytes(pymupdf.Font("china-s").buffer),
    "font AR PL UMing": lambda: UMING.read_bytes(),
}
DEFAULT_CASES = ("clean_shenyang_jpg_150", "clean_dalian_pdf_200", "clean_panjin_jpg_200_faint",
                 "clean_dandong_png_150_rotated")


def cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _variant_spec(spec: Spec, variant: str) -> Spec:
    change = dict(SCANNERS.get(variant, {}))
    base: Base = spec.base
    if change.pop("png", False):
        change["formats"] = tuple((slot, "png") for slot, _ in base.formats)
    return replace(spec, name=f"{spec.name}__{variant.replace(' ', '_')}", base=replace(base, **change))


@contextlib.contextmanager
def _font(variant: str) -> Any:
    if variant not in FONTS:
        yield
        return
    buffer = FONTS[variant]()
    saved = forms.font_for
    forms.font_for = lambda face, chars: (buffer, variant)
    generate._form_pages.cache_clear()
    generate.build_upload.cache_clear()
    try:
        yield
    finally:
        forms.font_for = saved
        generate._form_pages.cache_clear()
        generate.build_upload.cache_clear()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", default=",".join(DEFAULT_CASES))
    ap.add_argument("--variants", default=",".join([*SCANNERS, *FONTS]))
    args = ap.parse_args()
    os.environ["PRECHECK_OCR_CACHE"] = "off"  # every review cold
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    from pipeline.review import review_case

    specs = {s.name: s for s in CASES}
    variants = [v for v in args.variants.split(",") if v]
    out = Path(tempfile.mkdtemp(prefix="variants-"))
    decisions: dict[str, list[str]] = {v: [] for v in variants}
    cpus: dict[str, list[float]] = {v: [] for v in variants}
    print(f"# clean cases made another way, reviewed whole (cold OCR cache, one core); cases in {out}")
    for name in [c for c in args.cases.split(",") if c]:
        for variant in variants:
            with _font(variant):
                folder = generate.make_case(out, _variant_spec(specs[name], variant))
            ocr.forget_results()  # cold: nothing kept from an earlier variant
            t = cpu()
            report = review_case(folder)
            cpus[variant].append(cpu() - t)
            decisions[variant].append(report.decision.value)
            odd = [f"{f.rule}@{f.slot}:{f.status.value}" for f in report.findings
                   if f.status in (Status.FAIL, Status.UNCERTAIN)]
            print(f"{name:32s} {variant:26s} {report.decision.value:13s} {' '.join(odd)}")
    print()
    print(f"{'variant':26s} {'approved':>9s} {'review':>7s} {'REJECTED':>9s} {'CPU s/case':>11s}")
    for variant, got in decisions.items():
        print(f"{variant:26s} {got.count('approved'):9d} {got.count('needs_review'):7d} {got.count('rejected'):9d} "
              f"{statistics.median(cpus[variant]):11.2f}")
    return 1 if any("rejected" in got for got in decisions.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
