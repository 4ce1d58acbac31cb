"""`pmo seed`: idempotent, label changes keep ids, and one bad row refuses the whole load."""

import shutil

import pytest
from sqlalchemy import delete, func, select
from typer.testing import CliRunner

from pmo.cli import app
from pmo.config import get_settings
from pmo.db import session_scope
from pmo.directory.codes import check_digit
from pmo.models import Account, Body, Operation, Step

SEEDS = get_settings().seeds_dir
NEW_CODE = "13999" + str(check_digit("13999"))  # valid, but no such body
GOOD_ROW = f"{NEW_CODE},13,東京都,試験町,シケンマチ,town"


def _seed(seeds_dir=None, ok=True):
    result = CliRunner().invoke(app, ["seed"] + (["--seeds-dir", str(seeds_dir)] if seeds_dir else []))
    assert (result.exit_code == 0) == ok, (result.output, result.exception)
    return result


def _snapshot() -> dict:
    with session_scope() as session:
        return {
            "bodies": session.scalar(select(func.count()).select_from(Body)),
            "operations": session.scalar(select(func.count()).select_from(Operation)),
            "steps": {s.code: (s.id, s.name, s.phase, s.group_name) for s in session.scalars(select(Step))},
            "ops": {o.code: (o.id, o.name, o.short_name) for o in session.scalars(select(Operation))},
        }


@pytest.fixture
def seeds_copy(database_url, tmp_path):
    """A copy of seeds/ to edit; afterwards the session database gets the real master data back."""
    target = tmp_path / "seeds"
    shutil.copytree(SEEDS, target)
    yield target
    _seed()
    codes = {line.split(",")[0] for line in (SEEDS / "bodies.csv").read_text(encoding="utf-8").splitlines()[1:]}
    with session_scope() as session:
        session.execute(delete(Body).where(Body.code.not_in(codes)))


def _append(path, *rows: str) -> int:
    """Append rows; returns the line number of the first one."""
    first = len(path.read_text(encoding="utf-8").splitlines()) + 1
    with path.open("a", encoding="utf-8") as f:
        for row in rows:
            f.write(row + "\n")
    return first


def test_seeding_twice_changes_nothing(database_url):
    before = _snapshot()
    out = _seed().stdout
    assert "bodies: 0 inserted, 0 updated" in out
    assert "operations: 0 inserted, 0 updated" in out
    assert "steps: 0 inserted, 0 updated" in out
    assert _snapshot() == before
    assert before["bodies"] == 1788 and before["operations"] == 20 and len(before["steps"]) == 40


def test_a_changed_label_updates_the_label_and_keeps_ids_and_references(seeds_copy, token_for, client):
    headers = token_for("municipality", "131016")  # a row that points at a body
    before = _snapshot()
    steps = (seeds_copy / "steps.csv").read_text(encoding="utf-8")
    old = "S05,5,計画立案,現行システムの概要調査,帳票・外部連携・独自機能の棚卸し"
    assert old in steps
    (seeds_copy / "steps.csv").write_text(
        steps.replace(old, "S05,5,計画立案,現行システムの概要調査,公式名称のステップ5"), encoding="utf-8"
    )
    ops = (seeds_copy / "operations.csv").read_text(encoding="utf-8")
    (seeds_copy / "operations.csv").write_text(
        ops.replace("jido_teate,1,児童手当,児童手当", "jido_teate,1,児童手当,児手"), encoding="utf-8"
    )

    out = _seed(seeds_copy).stdout
    assert "steps: 0 inserted, 1 updated" in out
    assert "operations: 0 inserted, 1 updated" in out
    assert "bodies: 0 inserted, 0 updated" in out

    after = _snapshot()
    assert after["steps"]["S05"] == (
        before["steps"]["S05"][0],
        "公式名称のステップ5",
        "計画立案",
        "現行システムの概要調査",
    )
    assert {k: v for k, v in after["steps"].items() if k != "S05"} == {
        k: v for k, v in before["steps"].items() if k != "S05"
    }
    assert after["ops"]["jido_teate"] == (before["ops"]["jido_teate"][0], "児童手当", "児手")
    steps_api = client.get("/api/v1/steps", headers=headers).json()
    assert steps_api[4] == {**steps_api[4], "code": "S05", "name": "公式名称のステップ5"}
    # the account bound to 千代田区 still works and still points at it
    assert client.get("/api/v1/me", headers=headers).json()["body_code"] == "131016"

    assert "steps: 0 inserted, 0 updated" in _seed(seeds_copy).stdout  # and the change is itself idempotent


