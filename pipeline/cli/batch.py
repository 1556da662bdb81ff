"""Reviewing many case folders, in this process or in a pool of processes.

Each worker process loads the rule set and the OCR models once and reuses them for every case
it gets; results come back in completion order with the case path, so nothing is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import CaseError, PrecheckError
from pipeline.models import Report
from pipeline.report import write_report
from pipeline.review import review_case
from pipeline.ruleset import load_rule_set
from pipeline.stages.base import ReviewOptions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """One case's result: a report, or the error that kept it from being reviewed."""

    path: Path
    report: Report | None = None
    error: PrecheckError | None = None


def is_case_folder(path: Path) -> bool:
    return (path / "case.json").exists() or (path / "uploads").is_dir()


def case_folders(folder: Path) -> list[Path]:
    """The case folders directly inside ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def review_one(path: Path, rule_set: str, out_dir: Path | None, options: ReviewOptions) -> Outcome:
    """Review one case; a case that cannot be read comes back as an Outcome with the error."""
    rules = load_rule_set(rule_set)
    try:
        report = review_case(path, rules, out_dir=out_dir, options=options)
    except CaseError as exc:
        return Outcome(path, error=exc)
    if out_dir is not None:
        write_report(report, rules, out_dir)
    return Outcome(path, report=report)


def review_many(
    paths: list[Path],
    rule_set: str,
    out_root: Path | None,
    options: ReviewOptions,
    jobs: int = 1,
) -> Iterator[Outcome]:
    """Yield one Outcome per case path, in completion order."""
    def out_for(p: Path) -> Path | None:
        return out_root / p.name if out_root else None

    if jobs <= 1:
        for path in paths:
            yield review_one(path, rule_set, out_for(path), options)
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(review_one, p, rule_set, out_for(p), options): p for p in paths}
        for future in as_completed(futures):
            path = futures[future]
            try:
                yield future.result()
            except Exception as exc:
                log.exception("review of %s failed in a worker", path)
                yield Outcome(path, error=PrecheckError(f"审核进程异常 / worker failed: {exc}"))
