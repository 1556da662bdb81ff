"""Upload intake (temporary minimal version; the full bounded, hostile-file-proof gate replaces it)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import cv2
import numpy as np
import pymupdf

from pipeline.casefolder import CaseFolder
from pipeline.models import Finding, Status
from pipeline.pages import Page, Upload, estimate_a4_dpi
from pipeline.ruleset import RuleSet


RULE_IDS = ("upload.missing", "upload.empty", "upload.too_large", "upload.format", "upload.unreadable")


@dataclass(frozen=True)
class Intake:
    findings: list[Finding]
    uploads: dict[str, Upload]
    blocked_slots: frozenset[str]


def intake(folder: CaseFolder, rules: RuleSet) -> Intake:
    findings: list[Finding] = []
    uploads: dict[str, Upload] = {}
    blocked: set[str] = set()
    for slot, spec in rules.slots.items():
        path = folder.uploads.get(slot)
        if path is None:
            if spec.required:
                findings.append(rules.finding("upload.missing", Status.FAIL, slot))
                blocked.add(slot)
            continue
        if spec.required:
            findings.append(rules.finding("upload.missing", Status.PASS, slot))
        data = path.read_bytes()
        ext = path.suffix.lower().lstrip(".")
        pages: list[Page] = []
        if ext == "pdf":
            with pymupdf.open(stream=data, filetype="pdf") as doc:
                for i, pg in enumerate(doc):
                    pix = pg.get_pixmap(dpi=200)
                    img = np.frombuffer(pix.samples, np.uint8).reshape(pix.h, pix.w, pix.n)[:, :, :3]
                    pages.append(Page(i, cv2.cvtColor(img, cv2.COLOR_RGB2BGR), 200.0, "pdf-render"))
            ctype = "pdf"
        else:
            img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            pages.append(Page(0, img, estimate_a4_dpi(img.shape[1], img.shape[0]), "estimated-a4"))
            ctype = "jpeg" if ext in ("jpg", "jpeg") else ext
        uploads[slot] = Upload(slot, path, len(data), hashlib.sha256(data).hexdigest(), ext, ctype,
                               tuple(pages))
    return Intake(findings, uploads, frozenset(blocked))
