"""What kind of document an upload is, from the words OCR read on it and where they sit.

Title words count most (the largest text near the top), field labels next: a business licence
says 营业执照 and has 统一社会信用代码 / 法定代表人 / 营业期限 (the kind also holds the certificates of
organisations that are no company: 事业单位法人证书, 社会团体法人登记证书 …); a resident ID card front has
公民身份号码 and 姓名 / 性别 / 民族 / 住址, its back 居民身份证 / 签发机关; the foreign
permanent-resident card (外国人永久居留身份证) has 永久居留 or 证件号码 with Nationality
and is NOT a resident ID card. A kind wins only with a clear margin; otherwise ``other``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from pipeline.reading.matching import normalise
from pipeline.reading.ocr import TextBox

#: Chinese names of the kinds, for messages ("looks like ...").
KIND_TITLES = {
    "application_form": "机构员工数字证书申请表",
    "seal_form": "电子印章申请表",
    "authorization": "法人授权书",
    "business_license": "营业执照等单位证件",
    "id_card": "居民身份证",
    "foreign_permanent_resident_id": "外国人永久居留身份证",
    "other": "其他材料",
}

#: kind -> ((word, weight), ...). Words are compared after NFKC normalisation, no spaces.
CUES: dict[str, tuple[tuple[str, float], ...]] = {
    "application_form": (("数字证书申请表", 6), ("证书申请表", 4), ("员工数字证书", 3), ("申请表", 1),
                         ("用户信息", 2), ("经办人信息", 2), ("单位信息", 1), ("业务单号", 2),
                         ("证书有效期", 1), ("机构中员工证书申请材料", 5), ("附页", 1),
                         ("申请机构基本资料", 3)),
    "seal_form": (("电子印章申请表", 7), ("印章申请表", 5), ("电子印章", 3), ("印章名称", 2),
                  ("印章类型", 2), ("印模", 2), ("公章盖三下", 3),
                  ("被授权员工", 3), ("印章采集", 3),
                  # the set's other pages (the guide numbers them: 电子印章申请表 3/8, the 被授权员工
                  # list 4/8, …) say whose set they belong to; an authorization letter never does
                  ("被授权员工列表", 5), ("(3/8)", 3), ("(4/8)", 3), ("(5/8)", 3), ("(6/8)", 3),
                  ("(7/8)", 3), ("(8/8)", 3)),
    "authorization": (("授权书", 6), ("法人授权", 4), ("授权委托书", 5), ("授权期限", 3), ("被授权人", 3),
                      ("法定代表人", 1), ("兹授权", 3), ("特此授权", 2)),
    "business_license": (("营业执照", 7), ("统一社会信用代码", 2), ("法定代表人", 1), ("营业期限", 3),
                         ("成立日期", 2), ("注册资本", 2), ("经营范围", 2), ("登记机关", 2),
                         ("企业信用信息公示系统", 2),
                         # an organisation that is no company holds another certificate (the guide: 有效单位证件
                         # （如营业执照）): a public institution's, an association's, a private non-enterprise unit's
                         ("事业单位法人证书", 7), ("社会团体法人登记证书", 7), ("民办非企业单位登记证书", 7),
                         ("律师事务所执业许可证", 7),
                         ("法人证书", 4), ("登记证书", 4), ("宗旨和业务范围", 3), ("登记管理机关", 2),
                         ("举办单位", 2), ("开办资金", 2), ("经费来源", 2), ("业务主管单位", 2), ("注册资金", 2),
                         ("活动地域", 2)),
    "id_card": (("公民身份号码", 7), ("公民身份证号码", 7), ("居民身份证", 6), ("签发机关", 3), ("民族", 2),
                ("住址", 2), ("性别", 1), ("出生", 1), ("姓名", 1), ("有效期限", 1)),
    "foreign_permanent_resident_id": (("永久居留", 8), ("PERMANENTRESIDENCE", 6), ("NATIONALITY", 4),
                                      ("国籍", 3), ("证件号码", 2), ("IDNO", 2), ("DATEOFBIRTH", 1),
                                      ("PERIODOFVALIDITY", 1)),
}
#: Words that rule a kind out (a foreign card is no resident ID card, whatever else it shows).
EXCLUDES: dict[str, tuple[str, ...]] = {
    "id_card": ("永久居留", "NATIONALITY", "国籍"),
    "application_form": ("电子印章申请表",),
}


#: A cue word does not count in a line that shows it only as part of these (a form's label
#: 营业执照号 names the licence, it is not one).
CONTEXTS_AGAINST: dict[str, tuple[str, ...]] = {
    "营业执照": ("营业执照号", "如营业执照", "营业执照)", "营业执照复印件"),
    "居民身份证": ("居民身份证复印件", "居民身份证号"),
    "授权书": ("授权书原件", "法人授权书一份"),
}


@dataclass(frozen=True)
class DocKind:
    kind: str
    score: float
    runner_up: str
    runner_up_score: float
    words: tuple[str, ...] = field(default_factory=tuple)

    @property
    def title(self) -> str:
        return KIND_TITLES.get(self.kind, self.kind)


#: Cue words this long still count with one character misread (申 read as 中 in a noisy scan).
FUZZY_FROM = 6


def _shows(word: str, text: str) -> bool:
    """``word`` in ``text``; a long cue word also with one character misread, never as a fragment."""
    if word in text:
        return True
    if len(word) < FUZZY_FROM or len(text) < len(word):  # a misread keeps the length: 身份证号码 is no 公民身份号码
        return False
    return fuzz.partial_ratio(word, text) >= 100.0 * (1 - 1 / len(word)) - 1e-9


def classify(lines: Sequence[TextBox], page_height: int, min_score: float = 5.0,
             min_margin: float = 2.0) -> DocKind:
    """The kind whose cue words score highest, title words (top quarter, tall) counting double."""
    heights = sorted(b.box[3] - b.box[1] for b in lines) or [0]
    median_h = heights[len(heights) // 2]
    texts = []
    for b in lines:
        t = normalise(b.text).upper()
        is_title = b.box[1] < page_height * 0.3 and (b.box[3] - b.box[1]) >= 1.3 * median_h
        texts.append((t, is_title))
    joined = "".join(t for t, _ in texts)
    scores: dict[str, float] = {}
    found: dict[str, list[str]] = {}
    for kind, cues in CUES.items():
        if any(w in joined for w in EXCLUDES.get(kind, ())):
            scores[kind] = 0.0
            continue
        total = 0.0
        taken: list[str] = []
        for word, weight in cues:
            against = CONTEXTS_AGAINST.get(word, ())
            hits = [title for t, title in texts if _shows(word, t) and not any(a in t for a in against)]
            if hits:
                taken.append(word)
                total += weight * (2.0 if any(hits) else 1.0)
        scores[kind] = total
        found[kind] = taken
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    (best, s1), (second, s2) = ranked[0], ranked[1]
    if s1 < min_score or s1 - s2 < min_margin:
        return DocKind("other", s1, best, s1, tuple(found.get(best, ())))
    return DocKind(best, s1, second, s2, tuple(found[best]))
