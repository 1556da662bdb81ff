"""Benchmark of OCR field matching (issue 5), with the naive baselines side by side.

    .venv/bin/python bench/ocr.py [--cases DIR] [--engines rapidocr,tesseract,auto] [--timed N]

Figures (each engine on the same fixture cases, in one run):
  - field recall: share of field verdicts that pass where the case expects that rule to pass,
    on clean (PDF) and degraded (scanned JPEG/PNG, 150–300 dpi, faint, rotated) cases;
  - false fail: share of those verdicts that fail; defect detection: cases whose expected
    failing rule of this stage fails;
  - whole-case review (all stages, pipeline.review.review_case, models loaded, OCR cache
    cleared before each case): CPU seconds and wall seconds, median, pinned to one core;
  - baselines: full-page Tesseract at 300 dpi, full-page RapidOCR, per case; their recall
    is "the entered value appears in the page text" (exact, after normalisation);
  - model load (fresh process) and peak RSS of a review process;
  - real samples (../shared/real-samples): fields read and judged as the ground truth says.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# run as a script, bench/ is first on the path and its modules (barcode.py) would shadow packages
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

os.environ.setdefault("OPENCV_FOR_THREADS_NUM", "1")  # as precheck sets it when loaded first (pipeline/__init__.py)

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from pipeline.casefolder import load_case_folder  # noqa: E402
from pipeline.models import Status  # noqa: E402
from pipeline.reading import ocr  # noqa: E402
from pipeline.reading.matching import normalise  # noqa: E402
from pipeline.ruleset import load_rule_set  # noqa: E402
from pipeline.stages import fields, upload  # noqa: E402
from pipeline.stages.base import ReviewOptions, StageContext  # noqa: E402

REAL = ROOT.parent / "shared" / "real-samples"
MY_RULES = set(fields.RULE_IDS)


def cpu() -> float:
    """CPU seconds of this process and of its finished children (Tesseract runs as a child)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _pin_one_core() -> None:
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def _is_clean(case: Path) -> bool:
    """Clean: the forms are the PDFs as printed; degraded: scanned JPEG/PNG pages (noise, skew, faint)."""
    return any(p.suffix == ".pdf" for p in (case / "uploads").glob("application_form.*"))


def run_fields(case: Path, engine: str) -> tuple[list[Any], dict[str, Any], float]:
    rules = load_rule_set()
    folder = load_case_folder(case, set(rules.slots))
    intake = upload.intake(folder, rules)
    ctx = StageContext(case=folder.case, rules=rules, uploads=intake.uploads,
                       options=ReviewOptions(ocr_engine=engine))
    ocr.forget_results()
    t = cpu()
    found = fields.run(ctx)
    return found, json.loads((case / "expected.json").read_text(encoding="utf-8")), cpu() - t


def score_cases(cases: list[Path], engine: str) -> dict[str, Any]:
    # per kind of case: field verdicts, passes, fails, cases
    tally: dict[str, list[int]] = {"clean": [0, 0, 0, 0], "degraded": [0, 0, 0, 0]}
    defects = [0, 0]
    misses: list[str] = []
    cpus: list[float] = []
    for case in cases:
        found, expected, dt = run_fields(case, engine)
        cpus.append(dt)
        failing = set(expected.get("failing_rules", []))
        uncertain = set(expected.get("uncertain_rules", []))
        key = "clean" if _is_clean(case) else "degraded"
        tally[key][3] += 1
        wrong_kind = {f.slot for f in found if f.rule == "doc.kind" and f.status is Status.FAIL}
        for f in found:
            if f.rule in failing or f.rule in uncertain or f.status is Status.SKIPPED or f.slot in wrong_kind:
                continue
            for v in f.evidence.get("fields") or [{"status": f.status.value}]:
                status = v["status"]
                tally[key][0] += 1
                tally[key][1] += status == "pass"
                tally[key][2] += status == "fail"
                if status != "pass":
                    misses.append(f"{case.name}:{f.rule}:{f.slot}:{v.get('field', '')}:{status}:"
                                  f"{v.get('read', '')}")
        for rule in failing & MY_RULES:
            defects[0] += 1
            hit = any(f.rule == rule and f.status is Status.FAIL for f in found)
            defects[1] += hit
            if not hit:
                misses.append(f"{case.name}:{rule}: expected fail, got "
                              f"{[(f.slot, f.status.value) for f in found if f.rule == rule]}")
    return {"tally": tally, "defects": defects, "misses": misses, "cpu_median": statistics.median(cpus)}


