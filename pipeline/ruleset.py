"""Rule sets are versioned data files in ``rules/``; this module is only their loader.

A rule set names every slot and every rule: which stage produces it, which slots it applies
to, the Chinese messages a clerk can send to the applicant, and the rule's parameters
(thresholds, limits). The file's sha256 goes into every report so an auditor can tell which
rules produced a decision. A broken rule set stops the run (RuleSetError); nothing is skipped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import string
import tomllib
from functools import cache
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pipeline.errors import RuleSetError
from pipeline.models import Finding, RuleSetRef, Status

RULES_DIR = Path(__file__).resolve().parent.parent / "rules"
DEFAULT_RULE_SET = "lnzc-employee-ukey"

#: Every rule id precheck knows: CONTRACT §5 plus the ids added since. A rule set may not
#: name any other id, and must name all of these (the meta-test checks each has a check).
KNOWN_RULE_IDS: frozenset[str] = frozenset(
    {
        "upload.missing", "upload.empty", "upload.too_large", "upload.format", "upload.unreadable",
        "data.uscc", "data.resident_id", "data.org_name", "data.mobile", "data.email",
        "payment.payer",
        "barcode.order_no",
        "seal.present", "seal.org_name", "seal.position",
        "scan.quality", "scan.edited", "doc.kind",
        "ocr.org_name", "ocr.uscc", "ocr.handler", "ocr.user", "ocr.form_fields",
        "ocr.apply_date", "ocr.license_valid", "auth.period", "auth.altered",
        "upload.reused",
        "token.not_approved", "token.unpaid", "token.payer_mismatch",
    }
)

T = TypeVar("T")

Stage = Literal["upload", "data", "quality", "barcode", "seal", "fields", "case", "issuance"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SlotSpec(_Frozen):
    title: str
    required: bool
    seal_required: bool
    doc_kind: str


class Messages(_Frozen):
    """Message templates; ``{slot_title}`` and any evidence key may be used as placeholders."""

    pass_: str = Field(alias="pass")
    fail: str
    uncertain: str | None = None
    skipped: str = "因前一步检查未通过，本项未能检查"
    #: a finding (not a pass) whose evidence ``reason`` is a key here takes that message instead
    reasons: dict[str, str] = Field(default_factory=dict)
    #: a pass whose evidence ``reason`` is a key here takes that message instead (a pass given for a
    #: reason the plain pass message does not state; a settled disagreement keeps the plain words)
    pass_reasons: dict[str, str] = Field(default_factory=dict)


class RuleSpec(_Frozen):
    stage: Stage
    title: str
    slots: tuple[str, ...] = ()
    messages: Messages
    params: dict[str, Any] = Field(default_factory=dict)


class RuleSet(_Frozen):
    id: str
    version: str
    title: str
    sha256: str
    slots: dict[str, SlotSpec]
    rules: dict[str, RuleSpec]

    @model_validator(mode="after")
    def _consistent(self) -> RuleSet:
        unknown = sorted(set(self.rules) - KNOWN_RULE_IDS)
        if unknown:
            raise ValueError(f"unknown rule ids: {', '.join(unknown)}")
        missing = sorted(KNOWN_RULE_IDS - set(self.rules))
        if missing:
            raise ValueError(f"rule set lacks rules: {', '.join(missing)}")
        for rule_id, spec in self.rules.items():
            bad = sorted(set(spec.slots) - set(self.slots))
            if bad:
                raise ValueError(f"rule {rule_id} names unknown slots: {', '.join(bad)}")
            for status, template in spec.messages.model_dump(
                    by_alias=True, exclude={"reasons", "pass_reasons"}).items():
                if template is not None:
                    _check_template(f"{rule_id}.messages.{status}", template)
            for kind in ("reasons", "pass_reasons"):
                for reason, template in getattr(spec.messages, kind).items():
                    _check_template(f"{rule_id}.messages.{kind}.{reason}", template)
        return self

    @property
    def ref(self) -> RuleSetRef:
        return RuleSetRef(id=self.id, version=self.version, sha256=self.sha256)

    def rule(self, rule_id: str) -> RuleSpec:
        try:
            return self.rules[rule_id]
        except KeyError:
            raise RuleSetError(f"rule set {self.id} has no rule {rule_id!r}") from None

    def param(self, rule_id: str, name: str) -> Any:
        params = self.rule(rule_id).params
        if name not in params:
            raise RuleSetError(f"rule {rule_id} in rule set {self.id} lacks parameter {name!r}")
        return params[name]

    def tuning(self, rule_id: str, cls: type[T]) -> T:
        """A stage's tuning dataclass from a rule's params: its known keys, each value of its
        default's type; other keys are other knobs of the rule and are left alone."""
        params = self.rule(rule_id).params
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name in params:
                values[f.name] = _of_default_type(rule_id, f, params[f.name])
        return cls(**values)

    def slot_title(self, slot: str | None) -> str:
        return self.slots[slot].title if slot in self.slots else ""

    def finding(
        self,
        rule_id: str,
        status: Status,
        slot: str | None = None,
        evidence: dict[str, Any] | None = None,
        **placeholders: Any,
    ) -> Finding:
        """Build a finding whose message comes from the rule set, filled from evidence."""
        spec = self.rule(rule_id)
        template = {
            Status.PASS: spec.messages.pass_,
            Status.FAIL: spec.messages.fail,
            Status.UNCERTAIN: spec.messages.uncertain or spec.messages.fail,
            Status.SKIPPED: spec.messages.skipped,
        }[status]
        reason = (evidence or {}).get("reason")
        worded = spec.messages.pass_reasons if status is Status.PASS else spec.messages.reasons
        if isinstance(reason, str) and reason in worded:
            template = worded[reason]
        values = _Blank({"slot_title": self.slot_title(slot), **(evidence or {}), **placeholders})
        message = string.Formatter().vformat(template, (), values)
        return Finding(rule=rule_id, slot=slot, status=status, message=message, evidence=evidence or {})


