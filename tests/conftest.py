"""Session-wide fixtures: the generated fixture cases (made once, deterministically)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

#: Fixtures shared by several test modules.
pytest_plugins = ["tests.office", "tests.services", "tests.servicekit"]

REAL_SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "real-samples"


@pytest.fixture(scope="session", autouse=True)
def _own_ocr_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The tests keep OCR results in a store of their own, never in var/ of the checkout."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PRECHECK_OCR_CACHE", str(tmp_path_factory.mktemp("ocr-cache") / "ocr.sqlite"))
        yield


@pytest.fixture(scope="session")
def fixture_cases(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    from fixtures.scans.generate import generate_all

    return generate_all(tmp_path_factory.mktemp("fixture-cases"))


@pytest.fixture(scope="session")
def real_samples() -> Path:
    assert REAL_SAMPLES.is_dir(), f"real samples not found at {REAL_SAMPLES} (shared/ must sit beside the repo)"
    return REAL_SAMPLES
