"""Reading a page the cheap way (pipeline.reading): only the inked part is detected, lines are
read narrowest first, and boxes go back and forth between the upright page and the upload."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pipeline.forms.render import render_forms
from pipeline.models import Case
from pipeline.reading.doctype import DocKind
from pipeline.reading.documents import DocRead, read_upload
from pipeline.reading.ocr import OcrEngine, TextBox, get_engine
from pipeline.reading.page import Line, PageText, ReadOptions, Value, _detect, ink_bands, read_page
from tests.casedata import BASE_CASE
from tests.fields_samples import pdf_pages
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
@pytest.mark.parametrize("skew", [0.0, 6.5, -4.0])
def test_a_point_and_a_box_go_to_the_upright_page_and_back(rotation: int, skew: float) -> None:
    w, h = 990, 1400
    shape = (w, h) if rotation in (90, 270) else (h, w)  # the upright image's rows, columns
    pt = PageText(np.zeros((*shape, 3), np.uint8), rotation, [], get_engine("rapidocr"), skew=skew)
    u, v = pt.upright_point(100, 200)
    assert 0 <= u <= shape[1] and 0 <= v <= shape[0]
    back = pt.page_box((int(u) - 5, int(v) - 5, int(u) + 5, int(v) + 5))
    assert back[0] <= 100 <= back[2] and back[1] <= 200 <= back[3]


class _CountingEngine(OcrEngine):
    """The real RapidOCR engine, counting how often it detects and how many lines it recognises."""

    name = "counting"

    def __init__(self) -> None:
        self.inner = get_engine("rapidocr")
        self.detections = 0
        self.recognised = 0

    def read(self, image: np.ndarray) -> list[TextBox]:
        return self.inner.read(image)

    def read_lines(self, images: list[np.ndarray]) -> list[TextBox | None]:
        self.recognised += len(images)
        return self.inner.read_lines(images)

    def detect(self, image: np.ndarray) -> list[TextBox] | None:
        self.detections += 1
        return self.inner.detect(image)

    def upside_down(self, images: list[np.ndarray]) -> list[float] | None:
        return self.inner.upside_down(images)


@pytest.fixture(scope="module")
def application_pages(tmp_path_factory: pytest.TempPathFactory) -> list[np.ndarray]:
    case = Case.model_validate(BASE_CASE)
    return pdf_pages(render_forms(case, tmp_path_factory.mktemp("forms"))["application_form"])


def test_a_forms_second_page_uploaded_alone_is_told_from_its_title_without_reading_it_whole(
        application_pages: list[np.ndarray]) -> None:
    # Given the application form's VI page (its title is not among the page's tallest lines)
    engine = _CountingEngine()
    # When it is read as a form (lazy: titles, then top down until the kind shows)
    doc = read_upload([application_pages[1]], engine, ReadOptions(), mode="lazy")
    # Then it is an application form, told from a small part of its lines
    assert doc.kind.kind == "application_form", doc.kind
    lines = len(doc.pages[0].lines)
    assert lines > 30 and engine.recognised <= lines // 3, (engine.recognised, lines)


def test_an_upside_down_form_is_turned_upright_and_detected_once(application_pages: list[np.ndarray]) -> None:
    engine = _CountingEngine()
    upright = read_page(application_pages[0], engine, ReadOptions(), eager=False, titles=False)
    detections_upright = engine.detections
    engine.detections = 0
    turned = read_page(np.ascontiguousarray(application_pages[0][::-1, ::-1]), engine, ReadOptions(),
                       eager=False, titles=False)
    # the page is found upside down and turned, with no second detection after the turn
    assert turned.rotation == 180
    assert engine.detections == detections_upright
    # and its lines (found upside down: one may split or join) sit where the upright page's do, and read the same
    assert abs(len(turned.lines) - len(upright.lines)) <= 2
    label = next(i for i, ln in enumerate(upright.lines) if ln.box[1] > 300 and ln.box[2] - ln.box[0] > 200)
    want = upright.lines[label].box

    def distance(i: int) -> int:
        return sum(abs(a - b) for a, b in zip(turned.lines[i].box, want, strict=True))

    match = min(range(len(turned.lines)), key=distance)
    assert distance(match) <= 24, (turned.lines[match].box, want)
    upright.ensure_read([label])
    turned.ensure_read([match])
    assert turned.lines[match].text == upright.lines[label].text != ""


def test_a_form_scanned_askew_is_levelled_and_its_boxes_go_back_onto_the_scan(
        application_pages: list[np.ndarray]) -> None:
    # Given the application form scanned 6° askew (on a white canvas of the same size)
    page = application_pages[0]
    h, w = page.shape[:2]
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), -6.0, 1.0)  # clockwise on screen: lines run down to the right
    askew = cv2.warpAffine(page, turn, (w, h), borderValue=(255, 255, 255))
    # When it is read
    pt = read_page(askew, get_engine("rapidocr"), ReadOptions(), eager=False, titles=False)
    # Then it is levelled by the slope of its lines, and a label reads as it does on the level page
    assert pt.rotation == 0 and 5.0 <= pt.skew <= 7.0, pt.skew
    hits = [i for i, ln in enumerate(pt.lines) if 0.12 * h < ln.box[1] < 0.22 * h and ln.box[0] < 0.3 * w]
    pt.ensure_read(hits)
    assert any(ln.norm.startswith("机构名称") for ln in (pt.lines[i] for i in hits)), [pt.lines[i].text for i in hits]
    # and each line's box, taken back onto the askew scan, holds that line's ink there
    label = next(pt.lines[i] for i in hits if pt.lines[i].norm.startswith("机构名称"))
    x0, y0, x1, y1 = pt.page_box(label.box)
    level_x0, level_y0, _, _ = label.box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    ux, uy = pt.upright_point(cx, cy)  # the centre goes to the levelled line's centre
    assert abs(ux - (label.box[0] + label.box[2]) / 2) < 3 and abs(uy - (label.box[1] + label.box[3]) / 2) < 3
    ink = askew[int(y0):int(y1), int(x0):int(x1)].min(axis=2) < 128
    assert ink.mean() > 0.02 and level_x0 >= 0 and level_y0 >= 0


def test_an_upright_form_the_line_classifier_calls_upside_down_is_not_turned() -> None:
    # Given a version-2 form in Zen Hei made apart from the fixtures (a tune-side probe, seed 8017): its
    # widest boxes are small paragraph print two lines high, which the line classifier calls upside down
    from dataclasses import replace

    from fixtures.scans import unseen

    base = replace(unseen.B["t_v2_zenhei_law_firm"], seed=8017)
    sheet = unseen.sheets(unseen.USpec("probe_classifier", "tune", base))["application_form"]
    page = cv2.imdecode(np.frombuffer(unseen.build(sheet), np.uint8), cv2.IMREAD_COLOR)  # BGR, as uploads are
    assert page is not None
    engine = get_engine("rapidocr")
    # When it is read
    upright = read_page(page, engine, ReadOptions(), eager=False)
    # Then the recogniser, which reads those lines as they stand and nothing turned, keeps it upright
    assert upright.rotation == 0
    assert any("机构员工数字证书申请表" in ln.text for ln in upright.lines if ln.read)
    # and the same page turned over is still found upside down
    assert read_page(np.ascontiguousarray(page[::-1, ::-1]), engine, ReadOptions(), eager=False).rotation == 180


def _cell_row(value: str) -> tuple[PageText, Value]:
    """A table row 电子邮箱： | ``value`` (a cell's rule between them, 200 dpi) read as a detector that cut
    the value's first two characters off would leave it: the label's line, and the value's box from
    its third character."""
    from PIL import Image, ImageDraw

    from fixtures.scans.imaging import font

    image = Image.new("RGB", (1100, 120), (250, 250, 250))
    draw = ImageDraw.Draw(image)
    face = font("sans", 34)
    draw.text((30, 40), "电子邮箱：", fill=(20, 20, 20), font=face)
    draw.line((215, 10, 215, 110), fill=(20, 20, 20), width=2)
    draw.text((240, 40), value, fill=(20, 20, 20), font=face)
    clipped_at = 240 + round(draw.textlength(value[:2], font=face))
    rgb = np.asarray(image)
    page = PageText(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), 0, [Line((30, 38, 200, 82), "电子邮箱：", 0.99, True),
                                                               Line((clipped_at, 38, 700, 82))], get_engine("rapidocr"))
    return page, Value(value[2:], (clipped_at, 38, 700, 82), 0.98, "电子邮箱：", "right", page)


def test_a_value_whose_first_characters_the_detector_cut_off_is_read_whole_from_its_widened_row() -> None:
    page, value = _cell_row("gaohaifeng@sina.com")
    wider = page.widened(value, right=False)
    assert wider is not None and wider.how == "widened"
    assert wider.text == "gaohaifeng@sina.com"
    assert wider.box[0] > 200  # it starts after the label's end: the label is not read into it


def test_a_widened_row_reads_only_what_the_document_prints() -> None:
    # the document itself prints the e-mail without its first letter: widening finds nothing more
    page, value = _cell_row("aohaifeng@sina.com")
    wider = page.widened(value, right=False)
    assert wider is not None and wider.text == "aohaifeng@sina.com"