@pytest.mark.parametrize(
    "row, words",
    [
        ("131017,13,東京都,誤検査数字区,ゴケンサスウジク,special_ward", "検査数字"),
        ("480011,48,架空県,架空市,カクウシ,city", "都道府県 48"),
        ("131016,13,東京都,千代田区,チヨダク,special_ward", "重複"),
        ("139980,13,東京都,区もどき,クモドキ,ward", "種別"),
        ("139971,14,東京都,県違い市,ケンチガイシ,city", "一致しません"),
        ("139963,13,東京都,県もどき,ケンモドキ,prefecture", "種別"),
        ("139955,13,東京都,,ナナシマチ,town", "名称"),
    ],
)
def test_a_bad_body_row_is_reported_with_file_and_line_and_nothing_is_loaded(seeds_copy, row, words):
    before = _snapshot()
    good_line = _append(seeds_copy / "bodies.csv", GOOD_ROW, row)
    bad_line = good_line + 1
    result = _seed(seeds_copy, ok=False)
    assert result.exit_code == 1
    problems = [line.strip() for line in result.stderr.splitlines() if "bodies.csv:" in line]
    assert len(problems) == 1, result.stderr
    assert f"bodies.csv:{bad_line}:" in problems[0] and words in problems[0]
    assert "nothing was loaded" in result.stderr
    assert _snapshot() == before
    with session_scope() as session:
        assert session.scalar(select(Body).where(Body.code == NEW_CODE)) is None


def test_every_bad_row_in_every_file_is_reported_at_once(seeds_copy):
    before = _snapshot()
    first = _append(
        seeds_copy / "bodies.csv",
        GOOD_ROW,
        "131017,13,東京都,誤区,ゴク,special_ward",
        "131016,13,東京都,千代田区,チヨダク,special_ward",
    )
    op_line = _append(seeds_copy / "operations.csv", "jido_teate,21,重複,重複,省,municipality")
    step_line = _append(seeds_copy / "steps.csv", "S41,x,移行,群,名前")
    stderr = _seed(seeds_copy, ok=False).stderr
    for where in (
        f"bodies.csv:{first + 1}:",
        f"bodies.csv:{first + 2}:",
        f"operations.csv:{op_line}:",
        f"steps.csv:{step_line}:",
    ):
        assert where in stderr
    assert f"bodies.csv:{first}:" not in stderr
    assert _snapshot() == before


def test_a_missing_column_or_file_is_refused(seeds_copy):
    (seeds_copy / "steps.csv").unlink()
    text = (seeds_copy / "operations.csv").read_text(encoding="utf-8")
    (seeds_copy / "operations.csv").write_text(text.replace("applies_to", "applies"), encoding="utf-8")
    stderr = _seed(seeds_copy, ok=False).stderr
    assert "steps.csv" in stderr and "operations.csv:1:" in stderr and "applies_to" in stderr


def test_a_good_new_row_is_inserted(seeds_copy, client, token_for):
    _append(seeds_copy / "bodies.csv", GOOD_ROW)
    assert "bodies: 1 inserted, 0 updated" in _seed(seeds_copy).stdout
    r = client.get(f"/api/v1/bodies/{NEW_CODE}", headers=token_for("viewer"))
    assert r.status_code == 200 and r.json()["name"] == "試験町"


def test_seed_keeps_accounts(database_url, token_for):
    token_for("prefecture", "130001")
    _seed()
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Account)) == 1
