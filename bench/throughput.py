"""Cases an hour when every core reviews its own case at once (issue 11: two cores, ≥ 2,400 an hour).

    .venv/bin/python bench/throughput.py --cases DIR [--rounds 2] [--jobs 1,2]

Each job is a process of its own (models loaded once, as a worker does), scheduled by the
system as `precheck worker` processes are (not pinned); every review is cold (no OCR results
kept: the disk store off, the memory cache cleared before each case). The same clean cases go
through one process and then through two side by side; the figures are cases an hour (wall
clock, all processes together), CPU seconds per case, and the two-process rate against one.
No assertions.
"""

from __future__ import annotations

import argparse
import os
import queue
import statistics
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))


def cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _start(warm: str) -> None:
    """Load the models in this process (one review, not counted)."""
    os.environ["PRECHECK_OCR_CACHE"] = "off"
    from pipeline.review import review_case

    review_case(Path(warm))


def _review(folder: str) -> float:
    from pipeline.reading import ocr
    from pipeline.review import review_case

    ocr.forget_results()
    t = cpu()
    review_case(Path(folder))
    return cpu() - t


def run(cases: list[str], jobs: int) -> tuple[float, list[float]]:
    """(wall seconds, CPU seconds per case) for every case reviewed by ``jobs`` processes.

    Each process takes the next case when it is free, as a worker takes the next message: a
    fixed share per process would leave one idle while the other still has the slow cases."""
    pools = [ProcessPoolExecutor(1, initializer=_start, initargs=(cases[0],)) for _ in range(jobs)]
    try:
        for pool in pools:  # every process started and warm before the clock starts
            pool.submit(int).result()
        todo: queue.SimpleQueue[str] = queue.SimpleQueue()
        for case in cases:
            todo.put(case)
        cpus: list[float] = []

        def feed(pool: ProcessPoolExecutor) -> None:
            while True:
                try:
                    case = todo.get_nowait()
                except queue.Empty:
                    return
                cpus.append(pool.submit(_review, case).result())

        start = time.perf_counter()
        feeders = [threading.Thread(target=feed, args=(pool,)) for pool in pools]
        for t in feeders:
            t.start()
        for t in feeders:
            t.join()
        return time.perf_counter() - start, cpus
    finally:
        for pool in pools:
            pool.shutdown()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=Path, required=True, help="a folder of case folders (clean ones are timed)")
    ap.add_argument("--rounds", type=int, default=2, help="times each case is reviewed")
    ap.add_argument("--jobs", default="1,2")
    args = ap.parse_args()
    clean = sorted(str(p) for p in args.cases.iterdir() if (p / "case.json").is_file())
    work = clean * args.rounds
    print(f"# throughput — {len(clean)} cases × {args.rounds} rounds, cold reviews, one process per job; "
          f"{os.cpu_count()} cpus, load average {os.getloadavg()[0]:.2f} at start")
    rates: dict[int, float] = {}
    for jobs in (int(j) for j in args.jobs.split(",")):
        wall, cpus = run(work, jobs)
        rates[jobs] = len(work) / wall * 3600
        print(f"{jobs} process(es): {len(work)} cases in {wall:.1f} s wall = {rates[jobs]:,.0f} cases/hour; "
              f"CPU per case median {statistics.median(cpus):.2f} s (max {max(cpus):.2f})")
    if 1 in rates and len(rates) > 1:
        for jobs, rate in rates.items():
            if jobs != 1:
                print(f"{jobs} processes against 1: {rate / rates[1]:.2f}×")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
