"""An authorization letter with a value struck out by pen (涂改): figures only.

    .venv/bin/python bench/altered.py [--jobs 2] [--set tune|holdout|…] [--fields A,B] [--pen black] [--only NAME]

The guide: 委托书内容要填写清楚，涂改无效. ``auth.altered`` looks for a pen stroke through a line of
the letter (``pipeline.reading.struck``). This bench re-makes the authorization of every clean case
of one set of the unseen-documents set with one printed value struck out (once, or twice one time
in three; slightly sloped and uneven; the value written again by hand beside it —
``fixtures.scans.imaging.struck_and_rewritten``), everything else as made, and reviews each case
whole: none may be approved (``auth.altered`` uncertain is what is wanted). The same cases as made
are the baseline: ``auth.altered`` must pass on each (a stroke seen on a clean letter sends a case
to a clerk for nothing). The cases are made in the set's folders first when missing, as
``bench/unseen.py`` makes them; reviews are cold (no OCR results kept).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from fixtures.scans import unseen  # noqa: E402
from fixtures.scans.imaging import PENS  # noqa: E402

SLOT = "authorization"


def struck(base: Path, spec: unseen.USpec, field_name: str, out: Path, pen: str = "blue-black") -> Path:
    """A copy of ``base`` whose authorization is made again with ``field_name`` struck out by ``pen``."""
    folder = out / f"{base.name}__{field_name}"
    shutil.copytree(base, folder)
    sheet = replace(unseen.sheets(spec)[SLOT], struck=field_name, struck_pen=pen)
    (folder / "uploads" / f"{SLOT}.{sheet.fmt}").write_bytes(unseen.build(sheet))
    return folder


def _review(folder: str) -> tuple[str, str, str]:
    from pipeline.review import review_case

    report = review_case(Path(folder))
    altered = next((f for f in report.findings if f.rule == "auth.altered" and f.slot == SLOT), None)
    return Path(folder).name, report.decision.value, "none" if altered is None else altered.status.value


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "unseen")
    ap.add_argument("--set", default="tune", choices=unseen.SETS)
    ap.add_argument("--fields", default="handler.mobile,handler.id_number,auth.period_start",
                    help="the authorization's fields to strike out, one case each")
    ap.add_argument("--pen", default="blue-black", choices=sorted(PENS),
                    help="the pen that strikes the value out and writes it again (a black gel pen shows no colour)")
    ap.add_argument("--only", action="append", metavar="NAME", help="only this clean case (repeatable)")
    args = ap.parse_args()
    os.environ.setdefault("PRECHECK_OCR_CACHE", "off")
    specs = [s for s in unseen.CASES if s.set == args.set and s.name.startswith(f"{args.set}_clean")
             and (not args.only or s.name in args.only)]
    with tempfile.TemporaryDirectory() as tmp:
        clean, altered = [], []
        for spec in specs:
            base = unseen.ensure_case(args.out, spec.name)
            clean.append(str(base))
            altered += [str(struck(base, spec, f, Path(tmp), args.pen)) for f in args.fields.split(",")]
        with ProcessPoolExecutor(args.jobs) as pool:
            as_made = list(pool.map(_review, clean))
            results = list(pool.map(_review, altered))
    print(f"# authorization with a value struck out ({args.pen} pen): {len(results)} cases of the {args.set} set "
          f"({len(specs)} clean cases × {len(args.fields.split(','))} fields)\n")
    print(f"{'case':72s} {'decision':13s} auth.altered")
    for name, decision, status in results:
        print(f"{name:72s} {decision:13s} {status}")
    decisions = Counter(d for _, d, _ in results)
    statuses = Counter(s for _, _, s in results)
    print(f"\nstruck out: approved {decisions['approved']} (must be 0), needs review {decisions['needs_review']}, "
          f"rejected {decisions['rejected']}; auth.altered uncertain {statuses['uncertain']}, "
          f"pass {statuses['pass']} (a stroke missed)")
    seen = Counter(s for _, _, s in as_made)
    made = Counter(d for _, d, _ in as_made)
    print(f"as made (baseline): auth.altered pass {seen['pass']} of {len(as_made)} (uncertain {seen['uncertain']}: "
          f"a stroke seen on a clean letter); approved {made['approved']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
