"""Rules are data: the rule set names every contract rule id, and each has a check and a failing test."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.errors import RuleSetError
from pipeline.models import Status
from pipeline.review import all_rule_ids_with_checks
from pipeline.ruleset import KNOWN_RULE_IDS, RULES_DIR, load_rule_set

CONTRACT = Path(__file__).resolve().parents[2] / "shared" / "CONTRACT.md"
TESTS = Path(__file__).resolve().parent

#: Rules whose stage a later issue builds. Those issues empty this list.
PENDING: set[str] = set()


def contract_rule_ids() -> set[str]:
    section = CONTRACT.read_text(encoding="utf-8").split("## 5. Rule ids", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"`([a-z]+\.[a-z_]+)`", section))


def test_the_contract_is_beside_the_project() -> None:
    assert CONTRACT.exists(), f"CONTRACT.md not found at {CONTRACT}"


def test_every_contract_rule_id_is_known_and_in_the_rule_set() -> None:
    rules = load_rule_set()
    assert contract_rule_ids() <= KNOWN_RULE_IDS
    assert set(rules.rules) == KNOWN_RULE_IDS


def test_every_rule_has_a_check_unless_pending() -> None:
    assert KNOWN_RULE_IDS - all_rule_ids_with_checks() == PENDING


def test_every_rule_has_a_test_that_names_it_unless_pending() -> None:
    texts = "\n".join(p.read_text(encoding="utf-8") for p in TESTS.glob("test_*.py") if p.name != Path(__file__).name)
    untested = {rule for rule in KNOWN_RULE_IDS if f'"{rule}"' not in texts}
    assert untested <= PENDING


def test_every_rule_has_chinese_pass_and_fail_messages() -> None:
    for rule_id, spec in load_rule_set().rules.items():
        for text in (spec.messages.pass_, spec.messages.fail):
            assert re.search(r"[\u4e00-\u9fff]", text), rule_id


def test_the_report_carries_the_rule_set_file_hash() -> None:
    import hashlib

    rules = load_rule_set()
    digest = hashlib.sha256((RULES_DIR / "lnzc-employee-ukey.toml").read_bytes()).hexdigest()
    assert rules.ref.sha256 == digest and rules.ref.version == "19"


def write_variant(tmp_path: Path, old: str, new: str) -> Path:
    text = (RULES_DIR / "lnzc-employee-ukey.toml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "variant.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        ('[rules."data.email"]', '[rules."data.fax"]', "unknown rule ids: data.fax"),
        ('stage = "data"', 'stage = "data"\nthreshold = 3', "threshold"),
        ('slots = ["application_form"]', 'slots = ["application_forms"]', "unknown slots"),
        ('version = "19"', "version = ", "not valid TOML"),
    ],
)
def test_a_broken_rule_set_stops_loudly(tmp_path: Path, old: str, new: str, complaint: str) -> None:
    with pytest.raises(RuleSetError, match=complaint):
        load_rule_set(write_variant(tmp_path, old, new))


def test_messages_are_filled_from_evidence_and_unknown_placeholders_stay_blank() -> None:
    rules = load_rule_set()
    finding = rules.finding("barcode.order_no", Status.FAIL, "application_form", {"decoded": "123"},
                            order_no="00202009200000604")
    assert "123" in finding.message and "00202009200000604" in finding.message
    assert rules.finding("upload.missing", Status.FAIL, "seal_form").message == "缺少电子印章申请表，请补充上传"


def test_a_finding_with_a_reason_the_rule_has_words_for_says_so_in_its_message(tmp_path: Path) -> None:
    rules = load_rule_set()
    disagree = rules.finding("seal.org_name", Status.UNCERTAIN, "handler_id", {"reason": "reads_disagree"})
    assert disagree.message == "经办人身份证复印件公章上的单位名称有个别字识别结果不一致，需人工核对公章"
    plain = rules.finding("seal.org_name", Status.UNCERTAIN, "handler_id", {"reason": "something_else"})
    assert plain.message == "经办人身份证复印件公章上的文字无法识别，需人工核对"
    settled = rules.finding("seal.org_name", Status.PASS, "handler_id", {"reason": "reads_disagree"})
    assert settled.message == "经办人身份证复印件公章上的单位名称与申请单位一致"  # a pass keeps its own words
    key = 'messages.reasons.reads_disagree = "{slot_title'
    broken = write_variant(tmp_path, key + "}", key)  # an unclosed placeholder
    with pytest.raises(RuleSetError, match=r"reasons\.reads_disagree"):
        load_rule_set(broken)


def test_a_pass_given_for_a_reason_the_rule_has_words_for_says_so(tmp_path: Path) -> None:
    rules = load_rule_set()
    pages = [{"page": 0, "status": "uncertain", "problems": ["low_resolution"], "dpi": 110}]
    read = rules.finding("scan.quality", Status.PASS, "authorization", {"reason": "read_in_full", "lowest_dpi": 110,
                                                                          "pages": pages})
    assert read.message == "法人授权书扫描分辨率偏低（约 110 dpi），但需核对的内容均已识别"
    assert rules.finding("scan.quality", Status.PASS, "authorization", {}).message == "法人授权书扫描清晰"
    key = 'messages.pass_reasons.read_in_full = "{slot_title'
    with pytest.raises(RuleSetError, match=r"pass_reasons\.read_in_full"):
        load_rule_set(write_variant(tmp_path, key + "}", key))


def test_a_stage_tuning_takes_its_known_params_with_their_defaults_types(tmp_path: Path) -> None:
    from pipeline.intake.images import Limits

    limits = load_rule_set().tuning("upload.unreadable", Limits)
    assert limits.max_pages == 20 and isinstance(limits.render_dpi, float)
    broken = load_rule_set(write_variant(tmp_path, "params.max_pages = 20", 'params.max_pages = "twenty"'))
    with pytest.raises(RuleSetError, match="max_pages must be of type int"):
        broken.tuning("upload.unreadable", Limits)
