"""One document of another application: no case may be approved (figures only).

    .venv/bin/python bench/swapped.py [--jobs 2] [--out var/bench/unseen]

The near-miss bench changes what was entered; this one changes one upload. For two clean cases of
the unseen set's tune half that name different organisations, employees and handlers (another form
version, another face: ``tune_clean_v1_zenhei`` and ``tune_clean_v2_droid``), each slot's upload is
replaced by the other case's, both ways; and a 电子印章申请表 4/8 page of a third organisation's set
is added as ``seal_form_extra``. A document of another organisation or person must keep the case
from approval, and the reading rules of that slot should say why (``fail`` where the document shows
another name, number or seal clearly). The cases are made from the tune folders (generated first
when missing, as ``bench/unseen.py`` makes them); reviews are cold (no OCR results kept).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from fixtures.scans import unseen  # noqa: E402

PAIR = ("tune_clean_v1_zenhei", "tune_clean_v2_droid")
SLOTS = ("application_form", "application_form_extra", "seal_form", "authorization", "org_license",
         "handler_id", "employee_id")
#: A slot no clean case of the pair fills: a page of a third organisation's set is added to it.
ADDED = ("seal_form_extra", "tune_clean_seal_list_4of8")
#: The rules that judge what a slot's document says of whom; the others (quality, barcode, …) are not counted.
IDENTITY = ("ocr.", "seal.org_name", "doc.kind")


def swapped(base: Path, donor: Path, slot: str, out: Path) -> Path:
    """A copy of ``base`` whose ``slot`` upload is ``donor``'s."""
    folder = out / f"{base.name}__{slot}_from_{donor.name}"
    shutil.copytree(base, folder)
    for path in (folder / "uploads").glob(slot + ".*"):
        path.unlink()
    source = next((donor / "uploads").glob(slot + ".*"))
    shutil.copy(source, folder / "uploads" / source.name)
    return folder


def _review(job: tuple[str, str]) -> tuple[str, str, str, list[tuple[str, str]]]:
    from pipeline.review import review_case

    folder, slot = job
    report = review_case(Path(folder))
    on_slot = [(f.rule, f.status.value) for f in report.findings
               if f.slot == slot and f.rule.startswith(IDENTITY)]
    return Path(folder).name, slot, report.decision.value, on_slot


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "unseen")
    args = ap.parse_args()
    os.environ.setdefault("PRECHECK_OCR_CACHE", "off")
    a, b = (unseen.ensure_case(args.out, n) for n in PAIR)
    third = unseen.ensure_case(args.out, ADDED[1])
    with tempfile.TemporaryDirectory() as tmp:
        jobs = [(str(swapped(base, donor, slot, Path(tmp))), slot)
                for base, donor in ((a, b), (b, a)) for slot in SLOTS]
        jobs.append((str(swapped(a, third, ADDED[0], Path(tmp))), ADDED[0]))
        with ProcessPoolExecutor(args.jobs) as pool:
            results = list(pool.map(_review, jobs))
    decisions: Counter[str] = Counter()
    print(f"# one document of another application: {len(results)} cases\n")
    print(f"{'case':78s} {'decision':13s} identity rules on the swapped slot")
    for name, _slot, decision, on_slot in results:
        decisions[decision] += 1
        rules = " ".join(f"{rule}:{status}" for rule, status in on_slot)
        print(f"{name:78s} {decision:13s} {rules}")
    slots_failed = sum(any(s == "fail" for _, s in on_slot) for *_, on_slot in results)
    print(f"\napproved {decisions['approved']} (must be 0), rejected {decisions['rejected']}, "
          f"needs review {decisions['needs_review']}; a rule of the swapped slot fails in {slots_failed} "
          f"of {len(results)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
