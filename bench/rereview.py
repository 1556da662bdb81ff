"""Benchmark of the re-review after a replaced upload: partial (``review_case(..., reuse=...)``, what
the worker does since issue 12's last part) against the full review of the whole case (before).

    .venv/bin/python bench/rereview.py [--trials N] [--slots SLOT ...]

Case: the generated fixture ``clean_shenyang_jpg_150`` (seven JPEG uploads), reviewed once in full.
Then, for each slot named, its file is replaced by a new encoding of the same page (other bytes and
pixels: the OCR store has never seen it) and the case reviewed again — in full, and partially with
the first review to reuse — each ``--trials`` times, every time with a new file. Twice: with the OCR
store warm for the unchanged files (one worker machine), and cold (the re-review on another machine,
whose OCR store never read this case). Prints the median seconds, how many findings were reused, and
whether the partial review's findings and decision equal the full review's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# keep bench/ off the path: bench/barcode.py would shadow the python-barcode library
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402

from fixtures.scans.generate import generate_all  # noqa: E402
from pipeline.models import Report  # noqa: E402
from pipeline.reading.ocr import OcrEngine, get_engine  # noqa: E402
from pipeline.review import PriorReview, review_case  # noqa: E402
from pipeline.ruleset import load_rule_set  # noqa: E402

CASE = "clean_shenyang_jpg_150"
SLOTS = ("org_license", "handler_id", "application_form_extra")


def forget(engine: OcrEngine) -> None:
    """Empty the OCR store (memory and disk), the second engine's too."""
    for e in (engine, getattr(engine, "second", None)):
        clear = getattr(e, "clear", None)
        if clear is not None:
            clear()


def outcome(report: Report) -> list[tuple[str, str, str, str]]:
    return sorted((f.rule, f.slot or "", f.status.value, f.message) for f in report.findings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--slots", nargs="+", default=list(SLOTS))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PRECHECK_OCR_CACHE"] = str(Path(tmp) / "ocr.sqlite")
        rules = load_rule_set()
        [folder] = generate_all(Path(tmp) / "cases", only=[CASE])
        engine = get_engine()
        forget(engine)
        t = time.perf_counter()
        first = review_case(folder, rules)
        print(f"{CASE}: first review (cold OCR store) {time.perf_counter() - t:.2f} s, {first.decision.value}")
        prior = PriorReview.from_report(first, review_key="first")
        print(f"{'replaced slot':24} {'OCR store':9} {'full s':>7} {'partial s':>9} {'saved':>6} {'reused':>7} same")
        for slot in args.slots:
            [path] = (folder / "uploads").glob(f"{slot}.*")
            original = path.read_bytes()
            page = cv2.imread(str(path))
            if page is None:
                raise SystemExit(f"{path}: not an image this bench can re-save")
            quality = iter(range(95, 20, -1))
            for store in ("warm", "cold"):
                times: dict[str, list[float]] = {"full": [], "partial": []}
                reports: dict[str, Report] = {}
                for _ in range(args.trials):
                    for mode in ("full", "partial"):
                        cv2.imwrite(str(path), page, [cv2.IMWRITE_JPEG_QUALITY, next(quality)])
                        if store == "cold":
                            forget(engine)
                        t = time.perf_counter()
                        reports[mode] = review_case(folder, rules, reuse=prior if mode == "partial" else None)
                        times[mode].append(time.perf_counter() - t)
                full, partial = (statistics.median(times[m]) for m in ("full", "partial"))
                reused = sum(1 for f in reports["partial"].findings if "reused_from" in f.evidence)
                again = review_case(folder, rules)  # in full, on the file the last partial review read
                same = again.decision is reports["partial"].decision and outcome(again) == outcome(reports["partial"])
                print(f"{slot:24} {store:9} {full:7.2f} {partial:9.2f} {1 - partial / full:6.0%} "
                      f"{reused:3}/{len(reports['partial'].findings):<3} {'yes' if same else 'NO'}")
            path.write_bytes(original)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
