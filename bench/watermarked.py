"""Copies watermarked 仅供办理…使用: clean cases approved, near misses never (figures only).

    .venv/bin/python bench/watermarked.py [--jobs 2] [--out var/bench/unseen]

Applicants' phone apps lay a light tiled text over photos of ID cards and licences. Here the
licence and both ID copies of tune cases of the unseen set are marked so
(``fixtures.scans.imaging.watermark``) in several styles, and reviewed cold. Styles are in two
groups: those the reading was built on (grey, blue, red, orange, pink, a dense grey on seven tune
cases) and those made after it and measured once (crimson, a small dense red, teal; other texts,
sizes, angles; on four other tune cases). The same cases unmarked are the baseline; the tune half's
near-miss cases, marked in four styles, must not be approved.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from fixtures.scans import imaging, unseen  # noqa: E402

BUILT_ON = {
    "grey": {},
    "blue": {"colour": (40, 80, 200), "alpha": 0.3, "angle": 25.0},
    "red": {"colour": (225, 50, 50), "angle": 40.0, "mm": 6.0, "text": "办理UKey专用 再次复印无效"},
    "orange": {"colour": (240, 120, 30), "alpha": 0.3, "angle": -20.0, "mm": 8.0, "text": "仅用于CA数字证书办理"},
    "pink": {"colour": (200, 60, 160), "alpha": 0.4, "angle": 33.0, "mm": 5.0, "text": "复印无效 仅限UKey申请"},
    "grey dense": {"colour": (150, 150, 150), "alpha": 0.5, "angle": 15.0, "mm": 4.5,
                   "text": "仅供办理证书 其他用途无效"},
}
#: made after the reading was built, measured once
MEASURED = {
    "crimson": {"colour": (170, 20, 50), "alpha": 0.25, "angle": -38.0, "mm": 10.0, "text": "此件仅供办理CA证书"},
    "red small": {"colour": (235, 70, 60), "alpha": 0.45, "angle": 22.0, "mm": 4.0, "text": "他用无效 仅供办理UKey"},
    "teal": {"colour": (20, 140, 140), "alpha": 0.35, "angle": 45.0, "mm": 6.5, "text": "仅供数字证书申请使用"},
}
GROUPS = (
    ("built on", ("tune_clean_v1_zenhei", "tune_clean_v2_droid", "tune_clean_v1_uming", "tune_clean_v1_droid_hand",
                  "tune_clean_employee_in_row2", "tune_clean_dated_10_days_before", "tune_clean_phone_keystone_08"),
     BUILT_ON),
    ("measured", ("tune_clean_v2_uming", "tune_clean_v2_zenhei_law_firm", "tune_clean_phone_keystone_24",
                  "tune_clean_table_on_continuation"), MEASURED),
)
NEAR = ("tune_near_org_name", "tune_near_handler_name", "tune_near_employee_id")
NEAR_STYLES = ("grey", "blue", "red", "orange")


def _marked(base: Path, style: str, kwargs: dict[str, object], out: Path) -> Path:
    return imaging.watermark_copies(base, out / f"{base.name}__{style.replace(' ', '_')}", **kwargs)


def _review(job: tuple[str, str, str]) -> tuple[str, str, str, list[str]]:
    from pipeline.review import review_case

    folder, group, style = job
    report = review_case(Path(folder))
    held = sorted({f"{f.rule}@{f.slot}:{f.status.value}" for f in report.findings if f.status.value != "pass"})
    return group, style, report.decision.value, held


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "unseen")
    args = ap.parse_args()
    os.environ.setdefault("PRECHECK_OCR_CACHE", "off")
    with tempfile.TemporaryDirectory() as tmp:
        jobs: list[tuple[str, str, str]] = []
        for group, bases, styles in GROUPS:
            for name in bases:
                base = unseen.ensure_case(args.out, name)
                jobs.append((str(base), group, "unmarked (baseline)"))
                jobs += [(str(_marked(base, style, kw, Path(tmp))), group, style) for style, kw in styles.items()]
        for name in NEAR:
            base = unseen.ensure_case(args.out, name)
            jobs += [(str(_marked(base, style, BUILT_ON[style], Path(tmp))), "near miss", style)
                     for style in NEAR_STYLES]
        with ProcessPoolExecutor(args.jobs) as pool:
            results = list(pool.map(_review, jobs))
    counts: Counter[tuple[str, str, str]] = Counter((g, s, d) for g, s, d, _ in results)
    print(f"{'group':10s} {'style':22s} {'approved':>9s} {'review':>7s} {'rejected':>9s}")
    for group, style in dict.fromkeys((g, s) for g, s, _, _ in results):
        row = [counts[(group, style, d)] for d in ("approved", "needs_review", "rejected")]
        print(f"{group:10s} {style:22s} {row[0]:9d} {row[1]:7d} {row[2]:9d}")
    print("\nnot approved (clean) / approved (near miss):")
    for (group, _style, decision, held), (folder, _, _) in zip(results, jobs, strict=True):
        if (group == "near miss") == (decision == "approved"):
            print(f"  {Path(folder).name}: {decision}  {' '.join(held)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
