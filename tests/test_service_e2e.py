"""The review service as it runs: ``precheck serve`` and ``precheck worker`` processes reviewing
real fixture cases with the real ``review_case``; Redis and PostgreSQL from tests/services.py."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fixtures.scans.generate import generate_all
from pipeline.service.config import ServiceSettings
from pipeline.service.store import Store
from tests.processes import environment, expected_decision, new_key, process, served, submit_folder, wait_report
from tests.services import Postgres, Redis

pytestmark = pytest.mark.slow

CLEAN = "clean_dalian_pdf_200"


@pytest.fixture(scope="module")
def clean_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    [folder] = generate_all(tmp_path_factory.mktemp("service-cases"), only=[CLEAN])
    return folder


@pytest.fixture()
def production(tmp_path: Path, postgres: Postgres, redis_server: Redis) -> Iterator[dict[str, str]]:
    """The environment of the production parts: PostgreSQL (store and blobs) and Redis; dead
    workers noticed after 3 s, and the queue's maintenance run on every command."""
    if redis_server.process is None:  # a test before this one restarted it and failed half-way
        redis_server.start()
    yield environment(PRECHECK_DATABASE_URL=postgres.new_database(), PRECHECK_BROKER_URL=redis_server.url,
                      PRECHECK_WORKER_HEARTBEAT_MS="3000", PRECHECK_REDIS_MAINTENANCE_CHANCE="1000000")
    import redis

    redis.Redis.from_url(redis_server.url).flushall()


def open_store(env: dict[str, str]) -> Store:
    return Store.open(ServiceSettings(database_url=env["PRECHECK_DATABASE_URL"], broker_url=None,
                                      blob_store="database", blob_dir=Path("unused")))


def test_precheck_serve_alone_reviews_a_real_case_on_the_embedded_defaults(tmp_path: Path, clean_case: Path) -> None:
    # Given a fresh directory and no configuration at all
    env = environment()
    for name in ("PRECHECK_DATABASE_URL", "PRECHECK_BROKER_URL", "PRECHECK_BLOB_STORE", "PRECHECK_BLOB_DIR"):
        env.pop(name, None)
    key = new_key(tmp_path, env)
    with served(tmp_path, env) as base:
        # (a file of 5 MiB or more is answered 413 over a real socket, while the client still sends)
        big = [("case", ("case.json", (clean_case / "case.json").read_bytes())),
               ("org_license", ("big.jpg", b"\xff\xd8\xff" + bytes(6 * 1024 * 1024)))]
        refused = httpx.post(f"{base}/api/cases", files=big, headers={"Authorization": f"Bearer {key}"}, timeout=60)
        assert refused.status_code == 413 and refused.json()["error"]["code"] == "too_large"
        # When a case is submitted
        case_id = submit_folder(base, key, clean_case)
        # Then the same process reviews it with review_case and the report is the CLI's report
        report = wait_report(base, key, case_id)
    assert report["decision"] == expected_decision(clean_case)
    findings = report["findings"]
    assert isinstance(findings, list)
    assert {f["rule"] for f in findings} >= {"barcode.order_no", "seal.present"}
    assert (tmp_path / "var" / "precheck.db").is_file() and any((tmp_path / "var" / "blobs").rglob("*"))


def test_a_worker_killed_mid_review_leaves_exactly_one_current_review(tmp_path: Path, clean_case: Path,
                                                                      production: dict[str, str]) -> None:
    # Given the API and one worker on Redis and PostgreSQL
    key = new_key(tmp_path, production)
    store = open_store(production)
    first_dir, second_dir = tmp_path / "w1", tmp_path / "w2"
    first_dir.mkdir()
    second_dir.mkdir()
    with served(tmp_path, production) as base:
        with process(first_dir, "worker", env=production, log="worker.log") as first:
            case_id = submit_folder(base, key, clean_case)
            # When the worker is killed with SIGKILL in the middle of the review
            deadline = time.monotonic() + 120
            while not store.reviews_of(case_id):
                assert time.monotonic() < deadline and first.poll() is None, (first_dir / "worker.log").read_text()
                time.sleep(0.05)
            os.kill(first.pid, signal.SIGKILL)
            first.wait()
        assert store.reviews_of(case_id)[0].state == "running"
        # Then another worker gets the message again and finishes the same review row
        with process(second_dir, "worker", env=production, log="worker.log"):
            report = wait_report(base, key, case_id)
    reviews = store.reviews_of(case_id)
    assert report["decision"] == expected_decision(clean_case)
    assert len(reviews) == 1 and reviews[0].state == "done" and reviews[0].attempts == 2
    store.engine.dispose()
