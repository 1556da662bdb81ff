"""The review actor: read a stored case, review it with ``review_case``, store the report.

The actor is declared on the broker it is given (never a global one); its time limit and
retries come from a :class:`ReviewPolicy`. It is safe to run twice: the review row is keyed by
case id + data + upload hashes + rule-set sha, so a redelivered message that finds a finished
review does nothing, and one that finds a review left running by a killed worker takes it over.
The last allowed attempt of a review that keeps failing stores ``needs_review`` with the error.
A re-review (a file replaced) is given the case's previous finished review: ``review_case`` takes
over its findings on the files that did not change (``pipeline.review.PriorReview``).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import tempfile
import threading
import traceback
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Protocol

import dramatiq
from dramatiq.middleware import CurrentMessage
from pydantic import ValidationError

from pipeline.models import Decision, OtherUse, Report
from pipeline.report import report_json
from pipeline.review import PriorReview, review_case
from pipeline.ruleset import RuleSet
from pipeline.service.queue import ACTOR, QUEUE, ReviewPolicy, send_review
from pipeline.service.store import Store

log = logging.getLogger(__name__)

class ReviewFunction(Protocol):
    """What reviews one case folder; the real one is ``review_case``, tests may pass a double."""

    def __call__(self, path: Path, rules: RuleSet, *, reuse: PriorReview | None = None,
                 elsewhere: Mapping[str, Sequence[OtherUse]] | None = None) -> Report: ...


def review_folder(path: Path, rules: RuleSet, *, reuse: PriorReview | None = None,
                  elsewhere: Mapping[str, Sequence[OtherUse]] | None = None) -> Report:
    return review_case(path, rules, reuse=reuse, elsewhere=elsewhere)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class ReviewJob:
    """Everything one review needs besides the case id."""

    def __init__(self, store: Store, rules: RuleSet, review: ReviewFunction = review_folder,
                 workdir: Path | None = None) -> None:
        self.store, self.rules, self.review, self.workdir = store, rules, review, workdir

    def __call__(self, case_id: str, *, final_attempt: bool = True) -> None:
        stored = self.store.case(case_id)
        key = stored.review_key
        assert key is not None, f"case {case_id} has no review key"
        existing = self.store.review(key)
        if existing is not None and existing.state == "done":
            log.info("case %s: review %s already done", case_id, key[:12])
            return
        me = worker_name()
        self.store.start_review(case_id, key, self.rules.sha256, me)
        try:
            report = self._run(case_id, self._previous(case_id, key))
        except Exception as exc:
            log.exception("review of case %s failed", case_id)
            if not final_attempt:
                raise
            error = f"{type(exc).__name__}: {exc}"
            body = {"order_no": stored.order_no, "decision": Decision.NEEDS_REVIEW.value,
                    "rule_set": self.rules.ref.model_dump(), "findings": [], "error": error,
                    "traceback": traceback.format_exc(limit=5)}
            self.store.finish_review(key, decision=Decision.NEEDS_REVIEW.value,
                                     report_json=json.dumps(body, ensure_ascii=False), error=error, worker=me)
            return
        self.store.finish_review(key, decision=report.decision.value, report_json=report_json(report),
                                 error=None, worker=me)

    def _run(self, case_id: str, previous: PriorReview | None) -> Report:
        """Write the case folder into a private temporary directory and review it there, with
        the other orders' cases the store knows to hold the same files."""
        elsewhere = self.store.uses_elsewhere(case_id)
        with tempfile.TemporaryDirectory(prefix=f"precheck-{case_id[:8]}-", dir=self.workdir) as tmp:
            return self.review(self.store.write_case_folder(case_id, Path(tmp)), self.rules, reuse=previous,
                               elsewhere=elsewhere)

    def _previous(self, case_id: str, key: str) -> PriorReview | None:
        """The case's latest finished review of other inputs (before a file was replaced), if any."""
        previous = self.store.last_finished_review(case_id, other_than=key)
        if previous is None or previous.report_json is None:
            return None
        try:
            return PriorReview.from_report(Report.model_validate_json(previous.report_json), previous.review_key)
        except ValidationError:
            log.warning("case %s: review %s is no report to reuse", case_id, previous.review_key[:12], exc_info=True)
            return None


def declare_review_actor(broker: dramatiq.Broker, job: ReviewJob,
                         policy: ReviewPolicy | None = None) -> dramatiq.Actor:
    """Declare the review actor on ``broker`` (the web face sends to it by name)."""
    policy = policy or ReviewPolicy.from_env()

    def review_stored_case(case_id: str) -> None:
        message = CurrentMessage.get_current_message()
        retries = message.options.get("retries", 0) if message is not None else policy.max_retries
        job(case_id, final_attempt=retries >= policy.max_retries)

    return dramatiq.Actor(review_stored_case, broker=broker, actor_name=ACTOR, queue_name=QUEUE, priority=0,
                          options=policy.actor_options())


def start_sweeper(store: Store, broker: dramatiq.Broker, *, older_than_s: float, every_s: float) -> threading.Event:
    """Queue again, every ``every_s``, each case pending for longer than ``older_than_s``: a message
    a broker lost or holds for a worker that will never ack it (a fetch cut by a Redis restart)
    does not leave its case pending for ever. The actor is idempotent, so a duplicate costs only a
    look-up. Set the event returned to stop."""
    stop = threading.Event()

    def sweep() -> None:
        while not stop.wait(every_s):
            try:
                for case_id in store.pending_case_ids(waiting_longer_than=timedelta(seconds=older_than_s)):
                    send_review(broker, case_id)
            except Exception:  # the database or Redis is away for now: try again next round
                log.warning("could not queue pending cases again", exc_info=True)

    threading.Thread(target=sweep, name="precheck-sweeper", daemon=True).start()
    return stop


def start_worker(broker: dramatiq.Broker, *, threads: int = 1) -> dramatiq.Worker:
    """Start consuming in this process (threads); the caller stops it with ``worker.stop()``.

    A worker holds no more messages than it has threads: dramatiq's default prefetch (twice the
    threads) lets one worker sit on a case that an idle worker on another core could take, and a
    review is seconds of CPU, not a network wait worth hiding."""
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=500)
    worker.queue_prefetch = threads
    worker.start()
    return worker
