"""Review service figures (issue 12): POST /api/cases latency beside the raw cost of writing the
same bytes to disk, submission-to-report throughput with 1 and 2 `precheck worker` processes on
fixture cases, and the workers' peak RSS.

    .venv/bin/python bench/service.py [--cases DIR] [--posts 100] [--concurrency 4] [--workers 1,2] [--rounds 3]

Runs its own redis-server on a free loopback port, a SQLite store in a temporary directory and
`precheck serve` / `precheck worker` as real processes; OCR results are kept in memory only
(PRECHECK_OCR_CACHE=off), so no run profits from an earlier one's reading.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import redis as redis_client

from tests.processes import environment, new_key, process, served, submit_folder, wait_report
from tests.services import Redis, free_port


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def raw_write(folder: Path, target: Path) -> float:
    """The naive floor: the same bytes written to disk with fsync, as a bare upload handler would."""
    start = time.perf_counter()
    target.mkdir(parents=True)
    for path in [folder / "case.json", *sorted((folder / "uploads").iterdir())]:
        with open(target / path.name, "wb") as f:
            f.write(path.read_bytes())
            f.flush()
            os.fsync(f.fileno())
    return time.perf_counter() - start


def latency(work: Path, env: dict[str, str], case: Path, posts: int, concurrency: int) -> None:
    key = new_key(work, env)
    with served(work, env) as base:
        submit_folder(base, key, case)  # warm-up
        files = [("case", ("case.json", (case / "case.json").read_bytes(), "application/json"))]
        files += [(p.name.split(".")[0], (p.name, p.read_bytes(), "application/octet-stream"))
                  for p in sorted((case / "uploads").iterdir())]
        size = sum(len(f[1][1]) for f in files)
        # the multipart body is encoded once, as a portal holding the files would send it: the
        # client's own encoding is not the API's cost; each thread keeps its connection open
        encoded = httpx.Request("POST", f"{base}/api/cases", files=files)
        body = encoded.read()
        headers = {"Authorization": f"Bearer {key}", "Content-Type": encoded.headers["Content-Type"]}
        clients = threading.local()

        def post(_: int) -> float:
            if not hasattr(clients, "client"):
                clients.client = httpx.Client(timeout=60)
            start = time.perf_counter()
            answer = clients.client.post(f"{base}/api/cases", content=body, headers=headers)
            assert answer.status_code == 202, answer.text
            return time.perf_counter() - start

        with ThreadPoolExecutor(concurrency) as pool:
            api = list(pool.map(post, range(posts)))
    disk = [raw_write(case, work / "raw" / str(n)) for n in range(posts)]
    print(f"POST /api/cases, {posts} posts of {size / 1e6:.2f} MB ({len(files) - 1} files), {concurrency} at a time:")
    print(f"  API   p50 {percentile(api, .5) * 1000:7.1f} ms   p99 {percentile(api, .99) * 1000:7.1f} ms")
    print(f"  disk  p50 {percentile(disk, .5) * 1000:7.1f} ms   p99 {percentile(disk, .99) * 1000:7.1f} ms"
          "   (same bytes, one file each, fsync)")
    print(f"  added by the API at p50: {(percentile(api, .5) - percentile(disk, .5)) * 1000:.1f} ms")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def throughput(work: Path, env: dict[str, str], cases: list[Path], workers: int) -> float:
    key = new_key(work, env)
    with served(work, env) as base, ExitStack() as stack:
        procs = []
        for n in range(workers):
            (work / f"w{n}").mkdir()
            procs.append(stack.enter_context(process(work / f"w{n}", "worker", env=env, log="worker.log")))
        time.sleep(3)  # the workers connect; their models load on the first review (counted)
        start = time.perf_counter()
        ids = [submit_folder(base, key, case) for case in cases]
        reports = [wait_report(base, key, case_id, timeout=1200) for case_id in ids]
        elapsed = time.perf_counter() - start
        broken = [r.get("error") for r in reports if r.get("error")]
        assert not broken, f"reviews failed: {broken[:2]}"
        rss = [peak_rss_mb(p.pid) for p in procs]
    per_minute = len(cases) / elapsed * 60
    print(f"{workers} worker(s): {len(cases)} cases in {elapsed:.1f} s = {per_minute:.1f} cases/min; "
          f"peak RSS per worker {', '.join(f'{r:.0f}' for r in rss)} MB")
    return per_minute


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=Path, help="folder of generated fixture cases (made when absent)")
    parser.add_argument("--posts", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--rounds", type=int, default=1,
                        help="times the worker counts are run in turn (1,2,1,2,…): the ratio is taken round by "
                             "round, so a machine whose speed drifts between minutes does not decide it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="precheck-bench-service-") as tmp:
        root = Path(tmp)
        cases_dir = args.cases
        if cases_dir is None:
            from fixtures.scans.cases import CASES
            from fixtures.scans.generate import generate_all

            cases_dir = root / "cases"
            generate_all(cases_dir, only=[s.name for s in CASES if s.name.startswith("clean_")])
        clean = sorted(p for p in cases_dir.iterdir() if p.name.startswith("clean_"))
        redis = Redis(port=free_port(), dir=root)
        redis.start()
        try:
            base_env = {"PRECHECK_BROKER_URL": redis.url, "PRECHECK_OCR_CACHE": "off"}
            work = root / "latency"
            work.mkdir()
            # no worker runs: the API's own cost only
            latency(work, environment(**base_env, PRECHECK_DATABASE_URL=f"sqlite:///{work / 'db.sqlite'}"),
                    clean[0], args.posts, args.concurrency)
            ratios = []
            for round_no in range(args.rounds):
                rates = {}
                for count in (int(w) for w in args.workers.split(",") if w.strip()):
                    redis_client.Redis.from_url(redis.url).flushall()
                    work = root / f"workers-{count}-{round_no}"
                    work.mkdir()
                    rates[count] = throughput(work, environment(
                        **base_env, PRECHECK_DATABASE_URL=f"sqlite:///{work / 'db.sqlite'}"), clean, count)
                if 1 in rates and 2 in rates:
                    ratios.append(rates[2] / rates[1])
                    print(f"2 workers / 1 worker: {ratios[-1]:.2f}×")
            if len(ratios) > 1:
                print(f"2 workers / 1 worker over {len(ratios)} rounds: median {statistics.median(ratios):.2f}×, "
                      f"{min(ratios):.2f}–{max(ratios):.2f}×")
        finally:
            redis.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
