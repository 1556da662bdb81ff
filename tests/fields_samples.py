"""Small synthetic documents for the OCR tests: ID card copies, licences, stamped forms.

Drawn with PIL and Noto Sans CJK (Debian fonts-noto-cjk); every value comes from the caller,
so a test states what the document shows. Not a substitute for the fixture set: a quick,
exact source of one defect at a time.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pymupdf
from PIL import Image, ImageDraw, ImageFont

from pipeline.intake.pages import Page, Upload
from pipeline.models import Finding
from pipeline.stages.base import StageContext

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
SC = 2  # Simplified Chinese face in the collection


def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(FONT, size, index=SC)


def id_card(name: str, number: str, *, foreign: bool = False, rotate: int = 0) -> np.ndarray:
    """The front of a resident ID card (or a foreign permanent-resident card) as a BGR image."""
    img = Image.new("RGB", (860, 540), (236, 240, 246))
    d = ImageDraw.Draw(img)
    f, fv, fn = _font(30), _font(34), _font(40)
    if foreign:
        d.text((40, 30), "中华人民共和国外国人永久居留身份证", font=f, fill=(20, 20, 20))
        d.text((60, 110), "姓名/Name", font=f, fill=(60, 60, 60))
        d.text((60, 150), name, font=fv, fill=(0, 0, 0))
        d.text((60, 230), "国籍/Nationality  加拿大/CAN", font=f, fill=(30, 30, 30))
        d.text((60, 420), "证件号码/ID No.", font=f, fill=(60, 60, 60))
        d.text((330, 415), number, font=fn, fill=(0, 0, 0))
    else:
        rows = [("姓  名", name), ("性  别", "男    民  族  汉"), ("出  生", "1990 年 3 月 7 日"),
                ("住  址", "辽宁省沈阳市和平区南京北街1号")]
        for i, (label, value) in enumerate(rows):
            d.text((50, 50 + i * 75), label, font=f, fill=(40, 80, 140))
            d.text((170, 48 + i * 75), value, font=fv, fill=(0, 0, 0))
        d.text((50, 440), "公民身份号码", font=f, fill=(40, 80, 140))
        d.text((270, 435), number, font=fn, fill=(0, 0, 0))
    d.rectangle((620, 60, 820, 320), outline=(160, 160, 170), width=3)
    bgr = cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR)
    turns = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
    return cv2.rotate(bgr, turns[rotate]) if rotate else bgr


def licence(name: str, code: str, period: str = "2015年03月16日至长期") -> np.ndarray:
    """A business-licence page (营业执照) as a BGR image, about 150 dpi A4."""
    img = Image.new("RGB", (1240, 1754), (250, 248, 240))
    d = ImageDraw.Draw(img)
    d.text((470, 160), "营业执照", font=_font(90), fill=(0, 0, 0))
    d.text((120, 360), f"统一社会信用代码 {code}", font=_font(34), fill=(0, 0, 0))
    rows = [("名    称", name), ("类    型", "有限责任公司（自然人投资或控股）"), ("法定代表人", "王强"),
            ("注册资本", "伍佰万元人民币"), ("成立日期", "2015年03月16日"), ("营业期限", period),
            ("住    所", "辽宁省沈阳市和平区南京北街1号")]
    for i, (label, value) in enumerate(rows):
        d.text((140, 500 + i * 90), label, font=_font(34), fill=(0, 0, 0))
        d.text((420, 500 + i * 90), value, font=_font(34), fill=(0, 0, 0))
    d.text((650, 1450), "登记机关", font=_font(34), fill=(0, 0, 0))
    return cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR)


def stamp(image: np.ndarray, centre: tuple[int, int], radius: int, text: str = "沈阳示例科技有限公司") -> np.ndarray:
    """A red round seal (ring, star, arc text) stamped over ``image`` (multiplied, like ink)."""
    h, w = image.shape[:2]
    layer = Image.new("RGB", (w, h), (255, 255, 255))
    d = ImageDraw.Draw(layer)
    cx, cy = centre
    red = (220, 40, 40)
    d.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), outline=red, width=max(3, radius // 18))
    d.regular_polygon((cx, cy, radius // 4), 5, fill=red)
    f = _font(max(12, radius // 5))
    n = len(text)
    for i, ch in enumerate(text):
        ang = np.deg2rad(-150 + 120 * i / max(1, n - 1) - 90 + 90)
        x = cx + 0.72 * radius * np.cos(ang - np.pi / 2)
        y = cy + 0.72 * radius * np.sin(ang - np.pi / 2)
        d.text((x, y), ch, font=f, fill=red, anchor="mm")
    ink = cv2.cvtColor(np.asarray(layer), cv2.COLOR_RGB2BGR).astype(np.float32) / 255.0
    return (image.astype(np.float32) * ink).clip(0, 255).astype(np.uint8)


def pdf_pages(path: Path, dpi: int = 200) -> list[np.ndarray]:
    """The pages of a PDF as BGR images (as the upload stage renders them)."""
    out = []
    with pymupdf.open(path) as doc:
        for page in doc:
            pix = page.get_pixmap(dpi=dpi)
            rgb = np.frombuffer(pix.samples, np.uint8).reshape(pix.h, pix.w, pix.n)[:, :, :3]
            out.append(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return out


def png_bytes(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", image)
    assert ok
    return buf.tobytes()


def jpg_bytes(image: np.ndarray, quality: int = 90) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def upload_of(slot: str, pages: list[np.ndarray], dpi: float = 200.0) -> Upload:
    """An Upload as the upload stage would hand it on (no file behind it)."""
    import hashlib

    digest = hashlib.sha256(b"".join(p.tobytes() for p in pages)).hexdigest()
    return Upload(slot, Path(f"{slot}.png"), sum(p.nbytes for p in pages), digest, "png", "png",
                  tuple(Page(i, p, dpi, "metadata") for i, p in enumerate(pages)))


def fields_context(uploads: dict[str, list[np.ndarray]], **case_changes: object) -> StageContext:
    """A stage context for the fields stage holding only ``uploads`` (slot -> page images)."""
    from pipeline.models import Case
    from pipeline.ruleset import load_rule_set
    from tests.casedata import case_dict

    case = Case.model_validate(case_dict(**case_changes))
    return StageContext(case=case, rules=load_rule_set(),
                        uploads={s: upload_of(s, pages) for s, pages in uploads.items()})


def by_rule(findings: list[Finding]) -> dict[tuple[str, str | None], Finding]:
    return {(f.rule, f.slot): f for f in findings}
