"""The PIN letter: the one place the user PIN is ever written down, handed to its holder.

The PDF is written with owner-only permissions and is the only copy: the PIN is not stored,
logged or returned anywhere else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pymupdf

#: pymupdf's built-in fonts, no font file needed: Helvetica for Latin and digits (the CJK
#: font's own Latin glyphs are full-width), "china-s" for Chinese.
_LATIN = pymupdf.Font("helv")
_CJK = pymupdf.Font("china-s")


@dataclass(frozen=True)
class PinLetter:
    reference: str
    """The order number the token is labelled with."""
    holder: str
    organization: str
    token_serial: str
    issued_at: datetime

    def render(self, pin: str) -> bytes:
        doc = pymupdf.open()
        page = doc.new_page(width=595, height=842)  # A4 in points
        lines: list[tuple[float, str]] = [
            (20, "数字证书 UKey 用户 PIN 码通知函"),
            (11, f"业务单号：{self.reference}"),
            (11, f"证书持有人：{self.holder}"),
            (11, f"单位名称：{self.organization}"),
            (11, f"UKey 序列号：{self.token_serial}"),
            (11, f"制证时间：{self.issued_at:%Y-%m-%d %H:%M} UTC"),
            (11, "用户 PIN 码："),
            (28, pin),
            (10, "1. 本 PIN 码只打印这一次，系统不保存；请证书持有人本人妥善保管，不得告知他人。"),
            (10, "2. 首次使用时请修改 PIN 码。连续多次输错 PIN 码，UKey 将被锁定，"),
            (10, "    需到业务受理点办理解锁。"),
            (10, "3. 证书私钥在 UKey 内生成，无法导出；UKey 遗失请立即办理注销。"),
        ]
        writer = pymupdf.TextWriter(page.rect)
        y = 90.0
        for size, text in lines:
            x = 72.0
            for run, font in _runs(text):
                writer.append((x, y), run, font=font, fontsize=size)
                x += font.text_length(run, fontsize=size)
            y += size * 2.2
        writer.write_text(page)
        doc.subset_fonts()  # embed only the glyphs used: the CJK font alone is megabytes
        data = doc.tobytes(garbage=3, deflate=True)
        doc.close()
        return bytes(data)

    def write(self, path: Path, pin: str) -> Path:
        """Write the letter readable by its owner only; replaces an earlier (now void) letter."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(self.render(pin))
        os.replace(tmp, path)
        return path


def _runs(text: str) -> list[tuple[str, pymupdf.Font]]:
    """Split text into runs of ASCII and non-ASCII characters, each with the font that has them."""
    runs: list[tuple[str, pymupdf.Font]] = []
    for char in text:
        font = _LATIN if char.isascii() else _CJK
        if runs and runs[-1][1] is font:
            runs[-1] = (runs[-1][0] + char, font)
        else:
            runs.append((char, font))
    return runs
