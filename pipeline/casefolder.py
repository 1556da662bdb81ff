"""Reading a case folder (CONTRACT §1): ``case.json`` plus ``uploads/<slot>.<ext>``.

Everything wrong with the folder itself is collected into one CaseError (exit 3), one line per
problem naming the field path in Chinese and English, so an integrator fixes all at once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from pipeline.errors import CaseError
from pipeline.models import Case

#: case.json larger than this is not a web form's data; refuse before parsing.
MAX_CASE_JSON_BYTES = 256 * 1024

_PYDANTIC_ZH = {
    "missing": "必填字段缺失 / field required",
    "extra_forbidden": "未知字段 / unknown field",
    "literal_error": "取值不在允许范围内 / value not allowed",
    "string_type": "应为字符串 / must be a string",
    "int_type": "应为整数 / must be an integer",
    "model_type": "应为对象 / must be an object",
    "dict_type": "应为对象 / must be an object",
    "string_pattern_mismatch": "格式不正确 / wrong format",
    "timezone_aware": "须为带时区的日期时间 / must be a date-time with a time zone",
    "datetime_type": "应为日期时间 / must be a date-time",
    "datetime_parsing": "日期时间格式不正确 / not a valid ISO 8601 date-time",
    "datetime_from_date_parsing": "日期时间格式不正确 / not a valid ISO 8601 date-time",
    "greater_than": "取值过小 / value too small",
    "less_than_equal": "取值过大 / value too large",
}


@dataclass(frozen=True)
class CaseFolder:
    """A readable case: the parsed case.json and the upload file of each slot present."""

    path: Path
    case: Case
    uploads: dict[str, Path] = field(default_factory=dict)
    ignored: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.path.name


def parse_case_json(raw: bytes, where: str = "case.json") -> Case:
    """Parse and validate case.json bytes; raise CaseError naming every bad field."""
    if len(raw) > MAX_CASE_JSON_BYTES:
        raise CaseError([(where, f"文件过大（超过 {MAX_CASE_JSON_BYTES} 字节） / file too large")])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CaseError([(where, f"不是 UTF-8 编码（第 {exc.start} 字节） / not UTF-8")]) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CaseError(
            [(where, f"不是有效的 JSON（第 {exc.lineno} 行第 {exc.colno} 列：{exc.msg}） / invalid JSON")]
        ) from None
    except RecursionError:
        raise CaseError([(where, "JSON 嵌套过深 / JSON nested too deeply")]) from None
    except ValueError:  # an integer literal over Python's 4300-digit conversion limit
        raise CaseError([(where, "JSON 中的数字位数过多 / number with too many digits")]) from None
    if not isinstance(data, dict):
        raise CaseError([(where, "顶层应为对象 / top level must be an object")])
    surrogate = _lone_surrogate_path(data)
    if surrogate is not None:
        raise CaseError([(surrogate or where, "含有无效的 Unicode 转义（孤立代理项） / lone surrogate escape")])
    try:
        return Case.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            path = ".".join(str(p) for p in err["loc"]) or where
            problems.append((path, _PYDANTIC_ZH.get(err["type"], f"取值无效 / {err['msg']}")))
        raise CaseError(problems) from None


_SURROGATE = re.compile("[\ud800-\udfff]")


def _lone_surrogate_path(data: object) -> str | None:
    """Dotted path of the first key or string holding a lone UTF-16 surrogate: JSON's ``\\ud800``
    escapes decode to text that cannot be written out as UTF-8 again (the report would crash)."""
    stack: list[tuple[str, object]] = [("", data)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, str) and _SURROGATE.search(node):
            return path
        if isinstance(node, dict):
            for key, value in node.items():
                if _SURROGATE.search(key):
                    return path
                stack.append((f"{path}.{key}" if path else key, value))
        elif isinstance(node, list):
            stack.extend((f"{path}.{index}", value) for index, value in enumerate(node))
    return None


def load_case_folder(path: Path, slots: frozenset[str] | set[str]) -> CaseFolder:
    """Read ``path`` as a case folder; raise CaseError if it cannot be reviewed at all."""
    path = Path(path)
    case_file = path / "case.json"
    if not path.is_dir():
        raise CaseError([(str(path), "不是案件文件夹 / not a case folder")], case=str(path))
    try:
        raw = case_file.read_bytes()
    except FileNotFoundError:
        raise CaseError([("case.json", "文件缺失 / file missing")], case=str(path)) from None
    except OSError as exc:
        raise CaseError([("case.json", f"无法读取 / cannot read: {exc.strerror}")], case=str(path)) from None
    try:
        case = parse_case_json(raw)
    except CaseError as exc:
        raise CaseError(exc.problems, case=str(path)) from None

    uploads: dict[str, Path] = {}
    ignored: list[str] = []
    problems: list[tuple[str, str]] = []
    upload_dir = path / "uploads"
    if upload_dir.is_dir():
        for item in sorted(upload_dir.iterdir()):
            slot = item.name.split(".", 1)[0]
            if not item.is_file() or slot not in slots:
                ignored.append(item.name)
                continue
            if slot in uploads:
                both = f"{uploads[slot].name}、{item.name}"
                problems.append((f"uploads/{slot}", f"同一材料位置有多个文件（{both}） / one file per slot"))
                continue
            uploads[slot] = item
    if problems:
        raise CaseError(problems, case=str(path))
    return CaseFolder(path=path, case=case, uploads=uploads, ignored=tuple(ignored))
