"""Drawn pages for the seal tests and the seal benchmark: seals and red ink that is no seal.

A seal is drawn as a real one looks: a ring ~1.2 mm wide, a five-pointed star, the name
clockwise along the top with each character upright toward the centre; its ink multiplies
with the page (black print under it stays black). The tests at the bottom check the drawing
itself, so the detector tests stand on drawings that are what they claim to be.
"""

from __future__ import annotations

import math
from functools import cache

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
SEAL_RED = (40, 30, 210)  # BGR of seal ink (vermilion)
TEXT = "本单位承诺所提交的申请材料真实完整有效并同意遵守数字证书服务协议的全部条款内容"


def imread(path: object) -> np.ndarray:
    """A colour image file as BGR; fails the test when it cannot be read."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None, f"cannot read {path}"
    return image


@cache
def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(FONT, size)


def blank_page(dpi: float = 200, size_mm: tuple[float, float] = (210, 297), lines: int = 18,
               seed: int = 0) -> np.ndarray:
    """A white A4 page (BGR) with lines of black print, like a form."""
    w, h = (round(s / 25.4 * dpi) for s in size_mm)
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    rng = np.random.default_rng(seed)
    size = max(8, round(dpi / 25.4 * 3.5))
    for i in range(lines):
        start = int(rng.integers(0, len(TEXT) - 20))
        d.text((round(w * 0.1), round(h * 0.08 + i * size * 2.2)), TEXT[start:start + 20], fill="black",
               font=font(size))
    return cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR)


def put_label(page: np.ndarray, text: str, xy_mm: tuple[float, float], dpi: float, size_mm: float = 4.0) -> None:
    """Print black text (a form label such as 申请机构盖章：) at a position in millimetres."""
    px = dpi / 25.4
    img = Image.fromarray(cv2.cvtColor(page, cv2.COLOR_BGR2RGB))
    ImageDraw.Draw(img).text((round(xy_mm[0] * px), round(xy_mm[1] * px)), text, fill="black",
                             font=font(max(8, round(size_mm * px))))
    page[:] = cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR)


def seal_mask(diameter_px: int, text: str = "沈阳示例科技有限公司", *, star: bool = True,
              ring_frac: float = 0.03, rotation_deg: float = 0.0, bottom: str = "") -> np.ndarray:
    """Ink coverage 0..1 (float32, square) of a round seal of the given diameter."""
    size = diameter_px + 4
    img = Image.new("L", (size, size), 0)
    d = ImageDraw.Draw(img)
    c, r = size / 2, diameter_px / 2
    ring = max(2, round(diameter_px * ring_frac))
    d.ellipse((c - r, c - r, c + r, c + r), outline=255, width=ring)
    if star:
        pts = []
        for k in range(10):
            rad = r * (0.25 if k % 2 == 0 else 0.1)
            a = math.radians(-90 + k * 36 + rotation_deg)
            pts.append((c + rad * math.cos(a), c + rad * math.sin(a)))
        d.polygon(pts, fill=255)
    if text:
        fsize = max(6, round(r * 0.27))
        span = min(250.0, 24.0 * len(text))
        for i, ch in enumerate(text):
            phi = -span / 2 + span * (i + 0.5) / len(text) + rotation_deg  # 0 = top, clockwise
            glyph = Image.new("L", (fsize * 2, fsize * 2), 0)
            ImageDraw.Draw(glyph).text((fsize // 2, fsize // 2), ch, fill=255, font=font(fsize))
            glyph = glyph.rotate(-phi, resample=Image.Resampling.BICUBIC)
            a = math.radians(phi - 90)
            gx, gy = c + 0.74 * r * math.cos(a), c + 0.74 * r * math.sin(a)
            img.paste(255, (round(gx - fsize), round(gy - fsize)), glyph)
    if bottom:
        bsize = max(6, round(r * 0.18))
        tw = d.textlength(bottom, font=font(bsize))
        d.text((c - tw / 2, c + r * 0.38), bottom, fill=255, font=font(bsize))
    return np.asarray(img, dtype=np.float32) / 255.0


def stamp(page: np.ndarray, mask: np.ndarray, centre: tuple[float, float], colour: tuple[int, int, int] = SEAL_RED,
          strength: float = 0.92, seed: int | None = None, patchy: float = 0.0) -> None:
    """Multiply an ink mask onto the page at ``centre`` (it may reach past the page edge).

    ``patchy`` (0..1) removes ink in blotches, as a lightly inked stamp does.
    """
    a = mask * strength
    if patchy > 0:
        rng = np.random.default_rng(seed)
        noise = cv2.GaussianBlur(rng.random(mask.shape).astype(np.float32), (0, 0), max(1.0, mask.shape[0] / 60))
        noise = (noise - noise.min()) / max(1e-6, float(np.ptp(noise)))
        a = a * np.clip((noise - patchy * 0.6) / 0.4, 0.25, 1.0)
    h, w = page.shape[:2]
    s = mask.shape[0]
    x0, y0 = round(centre[0] - s / 2), round(centre[1] - s / 2)
    px0, py0, px1, py1 = max(0, x0), max(0, y0), min(w, x0 + s), min(h, y0 + s)
    if px1 <= px0 or py1 <= py0:
        return
    sub = a[py0 - y0:py1 - y0, px0 - x0:px1 - x0, None]
    ink = np.array(colour, dtype=np.float32) / 255.0
    region = page[py0:py1, px0:px1].astype(np.float32)
    page[py0:py1, px0:px1] = np.clip(region * (1 - sub * (1 - ink)), 0, 255).astype(np.uint8)


def draw_seal(page: np.ndarray, centre: tuple[float, float], dpi: float, *, diameter_mm: float = 42,
              text: str = "沈阳示例科技有限公司", colour: tuple[int, int, int] = SEAL_RED, strength: float = 0.92,
              rotation_deg: float = 0.0, patchy: float = 0.0, seed: int = 0) -> None:
    mask = seal_mask(round(diameter_mm / 25.4 * dpi), text, rotation_deg=rotation_deg)
    stamp(page, mask, centre, colour, strength, seed, patchy)


def draw_red_title(page: np.ndarray, dpi: float, text: str = "机构员工数字证书申请表") -> None:
    px = dpi / 25.4
    img = Image.fromarray(cv2.cvtColor(page, cv2.COLOR_BGR2RGB))
    ImageDraw.Draw(img).text((round(40 * px), round(12 * px)), text, fill=(215, 25, 30), font=font(round(9 * px)))
    page[:] = cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR)


def draw_signature(page: np.ndarray, dpi: float, origin_mm: tuple[float, float], seed: int = 0) -> None:
    """Red handwriting: a looping pen stroke ~40 mm wide."""
    px = dpi / 25.4
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, 400)
    x = origin_mm[0] + 40 * t + 4 * np.sin(t * rng.uniform(20, 40))
    y = origin_mm[1] + 6 * np.sin(t * rng.uniform(8, 16)) + 3 * np.cos(t * rng.uniform(25, 45))
    pts = np.stack([x * px, y * px], axis=1).astype(np.int32)
    cv2.polylines(page, [pts], False, SEAL_RED, max(2, round(0.5 * px)), cv2.LINE_AA)


def draw_pen_circle(page: np.ndarray, dpi: float, centre_mm: tuple[float, float], diameter_mm: float = 40,
                    word: str = "同意") -> None:
    """A red pen circle drawn by hand around a black word (no red inside)."""
    px = dpi / 25.4
    put_label(page, word, (centre_mm[0] - 4, centre_mm[1] - 2.5), dpi, 5)
    t = np.linspace(0, 2.1 * np.pi, 300)
    r = diameter_mm / 2 * (1 + 0.04 * np.sin(3 * t))
    pts = np.stack([(centre_mm[0] + r * np.cos(t)) * px, (centre_mm[1] + 0.9 * r * np.sin(t)) * px], 1)
    cv2.polylines(page, [pts.astype(np.int32)], False, SEAL_RED, max(2, round(0.4 * px)), cv2.LINE_AA)


def draw_thin_ring(page: np.ndarray, dpi: float, centre_mm: tuple[float, float], diameter_mm: float = 42) -> None:
    """A plain red circle of seal size, nothing inside: not a seal."""
    stamp(page, seal_mask(round(diameter_mm / 25.4 * dpi), "", star=False), (centre_mm[0] * dpi / 25.4,
                                                                               centre_mm[1] * dpi / 25.4))


def draw_red_table(page: np.ndarray, dpi: float, box_mm: tuple[float, float, float, float]) -> None:
    """A red rectangle divided into cells (red table lines)."""
    px = dpi / 25.4
    x0, y0, x1, y1 = (round(v * px) for v in box_mm)
    t = max(2, round(0.4 * px))
    cv2.rectangle(page, (x0, y0), (x1, y1), SEAL_RED, t)
    for k in range(1, 4):
        y = y0 + (y1 - y0) * k // 4
        cv2.line(page, (x0, y), (x1, y), SEAL_RED, t)
    cv2.line(page, ((x0 + x1) // 2, y0), ((x0 + x1) // 2, y1), SEAL_RED, t)


def draw_square_seal(page: np.ndarray, dpi: float, centre_mm: tuple[float, float], side_mm: float = 22,
                     text: str = "中国注册会计师") -> None:
    """A red square seal (a person's or a CPA's seal): not the round official seal."""
    px = dpi / 25.4
    s = round(side_mm * px)
    img = Image.new("L", (s + 4, s + 4), 0)
    d = ImageDraw.Draw(img)
    d.rectangle((2, 2, s + 1, s + 1), outline=255, width=max(2, round(0.8 * px)))
    fs = max(6, s // 5)
    for i in range(0, len(text), 4):
        d.text((round(0.12 * s), round(0.15 * s + (i // 4) * fs * 1.3)), text[i:i + 4], fill=255, font=font(fs))
    stamp(page, np.asarray(img, dtype=np.float32) / 255, (centre_mm[0] * px, centre_mm[1] * px))


def scan(page: np.ndarray, seed: int = 0, *, angle: float = 0.0, blur: float = 0.0, noise: float = 0.0,
         quality: int = 0, tint: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> np.ndarray:
    """What a scanner or a phone makes of the page: rotation, blur, noise, colour cast, JPEG."""
    out = page
    if angle:
        h, w = out.shape[:2]
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        out = cv2.warpAffine(out, m, (w, h), borderValue=(255, 255, 255))
    if blur:
        out = cv2.GaussianBlur(out, (0, 0), blur)
    if tint != (1.0, 1.0, 1.0) or noise:
        f = out.astype(np.float32) * np.array(tint, dtype=np.float32)
        if noise:
            f += np.random.default_rng(seed).normal(0, noise, f.shape).astype(np.float32)
        out = np.clip(f, 0, 255).astype(np.uint8)
    if quality:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, quality])
        decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        assert ok and decoded is not None
        out = decoded
    return out


# ---------------------------------------------------------------------------- the drawings


def test_a_drawn_seal_has_the_asked_diameter_and_a_red_ring() -> None:
    # Given a 42 mm seal drawn at 200 dpi
    page = blank_page(200)
    draw_seal(page, (800, 1800), 200)
    # When the red pixels are measured
    b, g, r = (page[..., k].astype(int) for k in range(3))
    _ys, xs = np.nonzero((r - g > 80) & (r - b > 80))
    # Then they span 42 mm (331 px) across, centred where asked
    assert abs((xs.max() - xs.min()) - 331) <= 4
    assert abs((xs.max() + xs.min()) / 2 - 800) <= 3


def test_print_under_a_stamped_seal_stays_dark() -> None:
    page = blank_page(200)
    before = page.copy()
    draw_seal(page, (700, 400), 200)
    dark = before[..., 0] < 80
    assert dark.any() and (page[..., 1][dark] < 90).all()
