"""A review service in the test process: the API app, a StubBroker and a worker thread, on a
store from ``tests/services.py`` — with a fake review where a test is about the mechanics."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dramatiq
import pytest
from fastapi.testclient import TestClient

from pipeline.casefolder import load_case_folder
from pipeline.models import Decision, OtherUse, Report
from pipeline.review import PriorReview
from pipeline.ruleset import RuleSet, load_rule_set
from pipeline.service.keys import Role, create_key
from pipeline.service.queue import ReviewPolicy, make_broker
from pipeline.service.store import Store
from pipeline.web.api import create_app
from pipeline.worker.actors import ReviewFunction, ReviewJob, declare_review_actor, start_worker
from tests.casedata import case_dict

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
PDF = b"%PDF-1.4\n% test\n"


@dataclass
class FakeReview:
    """Approves a case after reading it back from the folder the worker wrote; records what it saw
    (and the previous review it was given to reuse)."""

    seen: list[dict[str, bytes]] = field(default_factory=list)
    fail_times: int = 0
    reused: list[PriorReview | None] = field(default_factory=list)
    elsewhere: list[Mapping[str, Sequence[OtherUse]] | None] = field(default_factory=list)

    def __call__(self, path: Path, rules: RuleSet, *, reuse: PriorReview | None = None,
                 elsewhere: Mapping[str, Sequence[OtherUse]] | None = None) -> Report:
        folder = load_case_folder(path, set(rules.slots))
        self.seen.append({slot: p.read_bytes() for slot, p in folder.uploads.items()})
        self.reused.append(reuse)
        self.elsewhere.append(elsewhere)
        if self.fail_times > 0:
            self.fail_times -= 1
            raise RuntimeError("the review engine broke")
        return Report(order_no=folder.case.order_no, decision=Decision.APPROVED, rule_set=rules.ref, findings=[])


@dataclass
class Service:
    client: TestClient
    store: Store
    broker: dramatiq.Broker
    review: Any
    keys: dict[str, str]

    def auth(self, role: str = "submitter") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def submit(self, files: dict[str, bytes] | None = None, role: str = "submitter", **changes: object) -> str:
        files = files if files is not None else {"application_form": PDF, "org_license": PNG}
        parts = [("case", ("case.json", json.dumps(case_dict(**changes), ensure_ascii=False).encode(),
                           "application/json"))]
        parts += [(slot, (f"{slot}.{'pdf' if data.startswith(b'%PDF') else 'png'}", data, "application/octet-stream"))
                  for slot, data in files.items()]
        answer = self.client.post("/api/cases", files=parts, headers=self.auth(role))
        assert answer.status_code == 202, answer.text
        return str(answer.json()["id"])

    def wait_report(self, case_id: str, role: str = "submitter", timeout: float = 30) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = self.client.get(f"/api/cases/{case_id}/report", headers=self.auth(role))
            if answer.status_code == 200:
                return dict(answer.json())
            assert answer.status_code == 202, answer.text
            time.sleep(0.05)
        raise AssertionError(f"case {case_id} was not reviewed within {timeout} s")


def running_service(store: Store, review: ReviewFunction,
                    policy: ReviewPolicy | None = None) -> Iterator[Service]:
    rules = load_rule_set()
    broker = make_broker(None)
    declare_review_actor(broker, ReviewJob(store, rules, review), policy or ReviewPolicy(min_backoff_ms=10,
                                                                                       max_backoff_ms=50))
    worker = start_worker(broker)
    keys = {role.value: create_key(store.engine, role, role.value)[1] for role in Role}
    keys["other"] = create_key(store.engine, Role.SUBMITTER, "other")[1]
    try:
        with TestClient(create_app(store, broker, rules), raise_server_exceptions=False) as client:
            yield Service(client, store, broker, review, keys)
    finally:
        worker.stop()
        broker.close()


@pytest.fixture()
def service(store: Store) -> Iterator[Service]:
    yield from running_service(store, FakeReview())
