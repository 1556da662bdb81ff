"""Page previews of stored uploads for the console's case page, made once and kept on disk.

The review service's workers keep no images (a review runs in a temporary folder), so the console
decodes the exact file a review read — by its sha256 in the report — with the same bounded
decoders as the upload stage (``pipeline.intake``), straightened the same way, and writes the
previews the HTML report would (``pipeline.pageviews.save_preview``): the evidence boxes, given in
page pixels, land where the checks saw them. ``var/previews/<sha256>/`` holds them.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from pathlib import Path
from typing import Any

from pipeline.intake.decoded import Limits
from pipeline.intake.images import decode, sniff
from pipeline.models import Report
from pipeline.pageviews import MAX_PREVIEW_PAGES, save_preview
from pipeline.ruleset import RuleSet
from pipeline.service.store import Store

log = logging.getLogger(__name__)

PREVIEW_NAME = re.compile(r"^(?P<slot>[A-Za-z0-9_]+)-p(?P<page>[0-9]{1,3})\.jpg$")
_SHA = re.compile(r"^[0-9a-f]{64}$")


def preview_root() -> Path:
    return Path(os.environ.get("PRECHECK_PREVIEW_DIR") or Path("var") / "previews").resolve()


class Previews:
    def __init__(self, store: Store, rules: RuleSet, root: Path | None = None) -> None:
        self.store, self.rules, self.root = store, rules, root or preview_root()
        self.limits = rules.tuning("upload.unreadable", Limits)
        self._lock = threading.Lock()  # one decode at a time: PDFs are rendered in a forked child

    def folder(self, sha256: str) -> Path:
        assert _SHA.match(sha256), sha256
        return self.root / sha256

    def for_report(self, report: Report) -> Report:
        """The report with each readable upload's ``previews``, as ``render_html`` would find them."""
        uploads: dict[str, dict[str, Any]] = {}
        for slot, summary in report.uploads.items():
            sha = summary.get("sha256")
            previews = self.pages(slot, sha) if isinstance(sha, str) and _SHA.match(sha) else []
            uploads[slot] = {**summary, "previews": previews}
        return report.model_copy(update={"uploads": uploads})

    def pages(self, slot: str, sha256: str) -> list[dict[str, Any]]:
        manifest = self.folder(sha256) / f"{slot}.json"
        if manifest.exists():
            return list(json.loads(manifest.read_text(encoding="utf-8")))
        with self._lock:
            if manifest.exists():
                return list(json.loads(manifest.read_text(encoding="utf-8")))
            try:
                data = self.store.blobs.get(sha256)
                decoded = decode(data, sniff(data[:64]), self.limits)
                made = [save_preview(self.folder(sha256), slot, p) for p in decoded.pages[:MAX_PREVIEW_PAGES]]
            except Exception:
                log.warning("no preview of %s (%s)", slot, sha256[:12], exc_info=True)
                return []
            manifest.write_text(json.dumps(made), encoding="utf-8")
            return made

    def image(self, sha256: str, name: str) -> Path | None:
        """The preview file ``artifacts/pages/<name>`` of the file with this sha256, if made."""
        if not PREVIEW_NAME.match(name) or not _SHA.match(sha256):
            return None
        path = self.folder(sha256) / "artifacts" / "pages" / name
        return path if path.is_file() else None

