"""Remove the asking body's identity from an inquiry's text before it becomes an FAQ draft.

Every body name of the directory (longest first) becomes 〇〇 plus its kind suffix (千代田区 → 〇〇区),
the asker's own name stem too (千代田 → 〇〇); body codes (6 digits, and the asker's 5-digit form)
become 〇〇〇〇〇〇; names of the people on the inquiry (account names), honorific patterns
(山田様, 田中さん, 担当：佐藤, 鈴木と申します), e-mail addresses and telephone numbers are removed.
The draft lists what it removed, and a person reviews it before publishing."""

import re
from collections import Counter
from collections.abc import Callable, Iterable

from pmo.faqs.schemas import Removed, RemovedKind

NAME_CHARS = r"[一-龥々ァ-ヶー]"
_HONORIFIC = re.compile(rf"({NAME_CHARS}{{1,6}})(様|さま|さん|殿|氏)(?![式々子相態名])")
_NOT_A_NAME = (
    "者",
    "員",
    "位",
    "皆",
    "客",
    "方",
    "体",
    "庁",
    "課",
    "係",
    "室",
    "部",
    "局",
    "社",
    "所",
    "会",
    "市",
    "区",
    "町",
    "村",
    "県",
    "都",
    "道",
    "府",
    "ベンダー",
    "業者",
    "各",
    "仕",
    "同",
    "多",
    "模",
    "異",
    "一",
    "両",
    "有",
    "態",
)
_CONTACT = re.compile(r"(担当(?:者)?|記入者|連絡先)(\s*[:：]\s*|[\s　]+)([一-龥々]{1,4}(?:[\s　][一-龥々]{1,4})?)")
_INTRODUCTION = re.compile(r"([一-龥々]{1,4})(と申します|でございます)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<!\d)0\d{1,4}[-‐－ー(（]\d{1,4}[-‐－ー)）]\d{3,4}(?!\d)")
_CODE = re.compile(r"(?<!\d)\d{5,6}(?!\d)")
MASK = "〇〇"


class Scrubber:
    """Built once per inquiry: the directory's names and codes and the people on it."""

    def __init__(self, bodies: Iterable[tuple[str, str]], asker: tuple[str, str] | None, people: Iterable[str]):
        names = {name: MASK + name[-1] for _, name in bodies}
        self.codes = {code for code, _ in bodies}
        if asker:
            code, name = asker
            self.codes.add(code[:5])
            if len(name) >= 3:
                names.setdefault(name[:-1], MASK)  # the stem, e.g. 千代田 of 千代田区
        for person in people:
            if person and len(person) >= 2:
                names.setdefault(person, "担当者")
        self._names = names
        self._name_re = re.compile("|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)))
        self.removed: Counter[tuple[RemovedKind, str]] = Counter()

    def __call__(self, text: str) -> str:
        def name(m: re.Match[str]) -> str:
            found = m.group(0)
            self.removed[("person" if self._names[found] == "担当者" else "body_name", found)] += 1
            return self._names[found]

        def code(m: re.Match[str]) -> str:
            if m.group(0) not in self.codes:
                return m.group(0)
            self.removed[("body_code", m.group(0))] += 1
            return "〇" * len(m.group(0))

        def person(m: re.Match[str], group: int) -> str:
            who = m.group(group)
            if who.startswith(MASK) or who.endswith(_NOT_A_NAME) or who == "担当者":
                return m.group(0)
            self.removed[("person", who)] += 1
            return m.group(0).replace(who, MASK, 1)

        def redact(kind: RemovedKind, replacement: str) -> Callable[[re.Match[str]], str]:
            def sub(m: re.Match[str]) -> str:
                self.removed[(kind, m.group(0))] += 1
                return replacement

            return sub

        text = _EMAIL.sub(redact("email", "（メールアドレス）"), text)
        text = _PHONE.sub(redact("phone", "（電話番号）"), text)
        text = _CODE.sub(code, text)
        if self._names:
            text = self._name_re.sub(name, text)
        text = _CONTACT.sub(lambda m: person(m, 3), text)
        text = _HONORIFIC.sub(lambda m: person(m, 1), text)
        return _INTRODUCTION.sub(lambda m: person(m, 1), text)

    def report(self) -> list[Removed]:
        """What was removed, for the reviewer."""
        return [Removed(kind=kind, text=text, count=n) for (kind, text), n in sorted(self.removed.items())]
