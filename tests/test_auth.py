"""Bearer tokens and accounts: 401s, /me for every role, the audit log, and no plain token at rest."""

import logging
from datetime import timedelta

import pytest
from sqlalchemy import String, Text, select, update

from pmo.accounts import service
from pmo.auth import hash_token
from pmo.db import Base, session_scope, utcnow
from pmo.errors import Conflict, InvalidInput
from pmo.models import Account, Token

API = "/api/v1"


def _token_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def _assert_401(response) -> dict:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert body["error"] == "unauthenticated" and body["message"]
    return body


def test_no_token_is_401(client):
    _assert_401(client.get(f"{API}/me"))


@pytest.mark.parametrize(
    "authorization",
    ["Bearer pmo_not-a-real-token", "Bearer ", "Basic dXNlcjpwYXNz", "pmo_no_scheme", "Bearer x y"],
)
def test_garbage_token_is_401(client, authorization):
    _assert_401(client.get(f"{API}/me", headers={"Authorization": authorization}))


def test_valid_token_then_expired_is_401(client, token_for):
    headers = token_for("viewer")
    assert client.get(f"{API}/me", headers=headers).status_code == 200
    with session_scope() as session:
        session.execute(
            update(Token)
            .where(Token.token_hash == hash_token(_token_of(headers)))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    body = _assert_401(client.get(f"{API}/me", headers=headers))
    assert "有効期限" in body["message"]


def test_revoked_token_is_401_and_other_tokens_still_work(client, token_for):
    headers = token_for("admin")
    with session_scope() as session:
        token = session.scalar(select(Token).where(Token.token_hash == hash_token(_token_of(headers))))
        account = session.get(Account, token.account_id)
        second = service.issue_token(session, account, actor="test", ttl_days=1)
        token_id = token.id
    with session_scope() as session:
        assert service.revoke_tokens(session, actor="test", token_id=token_id) == 1
    body = _assert_401(client.get(f"{API}/me", headers=headers))
    assert "失効" in body["message"]
    assert client.get(f"{API}/me", headers={"Authorization": f"Bearer {second.token}"}).status_code == 200

    with session_scope() as session:
        assert service.revoke_tokens(session, actor="test", account_name=account.name) == 1
    _assert_401(client.get(f"{API}/me", headers={"Authorization": f"Bearer {second.token}"}))


def test_disabled_account_is_401(client, token_for):
    headers = token_for("helpdesk")
    name = client.get(f"{API}/me", headers=headers).json()["name"]
    with session_scope() as session:
        service.disable_account(session, name, actor="test")
    body = _assert_401(client.get(f"{API}/me", headers=headers))
    assert "無効" in body["message"]
    with session_scope() as session, pytest.raises(Conflict):
        service.issue_token(session, service.get_account(session, name), actor="test", ttl_days=1)


@pytest.mark.parametrize(
    "role, body, expected",
    [
        ("admin", None, {"body_code": None, "prefecture_code": None}),
        ("helpdesk", None, {"body_code": None, "prefecture_code": None}),
        ("viewer", None, {"body_code": None, "prefecture_code": None}),
        ("prefecture", "130001", {"body_code": "130001", "prefecture_code": "13"}),
        ("municipality", "131016", {"body_code": "131016", "prefecture_code": "13"}),
        ("municipality", "011002", {"body_code": "011002", "prefecture_code": "01"}),
    ],
)
def test_me_for_each_role(client, token_for, role, body, expected):
    r = client.get(f"{API}/me", headers=token_for(role, body))
    assert r.status_code == 200, r.text
    me = r.json()
    assert me["role"] == role
    assert me["name"].startswith(f"{role}-")
    assert {k: me[k] for k in expected} == expected


@pytest.mark.parametrize(
    "role, body", [("viewer", None), ("helpdesk", None), ("prefecture", "130001"), ("municipality", "131016")]
)
def test_audit_is_forbidden_to_non_admins(client, token_for, role, body):
    r = client.get(f"{API}/audit", headers=token_for(role, body))
    assert r.status_code == 403
    assert r.json()["error"] == "forbidden"


def test_audit_lists_account_and_token_writes_newest_first(client, token_for):
    token_for("prefecture", "130001")
    admin = token_for("admin")
    r = client.get(f"{API}/audit", headers=admin)
    assert r.status_code == 200
    entries = r.json()["items"]
    assert r.json()["total"] >= len(entries) == 4
    actions = [e["action"] for e in entries]
    assert actions.count("account.create") == 2 and actions.count("token.issue") == 2
    # the admin's own account was created last, so it comes first
    assert actions[:2] == ["token.issue", "account.create"]
    assert [e["id"] for e in entries] == sorted((e["id"] for e in entries), reverse=True)
    create = next(e for e in entries if e["action"] == "account.create" and e["detail"]["role"] == "prefecture")
    assert create["actor"] == "test" and create["target"].startswith("account:prefecture-")
    assert create["detail"]["body"] == "130001" and create["at"]
    issue = next(e for e in entries if e["action"] == "token.issue")
    assert set(issue["detail"]) == {"token_id", "prefix"}

    one = client.get(f"{API}/audit", params={"limit": 1}, headers=admin).json()
    assert len(one["items"]) == 1 and one["total"] == 4 and one["limit"] == 1
    assert client.get(f"{API}/audit", params={"limit": 0}, headers=admin).status_code == 422


def _text_values(session) -> list[str]:
    values = []
    for table in Base.metadata.sorted_tables:
        text_cols = [
            c for c in table.columns if isinstance(c.type, (String, Text)) or c.type._type_affinity in (String, Text)
        ]
        json_cols = [c for c in table.columns if c.type.__class__.__name__ == "JSON"]
        for row in session.execute(select(*text_cols, *json_cols)) if text_cols or json_cols else []:
            values += [str(v) for v in row if v is not None]
    return values


def test_plain_token_never_reaches_the_database_or_the_logs(client, token_for, caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("sqlalchemy.engine", "pmo", "uvicorn", "httpx"):
        caplog.set_level(logging.DEBUG, logger=name)
    headers = token_for("municipality", "131016")
    token = _token_of(headers)
    assert client.get(f"{API}/me", headers=headers).status_code == 200
    assert client.get(f"{API}/audit", headers=headers).status_code == 403
    with session_scope() as session:
        service.revoke_tokens(
            session, actor="test", account_name=client.get(f"{API}/me", headers=token_for("viewer")).json()["name"]
        )
    _assert_401(client.get(f"{API}/me", headers={"Authorization": f"Bearer {token}x"}))

    with session_scope() as session:
        values = _text_values(session)
        stored = session.scalar(select(Token).where(Token.token_hash == hash_token(token)))
    assert stored is not None and stored.prefix == token[:12]
    assert values, "the scan found no text at all"
    secret = token[12:]  # the prefix is stored on purpose so an operator can name a token
    assert not [v for v in values if secret in v]
    assert hash_token(token) in values  # the scan does see the tokens table
    assert caplog.records, "nothing was logged, so the log check would prove nothing"
    assert secret not in caplog.text
    assert all(secret not in str(r.args) for r in caplog.records)


def _create(role, body):
    with session_scope() as session:
        return service.create_account(session, f"acct-{role}-{body}", role, body, actor="test")


@pytest.mark.parametrize(
    "role, body, words",
    [
        ("municipality", None, "団体コード"),
        ("municipality", "130001", "市区町村"),  # a prefecture's code
        ("prefecture", "131016", "都道府県"),  # a municipality's code
        ("prefecture", None, "団体コード"),
        ("viewer", "131016", "指定しないで"),
        ("admin", "130001", "指定しないで"),
        ("helpdesk", "131016", "指定しないで"),
        ("municipality", "131017", "検査数字"),
        ("municipality", "139998", "登録されていません"),
        ("superuser", None, "ロール"),
    ],
)
def test_account_creation_rules(database_url, role, body, words):
    with pytest.raises(InvalidInput) as info:
        _create(role, body)
    assert words in info.value.message
    assert info.value.detail[0]["loc"] in (["body"], ["role"])


def test_account_names_are_unique(database_url):
    _create("viewer", None)
    with pytest.raises(Conflict):
        _create("viewer", None)
