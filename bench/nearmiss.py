"""Near misses never pass: clean fixture cases whose entered organisation, employee or handler
is one character away from the name every document shows (look-alike, homophone, swapped,
added, dropped) or another real-looking name; with ``--what entries``, whose entered credit code,
ID number, mobile or e-mail is one character away, two swapped, or another valid one.

    .venv/bin/python bench/nearmiss.py [--cases clean_shenyang_jpg_150,...] [--jobs 2] [--what names|entries|all]
    .venv/bin/python bench/nearmiss.py --folders var/bench/unseen/tune/tune_clean_v1_zenhei,... [--scale 0.7]

``--folders`` takes any clean case folders (the unseen set's, phone photos) instead of generated
fixtures; ``--scale`` first shrinks every image upload (JPEG/PNG) to that share of its pixels, to see
whether reading stays safe on pages below the resolutions precheck was made with.

For each reading rule of the changed field (ocr.org_name and seal.org_name for the organisation,
ocr.user, ocr.handler; ocr.uscc or the person's rule and ocr.form_fields for an entry) and each
slot: how many findings pass (must be 0), fail and are uncertain, per document kind. The documents
are the clean ones, so OCR results come from the shared cache after the first review of each case.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from fixtures.scans import generate  # noqa: E402
from fixtures.scans.nearmiss import (  # noqa: E402
    ENTRY_FIELDS,
    ENTRY_KINDS,
    ENTRY_RULES,
    FIELDS,
    KINDS,
    RULES,
    make_near_miss,
)

DEFAULT_CASES = ("clean_shenyang_jpg_150", "clean_dalian_pdf_200", "clean_panjin_jpg_200_faint")


def _review(job: tuple[str, str, str]) -> tuple[str, str, list[tuple[str, str | None, str]]]:
    from pipeline.review import review_case

    folder, field, kind = job
    report = review_case(Path(folder))
    rules = {**RULES, **ENTRY_RULES}[field]
    return field, kind, [(f.rule, f.slot, f.status.value) for f in report.findings if f.rule in rules]


def shrunk(clean: Path, out_dir: Path, scale: float) -> Path:
    """A copy of ``clean`` whose JPEG and PNG uploads hold ``scale`` of their pixels (each side),
    their recorded dpi scaled alike; PDFs are copied as they are."""
    folder = out_dir / clean.name
    shutil.copytree(clean, folder)
    for path in (folder / "uploads").iterdir():
        if path.suffix.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        with Image.open(path) as im:
            dpi = im.info.get("dpi")
            rgb = np.asarray(im.convert("RGB"))
        small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        extra: dict[str, object] = {"dpi": (dpi[0] * scale, dpi[1] * scale)} if dpi else {}
        if path.suffix.lower() != ".png":
            extra["quality"] = 90
        Image.fromarray(small).save(path, None, **extra)
    return folder


def _label(field: str, kind: str) -> str:
    return f"entry {kind}" if field in ENTRY_FIELDS else kind


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default=",".join(DEFAULT_CASES))
    ap.add_argument("--folders", default="", help="clean case folders, comma-separated (instead of --cases)")
    ap.add_argument("--scale", type=float, default=1.0, help="shrink image uploads to this share of each side")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--what", choices=("names", "entries", "all"), default="names",
                    help="names (the organisation's, the employee's, the handler's); entries (credit code, ID "
                         "numbers, the handler's mobile and e-mail)")
    args = ap.parse_args()
    plan = ([(f, KINDS) for f in FIELDS] if args.what != "entries" else []) + (
        [(f, ENTRY_KINDS) for f in ENTRY_FIELDS] if args.what != "names" else [])
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "clean"
        jobs: list[tuple[str, str, str]] = []
        names: list[tuple[str, str, str, str]] = []
        cleans = ([Path(f) for f in args.folders.split(",")] if args.folders
                  else [generate.generate_all(base, only=[case])[0] for case in args.cases.split(",")])
        if args.scale != 1.0:
            cleans = [shrunk(c, Path(tmp) / "shrunk", args.scale) for c in cleans]
        for clean in cleans:
            case = clean.name
            for field, kinds in plan:
                for kind in kinds:
                    folder, shown, entered = make_near_miss(clean, Path(tmp) / "near", field, kind)
                    if entered == shown:
                        continue
                    jobs.append((str(folder), field, kind))
                    names.append((case, field, shown, entered))
        counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        by_kind: dict[str, Counter[str]] = defaultdict(Counter)
        passed: list[str] = []
        with ProcessPoolExecutor(args.jobs) as pool:
            for (field, kind, findings), (case, _, shown, entered) in zip(pool.map(_review, jobs), names, strict=True):
                for rule, slot, status in findings:
                    counts[(rule, slot or "-")][status] += 1
                    by_kind[_label(field, kind)][status] += 1
                    if status == "pass":
                        passed.append(f"{case} {rule}@{slot}: documents show {shown}, entered {entered} ({kind})")
    shown_as = args.folders or args.cases
    print(f"{len(jobs)} near-miss cases ({shown_as}{f', shrunk to {args.scale:g}' if args.scale != 1.0 else ''})\n")
    print(f"{'rule @ slot':44} {'pass':>5} {'fail':>5} {'uncertain':>9} {'skipped':>7}")
    for (rule, slot), c in sorted(counts.items()):
        print(f"{rule + ' @ ' + slot:44} {c['pass']:5} {c['fail']:5} {c['uncertain']:9} {c['skipped']:7}")
    print(f"\n{'mutation':12} {'pass':>5} {'fail':>5} {'uncertain':>9}")
    for label in dict.fromkeys(_label(f, k) for f, kinds in plan for k in kinds):
        c = by_kind[label]
        print(f"{label:12} {c['pass']:5} {c['fail']:5} {c['uncertain']:9}")
    total = sum((c for c in counts.values()), Counter())
    print(f"\nall: pass {total['pass']} (must be 0), fail {total['fail']}, uncertain {total['uncertain']}")
    for line in passed:
        print("PASSED:", line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
