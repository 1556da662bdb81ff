"""Cases sent through a phone messenger: clean ones approved, near misses never (figures only).

    .venv/bin/python bench/messenger.py [--jobs 2] [--set tune|holdout|fresh|third|fourth|all] [--out var/bench/unseen]

Applicants often photograph or scan at home and send the images on through a phone messenger,
which shrinks them (a long side of 1,280–1,600 px: an A4 page at 110–137 dpi) and compresses them
again. Every JPEG and PNG upload of the unseen set's cases is re-sent so
(``fixtures.scans.imaging.messenger_copy``; PDFs go as files) and the case reviewed cold. Per set
and size: the decisions, and beside them the decisions without the after-review step that passes a
page low in resolution whose checks all passed (``scan.quality`` ``read_in_full``) — the baseline.
Near-miss cases (documents naming another organisation or person) must not be approved either way.
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

SIZES = {"1280 px q70": (1280, 70), "1600 px q80": (1600, 80)}


def _review(job: tuple[str, str, str, str]) -> tuple[str, str, str, str, str, list[str]]:
    """(set, size, kind, decision, decision without read_in_full, what held it)."""
    from pipeline.decision import decide
    from pipeline.models import Status
    from pipeline.review import review_case
    from pipeline.stages.quality import QUALITY, READ_IN_FULL

    folder, set_name, size, kind = job
    report = review_case(Path(folder))
    unsettled = [f.model_copy(update={"status": Status.UNCERTAIN}) if f.rule == QUALITY
                 and f.evidence.get("reason") == READ_IN_FULL else f for f in report.findings]
    held = sorted({f"{f.rule}@{f.slot}:{f.status.value}" for f in report.findings if f.status.value != "pass"})
    return set_name, size, kind, report.decision.value, decide(unsettled).value, held


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--set", default="all", choices=(*unseen.SETS, "all"))
    ap.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "unseen")
    args = ap.parse_args()
    os.environ.setdefault("PRECHECK_OCR_CACHE", "off")
    specs = unseen.clean_and_near_misses(args.set)
    with tempfile.TemporaryDirectory() as tmp:
        jobs = []
        for spec in specs:
            base = unseen.ensure_case(args.out, spec.name)
            kind = "clean" if spec.decision == "approved" else "near miss"
            for size, (side, quality) in SIZES.items():
                sent = imaging.messenger_copy(base, Path(tmp) / f"{spec.name}__{side}", side, quality)
                jobs.append((str(sent), spec.set, size, kind))
        with ProcessPoolExecutor(args.jobs) as pool:
            results = list(pool.map(_review, jobs))
    print(f"{'set':8s} {'size':12s} {'kind':9s} {'cases':>5s} {'approved':>9s} {'review':>7s} {'rejected':>9s}"
          f"   {'baseline: approved':>18s} {'review':>7s} {'rejected':>9s}")
    rows = Counter((s, z, k) for s, z, k, _, _, _ in results)
    now = Counter((s, z, k, d) for s, z, k, d, _, _ in results)
    before = Counter((s, z, k, b) for s, z, k, _, b, _ in results)
    for key in rows:
        a = [now[(*key, d)] for d in ("approved", "needs_review", "rejected")]
        b = [before[(*key, d)] for d in ("approved", "needs_review", "rejected")]
        print(f"{key[0]:8s} {key[1]:12s} {key[2]:9s} {rows[key]:5d} {a[0]:9d} {a[1]:7d} {a[2]:9d}"
              f"   {b[0]:18d} {b[1]:7d} {b[2]:9d}")
    print("\nnot approved (clean) / approved (near miss):")
    for (set_name, size, kind, decision, _, held), job in zip(results, jobs, strict=True):
        if (kind == "near miss") == (decision == "approved"):
            print(f"  {Path(job[0]).name} ({set_name}, {size}): {decision}  {' '.join(held)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
