"""How the review does on documents it has never seen (fixtures/scans/unseen.py): figures only.

    .venv/bin/python bench/unseen.py [--jobs 2] [--set tune|holdout|fresh|third|fourth|all] [--out DIR]
                                     [--only NAME] [--fields] [--no-generate]

Generates the sets (tune and the holdouts: holdout, fresh, third, fourth) into
``var/bench/unseen/<set>/``, reviews every case (``pipeline.review.review_case``, one process per
job, OCR results kept in memory only) and prints,
per set and per variant (form version and face, or what the case tests): clean cases approved /
needs review / rejected (false rejections), defect cases right / wrong (right: the expected
decision with exactly the expected failing rules), and for every case not right its failing and
uncertain rules (rule@slot). No assertions: it says where reading fails.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from fixtures.scans import unseen  # noqa: E402


def cpu() -> float:
    t = os.times()
    return t.user + t.system


def _generate(job: tuple[str, str]) -> str:
    out, name = job
    spec = next(s for s in unseen.CASES if s.name == name)
    return str(unseen.make_case(Path(out) / spec.set, spec))


def _review(folder: str) -> dict[str, object]:
    from pipeline.models import Status
    from pipeline.review import review_case

    t = cpu()
    report = review_case(Path(folder))
    fields = []  # the field reads behind every finding that did not pass: where reading fails
    for f in report.findings:
        if f.status in (Status.FAIL, Status.UNCERTAIN):
            listed = (f.evidence or {}).get("fields", [])
            rows = [x for x in listed if isinstance(x, dict) and x.get("status") != "pass"]
            for x in rows or [f.evidence or {}]:
                fields.append(f"{f.rule}@{f.slot} {x.get('field', '')} {x.get('status', f.status.value)}: "
                              f"entered {x.get('entered')!r} read {x.get('read')!r} {x.get('reason') or ''}".rstrip())
    return {"folder": folder, "decision": report.decision.value, "cpu": cpu() - t, "fields": fields,
            "failing": sorted({f"{f.rule}@{f.slot}" for f in report.findings if f.status is Status.FAIL}),
            "uncertain": sorted({f"{f.rule}@{f.slot}" for f in report.findings if f.status is Status.UNCERTAIN})}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench/unseen.py", description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--set", default="all", choices=(*unseen.SETS, "all"))
    ap.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "unseen")
    ap.add_argument("--only", action="append", metavar="NAME", help="only this case (repeatable)")
    ap.add_argument("--fields", action="store_true", help="for every case not right, the field reads behind it")
    ap.add_argument("--no-generate", action="store_true", help="review the folders already in --out")
    args = ap.parse_args(argv)
    os.environ.setdefault("PRECHECK_OCR_CACHE", "off")  # every review cold, the shared cache untouched
    specs = unseen.select(args.set, args.only)
    t0 = time.monotonic()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        if args.no_generate:
            folders = [str(args.out / s.set / s.name) for s in specs]
        else:
            folders = list(pool.map(_generate, [(str(args.out), s.name) for s in specs]))
        made = time.monotonic() - t0
        results = list(pool.map(_review, folders))
    took = time.monotonic() - t0 - made
    cpus = sorted(float(r["cpu"]) for r in results)  # type: ignore[arg-type]
    print(f"# unseen documents: {len(specs)} cases in {args.out} (generated in {made:.0f} s), reviewed with "
          f"{args.jobs} jobs in {took:.0f} s, median {cpus[len(cpus) // 2]:.2f} CPU s per case")
    print(f"{'case':44s} {'variant':22s} {'expected':13s} {'got':13s}")
    table: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    wrong: list[tuple[str, dict[str, object]]] = []
    for spec, res in zip(specs, results, strict=True):
        expected = json.loads((Path(str(res["folder"])) / "expected.json").read_text("utf-8"))
        got = str(res["decision"])
        failing_rules = {str(x).split("@")[0] for x in res["failing"]}  # type: ignore[attr-defined]
        key = (spec.set, unseen.variant(spec))
        if expected["decision"] == "approved":
            table[key][got] += 1
            right = got == "approved"
        else:
            right = got == expected["decision"] and failing_rules == set(expected["failing_rules"])
            table[key]["right" if right else "wrong"] += 1
        print(f"{spec.name:44s} {key[1]:22s} {expected['decision']:13s} {got:13s}{'' if right else '  ✗'}")
        if not right:
            wrong.append((spec.name, res))
    for which in unseen.SETS:
        rows = {v: c for (s, v), c in table.items() if s == which}
        if not rows:
            continue
        print(f"\n## {which}")
        print(f"{'variant':24s} {'clean: approved':>16s} {'review':>7s} {'REJECTED':>9s}   {'defects: right':>15s} "
              f"{'wrong':>6s}")
        total: dict[str, int] = defaultdict(int)
        for variant_name, c in sorted(rows.items()):
            for k, n in c.items():
                total[k] += n
            print(f"{variant_name:24s} {c['approved']:16d} {c['needs_review']:7d} {c['rejected']:9d}   "
                  f"{c['right']:15d} {c['wrong']:6d}")
        print(f"{'all':24s} {total['approved']:16d} {total['needs_review']:7d} {total['rejected']:9d}   "
              f"{total['right']:15d} {total['wrong']:6d}")
    if wrong:
        print("\n## cases not right: failing | uncertain rules")
        for name, res in wrong:
            print(f"{name} ({res['decision']})")
            print(f"    fail:      {' '.join(res['failing']) or '-'}")  # type: ignore[arg-type]
            print(f"    uncertain: {' '.join(res['uncertain']) or '-'}")  # type: ignore[arg-type]
            if args.fields:
                for line in res["fields"]:  # type: ignore[attr-defined]
                    print(f"      {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
