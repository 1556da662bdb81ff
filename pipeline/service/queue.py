"""The review queue: which broker, which queue, what a message holds (a case id, nothing more).

No broker is set globally: :func:`make_broker` returns one, the faces pass it around. Without
``PRECHECK_BROKER_URL`` it is dramatiq's in-process StubBroker (``precheck serve`` runs a worker
thread on it); with ``redis://…`` it is a RedisBroker shared by ``precheck worker`` processes.
How long a review may take and how often it is retried is data (:class:`ReviewPolicy`) on the
actor, declared by ``pipeline.worker``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import CurrentMessage

from pipeline.errors import ConfigError

QUEUE = "precheck-reviews"
ACTOR = "review_stored_case"


@dataclass(frozen=True)
class ReviewPolicy:
    """Actor options: one review's time limit, and retries with exponential back-off."""

    time_limit_ms: int = 10 * 60 * 1000
    max_retries: int = 3
    min_backoff_ms: int = 1000
    max_backoff_ms: int = 60 * 1000

    @classmethod
    def from_env(cls) -> ReviewPolicy:
        def number(name: str, default: int) -> int:
            raw = os.environ.get(name)
            try:
                return int(raw) if raw else default
            except ValueError:
                raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None

        base = cls()
        return cls(time_limit_ms=number("PRECHECK_REVIEW_TIME_LIMIT_MS", base.time_limit_ms),
                   max_retries=number("PRECHECK_REVIEW_MAX_RETRIES", base.max_retries),
                   min_backoff_ms=number("PRECHECK_REVIEW_MIN_BACKOFF_MS", base.min_backoff_ms),
                   max_backoff_ms=number("PRECHECK_REVIEW_MAX_BACKOFF_MS", base.max_backoff_ms))

    def actor_options(self) -> dict[str, int]:
        return {"time_limit": self.time_limit_ms, "max_retries": self.max_retries,
                "min_backoff": self.min_backoff_ms, "max_backoff": self.max_backoff_ms}


def make_broker(url: str | None) -> dramatiq.Broker:
    """A new broker for ``url`` (None: in-process), with the middleware the actor relies on."""
    broker: dramatiq.Broker
    if url is None:
        broker = StubBroker()
    elif url.startswith(("redis://", "rediss://", "unix://")):
        from dramatiq.brokers.redis import RedisBroker

        # a worker silent this long is dead: its unfinished messages go back on the queue (checked
        # on a random `maintenance_chance` in a million Redis commands)
        heartbeat = int(os.environ.get("PRECHECK_WORKER_HEARTBEAT_MS") or 60_000)
        chance = int(os.environ.get("PRECHECK_REDIS_MAINTENANCE_CHANCE") or 1000)
        broker = RedisBroker(url=url, heartbeat_timeout=heartbeat, maintenance_chance=chance)
    else:
        raise ConfigError(f"PRECHECK_BROKER_URL must be a redis:// URL, not {url!r}")
    broker.add_middleware(CurrentMessage())
    broker.declare_queue(QUEUE)
    return broker


def send_review(broker: dramatiq.Broker, case_id: str) -> None:
    """Queue a review of the case as it is now stored (the worker reads everything else)."""
    broker.enqueue(dramatiq.Message(queue_name=QUEUE, actor_name=ACTOR, args=(case_id,), kwargs={}, options={}))