# ---------------------------------------------------------------------- timing
def time_reviews(cases: list[Path], engine: str) -> dict[str, float]:
    """Whole-case review (all stages), OCR cache cleared each time; in this process."""
    from pipeline.review import review_case

    _pin_one_core()
    review_case(cases[0], options=ReviewOptions(ocr_engine=engine))  # models loaded, warm
    cpus: list[float] = []
    wall: list[float] = []
    for case in cases:
        ocr.forget_results()
        t, w = cpu(), time.perf_counter()
        review_case(case, options=ReviewOptions(ocr_engine=engine))
        cpus.append(cpu() - t)
        wall.append(time.perf_counter() - w)
    ocr.forget_results()
    t, w = cpu(), time.perf_counter()
    review_case(cases[0], options=ReviewOptions(ocr_engine=engine))
    again = cpu() - t
    return {"cpu_median": statistics.median(cpus), "wall_median": statistics.median(wall),
            "cpu_max": max(cpus), "re_review_cpu": _rereview(cases[0], engine),
            "fresh_process_cpu": _rereview_in_a_fresh_process(cases, engine),
            "first_cpu": again, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _rereview(case: Path, engine: str) -> float:
    from pipeline.review import review_case

    review_case(case, options=ReviewOptions(ocr_engine=engine))
    t = cpu()
    review_case(case, options=ReviewOptions(ocr_engine=engine))
    return cpu() - t


def _rereview_in_a_fresh_process(cases: list[Path], engine: str) -> float:
    """Mean CPU of reviewing each case again in a new process (models loaded first, not
    counted) that finds this process's results in the disk store (``PRECHECK_OCR_CACHE``)."""
    from pipeline.review import review_case

    for case in cases:  # every case's results kept (the timing loop cleared them before each case)
        review_case(case, options=ReviewOptions(ocr_engine=engine))
    out = subprocess.run([sys.executable, __file__, "--engines", engine, "--fresh-rereview", *map(str, cases)],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def fresh_rereview(cases: list[Path], engine: str) -> float:
    """(In the fresh process) load the models, then review every case: mean CPU seconds a case."""
    from pipeline.review import review_case

    _pin_one_core()
    ocr.get_engine(engine)
    t = cpu()
    for case in cases:
        review_case(case, options=ReviewOptions(ocr_engine=engine))
    return (cpu() - t) / len(cases)


def baseline(cases: list[Path], which: str) -> dict[str, float]:
    """Naive: every page of every upload OCR'd whole; recall = entered values found in the text."""
    import pytesseract

    from pipeline.tools import rapidocr

    _pin_one_core()
    rules = load_rule_set()
    cpus: list[float] = []
    seen, total = 0, 0
    for case in cases:
        folder = load_case_folder(case, set(rules.slots))
        intake = upload.intake(folder, rules)
        expected = json.loads((case / "expected.json").read_text(encoding="utf-8"))
        t = cpu()
        text = {}
        for slot, up in intake.uploads.items():
            parts = []
            for page in up.pages:
                img = page.image
                if which == "tesseract":
                    f = 300 / page.dpi
                    img = cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC) if f != 1 else img
                    # the naive pipeline as one would write it: the tesseract program per page
                    parts.append(pytesseract.image_to_string(img[:, :, ::-1], lang="chi_sim+eng"))
                else:
                    parts += [t for t, _, _ in rapidocr.read(img)]
            text[slot] = normalise("".join(parts))
        cpus.append(cpu() - t)
        if expected.get("failing_rules"):
            continue
        c = folder.case
        wanted = {"application_form": [c.org.name, c.org.id_number, c.handler.name, c.handler.id_number],
                  "seal_form": [c.org.name], "authorization": [c.handler.name, c.handler.id_number],
                  "org_license": [c.org.name, c.org.id_number], "handler_id": [c.handler.name, c.handler.id_number],
                  "employee_id": [c.user.name, c.user.id_number]}
        for slot, values in wanted.items():
            for v in values:
                total += 1
                seen += normalise(v) in text.get(slot, "") + text.get(f"{slot}_extra", "")
    return {"cpu_median": statistics.median(cpus), "recall": seen / max(1, total)}


def load_time() -> float:
    code = ("import time; t=time.perf_counter(); from pipeline.reading.ocr import get_engine; get_engine('auto');"
            " print(time.perf_counter()-t)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------- real samples
def real_samples(engine: str) -> tuple[int, int, list[str]]:
    sys.path.insert(0, str(ROOT))
    from tests.fields_samples import by_rule, fields_context

    right, total, notes = 0, 0, []
    for meta in sorted(REAL.glob("*.json")):
        truth = json.loads(meta.read_text(encoding="utf-8"))
        if truth["kind"] not in ("id_card", "foreign_permanent_resident_id", "business_license"):
            continue
        image = cv2.imread(str(next(REAL.glob(f"{meta.stem}.[jp]*g"))))
        assert image is not None
        card = truth["kind"] != "business_license"
        slot = "handler_id" if card else "org_license"
        changes = ({"handler.name": truth["name"], "handler.id_number": truth["id_number"]} if card else
                   {"org.name": truth["org_name"], "org.id_number": truth["uscc"]})
        ctx = fields_context({slot: [image]}, **changes)
        ctx = StageContext(case=ctx.case, rules=ctx.rules, uploads=ctx.uploads,
                           options=ReviewOptions(ocr_engine=engine))
        found = by_rule(fields.run(ctx))
        checks = _judge_real(truth, found, slot)
        for name, ok in checks:
            total += 1
            right += ok
            if not ok:
                notes.append(f"{meta.stem}:{name}")
    return right, total, notes


def _judge_real(truth: dict[str, Any], found: dict[Any, Any], slot: str) -> list[tuple[str, bool]]:
    kind = found[("doc.kind", slot)].status
    if truth["kind"] == "foreign_permanent_resident_id":
        return [("not-a-resident-id", kind is Status.FAIL),
                ("not-read-as-id", found[("ocr.handler", slot)].status is Status.UNCERTAIN)]
    if truth["kind"] == "id_card":
        f = found[("ocr.handler", slot)]
        reads = {x["field"]: x for x in f.evidence.get("fields", [])}
        number_ok = reads.get("handler.id_number", {}).get("read") == truth["id_number"]
        judged = f.status is (Status.PASS if truth["id_number_checksum_valid"] else Status.UNCERTAIN)
        return [("kind", kind is Status.PASS), ("name", reads.get("handler.name", {}).get("score") == 100.0),
                ("number-read", number_ok), ("number-judged", judged)]
    code = found[("ocr.uscc", slot)]
    return [("kind", kind is Status.PASS), ("name", found[("ocr.org_name", slot)].status is Status.PASS),
            ("code", code.status is (Status.PASS if truth["uscc_checksum_valid"] else Status.UNCERTAIN)),
            ("validity", found[("ocr.license_valid", slot)].status is Status.PASS)]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=Path)
    ap.add_argument("--engines", default="rapidocr,tesseract,auto")
    ap.add_argument("--timed", type=int, default=5, help="clean cases timed per engine and baseline")
    ap.add_argument("--skip-baselines", action="store_true")
    ap.add_argument("--timing-only", action="store_true", help="skip recall scoring and real samples")
    ap.add_argument("--tesseract-cases", type=int, default=8,
                    help="fixture cases scored with the (slow) Tesseract-only engine")
    ap.add_argument("--fresh-rereview", nargs="+", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.fresh_rereview:  # the child of _rereview_in_a_fresh_process: the store is its parent's
        print(fresh_rereview(args.fresh_rereview, args.engines.split(",")[0]))
        return 0
    # the bench's own OCR store: it is cleared before every timed review, never the user's
    os.environ["PRECHECK_OCR_CACHE"] = str(Path(tempfile.mkdtemp(prefix="ocr-bench-store-")) / "ocr.sqlite")
    if args.cases is None:
        from fixtures.scans.generate import generate_all

        args.cases = Path(tempfile.mkdtemp(prefix="ocr-bench-"))
        generate_all(args.cases)
    cases = sorted(p for p in args.cases.iterdir() if (p / "expected.json").is_file())
    readable = [c for c in cases if not c.name.startswith(("upload_", "scan_quality"))]
    timed = [c for c in cases if c.name.startswith("clean_")][: args.timed]
    print(f"# OCR field matching — {len(readable)} fixture cases, {len(timed)} timed; "
          f"{os.cpu_count()} cpus, timings pinned to one core (CPU seconds of this process and its Tesseract children)")
    print(f"model load (fresh process, auto engine): {load_time():.2f} s")
    results: dict[str, Any] = {}
    for engine in [e for e in args.engines.split(",") if e]:
        subset = readable[: args.tesseract_cases] if engine == "tesseract" else readable
        tm = time_reviews(timed[:2] if engine == "tesseract" else timed, engine)
        print(f"[{engine}] whole-case review: CPU median {tm['cpu_median']:.2f} s (max {tm['cpu_max']:.2f}), "
              f"wall median {tm['wall_median']:.2f} s, re-review (cached) {tm['re_review_cpu']:.2f} s "
              f"in this process, {tm['fresh_process_cpu']:.2f} s mean in a fresh one (disk store), "
              f"peak RSS {tm['rss_mb']:.0f} MB")
        results[engine] = (None, tm)
        if args.timing_only:
            continue
        s = score_cases(subset, engine)
        for key in ("clean", "degraded"):
            n, p, f, k = s["tally"][key]
            print(f"[{engine}] {key} ({k} cases): field recall {p / max(1, n):.1%} ({p}/{n}), "
                  f"false fail {f / max(1, n):.2%}")
        d = s["defects"]
        print(f"[{engine}] defect cases caught: {d[1]}/{d[0]}; fields stage CPU median {s['cpu_median']:.2f} s/case")
        rr, rt, notes = real_samples(engine)
        print(f"[{engine}] real samples: {rr}/{rt} field judgements right ({rr / max(1, rt):.0%})"
              + (f"; wrong: {', '.join(notes)}" if notes else ""))
        for m in s["misses"][:12]:
            print(f"    miss {m}")
    if not args.skip_baselines:
        for which in ("tesseract", "rapidocr"):
            b = baseline(timed[:3], which)
            line = (f"[baseline full-page {which}{' 300 dpi' if which == 'tesseract' else ''}] "
                    f"CPU median {b['cpu_median']:.2f} s/case (OCR only), value-in-text recall {b['recall']:.1%}")
            if results:
                ours = results.get("auto", results[next(iter(results))])[1]["cpu_median"]
                line += f"; ours (whole review, all stages) is {b['cpu_median'] / max(ours, 1e-9):.1f}x less CPU"
            print(line)
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    raise SystemExit(main())
