"""Delegated administration (issue 17): the national admin manages national accounts and the prefectures'
administrators; a prefecture's administrator its own staff and its municipalities' administrators; a
municipality's administrator its own staff. Each sees and changes only that scope, every change is audited,
and a role change, a new administrator mark or disabling ends the account's sessions at once. Through the
API against the test database (the route × role matrix is in test_authorization)."""

import secrets

from sqlalchemy import select

from pmo.db import session_scope
from pmo.models import Account, AuditEntry, OutboxMessage
from tests.test_passwords import password_sign_in, person

API = "/api/v1"
CHIYODA, CHUO, TOKYO, SAPPORO, HOKKAIDO = "131016", "131024", "130001", "011002", "010006"


def invite(client, headers, status=201, **data):
    data.setdefault("email", f"p-{secrets.token_hex(4)}@example.lg.jp")
    data.setdefault("display_name", "標準 花子")
    r = client.post(f"{API}/accounts", headers=headers, json=data)
    assert r.status_code == status, r.text
    return r.json()


def listed(client, headers) -> set[str]:
    r = client.get(f"{API}/accounts", headers=headers, params={"limit": 500})
    assert r.status_code == 200, r.text
    return {a["name"] for a in r.json()["items"]}


def test_each_administrator_invites_only_into_its_own_scope(client, token_for):
    admin = token_for("admin")
    tokyo_admin = token_for("prefecture", TOKYO, administrator=True)
    chiyoda_admin = token_for("municipality", CHIYODA, administrator=True)

    helpdesk = invite(client, admin, role="helpdesk")
    assert helpdesk["role"] == "helpdesk" and helpdesk["invitation_open"] and not helpdesk["password_set"]
    invite(client, admin, role="prefecture", body=HOKKAIDO, administrator=True)
    for refused in ({"role": "prefecture", "body": TOKYO}, {"role": "municipality", "body": CHIYODA}):
        invite(client, admin, 403, **refused)  # a prefecture's staff is its administrator's to manage

    staff = invite(client, tokyo_admin)  # role and body default to its own
    assert (staff["role"], staff["body"], staff["administrator"]) == ("prefecture", TOKYO, False)
    chuo = invite(client, tokyo_admin, body=CHUO, administrator=True)
    assert (chuo["role"], chuo["body"], chuo["administrator"]) == ("municipality", CHUO, True)
    for refused in (
        {"body": CHUO},  # a municipality's staff: its own administrator's
        {"body": SAPPORO, "administrator": True},  # another prefecture's municipality
        {"role": "helpdesk"},
        {"administrator": True},  # its own level's administrators: the national admin's
    ):
        invite(client, tokyo_admin, 403, **refused)

    clerk = invite(client, chiyoda_admin)
    assert (clerk["role"], clerk["body"]) == ("municipality", CHIYODA)
    for refused in ({"administrator": True}, {"body": CHUO}, {"role": "viewer"}):
        invite(client, chiyoda_admin, 403, **refused)

    for plain in (token_for("prefecture", TOKYO), token_for("municipality", CHIYODA), token_for("helpdesk")):
        assert client.get(f"{API}/accounts", headers=plain).status_code == 403
        invite(client, plain, 403)

    with session_scope(read_only=True) as session:
        mails = session.scalars(select(OutboxMessage.recipient).where(OutboxMessage.kind == "account.invite"))
        assert {helpdesk["email"], staff["email"], chuo["email"], clerk["email"]} <= set(mails)
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.target == f"account:{clerk['name']}"))
        assert {"account.create", "account.invite"} <= set(actions)


def test_each_administrator_lists_exactly_its_scope(client, token_for):
    admin = token_for("admin")
    tokyo_admin = token_for("prefecture", TOKYO, administrator=True)
    chiyoda_admin = token_for("municipality", CHIYODA, administrator=True)
    made = {
        "national": invite(client, admin, role="viewer")["name"],
        "hokkaido admin": invite(client, admin, role="prefecture", body=HOKKAIDO, administrator=True)["name"],
        "tokyo staff": invite(client, tokyo_admin)["name"],
        "chuo admin": invite(client, tokyo_admin, body=CHUO, administrator=True)["name"],
        "chiyoda staff": invite(client, chiyoda_admin)["name"],
    }
    with session_scope() as session:  # an administrator of another prefecture's municipality
        from pmo.accounts import service

        made["sapporo admin"] = service.create_account(
            session, f"sapporo-{secrets.token_hex(3)}", "municipality", SAPPORO, actor="t", administrator=True
        ).name
    sees = {
        "admin": {"national", "hokkaido admin"},
        "tokyo": {"tokyo staff", "chuo admin"},
        "chiyoda": {"chiyoda staff"},
    }
    for who, headers in (("admin", admin), ("tokyo", tokyo_admin), ("chiyoda", chiyoda_admin)):
        names = listed(client, headers)
        assert {label for label, name in made.items() if name in names} == sees[who], who
    hidden = next(a for a in client.get(f"{API}/accounts", headers=admin).json()["items"] if a["role"] == "viewer")
    r = client.get(f"{API}/accounts/{hidden['id']}", headers=tokyo_admin)
    assert r.status_code == 404  # the same answer as an account that does not exist
    assert r.json()["message"] == client.get(f"{API}/accounts/2000000000", headers=tokyo_admin).json()["message"]


