"""Compare what a document shows with what the applicant entered: text normalisation, fuzzy
names, and exact numbers that are accepted only when their check digit is valid.

OCR confuses look-alike characters (O/0, I/1, Z/2, S/5, B/8); a number read with such a
confusion is repaired only where the repair makes the check digit valid, so a repair can never
invent a match: it can only turn an illegible read into the one valid number it must be.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache

import opencc
from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein
from stdnum.cn import uscc

from pipeline.identifiers import is_valid_resident_id

#: Look-alike letters OCR puts where digits belong, and the digit each stands for.
TO_DIGIT = {"O": "0", "D": "0", "Q": "0", "U": "0", "I": "1", "L": "1", "|": "1", "T": "7",
            "Z": "2", "S": "5", "B": "8", "G": "6", "A": "4"}
#: Letters that do not occur in credit codes (GB 32100) and the code letter/digit they resemble.
USCC_LETTER_FIX = {"O": "0", "I": "1", "Z": "2", "S": "5", "V": "U"}
_CODE_FOLD = str.maketrans(USCC_LETTER_FIX)


def fold_code_lookalikes(text: str) -> str:
    """``text`` upper-cased, each letter no credit code or ID number holds turned into the
    character it resembles (O→0, I→1, Z→2, S→5, V→U): for comparing two readings of one number."""
    return text.upper().translate(_CODE_FOLD)


_SPACES = re.compile(r"[\s\u3000\u00a0_]+")
_PUNCT = re.compile(r"[:：,，.。;；、'\"“”‘’·\-—|¦]+")  # and table rules read as a bar


def normalise(text: str) -> str:
    """NFKC (full width to half width, compatibility forms), no spaces or line breaks."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", text))


@cache
def _to_simplified() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


@cache
def simplified_form(char: str) -> str:
    """The simplified character whose traditional (or variant) form ``char`` is (錦: 锦, 後: 后), or
    ``char`` itself. Only characters outside GB2312 are folded: one inside it is a simplified
    character of its own (乾 is no 干), whatever OpenCC's table maps it to."""
    try:
        char.encode("gb2312")
        return char
    except UnicodeEncodeError:
        folded = _to_simplified().convert(char)
        return folded if len(folded) == 1 else char


def folded_toward(entered: str, read: str) -> str:
    """``read`` with each character that is a traditional form of a character of ``entered`` written
    as that character (a seal read 盘錦 for the entered 盘锦: a seal cut in traditional glyphs, or
    the recogniser's choice between two forms of one character), character for character (its
    probabilities stay aligned). No other character changes: it cannot make another name."""
    wanted = set(entered)
    return "".join(f if ch not in wanted and (f := simplified_form(ch)) in wanted else ch for ch in read)


def normalise_name(text: str) -> str:
    """A name compared by content: normalised, without punctuation (brackets are kept)."""
    return _PUNCT.sub("", normalise(text))


@dataclass(frozen=True)
class NameMatch:
    score: float  # 0..100
    matched: str  # the part of the text that aligned with the name


def name_score(entered: str, text: str) -> NameMatch:
    """How well ``entered`` appears inside ``text`` (rapidfuzz partial alignment, 0..100)."""
    a, b = normalise_name(entered), normalise_name(text)
    if not a or not b:
        return NameMatch(0.0, "")
    if a in b:
        return NameMatch(100.0, a)
    if len(b) < len(a):
        return NameMatch(float(fuzz.ratio(a, b)), b)
    al = fuzz.partial_ratio_alignment(a, b)
    if al is None:
        return NameMatch(0.0, "")
    return NameMatch(float(al.score), b[al.dest_start:al.dest_end])


@dataclass(frozen=True)
class CharRead:
    """What a read shows at one character of the entered name."""

    same: bool          # the entered character
    char: str           # the character read there
    probability: float  # how surely it was read (the line's confidence when the engine gives none)
    index: int          # where in the read's text


