"""Resident ID numbers as GB 11643-1999 defines them — and no more.

python-stdnum's ``cn.ric`` also requires the six-digit area code to have existed in the holder's
birth year, from its own list of codes. Most people were born before their district got today's
code (210102 1972…, 370782 1987…), so that test rejects valid numbers. The standard asks for
18 characters, a known province (the first two digits), a real birth date that is not in the
future, and the ISO 7064 MOD 11-2 check character: that is what is checked here, with stdnum's
own check-character calculation.
"""

from __future__ import annotations

import re
from datetime import date

from stdnum.cn import ric

#: GB/T 2260 province-level codes (first two digits), plus 81/82/83: the residence permits of
#: Hong Kong, Macao and Taiwan residents, which carry the same structure.
PROVINCES = frozenset({
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65", "71", "81", "82", "83",
})


def resident_id_problem(value: str, today: date | None = None) -> str:
    """Why ``value`` is not a valid resident ID number (a Chinese reason), or '' when it is."""
    if value != value.strip() or " " in value:
        return "不能含空格"
    if len(value) != 18:
        return "长度不对"
    if not value[:17].isdigit() or not (value[17].isdigit() or value[17] == "X"):
        return "含有不允许的字符"
    if value[:2] not in PROVINCES:
        return "地区码无效"
    birth = birth_date(value)
    if birth is None:
        return "出生日期无效"
    if birth.year < 1900 or birth > (today or date.today()):
        return "出生日期不合理"
    if ric.calc_check_digit(value) != value[17]:
        return "校验位错误"
    return ""


def birth_date(value: str) -> date | None:
    """The birth date in digits 7–14, or None when it is no calendar date."""
    try:
        return date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return None


def is_valid_resident_id(value: str) -> bool:
    return not resident_id_problem(value)


#: an 18-character resident ID number standing alone (not inside a longer run of digits)
_RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])([1-9][0-9]{5})[0-9]{8}([0-9]{3}[0-9Xx])(?![0-9A-Za-z])")


def mask_resident_ids(text: str) -> str:
    """Every resident ID number in ``text`` with its birth date and sequence hidden:
    210102199001011234 → 210102********1234 (area code and the last four kept)."""
    return _RESIDENT_ID.sub(r"\1********\2", text)