class _Blank(dict[str, Any]):
    """Placeholders with no value render as empty text instead of raising KeyError."""

    def __missing__(self, key: str) -> str:
        return ""


def _of_default_type(rule_id: str, f: dataclasses.Field[Any], value: Any) -> Any:
    default = f.default
    kind = type(default)
    if default is dataclasses.MISSING or kind not in (int, float, bool, str):
        return value
    if kind is bool or isinstance(value, bool):
        ok = isinstance(value, bool) and kind is bool
    elif kind is int:
        ok = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    elif kind is float:
        ok = isinstance(value, (int, float))
    else:
        ok = isinstance(value, str)
    if not ok:
        raise RuleSetError(f"rule {rule_id}: parameter {f.name} must be of type {kind.__name__}, not {value!r}")
    return kind(value)


def _check_template(where: str, template: str) -> None:
    try:
        list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"{where}: bad message template: {exc}") from None


def load_rule_set(path_or_id: str | Path = DEFAULT_RULE_SET) -> RuleSet:
    """Load a rule set by id (a file in ``rules/``) or by path; raise RuleSetError if broken."""
    path = Path(path_or_id)
    if not path.suffix:
        path = RULES_DIR / f"{path_or_id}.toml"
    return _load(path.resolve())


@cache
def _load(path: Path) -> RuleSet:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RuleSetError(f"cannot read rule set {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RuleSetError(f"rule set {path} is not valid TOML: {exc}") from None
    header = data.pop("rule_set", {})
    try:
        return RuleSet(sha256=hashlib.sha256(raw).hexdigest(), **header, **data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise RuleSetError(f"rule set {path} is invalid: {problems}") from None
    except TypeError as exc:
        raise RuleSetError(f"rule set {path} is invalid: {exc}") from None