def read_by_character(entered: str, text: str, chars: Sequence[float], confidence: float,
                      wrapped: bool = False) -> list[CharRead | None] | None:
    """Per character of ``entered``: what the best-aligned stretch of ``text`` shows there (None
    where the read dropped it), or None when no stretch of the read is near the name (a fragment
    or another text: nothing to say about any character). ``wrapped``: the text was read from a
    ring and may start inside the name (its end is then tried before its start too)."""
    found = _best_stretch(entered, text, chars, confidence, wrapped)
    if found is None:
        return None
    a, start, part, part_probs = found
    out: list[CharRead | None] = [None] * len(a)
    for op in Levenshtein.opcodes(a, part):
        if op.tag in ("equal", "replace"):
            for k in range(min(op.src_end - op.src_start, op.dest_end - op.dest_start)):
                j = op.dest_start + k
                out[op.src_start + k] = CharRead(op.tag == "equal", part[j], part_probs[j], (start + j) % len(text))
    return out


def possible_differences(entered: str, text: str, chars: Sequence[float], confidence: float,
                         wrapped: bool = False) -> list[tuple[int, CharRead]]:
    """Every (position in ``entered``, what the read shows there) where the read may show another
    character. Where the read also dropped or added a character next to one it read otherwise
    (鞍干山… for 鞍山千山…), which of the name's characters it read otherwise is not known: each
    placement is listed (干 for 山, and 干 for 千)."""
    found = _best_stretch(entered, text, chars, confidence, wrapped)
    if found is None:
        return []
    a, start, part, part_probs = found
    out = []
    blocks: list[list[int]] = []  # [src_start, src_end, dest_start, dest_end] of runs of unequal opcodes
    for op in Levenshtein.opcodes(a, part):
        if op.tag == "equal":
            continue
        if blocks and blocks[-1][1] == op.src_start and blocks[-1][3] == op.dest_start:
            blocks[-1][1], blocks[-1][3] = op.src_end, op.dest_end
        else:
            blocks.append([op.src_start, op.src_end, op.dest_start, op.dest_end])
    for s0, s1, d0, d1 in blocks:
        for j in range(d0, d1):
            places = [s0 + (j - d0)] if s1 - s0 == d1 - d0 else range(s0, s1)
            for i in places:
                if part[j] != a[i]:
                    out.append((i, CharRead(False, part[j], part_probs[j], (start + j) % len(text))))
    return out


def disputed_probabilities(entered: str, first_read: str, second_read: str,
                           second_chars: Sequence[float]) -> list[float] | None:
    """How surely a second reading that shows ``entered`` read each character where the first
    reading showed something else (a character changed or dropped there; beside one it added):
    the places in dispute. The others both readings show alike. None when the second reading
    does not show ``entered`` or its probabilities cannot be lined up with its characters."""
    want = normalise_name(entered).upper()
    if not want or normalise_name(second_read).upper() != want or len(second_chars) != len(second_read):
        return None
    kept = [p for ch, p in zip(second_read, second_chars, strict=True) if normalise_name(ch)]
    if len(kept) != len(want):
        return None
    return [kept[i] for i in _disputed_places(want, first_read)]


def _disputed_places(want: str, first_read: str) -> list[int]:
    """Positions of ``want`` (normalised) where the first reading shows something else: a
    character changed or dropped there; beside one it added."""
    places: set[int] = set()
    for op in Levenshtein.opcodes(want, normalise_name(first_read).upper()):
        if op.tag == "equal":
            continue
        if op.src_end > op.src_start:
            places.update(range(op.src_start, op.src_end))
        else:  # the first reading added a character: it stands between these two
            places.update(p for p in (op.src_start - 1, op.src_start) if 0 <= p < len(want))
    return sorted(places)


