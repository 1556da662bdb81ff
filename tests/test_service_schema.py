"""schemathesis against ``/openapi.json``: no 500 and no response outside the described schema,
on a bounded number of generated requests per operation (SQLite and PostgreSQL stores, in-process
queue).

Each operation is driven through Hypothesis directly (schemathesis' pytest plugin does not load
under this pytest); a failure names the operation and the request that broke it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from pipeline.service.store import Store
from tests.servicekit import FakeReview, Service, running_service

EXAMPLES_PER_OPERATION = 30
#: "no 500 and no response outside the schema" (a schema-valid body may still be a bad case.json:
#: 422 for it is right, so schemathesis' positive-data check is not among these)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]


@pytest.fixture()
def live(store: Store) -> Iterator[Service]:
    yield from running_service(store, FakeReview())


@pytest.mark.parametrize("role", ["admin", "submitter", "auditor"])
def test_the_api_answers_every_generated_request_within_its_schema(live: Service, role: str) -> None:
    # Given a case on record, so generated ids sometimes meet one
    live.submit()
    schema = schemathesis.openapi.from_asgi("/openapi.json", live.client.app)
    results = list(schema.get_all_operations())
    assert all(isinstance(r, Ok) for r in results), results  # every operation of the schema loads
    operations = [r.ok() for r in results if isinstance(r, Ok)]
    assert len(operations) >= 5
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def answers_within_schema(case: schemathesis.Case) -> None:
            headers = dict(case.headers or {})
            headers["Authorization"] = f"Bearer {live.keys[role]}"
            case.call_and_validate(headers=headers, checks=CHECKS)

        answers_within_schema()