def test_disabling_an_account_ends_its_sessions_and_enabling_lets_it_sign_in_again(client, token_for):
    chiyoda_admin = token_for("municipality", CHIYODA, administrator=True)
    name, email = person("municipality", CHIYODA)
    assert password_sign_in(client, email).status_code == 303
    assert client.get("/inquiries", follow_redirects=False).status_code == 200
    account_id = next(
        a["id"] for a in client.get(f"{API}/accounts", headers=chiyoda_admin).json()["items"] if a["name"] == name
    )

    r = client.patch(f"{API}/accounts/{account_id}", headers=chiyoda_admin, json={"disabled": True})
    assert r.status_code == 200 and r.json()["disabled"] is True
    assert client.get("/inquiries", follow_redirects=False).status_code == 303  # the session has ended
    assert password_sign_in(client, email).status_code == 401

    assert (
        client.patch(f"{API}/accounts/{account_id}", headers=chiyoda_admin, json={"disabled": False}).status_code == 200
    )
    assert password_sign_in(client, email).status_code == 303
    with session_scope(read_only=True) as session:
        actions = list(session.scalars(select(AuditEntry.action).where(AuditEntry.target == f"account:{name}")))
        assert actions.count("account.disable") == 1 and actions.count("account.enable") == 1


def test_the_level_above_marks_an_administrator_and_that_ends_the_persons_sessions(client, token_for):
    tokyo_admin = token_for("prefecture", TOKYO, administrator=True)
    chiyoda_admin = token_for("municipality", CHIYODA, administrator=True)
    name, email = person("municipality", CHIYODA)
    assert password_sign_in(client, email).status_code == 303
    staff_id = next(
        a["id"] for a in client.get(f"{API}/accounts", headers=chiyoda_admin).json()["items"] if a["name"] == name
    )

    # its own administrator may not make it an administrator; the prefecture's does, by naming its e-mail
    r = client.patch(f"{API}/accounts/{staff_id}", headers=chiyoda_admin, json={"administrator": True})
    assert r.status_code == 403, r.text
    made = invite(client, tokyo_admin, 201, email=email.upper(), body=CHIYODA, administrator=True)
    assert made["id"] == staff_id and made["administrator"] is True
    assert client.get("/inquiries", follow_redirects=False).status_code == 303  # every session ended
    assert name not in listed(client, chiyoda_admin)  # an administrator is no longer its own level's to manage

    r = client.patch(f"{API}/accounts/{staff_id}", headers=tokyo_admin, json={"administrator": False})
    assert r.status_code == 200 and r.json()["administrator"] is False
    assert name in listed(client, chiyoda_admin) and name not in listed(client, tokyo_admin)


