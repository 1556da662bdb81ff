"""The pre-filled PDFs the applicant prints, stamps and uploads (CONTRACT §3 ``precheck forms``).

Layout after the seed's 辽宁采购-机构员工数字证书申请表, 电子印章申请表 and 法人授权书. The order
number is printed as a Code 128 barcode (vector bars) so the barcode stage can match it. Text
uses Noto Sans/Serif CJK SC, embedded as a subset (see ``pipeline.forms.fonts``); the font used
is named in each PDF's metadata (``keywords``). Geometry and drawing primitives live in
``pipeline.forms.layout``; ``form_layout`` exposes the boxes to later stages.
"""

from __future__ import annotations

import calendar
import functools
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path

import pymupdf

from pipeline.forms.fonts import font_for
from pipeline.forms.layout import A4_H, A4_W, MARGIN, Canvas, FieldBox, FormLayout
from pipeline.models import Case

FORMS = ("application_form", "seal_form", "authorization")
_CAPITAL = "零壹贰叁肆伍陆柒捌玖拾"
AUTH_MONTHS = 6  # seed: 授权期限 一般为三个月-六个月

Values = Mapping[str, str]


# ----------------------------------------------------------------------------- data to print
def add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def authorization_period(case: Case) -> tuple[date, date]:
    """The period printed on the letter: from the submission date, six months on."""
    start = case.submitted_at.date()
    return start, add_months(start, AUTH_MONTHS)


def zh_date(d: date) -> str:
    return f"{d.year} 年 {d.month:02d} 月 {d.day:02d} 日"


