"""The OCR engines behind pipeline.reading.ocr: one per process, cached by pixels, red ink dropped."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from pipeline.errors import ToolError
from pipeline.reading.ocr import CachedEngine, drop_red_ink, get_engine, image_key
from tests.fields_samples import _font, stamp


def _line(text: str, size: int = 40) -> np.ndarray:
    img = Image.new("RGB", (40 + int(size * 0.9 * len(text)), size + 30), (255, 255, 255))
    ImageDraw.Draw(img).text((20, 12), text, font=_font(size), fill=(0, 0, 0))
    return np.asarray(img)[:, :, ::-1].copy()


def test_get_engine_builds_each_engine_once_per_process() -> None:
    assert get_engine() is get_engine("auto")
    assert get_engine("rapidocr") is get_engine("rapidocr")


def test_an_unknown_engine_name_is_refused_with_the_known_names() -> None:
    with pytest.raises(ValueError, match="rapidocr"):
        get_engine("cnocr")


def test_the_auto_engine_is_rapidocr_with_tesseract_as_second_opinion() -> None:
    eng = get_engine()
    assert eng.name == "rapidocr"
    assert eng.second is not None and eng.second.name == "tesseract"


def test_rapidocr_reads_one_printed_line_of_chinese_and_digits() -> None:
    tb = get_engine("rapidocr").read_line(_line("统一社会信用代码91210100MA0Y8K3N20"))
    assert tb is not None
    assert tb.text.replace(" ", "") == "统一社会信用代码91210100MA0Y8K3N20"
    assert tb.confidence > 0.9


def test_a_second_read_of_the_same_pixels_comes_from_the_cache() -> None:
    eng = get_engine("rapidocr")
    assert isinstance(eng, CachedEngine)
    img = _line("沈阳示例科技有限公司")
    first = eng.read_line(img)
    hits = eng.hits
    assert eng.read_line(img.copy()) == first
    assert eng.hits == hits + 1


def test_equal_pixels_give_equal_cache_keys_and_other_pixels_others() -> None:
    img = _line("张伟")
    other = img.copy()
    other[0, 0] = 0
    assert image_key(img) == image_key(img.copy()) != image_key(other)


def test_dropping_red_ink_whitens_a_seal_and_keeps_the_black_text_under_it() -> None:
    page = _line("沈阳示例科技有限公司", 48)
    stamped = stamp(page, (page.shape[1] // 2, page.shape[0] // 2), 60)
    grey = drop_red_ink(stamped)
    red = (stamped[:, :, 2] > 150) & (stamped[:, :, 1] < 120)
    black = page[:, :, 0] < 60
    assert red.any()
    assert grey[red & ~black].min() > 150
    assert grey[black].mean() < 80


def test_text_under_a_red_seal_is_read_after_dropping_the_red_ink() -> None:
    page = _line("91210100MA0Y8K3N20", 44)
    stamped = stamp(page, (page.shape[1] // 2, page.shape[0] // 2), 70)
    tb = get_engine("rapidocr").read_line(drop_red_ink(stamped))
    assert tb is not None and tb.text == "91210100MA0Y8K3N20"


def test_tesseract_probe_names_its_version_and_the_chinese_language() -> None:
    from pipeline.tools import tesseract

    info = tesseract.probe()
    assert info["version"].startswith(("4", "5"))
    assert "chi_sim" in info["languages"]


def test_tesseract_reads_digits_of_a_printed_line_as_second_opinion() -> None:
    second = get_engine().second
    assert second is not None
    tb = second.read_line(_line("13912345678", 44))
    assert tb is not None and "13912345678" in tb.text.replace(" ", "")


def test_a_tesseract_run_past_its_timeout_becomes_a_tool_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.tools import tesseract

    monkeypatch.setenv("PRECHECK_TESSERACT_TIMEOUT_S", "0.001")
    with pytest.raises(ToolError, match="timed out"):
        tesseract.read(np.full((2000, 2000), 255, np.uint8))


def test_a_line_crop_reads_the_same_alone_and_inside_batches_of_other_crops() -> None:
    # Given a short line crop and crops of other widths (a batch pads every crop to its widest)
    eng = get_engine("rapidocr")
    assert isinstance(eng, CachedEngine)
    crop = _line("张伟", 36)
    wide = _line("辽宁省沈阳市和平区南京北街一段示例路二十八号院内", 30)
    other = _line("13800138000", 44)
    # When it is read alone and in two different batches, each time by a fresh cache
    alone = CachedEngine(eng.inner).read_lines([crop])[0]
    first_in_batch = CachedEngine(eng.inner).read_lines([wide, crop, other])[1]
    cache = CachedEngine(eng.inner)
    in_batch = cache.read_lines([other, crop])[1]
    # Then every read is the same text and confidence, and so is what the cache hands on
    assert alone is not None and alone.text == "张伟"
    assert first_in_batch == alone == in_batch
    assert cache.read_line(crop) == alone == eng.inner.read_line(crop)
