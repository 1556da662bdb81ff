"""Benchmark of the HTML report's page previews and rendering, against a naive baseline.

    .venv/bin/python bench/report.py

Cases: generated fixture cases at 150 dpi (JPEG), 200 dpi (PDF) and 300 dpi (PDF), decoded by
the upload stage as a review would. For every page: the preview the report saves
(``pipeline.pageviews``: downscaled to 1400 px, JPEG q82) against the naive way (the whole
decoded page written as PNG), in ms per page and kB per page. Then the time to render
report.html for one real review (all stages) with previews.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
# keep bench/ off the path: bench/barcode.py would shadow the python-barcode library
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

from fixtures.scans.generate import generate_all  # noqa: E402
from pipeline.casefolder import load_case_folder  # noqa: E402
from pipeline.pageviews import save_preview  # noqa: E402
from pipeline.report import render_html  # noqa: E402
from pipeline.review import review_case  # noqa: E402
from pipeline.ruleset import load_rule_set  # noqa: E402
from pipeline.stages import upload  # noqa: E402

CASES = ("clean_shenyang_jpg_150", "clean_dalian_pdf_200", "clean_anshan_pdf_300_same_person")


def main() -> int:
    rules = load_rule_set()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folders = generate_all(root / "cases", only=list(CASES))
        print(f"{'case':36} {'pages':>5} {'preview ms':>10} {'PNG ms':>8} {'ratio':>6} "
              f"{'preview kB':>10} {'PNG kB':>8} {'ratio':>6}")
        for folder in folders:
            uploads = upload.intake(load_case_folder(folder, set(rules.slots)), rules).uploads
            pages = [(slot, p) for slot, u in uploads.items() for p in u.pages]
            ours, naive, our_kb, naive_kb = [], [], [], []
            out = root / "out" / folder.name
            for slot, page in pages:
                t = time.perf_counter()
                info = save_preview(out, slot, page)
                ours.append((time.perf_counter() - t) * 1000)
                our_kb.append((out / str(info["path"])).stat().st_size / 1024)
                target = out / "naive" / f"{slot}-{page.index}.png"
                target.parent.mkdir(parents=True, exist_ok=True)
                t = time.perf_counter()
                cv2.imwrite(str(target), page.image)
                naive.append((time.perf_counter() - t) * 1000)
                naive_kb.append(target.stat().st_size / 1024)
            m_ours, m_naive = statistics.median(ours), statistics.median(naive)
            k_ours, k_naive = statistics.median(our_kb), statistics.median(naive_kb)
            print(f"{folder.name:36} {len(pages):5d} {m_ours:10.1f} {m_naive:8.1f} {m_naive / m_ours:5.1f}x "
                  f"{k_ours:10.0f} {k_naive:8.0f} {k_naive / k_ours:5.1f}x")
        out = root / "review"
        report = review_case(folders[0], rules, out_dir=out)
        times = []
        for _ in range(20):
            t = time.perf_counter()
            html = render_html(report, rules)
            times.append((time.perf_counter() - t) * 1000)
        print(f"render report.html ({len(report.findings)} findings, "
              f"{sum(len(u.get('previews', [])) for u in report.uploads.values())} previews): "
              f"median {statistics.median(times):.1f} ms, max {max(times):.1f} ms, {len(html) / 1024:.0f} kB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
