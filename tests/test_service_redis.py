"""The queue on a real Redis (tests/services.py), the review a fake: messages survive a Redis
restart in the middle of a batch, and a PostgreSQL connection dropped under the store is replaced."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text

from pipeline.casefolder import parse_case_json
from pipeline.ruleset import load_rule_set
from pipeline.service import audit
from pipeline.service.config import ServiceSettings
from pipeline.service.keys import Role, create_key
from pipeline.service.queue import QUEUE, ReviewPolicy, make_broker, send_review
from pipeline.service.store import NewFile, Store
from pipeline.web.api import create_app
from pipeline.worker.actors import ReviewJob, declare_review_actor, start_sweeper, start_worker
from tests.casedata import case_dict
from tests.processes import environment
from tests.servicekit import PNG, FakeReview, Service
from tests.services import Postgres, Redis


@dataclass
class SlowReview(FakeReview):
    delay: float = 0.2

    def __call__(self, path, rules, *, reuse=None, elsewhere=None):
        time.sleep(self.delay)
        return super().__call__(path, rules, reuse=reuse, elsewhere=elsewhere)


@pytest.fixture()
def on_redis(store: Store, redis_server: Redis) -> Iterator[Service]:
    from fastapi.testclient import TestClient

    if redis_server.process is None:
        redis_server.start()
    rules = load_rule_set()
    broker = make_broker(redis_server.url)
    review = SlowReview()
    declare_review_actor(broker, ReviewJob(store, rules, review), ReviewPolicy(min_backoff_ms=100, max_backoff_ms=500))
    keys = {"submitter": create_key(store.engine, Role.SUBMITTER)[1]}
    with TestClient(create_app(store, broker, rules), raise_server_exceptions=False) as client:
        yield Service(client, store, broker, review, keys)
    broker.close()
    import redis

    redis.Redis.from_url(redis_server.url).flushall()


def test_redis_restarted_during_a_batch_loses_no_case(on_redis: Service, redis_server: Redis) -> None:
    # Given ten cases queued on Redis and a worker busy with them
    ids = [on_redis.submit() for _ in range(10)]
    worker = start_worker(on_redis.broker)
    # (as `precheck worker` does, with a shorter patience: a message held in an ack set of a
    # live worker after a fetch cut by the restart is sent again)
    sweeper = start_sweeper(on_redis.store, on_redis.broker, older_than_s=5, every_s=1)
    try:
        while len(on_redis.review.seen) < 2:
            time.sleep(0.05)
        # When Redis is restarted in the middle of the batch
        redis_server.stop()
        time.sleep(0.5)
        redis_server.start()
        # Then every case gets exactly one current review
        for case_id in ids:
            assert on_redis.wait_report(case_id, timeout=90)["decision"] == "approved"
    finally:
        sweeper.set()
        worker.stop()
    for case_id in ids:
        assert len(on_redis.store.reviews_of(case_id)) == 1


def test_a_busy_worker_leaves_the_waiting_cases_to_other_workers(on_redis: Service, redis_server: Redis) -> None:
    # Given four cases queued and one single-threaded worker busy with the first
    import redis

    on_redis.review.delay = 1.5
    ids = [on_redis.submit() for _ in range(4)]
    worker = start_worker(on_redis.broker, threads=1)
    try:
        queued = redis.Redis.from_url(redis_server.url)
        while queued.llen(f"dramatiq:{QUEUE}") == 4:
            time.sleep(0.02)
        time.sleep(0.3)  # the consumer's next fetch, if it were to prefetch
        # Then the other three are still in Redis, for a worker on another core to take
        assert not on_redis.review.seen and queued.llen(f"dramatiq:{QUEUE}") == 3
        for case_id in ids:
            assert on_redis.wait_report(case_id, timeout=60)["decision"] == "approved"
    finally:
        worker.stop()


def test_a_case_submitted_while_redis_is_down_is_stored_and_queued_again_later(on_redis: Service,
                                                                              redis_server: Redis) -> None:
    from pipeline.cli.service import _requeue_pending

    redis_server.stop()
    try:
        case_id = on_redis.submit()  # 202: the case is stored, its message could not be sent
    finally:
        redis_server.start()
    assert on_redis.store.pending_case_ids() == [case_id]
    _requeue_pending(on_redis.store, on_redis.broker)  # what `precheck worker --requeue-pending` does first
    worker = start_worker(on_redis.broker)
    try:
        assert on_redis.wait_report(case_id, timeout=60)["decision"] == "approved"
    finally:
        worker.stop()


def test_a_dropped_postgresql_connection_is_replaced(postgres: Postgres, tmp_path: object) -> None:
    store = Store.open(ServiceSettings(database_url=postgres.new_database(), broker_url=None, blob_store="database",
                                       blob_dir=tmp_path))  # type: ignore[arg-type]
    key, _ = create_key(store.engine, Role.ADMIN)
    with store.engine.connect() as conn:
        database = conn.execute(text("SELECT current_database()")).scalar()
    # When the server ends every connection of the store (as a restart or a network cut would)
    import psycopg

    with psycopg.connect(f"host=127.0.0.1 port={postgres.port} user=precheck dbname=postgres", autocommit=True) as c:
        ended = c.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s",
                          (database,)).fetchone()
    assert ended is not None and ended[0] >= 1
    # Then the store's next use reconnects and carries on
    assert store.list_cases(visible_to=key) == []
    store.engine.dispose()


def test_a_thousand_queued_cases_drained_by_two_worker_processes_each_have_exactly_one_review(
        postgres: Postgres, redis_server: Redis, tmp_path: Path) -> None:
    # Given 1,000 cases stored in PostgreSQL and queued on Redis (what POST /api/cases does)
    if redis_server.process is None:
        redis_server.start()
    database_url = postgres.new_database()
    store = Store.open(ServiceSettings(database_url=database_url, broker_url=None, blob_store="database",
                                       blob_dir=tmp_path))
    rules = load_rule_set()
    sender = make_broker(redis_server.url)
    raw = json.dumps(case_dict(), ensure_ascii=False).encode()
    case = parse_case_json(raw)
    ids = []
    for n in range(1000):
        stored = store.submit(case, raw, [NewFile("org_license", "licence.png", PNG + n.to_bytes(4, "big"))],
                              rule_set_sha256=rules.sha256, by=None, actor="test")
        send_review(sender, stored.id)
        ids.append(stored.id)
    sender.close()
    # When two worker processes, each with its own broker connection and working directory, drain it
    workdirs = [tmp_path / "worker-1", tmp_path / "worker-2"]
    seen_files = [tmp_path / "worker-1.seen", tmp_path / "worker-2.seen"]
    workers = []
    for workdir, seen in zip(workdirs, seen_files, strict=True):
        workdir.mkdir()
        workers.append(subprocess.Popen(
            [sys.executable, "-m", "tests.drain_worker", database_url, redis_server.url, str(workdir), str(seen)],
            env=environment(), cwd=tmp_path))
    try:
        deadline = time.monotonic() + 300
        while store.pending_case_ids():
            assert time.monotonic() < deadline, f"{len(store.pending_case_ids())} cases still pending"
            assert all(w.poll() is None for w in workers), "a worker process died"
            time.sleep(0.5)
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.wait(timeout=30)
            except subprocess.TimeoutExpired:
                w.kill()
                w.wait()
    # Then every case has exactly one review, finished, and both processes took part
    with store.engine.connect() as conn:
        counts: dict[str, int] = dict(conn.execute(text("SELECT case_id, count(*) FROM reviews WHERE state = 'done' "
                                        "GROUP BY case_id")).all())
    assert len(counts) == 1000 and set(counts.values()) == {1} and set(counts) == set(ids)
    folders = {w: [Path(line) for line in seen.read_text().splitlines()]
               for w, seen in zip(workdirs, seen_files, strict=True)}
    assert sum(len(f) for f in folders.values()) == 1000 and all(folders.values()), {
        w.name: len(f) for w, f in folders.items()}
    # each review read a folder its own worker wrote from the store, and left nothing behind
    assert all(workdir in folder.parents for workdir, found in folders.items() for folder in found)
    assert [left for workdir in workdirs for left in workdir.iterdir()] == []
    assert audit.verify(store.engine).intact
    store.engine.dispose()


@pytest.mark.parametrize("store_settings", ["postgresql"], indirect=True)
def test_a_worker_whose_postgresql_connections_are_cut_reconnects_and_carries_on(
        on_redis: Service, postgres: Postgres) -> None:
    import psycopg

    assert on_redis.store.engine.dialect.name == "postgresql"

    ids = [on_redis.submit() for _ in range(8)]
    database = on_redis.store.engine.url.database
    worker = start_worker(on_redis.broker)
    try:
        while len(on_redis.review.seen) < 2:
            time.sleep(0.05)
        # When the server ends every connection of the store in the middle of the batch
        with psycopg.connect(f"host=127.0.0.1 port={postgres.port} user=precheck dbname=postgres",
                             autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (database,))
        # Then the worker reconnects, and every case gets exactly one review
        for case_id in ids:
            assert on_redis.wait_report(case_id, timeout=60)["decision"] == "approved"
    finally:
        worker.stop()
    assert all(len(on_redis.store.reviews_of(case_id)) == 1 for case_id in ids)
