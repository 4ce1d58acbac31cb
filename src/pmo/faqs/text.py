"""Japanese text → search terms, the same on every database (no LIKE, no built-in tokenizer).

Text is normalised (NFKC, lower case, katakana folded to hiragana, a few synonyms rewritten to one
spelling), then cut into runs: ASCII letters/digits become whole words, Japanese runs become
overlapping character bigrams (a lone kanji stays a unigram). Bigrams find a word wherever it sits
in a compound — 「データ移行」 inside 「住民記録システムのデータ移行」 — without a dictionary."""

import math
import re
import unicodedata
from collections import defaultdict

# Each group: the spelling everything is rewritten to, then the other spellings (any script or width).
SYNONYMS = (
    (
        "fitgap",
        (
            "fit&gap",
            "fit & gap",
            "fit/gap",
            "fit-gap",
            "fit gap",
            "fit and gap",
            "フィットギャップ",
            "フィット&ギャップ",
            "フィット・ギャップ",
            "フィットアンドギャップ",
            "フィット＆ギャップ",
        ),
    ),
    ("ガバメントクラウド", ("ガバクラ", "government cloud", "gov cloud", "govcloud")),
    ("住民基本台帳", ("住基",)),
    ("データ移行", ("data migration", "データマイグレーション", "データー移行")),
    ("rfi", ("情報提供依頼",)),
    ("ヘルプデスク", ("helpdesk", "help desk")),
)
MAX_TERM = 40

_WORD = re.compile(r"[a-z0-9]+")
_KANJI = re.compile(r"[\u3005\u4e00-\u9fff\uf900-\ufaff\u3400-\u4dbf]")
_RUNS = re.compile(r"[a-z0-9]+|[\u3041-\u3096\u30fc\u3005\u4e00-\u9fff\uf900-\ufaff\u3400-\u4dbf]+")


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(chr(ord(c) - 0x60) if "\u30a1" <= c <= "\u30f6" else c for c in text)


_REWRITES = sorted(
    ((_fold(variant), _fold(canonical)) for canonical, variants in SYNONYMS for variant in (*variants, canonical)),
    key=lambda pair: -len(pair[0]),
)
_SYNONYM_RE = re.compile("|".join(re.escape(v) for v, _ in _REWRITES))
_CANONICAL = dict(_REWRITES)


def normalise(text: str) -> str:
    """NFKC, lower case, katakana → hiragana, synonyms → one spelling."""
    return _SYNONYM_RE.sub(lambda m: _CANONICAL[m.group(0)], _fold(text))


def tokens(text: str) -> list[str]:
    """Every term occurrence of text, in order (words, bigrams, lone kanji)."""
    out: list[str] = []
    for run in _RUNS.findall(normalise(text)):
        if _WORD.fullmatch(run):
            out.append(run[:MAX_TERM])
        elif len(run) == 1:
            if _KANJI.match(run):
                out.append(run)
        else:
            out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out


def weighted_terms(*fields: tuple[str, float]) -> defaultdict[str, float]:
    """Term → weighted frequency over several fields (e.g. the title counting three times)."""
    counts: defaultdict[str, float] = defaultdict(float)
    for text, weight in fields:
        for term in tokens(text or ""):
            counts[term] += weight
    return counts


def query_terms(text: str) -> list[str]:
    """The distinct terms of a query, in order of first appearance."""
    return list(dict.fromkeys(tokens(text)))


def needed_matches(n_terms: int, coverage: float) -> int:
    """How many of a query's terms an entry must contain to count as a match."""
    return max(1, math.ceil(n_terms * coverage - 1e-9))


def coverage(query: list[str], document: set[str]) -> float:
    """Share of the query's terms found in a document's terms (the same rule SQL applies)."""
    return sum(1 for t in query if t in document) / len(query) if query else 0.0
