"""Valid entered data for tests: check digits computed with python-stdnum, never typed by hand."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from stdnum.cn import ric, uscc


def make_uscc(body: str = "91210100MA0Y8K3N2") -> str:
    return body + uscc.calc_check_digit(body)


def make_ric(body: str = "21010219900307001") -> str:
    """A resident ID: region 210102 (沈阳市和平区), birth date, sequence (odd 17th digit = male)."""
    return body + ric.calc_check_digit(body + "0")  # stdnum expects a placeholder check digit


BASE_CASE: dict[str, Any] = {
    "order_no": "00202009200000604",
    "service": "lnzc-employee-ukey",
    "business_type": "new",
    "validity_months": 12,
    "submitted_at": "2026-11-20T10:15:00+08:00",
    "org": {
        "name": "沈阳示例科技有限公司", "id_type": "uscc", "id_number": make_uscc(),
        "country": "CN", "province": "辽宁", "address": "辽宁省沈阳市和平区南京北街1号",
        "phone": "024-23456789", "department": "信息部",
    },
    "user": {
        "name": "张伟", "id_type": "resident_id", "id_number": make_ric("21010219900307001"),
        "country": "CN", "province": "辽宁", "phone": "13812345678", "gender": "male", "department": "信息部",
    },
    "handler": {
        "name": "李娜", "id_type": "resident_id", "id_number": make_ric("21010319880512002"),
        "address": "辽宁省沈阳市沈河区十三纬路58号", "mobile": "13912345678", "email": "lina@example.cn",
    },
    "remark": "",
    "payment": {"status": "paid", "method": "bank_transfer", "payer_name": "沈阳示例科技有限公司"},
}


def case_dict(**changes: Any) -> dict[str, Any]:
    """BASE_CASE with dotted-path changes: case_dict(**{"org.name": "x"}); value None deletes."""
    data = copy.deepcopy(BASE_CASE)
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = data
        for key in parents:
            node = node[key]
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return data


def write_case(folder: Path, data: dict[str, Any] | None = None, uploads: dict[str, bytes] | None = None) -> Path:
    """Write a case folder with case.json and the given uploads (file name -> bytes)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "case.json").write_text(json.dumps(data or BASE_CASE, ensure_ascii=False), encoding="utf-8")
    if uploads:
        (folder / "uploads").mkdir(exist_ok=True)
        for name, content in uploads.items():
            (folder / "uploads" / name).write_bytes(content)
    return folder
