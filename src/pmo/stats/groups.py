"""The groups statistics are published for: unions of atoms of more than k bodies (issue #19).

An atom is one prefecture's 市 (政令指定都市 included), its 特別区 or its 町村, or the 47 prefecture
bodies together. Every published figure is a function of each atom's multiset of body histories, so
swapping the complete histories of two bodies of one atom changes nothing that is ever served: an
adversary — with integer bounds, sums across tables or differences between responses over time —
cannot tell a body from the other members of its atom. What it can learn of one body is only what
all of them share (a group of at least k: atoms have more than k, so even a member that knows its own
rows is left with k others). docs/statistics-disclosure.md has the argument and its limits."""

import numpy as np

from pmo.errors import InvalidInput, ServiceUnavailable

# Kinds as statistics publish them; the directory's fine kinds fold into these.
STATS_KINDS = ("prefecture", "cities", "special_ward", "towns_villages")
STATS_KIND_OF = {
    "prefecture": "prefecture",
    "designated_city": "cities",
    "city": "cities",
    "special_ward": "special_ward",
    "town": "towns_villages",
    "village": "towns_villages",
}
STATS_KIND_LABELS = {
    "prefecture": "都道府県",
    "cities": "市（政令指定都市を含む）",
    "special_ward": "特別区",
    "towns_villages": "町村",
}
NATIONAL = "00"  # the atom of the prefecture bodies is national, not any one prefecture's


def check_atoms(prefectures: np.ndarray, stats_kinds: np.ndarray, k: int) -> None:
    """Refuse to publish while some atom has k bodies or fewer (a merger could make one): 503, never a leak.
    An atom is named 'PP:kind'; the prefecture bodies share '00:prefecture'."""
    atoms = [
        f"{NATIONAL if kind == 'prefecture' else pref}:{kind}"
        for pref, kind in zip(prefectures, stats_kinds, strict=True)
    ]
    names, sizes = np.unique(atoms, return_counts=True)
    small = [f"{n}（{s}団体）" for n, s in zip(names, sizes, strict=True) if s <= k]
    if small:
        raise ServiceUnavailable(
            f"集計区分 {', '.join(small)} の団体数が k={k} 以下のため、統計を公開できません。"
            "区分の見直し（docs/statistics-disclosure.md）が必要です。"
        )


def parse_kind(kind: str | None, loc: str = "kind") -> str | None:
    """A statistics kind; the directory's fine kinds get a 422 that names the kind to use instead."""
    if kind is None or kind in STATS_KINDS:
        return kind
    hint = STATS_KIND_OF.get(kind)
    reason = (
        f"統計では {kind!r} を {hint!r} に含めて集計します（政令指定都市と村は都道府県内で1〜3団体のため、"
        "分けると差し引きで個々の団体が特定されます）。"
        if hint
        else f"{kind!r} はありません。"
    )
    raise InvalidInput.at(
        ["query", loc], f"団体の種別（kind）は {' / '.join(STATS_KINDS)} のいずれかです。{reason}", input=kind
    )


def check_combination(prefecture: str | None, kind: str | None, by: tuple[str, ...]) -> None:
    """A prefecture body is an atom of its own: never published per prefecture."""
    if kind == "prefecture" and (prefecture or "prefecture" in by):
        raise InvalidInput.at(
            ["query", "kind"],
            "都道府県は1団体ずつになるため、都道府県別には集計しません"
            "（都道府県別の数値はその都道府県内の市区町村の集計です）。",
            input=kind,
        )


def group_mask(
    stats_kind: np.ndarray, prefecture_of: np.ndarray, prefecture: str | None, kind: str | None
) -> np.ndarray:
    """The bodies of one published group: a prefecture means its municipalities; a kind, that kind."""
    mask = np.ones(len(stats_kind), dtype=bool)
    if prefecture:
        mask &= (prefecture_of == prefecture) & (stats_kind != "prefecture")
    if kind:
        mask &= stats_kind == kind
    return mask


def kinds_in(stats_kind: np.ndarray, prefecture: str | None) -> list[str]:
    """The kinds a by=kind table lists (within a prefecture: its municipal kinds)."""
    present = set(stats_kind.tolist())
    return [k for k in STATS_KINDS if k in present and not (prefecture and k == "prefecture")]