def _years(months: int) -> str:
    if months % 12 == 0 and 0 < months // 12 <= 10:
        return _CAPITAL[months // 12]
    return f"{months}个月"


def form_values(case: Case, auth_period: tuple[date, date] | None = None) -> dict[str, str]:
    """Every printed value by field name (the names ``form_layout`` records boxes under)."""
    start, end = auth_period or authorization_period(case)
    same = case.user.id_number == case.handler.id_number
    day = zh_date(case.submitted_at.date())
    return {
        "order_no": case.order_no,
        "org.name": case.org.name, "org.id_number": case.org.id_number, "org.phone": case.org.phone,
        "org.address": case.org.address,
        "handler.name": case.handler.name, "handler.mobile": case.handler.mobile,
        "handler.email": case.handler.email, "handler.id_number": case.handler.id_number,
        "handler.address": case.handler.address,
        "apply_date": day,
        "user.name": case.user.name, "user.id_number": case.user.id_number,
        "user.email": case.handler.email if same else "",
        "business_type": case.business_type, "years": _years(case.validity_months),
        "auth.period_start": zh_date(start), "auth.period_end": zh_date(end), "auth.issue_date": day,
    }


def warm_fonts(text: str, faces: tuple[str, ...] = ("sans", "serif")) -> None:
    """Subset once for the template plus ``text`` (a generator's name pools) to spare re-subsetting."""
    chars = _template_chars({}) | set(text)
    for face in faces:
        font_for(face, chars)


# ----------------------------------------------------------------------------- drawing
PageFactory = Callable[[int], Canvas]


def _header(c: Canvas, v: Values) -> None:
    c.text(MARGIN, 50, "广东省电子商务认证有限公司", 14)
    c.text(MARGIN, 64, "Guangdong Electronic Certification Authority", 8.5)
    c.line(MARGIN, 74, A4_W - MARGIN, 74, 0.8)
    c.barcode((383, 24, A4_W - MARGIN, 68), v.get("barcode", v.get("order_no", "")))


def _heading(c: Canvas, y: float, text: str) -> None:
    c.text(MARGIN, y, text, 11)


def _lines(c: Canvas, x: float, y: float, lines: list[str], size: float = 8.5, step: float = 12.5) -> float:
    for ln in lines:
        c.text(x, y, ln, size)
        y += step
    return y


def _application(new: PageFactory, v: Values) -> None:
    c = new(0)
    _header(c, v)
    c.text(A4_W / 2, 100, "辽宁采购-机构员工数字证书申请表", 16, align="center")
    _heading(c, 122, "I. 申请机构基本资料")
    L, R, h = MARGIN, A4_W - MARGIN, 21.0
    c.cell("org.name", "机构名称：", (L, 128, 142, 149), (142, 128, R, 149), v.get("org.name", ""))
    c.rect((L, 149, 142, 212))
    c.text(L + 4, 176, "机构有效证件：", 9.5)
    c.text(L + 4, 190, "（至少填写一个）", 8)
    c.cell("org.id_number", "营业执照号/统一社会信用代码：", (142, 149, 292, 170), (292, 149, R, 170),
           v.get("org.id_number", ""))
    c.cell("org.code", "组织机构代码：", (142, 170, 292, 191), (292, 170, R, 191), "")
    c.cell("org.other_id", "其它有效证件及号码：", (142, 191, 292, 212), (292, 191, R, 212), "")
    y = 212.0
    c.cell("org.phone", "机构联系电话：", (L, y, 142, y + h), (142, y, 292, y + h), v.get("org.phone", ""))
    c.cell("org.email", "电子邮箱：", (292, y, 352, y + h), (352, y, 463, y + h), "")
    c.cell("org.postcode", "邮编：", (463, y, 498, y + h), (498, y, R, y + h), "")
    c.cell("org.address", "机构法定住所：", (L, 233, 142, 254), (142, 233, R, 254), v.get("org.address", ""))
    c.text(L, 266, "注：办理机构中员工数字证书业务时，请在附页VI中填写员工的相关申请资料，"
           "并将本页连同附页骑缝盖章。", 8, max_w=R - L)
    _heading(c, 286, "II. 经办人资料")
    y = 292.0
    c.cell("handler.name", "姓名：", (L, y, 92, y + h), (92, y, 192, y + h), v.get("handler.name", ""))
    c.cell("handler.mobile", "手机：", (192, y, 237, y + h), (237, y, 347, y + h), v.get("handler.mobile", ""))
    c.cell("handler.email", "电子邮箱：", (347, y, 407, y + h), (407, y, R, y + h), v.get("handler.email", ""),
           size=9)
    y += h
    c.cell("handler.id_number", "身份证号：", (L, y, 92, y + h), (92, y, 347, y + h),
           v.get("handler.id_number", ""))
    c.rect((347, y, R, y + h))
    c.text(352, y + 14, "（请仔细校对身份证号码确保无误）", 8.5)
    y += h
    c.cell("handler.address", "收件地址：", (L, y, 92, y + h), (92, y, R, y + h), v.get("handler.address", ""))
    _heading(c, 375, "III. 用户须知")
    _lines(c, L + 6, 390, [
        "1、本申请表一式二份，以上所有项目均必须填写，基本资料请填写完整后再打印。",
        "2、所有机构须交验如下资料",
        "   √ 交验机构有效证件的原件及提交复印件一份（复印件加盖公章）；",
        "   √ 交验经办人身份证原件及提交复印件一份（复印件加盖公章）；",
        "   √ 交验机构中员工的身份证原件及提交复印件一份（复印件加盖公章）。",
        "   √ 交验法人授权书原件一份（加盖公章）"])
    _heading(c, 474, "IV. 申请机构声明")
    c.wrap(L, 490, "本机构在此郑重声明：本机构授权上述经办人办理本机构有关数字证书，本机构保证所填写的内容和提交的证明"
           "材料真实、完整、有效。本机构已认真阅读并以此申请表上盖章方式同意遵守广东省电子商务认证有限公司网站"
           "（www.cnca.net）发布的《网证通电子认证业务规则》（CPS）、《网证通电子认证服务协议》的各项内容，"
           "如有违反愿意承担由此引起的一切责任。", R - L, 8.5, indent=17)
    c.text(L, 590, "经办人签署：", 10)
    c.line(104, 592, 260, 592)
    c.text(282, 590, "申请机构盖章：", 10)
    c.seal_box("申请机构盖章", (352, 548, R, 690))
    c.cell("apply_date", "申请日期：", (L, 630, 104, 650), (104, 630, 274, 650), v.get("apply_date", ""), box=False)
    c.rect((L, 700, R, 805), 0.6)
    c.text(L + 6, 716, "V. 受理审核（以下由证书受理员填写）", 10)
    _lines(c, L + 6, 738, ["受理员：______________    受理时间：________年____月____日____时",
                           "备注：____________________________________________",
                           "复查员签字：______________",
                           "业务受理点（盖章）：______________"], 9, 17)
    c.text(A4_W / 2, 825, "第 1 页 共 2 页", 8, align="center")
    _appendix(new(1), v)


def _appendix(c: Canvas, v: Values) -> None:
    _header(c, v)
    L, R = MARGIN, A4_W - MARGIN
    _heading(c, 98, "VI. 附页：机构中员工证书申请材料")
    cols = [(L, 112, "姓名"), (112, 352, "业务类型"), (352, 462, "身份证号码"), (462, R, "电子邮件")]
    y = 106.0
    for x0, x1, t in cols:
        c.rect((x0, y, x1, y + 20))
        c.text((x0 + x1) / 2, y + 14, t, 9.5, align="center")
    y += 20
    for row in range(10):
        first = row == 0
        for x0, x1, _ in cols:
            c.rect((x0, y, x1, y + 30))
        kind = v.get("business_type", "") if first else ""
        years = v.get("years", "") if first else ""
        parts1 = [("new", f"新申请，年限 {years or '____'} 年（请大写数字）"), ("change", "变更"), ("revoke", "注销")]
        parts2 = [("renew", "更新，年限____年（请大写数字）"), ("reissue", "补办"), ("unlock", "解锁")]
        for line_y, parts in ((y + 12, parts1), (y + 25, parts2)):
            x = 116.0
            for key, label in parts:
                c.checkbox(x, line_y, checked=first and key == kind)
                x += 9 + c.text(x + 9, line_y, label, 7) + 6
        if first:
            # each value sits in the first row, below its column's heading
            c.value("user.name", "姓名", (L, y, 112, y + 30), v.get("user.name", ""), 10, (L, 106, 112, 126))
            c.value("user.id_number", "身份证号码", (352, y, 462, y + 30), v.get("user.id_number", ""), 8.5,
                    (352, 106, 462, 126))
            c.value("user.email", "电子邮件", (462, y, R, y + 30), v.get("user.email", ""), 7.5, (462, 106, R, 126))
            c.layout.fields["business_type"] = FieldBox(
                "business_type", "业务类型", c.index, (112, y, 352, y + 30), (112, 106, 352, 126))
        y += 30
    y = _lines(c, L, y + 18, [
        "说明：1、申请机构中员工证书须提供准确的员工本人身份信息资料，如有更多的机构中员工证书申请，请复印本表；",
        "　　　2、办理证书更新业务时，证书的任何信息必须为原发信息，不能变更，否则请选择新申请或变更。"], 8, 13)
    _lines(c, L, y + 8, ["申请机构知悉并同意：",
                         "1.机构提供的上述员工身份信息应当真实、完整，否则 NETCA 有权注销根据上述员工信息签发的"
                         "数字证书。",
                         "2.机构应核实上述员工申请意愿；",
                         "3.机构应指导上述员工正确使用数字证书，妥善且谨慎地管理数字证书的使用及保管；",
                         "4.机构应对根据上述员工信息签发的数字证书的使用承担连带责任。"], 8, 13)
    c.text(282, 730, "申请机构盖章：", 10)
    c.seal_box("申请机构盖章", (352, 665, R, 805))
    c.text(A4_W / 2, 825, "第 2 页 共 2 页", 8, align="center")


def _seal_form(new: PageFactory, v: Values) -> None:
    c = new(0)
    L, R = MARGIN, A4_W - MARGIN
    c.text(A4_W / 2, 72, "电子印章申请表", 18, align="center")
    c.text(R, 72, "(3/8)", 9, align="right")
    c.cell("org.name", "单位名称：", (L, 92, 132, 116), (132, 92, R, 116), v.get("org.name", ""), 11)
    c.cell("seal_admin", "公章管理员：", (L, 116, 132, 140), (132, 116, 300, 140), "")
    c.cell("seal_admin_phone", "联系电话：", (300, 116, 380, 140), (380, 116, R, 140), "")
    thirds = [(L, 212.0), (212.0, 383.0), (383.0, R)]
    rows = [("机构印章采集（油印适中，每枚印章采集三个样本）", 140, 140, "公章盖三下"),
            ("法人印章采集（油印适中，每枚印章采集三个样本）", 300, 80, "法人章盖三下"),
            ("法人签字采集（字迹清晰，每枚签字采集三个样本）", 400, 60, ""),
            ("使用人签字采集（字迹清晰，每枚签字采集三个样本）", 480, 60, "")]
    for title, top, height, hint in rows:
        c.rect((L, top, R, top + 20))
        c.text(L + 4, top + 14, title, 9.5)
        for x0, x1 in thirds:
            r = (x0, top + 20, x1, top + 20 + height)
            if hint == "公章盖三下":
                c.seal_box("公章盖三下", r, dashed=False)
            else:
                c.rect(r)
        if hint:
            c.text(A4_W / 2, top + 34, hint, 8, align="center", color=(0.45, 0.45, 0.45))
    c.text(R - 4, 314, "如果使用人就是法人，这行不用采集", 7.5, align="right", color=(0.45, 0.45, 0.45))
    c.text(R - 4, 414, "盖骑缝章", 7.5, align="right", color=(0.45, 0.45, 0.45))
    c.value("user.name", "使用人", (L, 500, 212, 540), v.get("user.name", ""), 9, (L, 480, 132, 500))
    c.text(A4_W / 2, 514, "采集“用户名称”写的人员三个签字", 8, align="center", color=(0.45, 0.45, 0.45))
    c.cell("ca_clerk", "CA 客服受理人：", (L, 560, 132, 582), (132, 560, 300, 582), "")
    c.cell("ca_date", "日期：", (300, 560, 380, 582), (380, 560, R, 582), "")
    org = v.get("org.name", "") or "单位名称"
    c.wrap(L, 612, f"兹授权下列被授权员工列表中的员工（下称：被授权员工）(4/8)使用本单位{org}机构数字证书，被授权员工"
           "可代表本单位使用机构数字证书及上列表格(3/8)中的电子印章图样，签署文件并制作电子签名。", R - L, 9.5,
           indent=19)
    c.text(282, 730, "单位盖章：", 10)
    c.seal_box("单位盖章", (340, 665, R, 805))
    c.cell("seal_date", "日期：", (L, 760, 80, 780), (80, 760, 240, 780), v.get("apply_date", ""), box=False)


def _authorization(new: PageFactory, v: Values) -> None:
    c = new(0)
    L, R, x = MARGIN + 24, A4_W - MARGIN - 24, MARGIN + 24 + 24
    c.text(A4_W / 2, 120, "法人授权书", 22, align="center")
    c.text(x, 180, "兹授权", 12)
    c.value("handler.name", "兹授权", (x + 40, 164, x + 150, 186), v.get("handler.name", ""), 12,
            (x, 164, x + 40, 186))
    c.line(x + 40, 184, x + 150, 184)
    c.text(x + 154, 180, "同志为我司办理数字证书相关业务的经办人，", 12)
    c.wrap(L, 206, "授权其代理我公司办理数字证书的相关业务，包括数字证书申请、电子印章申请、"
           "领取、激活、解锁。", R - L, 12, 1.9)
    c.text(x, 262, "授权期限", 12)
    c.value("auth.period_start", "授权期限", (x + 52, 246, x + 200, 268), v.get("auth.period_start", ""), 12,
            (x, 246, x + 52, 268))
    c.line(x + 52, 266, x + 200, 266)
    c.text(x + 206, 262, "至", 12)
    c.value("auth.period_end", "至", (x + 224, 246, x + 372, 268), v.get("auth.period_end", ""), 12,
            (x + 206, 246, x + 224, 268))
    c.line(x + 224, 266, x + 372, 266)
    c.wrap(L, 306, "　　本单位已认真阅读并承诺遵守《网证通电子认证服务协议》中的各项规定，"
           "保证授权人为申请数字证书而提供的资料完全真实，"
           "愿意承担由于提供的资料失实、虚假而导致的一切后果。", R - L, 12, 1.9)
    c.text(x, 436, "授权人（公司盖公章）：", 12)
    c.seal_box("公司盖公章", (x + 150, 372, x + 340, 500))
    c.text(x, 540, "法定代表人（签名或盖章）：", 12)
    c.line(x + 160, 542, R, 542)
    c.cell("auth.issue_date", "签发日期：", (x - 4, 560, x + 60, 584), (x + 60, 560, x + 230, 584),
           v.get("auth.issue_date", ""), 12, 12, box=False)
    attach = [("handler.name", "附：经办人姓名："), ("handler.id_number", "身份证号码："),
              ("handler.mobile", "手机号码："), ("handler.email", "电子邮件："), ("handler.address", "通讯地址：")]
    for i, (name, label) in enumerate(attach):
        top = 610 + i * 28
        key = name if i else "handler.name_attached"
        c.cell(key, label, (x - 4, top, x + 110, top + 24), (x + 110, top, R, top + 24), v.get(name, ""),
               11, 11.5, box=False)
        c.line(x + 110, top + 21, R, top + 21)
    c.text(L, 770, "说明：1、委托书内容要填写清楚，涂改无效。", 9)
    c.text(L, 786, "　　　2、将此委托书与证书申请表一并提交作为附件。", 9)


_DRAWERS: dict[str, Callable[[PageFactory, Values], None]] = {
    "application_form": _application, "seal_form": _seal_form, "authorization": _authorization}
_TITLES = {"application_form": "辽宁采购-机构员工数字证书申请表", "seal_form": "电子印章申请表",
           "authorization": "法人授权书"}


def _draw(form: str, values: Values, doc: pymupdf.Document | None, fontname: str,
          font: pymupdf.Font | None, collect: set[str] | None = None) -> FormLayout:
    layout = FormLayout(form)
    canvases: list[Canvas] = []

    def new(index: int) -> Canvas:
        for done in canvases:  # a new page invalidates MuPDF's handles on earlier ones: write first
            done.finish()
        page = doc.new_page(width=A4_W, height=A4_H) if doc is not None else None
        canvases.append(Canvas(layout, index, page, fontname, font, collect))
        return canvases[-1]

    _DRAWERS[form](new, values)
    for canvas in canvases:
        canvas.finish()
    return layout


@functools.cache
def form_layout(form: str) -> FormLayout:
    """Fields (name -> label, box), seal boxes and barcode boxes of ``form``, in PDF points.

    Drawn once per process and shared by every caller (a review asks dozens of times): read it,
    never change it.
    """
    if form not in _DRAWERS:
        raise ValueError(f"unknown form {form!r}; known: {', '.join(FORMS)}")
    return _draw(form, {}, None, "x", None)


def _template_chars(values: Values) -> set[str]:
    chars: set[str] = set()
    for form in FORMS:
        _draw(form, values, None, "x", None, chars)
    return chars


def render_form(form: str, values: Values, path: Path, face: str = "sans") -> Path:
    """Write one form as a PDF with its font embedded; return ``path``."""
    buf, desc = font_for(face, _template_chars(values))
    doc = pymupdf.open()
    _draw(form, values, doc, "cjk", pymupdf.Font(fontbuffer=buf))
    doc.subset_fonts()  # subsets the TrueType fallback; Noto buffers are subsets already
    doc.set_metadata({
        "title": _TITLES[form], "author": "广东省电子商务认证有限公司",
        "subject": f"业务单号 {values.get('order_no', '')}",
        "creator": "precheck forms", "producer": "precheck (PyMuPDF)",
        "keywords": f"order_no={values.get('order_no', '')}; font={desc}"})
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(path, garbage=3, deflate=True)
    doc.close()
    return path


def render_forms(case: Case, out_dir: Path, *, face: str = "sans", overrides: Mapping[str, str] | None = None,
                 auth_period: tuple[date, date] | None = None) -> dict[str, Path]:
    """Write application_form.pdf, seal_form.pdf and authorization.pdf for ``case`` into ``out_dir``.

    ``face`` is ``sans`` or ``serif``. ``overrides`` replace printed values by field name
    (``barcode`` = the barcode's data, empty for none); the fixture generator uses them to make
    forms that disagree with the record.
    """
    values = form_values(case, auth_period)
    values.update(overrides or {})
    out_dir = Path(out_dir)
    return {form: render_form(form, values, out_dir / f"{form}.pdf", face) for form in FORMS}
