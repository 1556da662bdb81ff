"""The document-kind classifier: title words and labels decide, a foreign card is no ID card."""

from __future__ import annotations

import pytest

from pipeline.reading.doctype import classify
from pipeline.reading.ocr import TextBox


def _page(*lines: str, title: str = "") -> list[TextBox]:
    boxes = [TextBox(title, (300, 100, 900, 180), 0.99)] if title else []
    return boxes + [TextBox(t, (100, 300 + 60 * i, 700, 340 + 60 * i), 0.99) for i, t in enumerate(lines)]


def test_an_application_form_whose_label_names_the_business_licence_is_still_an_application_form() -> None:
    page = _page("机构名称：", "营业执照号/统一社会信用代码：", "经办人资料", title="辽宁采购-机构员工数字证书申请表")
    kind = classify(page, 2339)
    assert kind.kind == "application_form"


def test_a_business_licence_is_recognised_from_its_title_and_labels() -> None:
    kind = classify(_page("统一社会信用代码91441900595830037Q", "法定代表人", "营业期限", "成立日期",
                          title="营业执照"), 1754)
    assert kind.kind == "business_license"


def test_a_resident_id_card_front_is_an_id_card() -> None:
    kind = classify(_page("姓名李四", "性别男民族汉", "住址天津市和平区", "公民身份号码120101199209156389"), 540)
    assert kind.kind == "id_card"


def test_a_foreign_permanent_resident_card_is_not_taken_for_a_resident_id_card() -> None:
    kind = classify(_page("姓名/Name", "证件样本", "国籍/Nationality", "加拿大/CAN", "证件号码/ID No.",
                          "911124198108030024"), 756)
    assert kind.kind == "foreign_permanent_resident_id"


def test_an_authorization_letter_and_a_seal_form_are_told_apart() -> None:
    auth = classify(_page("兹授权李娜同志为我司办理数字证书相关业务的经办人", "授权期限2026年11月20日",
                          title="法人授权书"), 2339)
    seal = classify(_page("单位名称：", "公章盖三下", "法人章盖三下", title="电子印章申请表"), 2339)
    assert (auth.kind, seal.kind) == ("authorization", "seal_form")


def test_a_page_without_cue_words_is_other() -> None:
    assert classify(_page("今天天气很好", "我们去公园散步"), 1000).kind == "other"


def test_a_long_cue_word_with_one_character_misread_still_counts() -> None:
    # a noisy 300-dpi scan of the application form's VI page: 申 read as 中 in its heading
    kind = classify(_page("姓名", "业务类型", "身份证号码", title="VI.附页：机构中员工证书中请材料"), 2339)
    assert kind.kind == "application_form"
    assert "机构中员工证书申请材料" in kind.words


def test_a_fragment_of_a_long_cue_word_or_two_misreads_do_not_count() -> None:
    assert classify(_page("证书申请材料", "今天天气很好"), 2339).kind == "other"
    assert classify(_page("机构中员工正书中请材料", "今天天气很好"), 2339).kind == "other"


def test_the_4_of_8_page_of_the_seal_form_set_is_a_seal_form_page_not_an_authorization_letter() -> None:
    """The guide numbers the 电子印章申请表 set: its 4/8 page (the 被授权员工 list) begins 兹授权…"""
    page = classify(_page("兹授权下列被授权员工列表中的员工（下称：被授权员工）(4/8)",
                          "使用本单位沈阳示例科技有限公司机构数字证书，",
                          "被授权员工可代表本单位使用机构数字证书及上列表格(3/8)中的电子印章图样，签署文件并制作电子签名。",
                          "姓名", "身份证号码", "签字"), 2339)
    assert page.kind == "seal_form"


@pytest.mark.parametrize("title, labels", [
    ("事业单位法人证书", ["统一社会信用代码", "名称", "宗旨和业务范围", "住所", "法定代表人", "经费来源", "开办资金",
                   "举办单位", "有效期", "登记管理机关"]),
    ("社会团体法人登记证书", ["统一社会信用代码", "名称", "住所", "业务范围", "活动地域", "法定代表人", "注册资金",
                     "业务主管单位", "有效期", "登记管理机关"]),
])
def test_the_certificate_of_an_organisation_that_is_no_company_is_of_the_licence_slots_kind(
        title: str, labels: list[str]) -> None:
    """有效单位证件（如营业执照）: a public institution or an association shows its certificate."""
    kind = classify(_page(*labels, title=title), 2339)
    assert kind.kind == "business_license", kind
    assert kind.title == "营业执照等单位证件"
