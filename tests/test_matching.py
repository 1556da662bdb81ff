"""Matching entered values with OCR text: normalisation, fuzzy names, numbers with check digits."""

from __future__ import annotations

from pipeline.models import Status
from pipeline.reading.compare import Thresholds, judge_exact
from pipeline.reading.matching import (
    disputed_probabilities,
    find_dates,
    find_ric,
    find_uscc,
    fold_code_lookalikes,
    folded_toward,
    is_valid_ric,
    merged_repeats,
    name_equal_score,
    name_score,
    normalise,
    possible_differences,
    read_by_character,
    simplified_form,
)
from pipeline.reading.page import Value
from pipeline.stages import fields
from tests.casedata import make_ric, make_uscc


def test_full_width_letters_digits_and_spaces_normalise_to_half_width_without_spaces() -> None:
    assert normalise("９１２１\u3000０１ ＡＢ\n（有限）") == "912101AB(有限)"


def test_a_name_inside_a_longer_line_scores_full_and_reports_the_aligned_text() -> None:
    m = name_score("沈阳示例科技有限公司", "单位名称：沈阳示例科技有限公司")
    assert m.score == 100.0
    assert m.matched == "沈阳示例科技有限公司"


def test_one_misread_character_in_a_long_name_still_scores_above_ninety() -> None:
    assert name_score("沈阳示例科技有限公司", "沈阳示倒科技有限公司").score >= 90


def test_a_different_organisation_scores_low() -> None:
    assert name_equal_score("沈阳示例科技有限公司", "大连海港物流有限公司") < 60


def test_an_id_number_read_with_letter_o_for_zero_is_repaired_when_the_check_digit_confirms_it() -> None:
    number = make_ric("21010219900307001")
    misread = number.replace("0", "O", 1)
    reads = find_ric(f"公民身份号码{misread}")
    assert [(r.value, r.valid, r.repaired) for r in reads] == [(number, True, True)]


def test_an_id_number_with_a_wrong_check_digit_is_read_but_not_accepted() -> None:
    number = make_ric("21010219900307001")
    wrong = number[:17] + ("1" if number[17] != "1" else "2")
    (read,) = find_ric(wrong)
    assert read.valid is False
    assert read.value == wrong


def test_the_lower_case_x_check_character_of_an_id_number_is_accepted() -> None:
    body = next(f"2101021990030700{i}" for i in range(10, 100) if make_ric(f"2101021990030700{i}"[:17]).endswith("X"))
    number = make_ric(body[:17])
    assert find_ric(number.lower())[0].valid


def test_a_credit_code_read_with_o_for_zero_in_the_digits_is_repaired() -> None:
    code = make_uscc()
    misread = "9121O1OOMAOY8K3N2" + code[17]
    (read,) = find_uscc(misread)
    assert read.valid and read.value == code


def test_a_seventeen_character_code_is_reported_invalid() -> None:
    (read,) = find_uscc("统一社会信用代码 10440119MA06M8503")
    assert read.valid is False and read.raw == "10440119MA06M8503"


def test_a_resident_id_of_a_region_missing_from_stdnum_is_valid_when_check_digit_and_birth_date_are() -> None:
    assert is_valid_ric("370782198709170246")  # real specimen; stdnum lacks the region code
    assert not is_valid_ric("370782198713170246")  # month 13


def test_dates_in_chinese_and_dotted_forms_are_found() -> None:
    assert find_dates("2026 年 11 月 20 日至2027.05.20") == [(2026, 11, 20), (2027, 5, 20)]


def test_dates_in_chinese_numerals_are_found_in_the_order_written_with_a_read_zero_of_any_kind() -> None:
    assert find_dates("二〇二六年十一月二十七日至2027年5月27日") == [(2026, 11, 27), (2027, 5, 27)]
    assert find_dates("授权期限 2026年12月3日 至 二O二七年六月三日") == [(2026, 12, 3), (2027, 6, 3)]
    assert find_dates("二零二六年十月三十一日") == [(2026, 10, 31)]
    assert find_dates("二o二六年十二月十日") == [(2026, 12, 10)]


def test_a_traditional_form_of_an_entered_character_is_read_as_that_character_and_nothing_else_changes() -> None:
    assert folded_toward("盘锦辽河油田", "盘錦遼河油田") == "盘锦辽河油田"
    assert folded_toward("沈阳示例", "瀋陽示範") == "沈阳示範"  # 範 folds to 范, which is no character of 示例
    assert folded_toward("鞍山干山", "鞍山乾山") == "鞍山乾山"  # 乾 is a GB2312 character of its own
    assert folded_toward("王堃", "王坤") == "王坤" and folded_toward("王坤", "王堃") == "王堃"
    assert simplified_form("錦") == "锦" and simplified_form("锦") == "锦"


def test_no_date_is_made_of_numerals_that_are_no_date() -> None:
    assert find_dates("二〇二六年十三月一日") == []  # no 13th month
    assert find_dates("有效期二年，年限三年") == []
    assert find_dates("二〇二六年四十一月") == []


def _email_verdict(read: str, confidence: float = 0.95) -> Status:
    value = Value(read, (0, 0, 10, 10), confidence, "电子邮箱：", "right")
    return judge_exact("handler.email", "lina1990@163.com", value, Thresholds(), "email").status


def test_an_email_read_with_look_alike_characters_is_shown() -> None:
    # small serif print: l read as 1 and @ as 0 (seen with AR PL UMing forms)
    assert _email_verdict("1ina19900163.com") is Status.PASS
    assert _email_verdict("LINA1990@163.COM") is Status.PASS
    # a doubled letter merged by the recogniser
    value = Value("chenjing95@q.com", (0, 0, 10, 10), 0.95, "电子邮箱：", "right")
    assert judge_exact("handler.email", "chenjing95@qq.com", value, Thresholds(), "email").status is Status.PASS