def test_national_roles_change_between_admin_helpdesk_and_viewer_only(client, token_for):
    admin = token_for("admin")
    viewer = invite(client, admin, role="viewer")
    r = client.patch(
        f"{API}/accounts/{viewer['id']}", headers=admin, json={"role": "helpdesk", "display_name": "窓口 一郎"}
    )
    assert r.status_code == 200 and (r.json()["role"], r.json()["display_name"]) == ("helpdesk", "窓口 一郎")
    vendor = invite(client, admin, role="vendor", organization="みらい情報システム株式会社", operations=["koseki"])
    r = client.patch(f"{API}/accounts/{vendor['id']}", headers=admin, json={"role": "admin"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "role"
    unknown = client.patch(f"{API}/accounts/{viewer['id']}", headers=admin, json={"role": "prefecture"})
    assert unknown.status_code == 422
    with session_scope(read_only=True) as session:
        assert session.scalar(select(Account.role).where(Account.id == vendor["id"])) == "vendor"


def test_nobody_changes_their_own_account_here(client, token_for):
    admin = token_for("admin")
    me = client.get(f"{API}/me", headers=admin).json()["name"]
    my_id = next(a["id"] for a in client.get(f"{API}/accounts", headers=admin).json()["items"] if a["name"] == me)
    r = client.patch(f"{API}/accounts/{my_id}", headers=admin, json={"disabled": True})
    assert r.status_code == 409 and "自分のアカウント" in r.json()["message"]


def test_a_link_is_an_invitation_until_a_password_is_set_then_a_reset(client, token_for):
    chiyoda_admin = token_for("municipality", CHIYODA, administrator=True)
    invited = invite(client, chiyoda_admin)
    name, _ = person("municipality", CHIYODA)
    with_password = next(
        a for a in client.get(f"{API}/accounts", headers=chiyoda_admin).json()["items"] if a["name"] == name
    )
    for account in (invited, with_password):
        r = client.post(f"{API}/accounts/{account['id']}/link", headers=chiyoda_admin)
        assert r.status_code == 200 and r.json()["invitation_open"], r.text
    with session_scope(read_only=True) as session:
        kinds = dict(
            session.execute(
                select(OutboxMessage.recipient, OutboxMessage.kind).where(
                    OutboxMessage.recipient.in_([invited["email"], with_password["email"]]),
                    OutboxMessage.kind != "account.invite",
                )
            ).all()
        )
        assert kinds == {with_password["email"]: "account.reset"}


def test_a_lost_authenticator_is_reset_by_the_administrator(client, token_for):
    import pyotp

    from pmo.db import utcnow

    tokyo_admin = token_for("prefecture", TOKYO, administrator=True)
    staff = invite(client, tokyo_admin)
    with session_scope() as session:
        account = session.get_one(Account, staff["id"])
        account.totp_secret, account.totp_enabled_at, account.recovery_hashes = pyotp.random_base32(), utcnow(), ["x"]
    assert client.get(f"{API}/accounts/{staff['id']}", headers=tokyo_admin).json()["second_factor"] is True
    r = client.post(f"{API}/accounts/{staff['id']}/second-factor/reset", headers=tokyo_admin)
    assert r.status_code == 200 and r.json()["second_factor"] is False
    with session_scope(read_only=True) as session:
        account = session.get_one(Account, staff["id"])
        assert account.totp_secret is None and account.recovery_hashes is None
        assert session.scalar(
            select(AuditEntry.id).where(
                AuditEntry.action == "account.second_factor_reset", AuditEntry.target == f"account:{staff['name']}"
            )
        )


# --- the pages ------------------------------------------------------------------------------------------


def test_a_prefecture_administrator_invites_on_the_page_and_errors_stand_beside_the_field(client, token_for):
    from tests.test_dashboard import sign_in
    from tests.test_support_pages import field_error, post_form

    sign_in(client, token_for("prefecture", TOKYO, administrator=True))
    page = client.get("/accounts")
    assert page.status_code == 200 and 'href="/accounts"' in page.text  # in the menu
    assert "千代田区のアカウント管理者" in page.text and "札幌市" not in page.text

    bad = post_form(
        client,
        "/accounts",
        "/accounts",
        {"email": "not an address", "display_name": "", "target": f"municipality|{CHIYODA}|1"},
    )
    assert bad.status_code == 422
    assert field_error(bad.text, "email") and field_error(bad.text, "display_name")
    with session_scope(read_only=True) as session:
        assert session.scalar(select(Account.id).where(Account.display_name == "千代田 太郎")) is None

    email = f"new-{secrets.token_hex(3)}@city.chiyoda.lg.jp"
    made = post_form(
        client,
        "/accounts",
        "/accounts",
        {"email": email, "display_name": "千代田 太郎", "target": f"municipality|{CHIYODA}|1"},
    )
    assert made.status_code == 303 and made.headers["location"].endswith("?flash=invited"), made.text
    detail = client.get(made.headers["location"])
    assert "招待メールを送りました" in detail.text and email in detail.text and "招待メールの送付" in detail.text

    account_path = made.headers["location"].split("?")[0]
    off = post_form(client, account_path, account_path, {"disabled": "true"})
    assert off.status_code == 303
    assert "アカウントを無効にしました" in client.get(off.headers["location"]).text
    listing = client.get("/accounts", params={"state": "disabled"})
    assert "千代田 太郎" in listing.text


def test_the_accounts_page_is_refused_to_staff_without_the_administrator_mark(client, token_for):
    from tests.test_dashboard import sign_in

    sign_in(client, token_for("prefecture", TOKYO))
    assert 'href="/accounts"' not in client.get("/inquiries").text
    assert client.get("/accounts").status_code == 403
