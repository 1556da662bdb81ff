"""Reading a page the cheap way (pipeline.readers): only the inked part is detected, lines are
read narrowest first, and boxes go back and forth between the upright page and the upload."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.doctype import DocKind
from pipeline.ocr import get_engine
from pipeline.readers.documents import DocRead
from pipeline.readers.page import Line, PageText, _detect, ink_bands
from tests.test_ocr_engine import _line


def _page_with(lines: list[np.ndarray], at: tuple[int, int], size: tuple[int, int] = (1400, 990)) -> np.ndarray:
    """A white page with one-line images stacked at ``at`` (x, y)."""
    page = np.full((*size, 3), 255, np.uint8)
    x, y = at
    for img in lines:
        h, w = img.shape[:2]
        page[y:y + h, x:x + w] = img
        y += h + 10
    return page


def test_the_inked_part_of_a_card_copy_is_all_that_is_detected() -> None:
    # Given an A4 page whose only print is two small blocks (the two sides of an ID card)
    grey = np.full((1000, 707), 250, np.uint8)
    grey[300:420, 200:480] = 30
    grey[500:600, 220:470] = 30
    bands = ink_bands(grey)
    # Then each block is a band of its own, with a margin, and together far smaller than the page
    assert len(bands) == 2
    (a0, b0, a1, b1), (_, d0, _, d1) = bands
    assert a0 < 200 and b0 < 300 and a1 > 480 and 420 < b1 < 500 and d0 < 500 and d1 > 600
    assert sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in bands) < 0.25 * grey.size


def test_faint_print_between_two_blocks_keeps_them_in_one_band() -> None:
    grey = np.full((1000, 707), 250, np.uint8)
    grey[300:420, 200:480] = 30
    grey[500:600, 220:470] = 30
    grey[428:492, 220:470] = 190  # light grey print, far lighter than the black blocks
    assert len(ink_bands(grey)) == 1


@pytest.mark.parametrize("kind", ["blank", "full"])
def test_a_blank_or_fully_printed_page_is_detected_whole(kind: str) -> None:
    grey = np.full((1000, 707), 250, np.uint8)
    if kind == "full":
        grey[20:980:20, 20:690] = 0  # lines of print from top to bottom, edge to edge
    assert ink_bands(grey) == [(0, 0, 707, 1000)]


def test_lines_found_on_the_inked_part_sit_where_they_are_on_the_whole_page() -> None:
    page = _page_with([_line("统一社会信用代码"), _line("沈阳示例科技有限公司")], at=(500, 700))
    boxes = _detect(page, get_engine("rapidocr"), 1000)
    assert boxes is not None and len(boxes) == 2
    for x0, y0, x1, y1 in boxes:
        assert x0 >= 480 and y0 >= 680 and x1 <= 1000 and y1 <= 900


def test_lines_are_read_narrowest_first_when_a_label_is_looked_for() -> None:
    texts = ["统一社会信用代码91210100MA0Y8K3N20", "姓名", "沈阳示例科技有限公司"]
    crops = [_line(t) for t in texts]
    page = _page_with(crops, at=(10, 50))
    y, lines = 50, []
    for c in crops:
        lines.append(Line((10, y, 10 + c.shape[1], y + c.shape[0])))
        y += c.shape[0] + 10
    doc = DocRead([PageText(page, 0, lines, get_engine("rapidocr"))], DocKind("other", 0, "", 0), get_engine())
    assert doc.read_next(count=1)
    assert [ln.read for ln in lines] == [False, True, False]
    assert lines[1].text == "姓名"
    assert doc.read_next(count=1) and [ln.read for ln in lines] == [False, True, True]


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_a_point_and_a_box_go_to_the_upright_page_and_back(rotation: int) -> None:
    w, h = 990, 1400
    shape = (w, h) if rotation in (90, 270) else (h, w)  # the upright image's rows, columns
    pt = PageText(np.zeros((*shape, 3), np.uint8), rotation, [], get_engine("rapidocr"))
    u, v = pt.upright_point(100, 200)
    assert 0 <= u <= shape[1] and 0 <= v <= shape[0]
    back = pt.page_box((int(u) - 5, int(v) - 5, int(u) + 5, int(v) + 5))
    assert back[0] <= 100 <= back[2] and back[1] <= 200 <= back[3]
