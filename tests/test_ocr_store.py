"""OCR results kept on disk (pipeline.reading.cache): another process reading the same pixels with the
same engine gets them without running the engine; another engine, or a broken file, never does."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from pipeline.reading.cache import ResultStore, store_from_environment
from pipeline.reading.ocr import CachedEngine, OcrEngine, TextBox, get_engine
from tests.test_ocr_engine import _line


class _RefusingEngine(OcrEngine):
    """An engine that must not be asked: every answer has to come from the store."""

    def __init__(self, identity: str) -> None:
        self.name = "refusing"
        self.identity = identity

    def read(self, image: np.ndarray) -> list[TextBox]:
        raise AssertionError("the engine ran although the store holds the answer")

    def read_line(self, image: np.ndarray) -> TextBox | None:
        raise AssertionError("the engine ran although the store holds the answer")

    def detect(self, image: np.ndarray) -> list[TextBox] | None:
        raise AssertionError("the engine ran although the store holds the answer")

    def upside_down(self, images: list[np.ndarray]) -> list[float] | None:
        raise AssertionError("the engine ran although the store holds the answer")


@pytest.fixture
def real_engine() -> OcrEngine:
    engine = get_engine("rapidocr")
    assert isinstance(engine, CachedEngine)
    return engine.inner


def test_a_read_kept_by_one_process_is_answered_from_disk_in_the_next(tmp_path: Path,
                                                                      real_engine: OcrEngine) -> None:
    # Given one process that read a line, found lines on a page and judged crops' orientation
    line, page = _line("沈阳示例科技有限公司"), np.full((400, 600, 3), 255, np.uint8)
    page[100:100 + line.shape[0], 50:50 + line.shape[1]] = line
    first = CachedEngine(real_engine, store=ResultStore(tmp_path / "ocr.sqlite"))
    read, boxes, flips = first.read_line(line), first.detect(page), first.upside_down([line])
    assert read is not None and read.text == "沈阳示例科技有限公司" and boxes and flips
    # When the next process (its own memory, the same file) asks the same of the same pixels
    nxt = CachedEngine(_RefusingEngine(real_engine.identity), store=ResultStore(tmp_path / "ocr.sqlite"))
    # Then the answers come from the store, equal to the first ones, with no engine run
    assert nxt.read_line(line.copy()) == read
    assert nxt.detect(page.copy()) == boxes
    assert nxt.upside_down([line.copy()]) == flips
    assert nxt.hits == 3 and nxt.misses == 0


def test_a_blank_read_is_kept_too(tmp_path: Path, real_engine: OcrEngine) -> None:
    blank = np.full((3, 300, 3), 255, np.uint8)  # too thin to hold a line: nothing is read
    assert CachedEngine(real_engine, store=ResultStore(tmp_path / "ocr.sqlite")).read_line(blank) is None
    nxt = CachedEngine(_RefusingEngine(real_engine.identity), store=ResultStore(tmp_path / "ocr.sqlite"))
    assert nxt.read_line(blank) is None


def test_an_engine_of_another_version_or_setting_never_gets_anothers_results(tmp_path: Path,
                                                                              real_engine: OcrEngine) -> None:
    line = _line("张伟")
    CachedEngine(real_engine, store=ResultStore(tmp_path / "ocr.sqlite")).read_line(line)
    other = CachedEngine(_RefusingEngine(real_engine.identity + "; rec_img_shape=[3, 48, 320]"),
                         store=ResultStore(tmp_path / "ocr.sqlite"))
    with pytest.raises(AssertionError, match="the engine ran"):
        other.read_line(line)


def test_a_broken_store_file_is_left_alone_and_the_engine_reads(tmp_path: Path, real_engine: OcrEngine,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "ocr.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    engine = CachedEngine(real_engine, store=ResultStore(path))
    with caplog.at_level(logging.WARNING, logger="pipeline.reading.cache"):
        read = engine.read_line(_line("李娜"))
        again = engine.read_line(_line("王秀英"))
    assert read is not None and read.text == "李娜"
    assert again is not None and again.text == "王秀英"
    warnings = [r for r in caplog.records if "not used" in r.getMessage()]
    assert len(warnings) == 1  # said once, then the store is left alone
    assert path.read_bytes().startswith(b"this is not a database")


def test_the_oldest_results_go_when_the_store_is_full(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "ocr.sqlite", max_rows=8)
    for i in range(12):
        store.put(f"k{i}", str(i))
    reopened = ResultStore(tmp_path / "ocr.sqlite", max_rows=8)
    assert reopened.get("k0") is None and reopened.get("k5") is None
    assert [reopened.get(f"k{i}") for i in range(6, 12)] == [str(i) for i in range(6, 12)]


@pytest.mark.parametrize("setting", ["off", "OFF", ""])
def test_the_store_can_be_turned_off(monkeypatch: pytest.MonkeyPatch, setting: str) -> None:
    monkeypatch.setenv("PRECHECK_OCR_CACHE", setting)
    assert store_from_environment() is None


def test_the_tests_keep_their_results_outside_the_checkout() -> None:
    store = store_from_environment()
    assert store is not None
    assert Path(__file__).resolve().parents[1] not in store.path.resolve().parents