def test_an_email_differing_beyond_look_alikes_is_not_shown() -> None:
    assert _email_verdict("zhaolei@haiwan-wl.com") is Status.FAIL
    assert _email_verdict("lina1991@163.com") is not Status.PASS


def _phone_verdict(read: str) -> Status:
    value = Value(read, (0, 0, 10, 10), 0.95, "手机号码：", "right")
    return judge_exact("handler.mobile", "13942366655", value, Thresholds(), "phone").status


def test_a_phone_number_read_with_a_repeated_digit_merged_is_shown() -> None:
    assert _phone_verdict("1394236655") is Status.PASS  # 666 read as 66
    assert _phone_verdict("139423665") is Status.PASS  # and 55 as 5
    assert merged_repeats("04273345566", "0427334566")


def test_a_phone_number_with_a_digit_changed_dropped_or_added_is_not_shown() -> None:
    assert _phone_verdict("13942366656") is Status.FAIL
    assert _phone_verdict("1394366655") is not Status.PASS  # the 2 dropped: no repeat to merge
    assert not merged_repeats("13942366655", "139423666555")  # a run grown, not merged
    assert not merged_repeats("04273345566", "0427335566")  # the 4 dropped


def test_a_read_lines_up_with_the_entered_name_character_by_character() -> None:
    probabilities = [0.3, *[0.9] * 3, 0.97, *[0.9] * 6]
    by_char = read_by_character("沈阳示例科技有限公司", "日沈阳示范科技有限公司", probabilities, 0.9)
    assert by_char is not None
    assert [c.same for c in by_char if c is not None].count(False) == 1
    assert by_char[3] is not None and (by_char[3].char, by_char[3].probability, by_char[3].index) == ("范", 0.97, 4)


def test_a_ring_read_that_began_inside_the_name_lines_up_across_its_end() -> None:
    by_char = read_by_character("沈阳示例科技有限公司", "科技有限公司日沈阳示例", [], 0.8, wrapped=True)
    assert by_char is not None and all(c is not None and c.same for c in by_char)
    assert read_by_character("沈阳示例科技有限公司", "经办人签字", [], 0.9) is None  # another text: nothing to say


def test_a_read_that_misread_the_names_first_characters_is_aligned_over_them() -> None:
    by_char = read_by_character("鞍山千山中药饮片厂", "鞍函干山中药饮片厂", [0.96, 0.42, 0.76] + [0.99] * 6, 0.9)
    assert by_char is not None and [(c.char, c.same) for c in by_char[:3] if c is not None] == [
        ("鞍", True), ("函", False), ("干", False)]


def test_a_character_read_otherwise_beside_a_dropped_one_may_stand_for_either() -> None:
    found = possible_differences("鞍山千山中药饮片厂", "鞍干山中药饮片厂", [0.98, 0.79] + [0.99] * 6, 0.9)
    assert {(i, c.char) for i, c in found} == {(1, "干"), (2, "干")}
    assert possible_differences("沈阳示例科技有限公司", "沈阳示范科技有限公司", [], 0.9)[0][0] == 3
    assert possible_differences("沈阳示例科技有限公司", "沈阳示例科技有限公司", [], 0.9) == []


def test_the_places_in_dispute_are_where_the_first_reading_differs_from_the_entered_value() -> None:
    # the stronger reading shows the entered address; the first read 潮 for 渤 (position 9)
    entered = "辽宁省营口市站前区渤海大街西 45 号"
    first, second = "辽宁省营口市站前区潮海大街西45号", "辽宁省营口市站前区渤海大街西45号"
    probs = [0.99] * 9 + [0.61] + [0.98] * 7
    assert disputed_probabilities(entered, first, second, probs) == [0.61]
    # a character the first reading dropped or added is in dispute too (beside an added one: both neighbours)
    assert disputed_probabilities("高海峰", "高峰", "高海峰", [0.9, 0.7, 0.95]) == [0.7]
    assert disputed_probabilities("高海峰", "高海山峰", "高海峰", [0.9, 0.7, 0.95]) == [0.7, 0.95]
    # nothing the first reading showed at all: every character is in dispute
    assert disputed_probabilities("王赟", "", "王赟", [0.99, 0.93]) == [0.99, 0.93]


def test_nothing_is_in_dispute_when_the_stronger_reading_does_not_show_the_entered_value() -> None:
    assert disputed_probabilities("高海峰", "高海锋", "高海锋", [0.99, 0.99, 0.99]) is None
    assert disputed_probabilities("高海峰", "高海锋", "高海峰", [0.99, 0.99]) is None  # probabilities not lined up
    # punctuation and spaces the names are compared without do not shift the places
    assert disputed_probabilities("0417-2869035", "0417-2869085", "0417-2869035", [0.9] * 4 + [0.2] + [0.9] * 5
                                  + [0.4, 0.9]) == [0.4]


def test_two_readings_of_a_code_differing_only_by_letters_no_code_holds_are_one_reading() -> None:
    # Tesseract reads the 0 of a credit code as O, which GB 32100 leaves out of every code
    assert fold_code_lookalikes("用代码91210104mAoXL3T8X8") == "用代码91210104MA0XL3T8X8"
    assert fields._same_reading("org.id_number", "91210104MA0XL3T8X8", "用代码91210104MAOXL3T8X8")
    # Q is a letter codes do hold: a reading with Q there is another reading
    assert not fields._same_reading("org.id_number", "91210104MA0XL3T8X8", "91210104MAQXL3T8X8")
