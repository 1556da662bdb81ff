"""A worker process for the 1,000-case drain test (tests/test_service_redis.py): the real actor,
queue and store code on Redis and PostgreSQL, with a fake review — that test is about the queue,
not the reading — that records the folder of every case it reviewed, one line each.

    python -m tests.drain_worker DATABASE_URL REDIS_URL WORKDIR SEEN_FILE   (stops on SIGTERM)
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from pipeline.models import OtherUse, Report
from pipeline.review import PriorReview
from pipeline.ruleset import RuleSet, load_rule_set
from pipeline.service.config import ServiceSettings
from pipeline.service.queue import ReviewPolicy, make_broker
from pipeline.service.store import Store
from pipeline.worker.actors import ReviewJob, declare_review_actor, start_worker
from tests.servicekit import FakeReview


def main(database_url: str, redis_url: str, workdir: str, seen_file: str) -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    store = Store.open(ServiceSettings(database_url=database_url, broker_url=None, blob_store="database",
                                       blob_dir=Path(workdir)))
    review = FakeReview()
    lock = threading.Lock()
    with open(seen_file, "a", encoding="utf-8") as seen:
        def recording(path: Path, rules: RuleSet, *, reuse: PriorReview | None = None,
                      elsewhere: Mapping[str, Sequence[OtherUse]] | None = None) -> Report:
            report = review(path, rules, reuse=reuse, elsewhere=elsewhere)
            with lock:
                seen.write(f"{path}\n")
                seen.flush()
            return report

        broker = make_broker(redis_url)
        declare_review_actor(broker, ReviewJob(store, load_rule_set(), recording, workdir=Path(workdir)),
                             ReviewPolicy())
        worker = start_worker(broker)
        stop.wait()
        worker.stop()
        broker.close()
    store.engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:5]))
