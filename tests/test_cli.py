"""The real `pmo` CLI against the test database (PMO_DATABASE_URL is set by the database_url fixture)."""

import json

import pytest
from typer.testing import CliRunner

from pmo.cli import app

API = "/api/v1"


@pytest.fixture
def pmo(database_url):
    runner = CliRunner()

    def run(*args: str, ok: bool = True):
        result = runner.invoke(app, list(args))
        if ok:
            assert result.exit_code == 0, (args, result.output, result.exception)
        return result

    return run


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_create_account_then_issue_a_token_that_works(pmo, client):
    out = pmo("accounts", "create", "hokkaido", "--role", "prefecture", "--body", "010006").stdout
    assert "hokkaido" in out
    token = pmo("tokens", "issue", "hokkaido").stdout.strip()
    assert token.startswith("pmo_") and "\n" not in token
    me = client.get(f"{API}/me", headers=_bearer(token)).json()
    assert me == {
        "name": "hokkaido",
        "role": "prefecture",
        "body_code": "010006",
        "prefecture_code": "01",
        "administrator": False,
    }


def test_issue_with_role_creates_the_account_in_one_step(pmo, client):
    token = pmo("tokens", "issue", "--role", "viewer").stdout.strip()
    me = client.get(f"{API}/me", headers=_bearer(token)).json()
    assert me["role"] == "viewer" and me["name"].startswith("viewer-")
    assert client.get(f"{API}/bodies/131016", headers=_bearer(token)).status_code == 200

    token = pmo("tokens", "issue", "--role", "municipality", "--body", "131016").stdout.strip()
    assert client.get(f"{API}/me", headers=_bearer(token)).json()["body_code"] == "131016"


def test_issue_with_role_reuses_an_existing_account(pmo, client):
    first = pmo("tokens", "issue", "demo-pref", "--role", "prefecture", "--body", "130001").stdout.strip()
    second = pmo("tokens", "issue", "demo-pref", "--role", "prefecture", "--body", "130001").stdout.strip()
    assert first != second
    for token in (first, second):
        assert client.get(f"{API}/me", headers=_bearer(token)).json()["name"] == "demo-pref"
    assert pmo("accounts", "list").stdout.count("demo-pref") == 1

    clash = pmo("tokens", "issue", "demo-pref", "--role", "viewer", ok=False)
    assert clash.exit_code == 1 and "prefecture" in clash.stderr
    clash = pmo("tokens", "issue", "demo-pref", "--role", "prefecture", "--body", "270008", ok=False)
    assert clash.exit_code == 1 and "130001" in clash.stderr


def test_issue_json(pmo, client):
    data = json.loads(pmo("tokens", "issue", "--role", "helpdesk", "--days", "3", "--json").stdout)
    assert set(data) == {"account", "role", "body", "token", "token_id", "expires_at"}
    assert data["role"] == "helpdesk" and data["body"] is None and isinstance(data["token_id"], int)
    assert client.get(f"{API}/me", headers=_bearer(data["token"])).json()["name"] == data["account"]


def test_revoke_by_id_and_by_account(pmo, client):
    pmo("accounts", "create", "ops", "--role", "admin")
    one = json.loads(pmo("tokens", "issue", "ops", "--json").stdout)
    two = json.loads(pmo("tokens", "issue", "ops", "--json").stdout)
    three = json.loads(pmo("tokens", "issue", "ops", "--json").stdout)

    assert "1 token(s) revoked" in pmo("tokens", "revoke", str(one["token_id"])).stdout
    assert client.get(f"{API}/me", headers=_bearer(one["token"])).status_code == 401
    assert client.get(f"{API}/me", headers=_bearer(two["token"])).status_code == 200

    again = pmo("tokens", "revoke", str(one["token_id"]), ok=False)
    assert again.exit_code == 1 and again.stderr.strip()

    assert "2 token(s) revoked" in pmo("tokens", "revoke", "--account", "ops").stdout
    for token in (two, three):
        assert client.get(f"{API}/me", headers=_bearer(token["token"])).status_code == 401

    audit_token = pmo("tokens", "issue", "--role", "admin").stdout.strip()
    actions = [e["action"] for e in client.get(f"{API}/audit", headers=_bearer(audit_token)).json()["items"]]
    assert actions.count("token.revoke") == 3


def test_accounts_list_and_disable(pmo, client):
    pmo("accounts", "create", "chiyoda", "--role", "municipality", "--body", "131016")
    pmo("accounts", "create", "watcher", "--role", "viewer")
    token = pmo("tokens", "issue", "chiyoda").stdout.strip()
    lines = {line.split("\t")[0]: line.split("\t") for line in pmo("accounts", "list").stdout.splitlines()}
    assert lines["chiyoda"] == ["chiyoda", "municipality", "131016", "1 live token(s)"]
    assert lines["watcher"] == ["watcher", "viewer", "-", "0 live token(s)"]

    pmo("accounts", "disable", "chiyoda")
    assert client.get(f"{API}/me", headers=_bearer(token)).status_code == 401
    assert "disabled" in pmo("accounts", "list").stdout
    refused = pmo("tokens", "issue", "chiyoda", ok=False)
    assert refused.exit_code == 1 and "無効" in refused.stderr


@pytest.mark.parametrize(
    "args, words",
    [
        (["accounts", "create", "x", "--role", "mayor"], "ロール"),
        (["accounts", "create", "x", "--role", "prefecture", "--body", "131016"], "都道府県"),
        (["accounts", "create", "x", "--role", "municipality", "--body", "130001"], "市区町村"),
        (["accounts", "create", "x", "--role", "municipality"], "団体コード"),
        (["accounts", "create", "x", "--role", "viewer", "--body", "131016"], "--body"),
        (["accounts", "create", "x", "--role", "municipality", "--body", "131017"], "検査数字"),
        (["tokens", "issue", "nobody"], "nobody"),
        (["tokens", "issue"], "--role"),
        (["tokens", "issue", "--role", "prefecture", "--body", "99"], "6桁"),
        (["tokens", "revoke"], "ID"),
        (["tokens", "revoke", "987654"], "987654"),
        (["accounts", "disable", "nobody"], "nobody"),
    ],
)
def test_bad_input_exits_1_with_a_message(pmo, args, words):
    result = pmo(*args, ok=False)
    assert result.exit_code == 1, result.output
    assert words in result.stderr
    assert result.stdout == ""


def test_duplicate_account_exits_1(pmo):
    pmo("accounts", "create", "dup", "--role", "viewer")
    result = pmo("accounts", "create", "dup", "--role", "viewer", ok=False)
    assert result.exit_code == 1 and "dup" in result.stderr


def test_failed_create_leaves_nothing_behind(pmo):
    pmo("tokens", "issue", "half", "--role", "prefecture", "--body", "131016", ok=False)
    assert "half" not in pmo("accounts", "list").stdout


def test_export_openapi_to_stdout(pmo):
    doc = json.loads(pmo("export-openapi", "--output", "-").stdout)
    assert "/api/v1/bodies/{code}" in doc["paths"]
