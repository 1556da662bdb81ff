"""The decision is one pure function of the findings (CONTRACT §4)."""

from __future__ import annotations

from collections.abc import Iterable

from pipeline.models import Decision, Finding, Status


def decide(findings: Iterable[Finding]) -> Decision:
    """Rejected if any finding fails; else needs review if any is uncertain; else approved."""
    statuses = {f.status for f in findings}
    if Status.FAIL in statuses:
        return Decision.REJECTED
    if Status.UNCERTAIN in statuses:
        return Decision.NEEDS_REVIEW
    return Decision.APPROVED