def shows_where_disputed(entered: str, first_read: str, other_read: str, min_ratio: float) -> bool:
    """Whether a reading by another recogniser shows the entered character at every place the
    first reading disputes, inside a run of at least two characters it shares with the entered
    value, and resembles the entered value as a whole (``min_ratio``: one less the edit distance
    over the longer length): its misreads elsewhere are its own and do not count against the
    entered value. False when nothing is disputed."""
    want = normalise_name(entered).upper()
    other = normalise_name(other_read).upper()
    places = _disputed_places(want, first_read)
    if not want or not places or Levenshtein.normalized_similarity(want, other) < min_ratio:
        return False
    shared: set[int] = set()
    for op in Levenshtein.opcodes(want, other):
        if op.tag == "equal" and op.src_end - op.src_start >= 2:
            shared.update(range(op.src_start, op.src_end))
    return all(p in shared for p in places)


def _best_stretch(entered: str, text: str, chars: Sequence[float], confidence: float,
                  wrapped: bool) -> tuple[str, int, str, list[float]] | None:
    """(the entered name normalised, start, stretch of the read, its probabilities) or None when no
    stretch of the read is near the name."""
    a = normalise_name(entered)
    probs = list(chars) if len(chars) == len(text) else [confidence] * len(text)
    tries = [_aligned(a, text, probs)]
    if wrapped:
        tries.append(_aligned(a, text + text, probs + probs))
    found = [t for t in tries if t is not None]
    if not found:
        return None
    distance, start, part, part_probs = min(found, key=lambda t: t[0])  # the plain read first on a tie
    if distance > max(2, len(a) // 3):
        return None
    return a, start, part, part_probs


def _aligned(a: str, b: str, probs: list[float]) -> tuple[int, int, str, list[float]] | None:
    """The stretch of ``b`` that best aligns with ``a``: (edit distance, start, stretch, its probabilities).

    rapidfuzz finds where ``a`` lies in ``b``; its stretch may leave out characters read otherwise
    at the name's ends (鞍函干山… for 鞍山千山… gives 山…), so it is widened on either side while
    that brings it nearer ``a``: those characters are the reads of the name's."""
    if not a or not b:
        return None
    al = fuzz.partial_ratio_alignment(a, b)
    if al is None:
        return None
    room = max(0, len(a) - (al.dest_end - al.dest_start)) + 1
    # nearest first; of equally near stretches, the one rapidfuzz found, then the widest
    candidates = [(Levenshtein.distance(a, b[i:j]), (i, j) != (al.dest_start, al.dest_end), i - j, i, j)
                  for i in range(max(0, al.dest_start - room), al.dest_start + 1)
                  for j in range(al.dest_end, min(len(b), al.dest_end + room) + 1)]
    distance, _, _, start, end = min(candidates)
    return distance, start, b[start:end], probs[start:end]


#: What may stand before a name read from its field: the end of its printed label (the reader
#: sometimes keeps 姓名 or 单位名称 on the value's line). Anything else before or after the name
#: makes it another name (张伟华 is not 张伟; 沈阳示例科技有限公司大连分公司 is not the company).
_LEFT_LABEL_ENDS = ("名称", "姓名", "单位", "机构", "名", "称", "人", "工", "户")
#: A seal's arc text may carry ring fragments around the name, but not a branch's name after it.
_BRANCH_STARTS = ("分公司", "分行", "支行", "分所", "分院", "分部", "分中心", "办事处", "分店", "分厂")


def shows_name(entered: str, text: str, seal: bool = False) -> bool:
    """``text`` shows ``entered`` exactly (after normalisation, brackets of either width alike),
    and nothing that would make it another name stands around it."""
    a, b = normalise_name(entered), normalise_name(text)
    if seal and a and a not in b and len(b) >= len(a) and a in b + b:
        return True  # a ring has no start: the strip began inside the name and read all of it
    if not a or a not in b:
        return False
    for start in _starts(b, a):
        left, right = b[:start], b[start + len(a):]
        if seal:
            if not right.startswith(_BRANCH_STARTS):
                return True
            continue
        if (not left or not _is_cjk(left[-1]) or left.endswith(_LEFT_LABEL_ENDS)) and (
                not right or not _is_cjk(right[0])):
            return True
    return False


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two short texts (names)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _starts(text: str, part: str) -> list[int]:
    return [i for i in range(len(text) - len(part) + 1) if text.startswith(part, i)]


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


#: Look-alikes in small Latin print (e-mail addresses): OCR reads l as 1, o and @ as 0.
_EMAIL_LOOKALIKES = str.maketrans({"1": "l", "|": "l", "i": "l", "0": "o", "@": "o"})
_REPEATS = re.compile(r"(.)\1+")


def fold_lookalikes(email: str) -> str:
    """A lower-case e-mail address with each group of look-alikes made one character and runs of
    one character made one (the recogniser merges a doubled letter: qq.com read as q.com), so that
    an OCR read differing only by these compares equal (folding never makes two reads differ)."""
    return _REPEATS.sub(r"\1", email.lower().translate(_EMAIL_LOOKALIKES))


def name_equal_score(entered: str, read: str) -> float:
    """Similarity of two whole names (0..100), for a value read from its own field."""
    a, b = normalise_name(entered), normalise_name(read)
    if not a or not b:
        return 0.0
    return float(fuzz.ratio(a, b))


# ---------------------------------------------------------------------- numbers

def is_valid_ric(value: str) -> bool:
    """A resident ID number as GB 11643 defines it (``pipeline.identifiers``)."""
    return is_valid_resident_id(value)


def is_valid_uscc(value: str) -> bool:
    try:
        uscc.validate(value)
    except Exception:
        return False
    return True


@dataclass(frozen=True)
class NumberRead:
    """A number found in OCR text: what was printed (raw), the repaired value, validity."""

    raw: str
    value: str
    valid: bool
    repaired: bool


def _variants(chars: list[list[str]], limit: int = 64) -> Iterable[str]:
    for combo in itertools.islice(itertools.product(*chars), limit):
        yield "".join(combo)


def _repair(raw: str, options: Callable[[int, str], list[str]], valid: Callable[[str], bool]) -> NumberRead:
    """The raw read if valid; else the single valid variant over look-alike options; else raw."""
    if valid(raw):
        return NumberRead(raw, raw, True, False)
    chars = [options(i, c) for i, c in enumerate(raw)]
    found = {v for v in _variants(chars) if v != raw and valid(v)}
    if len(found) == 1:
        return NumberRead(raw, found.pop(), True, True)
    return NumberRead(raw, raw, False, False)


#: Letters a Song or Ming face makes look like two digits: the check character decides which.
TWO_DIGITS = {"S": ["5", "8"]}


def _ric_options(i: int, c: str) -> list[str]:
    if i == 17:
        return ["X"] if c in "Xx×乂" else [c]
    return TWO_DIGITS.get(c.upper()) or [TO_DIGIT.get(c.upper(), c)]


def _uscc_options(i: int, c: str) -> list[str]:
    c = c.upper()
    if i < 8:
        return TWO_DIGITS.get(c) or [TO_DIGIT.get(c, c)]
    if c in TWO_DIGITS:  # S is no letter of the code (GB 32100): 5 or 8, as the check decides
        return TWO_DIGITS[c]
    c = USCC_LETTER_FIX.get(c, c)
    if c == "B":
        return ["B", "8"]
    if c == "8":
        return ["8", "B"]
    return [c]


_RIC_RUN = re.compile(r"(?<![0-9A-Z])([0-9OIlLZSBDQG|]{17}[0-9Xx×])(?![0-9A-Z])")
_USCC_RUN = re.compile(r"(?<![0-9A-Z])([0-9A-Z]{17,18})(?![0-9A-Z])")


def find_ric(text: str) -> list[NumberRead]:
    """Resident ID numbers in a line of OCR text (18 chars), repaired where the check allows."""
    t = normalise(text)
    reads = [_repair(m, _ric_options, is_valid_ric) for m in _RIC_RUN.findall(t)]
    return [r for r in reads if sum(ch.isdigit() for ch in r.raw) >= 14]


def find_uscc(text: str) -> list[NumberRead]:
    """Credit codes (18 chars; 17-char runs kept as invalid reads) in a line of OCR text."""
    t = normalise(text).upper()
    out = []
    for m in _USCC_RUN.findall(t):
        if sum(ch.isdigit() for ch in m) < 6:
            continue
        out.append(_repair(m, _uscc_options, is_valid_uscc) if len(m) == 18 else NumberRead(m, m, False, False))
    return out


def digits_only(text: str) -> str:
    """Digits of a phone or number field after mapping look-alike letters."""
    return "".join(TO_DIGIT.get(c.upper(), c) for c in normalise(text) if c.isalnum() or c in "|")


def merged_repeats(entered: str, read: str) -> bool:
    """``read`` is ``entered`` with some runs of one character shortened (13942366655 read as
    1394236655): the recogniser merges a repeated character that it sees without a gap, and
    nothing else makes a read lose exactly that."""
    a, b = _runs(entered), _runs(read)
    return len(a) == len(b) and read != entered and all(
        ca == cb and 1 <= nb <= na for (ca, na), (cb, nb) in zip(a, b, strict=True))


def _runs(text: str) -> list[tuple[str, int]]:
    return [(ch, len(list(group))) for ch, group in itertools.groupby(text)]


# ---------------------------------------------------------------------- dates

_DATE = re.compile(r"(\d{4})\s*[年.\-/]\s*(\d{1,2})\s*[月.\-/]\s*(\d{1,2})\s*日?")
#: A date in Chinese numerals, as formal letters and hand-filled forms write it (二〇二六年十二月三日):
#: the year digit by digit (〇 also read ○, 零, O, o or 0), month and day counted (十二, 二十七, 三十一).
_ZH_DIGIT = {**dict.fromkeys("〇○零o", 0), **{c: i for i, c in enumerate("一二三四五六七八九", 1)}}
_ZH_COUNT = "[一二三]?十[一二三四五六七八九]?|[一二三四五六七八九]"
_ZH_DATE = re.compile(rf"([{''.join(_ZH_DIGIT)}0-9]{{4}})\s*年\s*({_ZH_COUNT})\s*月\s*({_ZH_COUNT})\s*日?")


def _zh_number(text: str) -> int:
    """A year's digits (二〇二六: 2026) or a count up to 39 (二十七: 27) in Chinese numerals."""
    if "十" in text:
        tens, _, units = text.partition("十")
        return 10 * (_zh_number(tens) if tens else 1) + (_zh_number(units) if units else 0)
    return int("".join(c if c.isdigit() else str(_ZH_DIGIT[c]) for c in text))


def find_dates(text: str) -> list[tuple[int, int, int]]:
    """Dates written 2026年1月2日, 2026.01.02, 2026-01-02 (after look-alike repair) or in Chinese
    numerals (二〇二六年一月二日), in the order the text shows them."""
    t = normalise(text)
    t = "".join(TO_DIGIT.get(c, c) if c in "OIlZSB" else c for c in t)
    found = [(m.start(), (int(m[1]), int(m[2]), int(m[3]))) for m in _DATE.finditer(t)]
    found += [(m.start(), (_zh_number(m[1]), _zh_number(m[2]), _zh_number(m[3]))) for m in _ZH_DATE.finditer(t)
              if not m[1].isdigit()]  # four Arabic digits are _DATE's
    return [(y, m, d) for _, (y, m, d) in sorted(found) if 1900 <= y <= 2200 and 1 <= m <= 12 and 1 <= d <= 31]


def calendar_dates(text: str) -> list[date]:
    """The dates of ``find_dates`` that exist in the calendar (no 2 月 30 日)."""
    out = []
    for y, mo, d in find_dates(text):
        try:
            out.append(date(y, mo, d))
        except ValueError:
            continue
    return out
