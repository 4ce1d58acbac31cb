"""`pmo seed`: load bodies, operations and steps from seeds/ — all rows or none, idempotently."""

import csv
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from pmo.directory.codes import code_problem
from pmo.models import BODY_KINDS, Body, Operation, Step


class SeedError(Exception):
    """Seed files that cannot be loaded; problems lists 'file:line: why' for each bad row."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class SeedResult:
    inserted: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)


def _read(path: Path, columns: list[str], problems: list[str]) -> list[tuple[int, dict[str, str]]]:
    if not path.exists():
        problems.append(f"{path}: ファイルがありません")
        return []
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            problems.append(f"{path}:1: 列がありません: {', '.join(missing)}")
            return []
        return [(i, {k: (v or "").strip() for k, v in row.items() if k}) for i, row in enumerate(reader, start=2)]


def _check_bodies(path: Path, rows: list[tuple[int, dict[str, str]]], problems: list[str]) -> list[dict]:
    prefectures = {r["prefecture_code"] for _, r in rows if r["kind"] == "prefecture"}
    seen: dict[str, int] = {}
    out = []
    for line, r in rows:
        where = f"{path}:{line}"
        code = r["code"]
        if problem := code_problem(code):
            problems.append(f"{where}: {code}: {problem}")
            continue
        if code in seen:
            problems.append(f"{where}: 団体コード {code} が重複しています（{seen[code]}行目と同じ）")
            continue
        seen[code] = line
        if r["kind"] not in BODY_KINDS:
            problems.append(f"{where}: 種別 {r['kind']!r} は {', '.join(BODY_KINDS)} のいずれかです")
            continue
        if r["prefecture_code"] != code[:2]:
            problems.append(
                f"{where}: 都道府県番号 {r['prefecture_code']} が団体コードの上2桁 {code[:2]} と一致しません"
            )
            continue
        if (r["kind"] == "prefecture") != (code[2:5] == "000"):
            want = (
                "都道府県の団体コードは PP000 + 検査数字"
                if r["kind"] == "prefecture"
                else "市区町村の団体コードの3〜5桁目は 000 以外"
            )
            problems.append(f"{where}: {code}: 種別 {r['kind']} と団体コードが合いません（{want}）")
            continue
        if r["prefecture_code"] not in prefectures:
            problems.append(f"{where}: 都道府県 {r['prefecture_code']} が {path.name} にありません")
            continue
        if not r["name"]:
            problems.append(f"{where}: 名称が空です")
            continue
        out.append(
            {
                "id": int(code),
                "code": code,
                "prefecture_code": r["prefecture_code"],
                "prefecture_name": r["prefecture"],
                "name": r["name"],
                "name_kana": r["name_kana"],
                "kind": r["kind"],
            }
        )
    return out


def _check_operations(path: Path, rows: list[tuple[int, dict[str, str]]], problems: list[str]) -> list[dict]:
    seen: set[str] = set()
    out = []
    for line, r in rows:
        where = f"{path}:{line}"
        targets = set(r["applies_to"].split("+"))
        if not r["code"] or r["code"] in seen:
            problems.append(f"{where}: 業務コード {r['code']!r} が空か重複しています")
            continue
        seen.add(r["code"])
        if not r["order"].isdigit():
            problems.append(f"{where}: order は整数です（{r['order']!r}）")
            continue
        if not targets or not targets <= {"municipality", "prefecture"}:
            problems.append(
                f"{where}: applies_to は municipality / prefecture を + でつないだものです（{r['applies_to']!r}）"
            )
            continue
        out.append(
            {
                "code": r["code"],
                "order": int(r["order"]),
                "name": r["name"],
                "short_name": r["short_name"] or r["name"],
                "ministry": r["ministry"],
                "for_municipalities": "municipality" in targets,
                "for_prefectures": "prefecture" in targets,
            }
        )
    return out


def _check_steps(path: Path, rows: list[tuple[int, dict[str, str]]], problems: list[str]) -> list[dict]:
    seen: set[str] = set()
    out = []
    for line, r in rows:
        where = f"{path}:{line}"
        code = r["code"]
        if len(code) != 3 or not code.startswith("S") or not code[1:].isdigit() or code in seen:
            problems.append(f"{where}: ステップコード {code!r} は S01 形式で重複なしです")
            continue
        seen.add(code)
        if not r["order"].isdigit():
            problems.append(f"{where}: order は整数です（{r['order']!r}）")
            continue
        out.append(
            {"code": code, "order": int(r["order"]), "phase": r["phase"], "group_name": r["group"], "name": r["name"]}
        )
    return out


def _upsert(
    session: Session, model: type[Body | Operation | Step], key: str, rows: list[dict], result: SeedResult
) -> None:
    existing = {getattr(obj, key): obj for obj in session.scalars(select(model))}
    inserted = updated = 0
    for row in rows:
        obj = existing.get(row[key])
        if obj is None:
            session.add(model(**row))
            inserted += 1
            continue
        changed = False
        for name, value in row.items():
            if getattr(obj, name) != value:
                setattr(obj, name, value)
                changed = True
        updated += changed
    result.inserted[model.__tablename__] = inserted
    result.updated[model.__tablename__] = updated


def load_seeds(session: Session, seeds_dir: Path) -> SeedResult:
    """Validate every seed file, then insert new rows and update changed labels; SeedError if any row is bad."""
    problems: list[str] = []
    bodies_path, ops_path, steps_path = (seeds_dir / n for n in ("bodies.csv", "operations.csv", "steps.csv"))
    bodies = _check_bodies(
        bodies_path,
        _read(bodies_path, ["code", "prefecture_code", "prefecture", "name", "name_kana", "kind"], problems),
        problems,
    )
    operations = _check_operations(
        ops_path, _read(ops_path, ["code", "order", "name", "short_name", "ministry", "applies_to"], problems), problems
    )
    steps = _check_steps(steps_path, _read(steps_path, ["code", "order", "phase", "group", "name"], problems), problems)
    if problems:
        raise SeedError(problems)
    result = SeedResult()
    _upsert(session, Body, "code", bodies, result)
    _upsert(session, Operation, "code", operations, result)
    _upsert(session, Step, "code", steps, result)
    session.flush()
    return result
