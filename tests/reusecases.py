"""The two fixture cases both re-review tests use: a clean case, and the same case whose handler ID
copy shows another person (the file a re-review gets as a replacement)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.scans.generate import generate_all
from pipeline.review import STAGES

CLEAN = "clean_shenyang_jpg_150"
OTHER_HANDLER = "ocr_handler_other_person"  # the same case, but its handler ID copy shows 黄丽
PER_FILE = {rule_id for stage in STAGES for rule_id in stage.per_file}


def make_cases(tmp_path_factory: pytest.TempPathFactory, name: str) -> dict[str, Path]:
    return {p.name: p for p in generate_all(tmp_path_factory.mktemp(name), only=[CLEAN, OTHER_HANDLER])}
