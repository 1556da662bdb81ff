"""Cases as phone scanning apps, phone cameras, flatbeds larger than the sheet, dusty document feeders and
applicants' pens leave them: clean ones never rejected, near misses never approved (figures only).

    .venv/bin/python bench/phone_apps.py [--jobs 2] [--set tune|holdout|fresh|third|fourth|all] [--out var/bench/unseen]
                                         [--ways enhance,grey,bw,shadow,lid_open,lid_closed,streaks,...]

Applicants scan with a phone app (扫描全能王 and the like) whose filters whiten the paper and
strengthen the colours (``enhance``), or save the page in grey (``grey``) or thresholded to black and
white (``bw``: a red seal becomes a grey or black ring, light ink vanishes) —
``fixtures.scans.imaging.scanning_app_copy`` on every JPEG and PNG upload of the cases scanned flat (an
app crops a photo to its page before it filters it: what it sends is a page alone). Phone photos carry the
phone's shadow over part of the sheet (``fixtures.scans.photo.cast_shadow`` on every upload of the
phone-photo cases). A flatbed's glass is larger than the sheet: scanned with its lid open, the bed is
near black around the page (``lid_open``), with it closed the lid's grey plastic (``lid_closed``) —
``fixtures.scans.imaging.flatbed_bed_copy`` on the cases scanned flat. A document feeder with dust on
its glass draws thin lines down every page (``streaks``, ``streaks_dark``, ``streaks_colour``:
``fixtures.scans.imaging.streaked_copy``). Applicants annotate their copies by pen (签注: 此复印件与原件一致,
signed and dated — ``annotated``: ``fixtures.scans.imaging.annotated_copy`` on the licence and ID copies
of the cases scanned flat). The application form's two pages come the other way round (``pages_turned``: a
PDF scanned back to front, or each page in the other's slot — ``fixtures.scans.imaging.pages_turned_copy``).
Every clean and near-miss case of the set is reviewed cold so. The baseline beside each row: for
``enhance``, ``shadow``, the beds, streaks, annotations and turned pages the same cases as made (what
the app, the shadow, the bed, the streak, the pen or the order costs);
for ``grey`` and ``bw`` the decisions with a page saved in grey whose seal was not found judged as
rule set 13 judged it (``seal.present`` fail, not ``no_colour`` uncertain).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from fixtures.scans import imaging, photo, unseen  # noqa: E402

WAYS = ("enhance", "grey", "bw", "shadow", *imaging.FLATBED_BEDS, *imaging.FEEDER_STREAKS, "annotated",
        "pages_turned")
DECISIONS = ("approved", "needs_review", "rejected")


def _review(job: tuple[str, str, str, str]) -> tuple[str, str, str, str, str, list[str]]:
    """(set, way, kind, decision, decision as rule set 13 judged a grey page with no seal found, what held it)."""
    from pipeline.decision import decide
    from pipeline.models import Status
    from pipeline.review import review_case

    folder, set_name, way, kind = job
    report = review_case(Path(folder))
    as_before = [f.model_copy(update={"status": Status.FAIL}) if f.rule == "seal.present"
                 and f.evidence.get("reason") == "no_colour" else f for f in report.findings]
    held = sorted({f"{f.rule}@{f.slot}:{f.status.value}" for f in report.findings
                   if f.status in (Status.FAIL, Status.UNCERTAIN)})
    return set_name, way, kind, report.decision.value, decide(as_before).value, held


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--set", default="tune", choices=(*unseen.SETS, "all"))
    ap.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "unseen")
    ap.add_argument("--ways", default=",".join(WAYS), help=f"comma-separated, of {', '.join(WAYS)}")
    args = ap.parse_args()
    ways = [w for w in WAYS if w in args.ways.split(",")]
    os.environ.setdefault("PRECHECK_OCR_CACHE", "off")
    specs = unseen.clean_and_near_misses(args.set)
    with tempfile.TemporaryDirectory() as tmp:
        jobs = []
        for i, spec in enumerate(specs):
            base = unseen.ensure_case(args.out, spec.name)
            kind = "clean" if spec.decision == "approved" else "near miss"
            phone_photo = "phone" in spec.name
            jobs.append((str(base), spec.set, "as made", kind))
            for way in ways:
                if (way == "shadow") != phone_photo:
                    continue  # a flatbed scan has no shadow; an app crops a photo to its page before its filter
                out = Path(tmp) / f"{spec.name}__{way}"
                made = (photo.shadowed_copy(base, out, np.random.default_rng(9100 + i)) if way == "shadow"
                        else imaging.flatbed_bed_copy(base, out, way, np.random.default_rng(7000 + i))
                        if way in imaging.FLATBED_BEDS
                        else imaging.streaked_copy(base, out, way, np.random.default_rng(8000 + i))
                        if way in imaging.FEEDER_STREAKS
                        else imaging.annotated_copy(base, out, np.random.default_rng(9500 + i)) if way == "annotated"
                        else imaging.pages_turned_copy(base, out) if way == "pages_turned"
                        else imaging.scanning_app_copy(base, out, way))
                jobs.append((str(made), spec.set, way, kind))
        with ProcessPoolExecutor(args.jobs) as pool:
            results = list(pool.map(_review, jobs))
    as_made = {(Path(j[0]).name, j[3]): r[3] for j, r in zip(jobs, results, strict=True) if j[2] == "as made"}
    print(f"{'set':8s} {'way':8s} {'kind':9s} {'cases':>5s} {'approved':>9s} {'review':>7s} {'rejected':>9s}"
          f"   {'baseline: approved':>18s} {'review':>7s} {'rejected':>9s}")
    rows: Counter[tuple[str, str, str]] = Counter()
    now: Counter[tuple[str, str, str, str]] = Counter()
    before: Counter[tuple[str, str, str, str]] = Counter()
    for job, (set_name, way, kind, decision, old, _) in zip(jobs, results, strict=True):
        if way == "as made":
            continue
        key = (set_name, way, kind)
        rows[key] += 1
        now[(*key, decision)] += 1
        baseline = old if way in ("grey", "bw") else as_made[(Path(job[0]).name.split("__")[0], kind)]
        before[(*key, baseline)] += 1
    for key in sorted(rows, key=lambda k: (k[0], WAYS.index(k[1]), k[2])):
        a = [now[(*key, d)] for d in DECISIONS]
        b = [before[(*key, d)] for d in DECISIONS]
        print(f"{key[0]:8s} {key[1]:8s} {key[2]:9s} {rows[key]:5d} {a[0]:9d} {a[1]:7d} {a[2]:9d}"
              f"   {b[0]:18d} {b[1]:7d} {b[2]:9d}")
    print("\nnot approved (clean) / approved (near miss):")
    for (set_name, way, kind, decision, _, held), job in zip(results, jobs, strict=True):
        if way != "as made" and (kind == "near miss") == (decision == "approved"):
            shown = [h for h in held if not h.startswith("seal.present@")] if way in ("grey", "bw") else held
            print(f"  {Path(job[0]).name} ({set_name}): {decision}  {' '.join(shown)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
