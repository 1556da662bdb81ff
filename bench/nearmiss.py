"""Near misses never pass: clean fixture cases whose entered organisation, employee or handler
is one character away from the name every document shows (look-alike, homophone, swapped,
added, dropped) or another real-looking name.

    .venv/bin/python bench/nearmiss.py [--cases clean_shenyang_jpg_150,...] [--jobs 2]

For each reading rule of the changed field (ocr.org_name and seal.org_name for the organisation,
ocr.user, ocr.handler) and each slot: how many findings pass (must be 0), fail and are
uncertain, per document kind. The documents are the clean ones, so OCR results come from the
shared cache after the first review of each case.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from fixtures.scans import generate  # noqa: E402
from fixtures.scans.nearmiss import FIELDS, KINDS, RULES, make_near_miss  # noqa: E402

DEFAULT_CASES = ("clean_shenyang_jpg_150", "clean_dalian_pdf_200", "clean_panjin_jpg_200_faint")


def _review(job: tuple[str, str, str]) -> tuple[str, str, list[tuple[str, str | None, str]]]:
    from pipeline.review import review_case

    folder, field, kind = job
    report = review_case(Path(folder))
    return field, kind, [(f.rule, f.slot, f.status.value) for f in report.findings if f.rule in RULES[field]]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default=",".join(DEFAULT_CASES))
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "clean"
        jobs: list[tuple[str, str, str]] = []
        names: list[tuple[str, str, str, str]] = []
        for case in args.cases.split(","):
            clean = generate.generate_all(base, only=[case])[0]
            for field in FIELDS:
                for kind in KINDS:
                    folder, shown, entered = make_near_miss(clean, Path(tmp) / "near", field, kind)
                    if entered == shown:
                        continue
                    jobs.append((str(folder), field, kind))
                    names.append((case, field, shown, entered))
        counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        by_kind: dict[str, Counter[str]] = defaultdict(Counter)
        passed: list[str] = []
        with ProcessPoolExecutor(args.jobs) as pool:
            for (_field, kind, findings), (case, _, shown, entered) in zip(pool.map(_review, jobs), names, strict=True):
                for rule, slot, status in findings:
                    counts[(rule, slot or "-")][status] += 1
                    by_kind[kind][status] += 1
                    if status == "pass":
                        passed.append(f"{case} {rule}@{slot}: documents show {shown}, entered {entered} ({kind})")
    print(f"{len(jobs)} near-miss cases ({args.cases})\n")
    print(f"{'rule @ slot':44} {'pass':>5} {'fail':>5} {'uncertain':>9} {'skipped':>7}")
    for (rule, slot), c in sorted(counts.items()):
        print(f"{rule + ' @ ' + slot:44} {c['pass']:5} {c['fail']:5} {c['uncertain']:9} {c['skipped']:7}")
    print(f"\n{'mutation':12} {'pass':>5} {'fail':>5} {'uncertain':>9}")
    for kind in KINDS:
        c = by_kind[kind]
        print(f"{kind:12} {c['pass']:5} {c['fail']:5} {c['uncertain']:9}")
    total = sum((c for c in counts.values()), Counter())
    print(f"\nall: pass {total['pass']} (must be 0), fail {total['fail']}, uncertain {total['uncertain']}")
    for line in passed:
        print("PASSED:", line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
