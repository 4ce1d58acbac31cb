"""Personal sign-in by e-mail and password (issue 17): argon2id hashes, throttled failures with a temporary
lockout that says so, server-side sessions that end on sign-out, on a new password and when the account is
disabled. Through the pages' HTTP forms against the test database."""

import re
import secrets

from sqlalchemy import select

from pmo.accounts import passwords, service
from pmo.db import session_scope
from pmo.errors import InvalidInput
from pmo.models import Account, Token
from tests.test_dashboard import csrf_of

PASSWORD = "correct horse battery staple"


def person(role: str = "municipality", body: str | None = "131016") -> tuple[str, str]:
    """A fresh account with a sign-in e-mail and PASSWORD: (account name, e-mail)."""
    name = f"{role}-{secrets.token_hex(4)}"
    email = f"{name}@Example.LG.JP"
    with session_scope() as session:
        account = service.create_account(session, name, role, body, actor="test")
        passwords.set_password(session, account, email, PASSWORD, actor="test")
    return name, email


def password_sign_in(client, email: str, password: str = PASSWORD):
    client.cookies.clear()
    form = client.get("/login")
    return client.post(
        "/login/password",
        data={"email": email, "password": password, "csrf": csrf_of(form.text), "next": "/inquiries"},
        follow_redirects=False,
    )


def test_a_person_signs_in_with_e_mail_and_password_and_only_a_hash_is_kept(client):
    name, email = person()
    r = password_sign_in(client, email.upper())  # the address in any case
    assert r.status_code == 303 and r.headers["location"] == "/inquiries", r.text
    page = client.get("/inquiries")
    assert page.status_code == 200 and "問合せ" in page.text
    with session_scope(read_only=True) as session:
        account = session.scalar(select(Account).where(Account.name == name))
        assert account.email == email.lower()
        assert account.password_hash.startswith("$argon2id$") and PASSWORD not in account.password_hash


def test_a_wrong_password_is_refused_and_repeated_failures_lock_the_address_for_a_while(client):
    _, email = person()
    for _ in range(5):
        r = password_sign_in(client, email, "not the password at all")
        assert r.status_code == 401 and "メールアドレスまたはパスワードが正しくありません" in r.text
    locked = password_sign_in(client, email)  # even the right password, while locked
    assert locked.status_code == 429 and "秒後にもう一度お試しください" in locked.text
    assert int(locked.headers["retry-after"]) > 0
    unknown = password_sign_in(client, "nobody@example.lg.jp")
    assert unknown.status_code == 401 and "メールアドレスまたはパスワードが正しくありません" in unknown.text


def test_signing_out_ends_the_session_on_the_server(client):
    _, email = person()
    assert password_sign_in(client, email).status_code == 303
    cookie = client.cookies.get("pmo_session")
    page = client.get("/inquiries")
    client.post("/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    client.cookies.set("pmo_session", cookie)  # a copy of the cookie kept from before
    again = client.get("/inquiries", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/login")
    with session_scope(read_only=True) as session:
        live = session.scalars(
            select(Token.id)
            .join(Account, Account.id == Token.account_id)
            .where(Account.email == email.lower(), Token.prefix == passwords.SIGN_IN_PREFIX, Token.revoked_at.is_(None))
        ).all()
        assert live == []  # the session's own sign-in token was revoked with it


def test_a_new_password_or_a_disabled_account_ends_every_session(client):
    name, email = person()
    assert password_sign_in(client, email).status_code == 303
    with session_scope() as session:
        account = service.get_account(session, name)
        passwords.set_password(session, account, email, "another long passphrase", actor="test")
    assert client.get("/inquiries", follow_redirects=False).status_code == 303  # back to the sign-in form
    assert password_sign_in(client, email).status_code == 401  # the old password no longer works
    assert password_sign_in(client, email, "another long passphrase").status_code == 303
    with session_scope() as session:
        service.disable_account(session, name, actor="test")
    assert client.get("/inquiries", follow_redirects=False).status_code == 303
    disabled = password_sign_in(client, email, "another long passphrase")
    assert disabled.status_code == 401 and "無効化" in disabled.text


def test_password_rules_and_addresses_are_checked(database_url):
    with session_scope() as session:
        account = service.create_account(session, f"m-{secrets.token_hex(4)}", "municipality", "131016", actor="t")
        for email, password, field in (
            ("a@example.lg.jp", "short", "password"),
            ("a@example.lg.jp", "aaaaaaaaaaaaaaaa", "password"),
            ("not an address", PASSWORD, "email"),
        ):
            try:
                passwords.set_password(session, account, email, password, actor="t")
            except InvalidInput as exc:
                assert exc.detail[0]["loc"] == [field]
            else:
                raise AssertionError(f"{email!r} / {password!r} was accepted")


def link_in(email: str) -> str:
    """The path of the newest one-time link mailed to email (from the outbox)."""
    from pmo.models import OutboxMessage

    with session_scope(read_only=True) as session:
        text = session.scalars(
            select(OutboxMessage.text).where(OutboxMessage.recipient == email).order_by(OutboxMessage.id.desc())
        ).first()
    assert text, f"nothing mailed to {email}"
    return "/password/set/" + text.split("/password/set/")[1].split()[0]


def choose(client, path: str, password: str, confirm: str | None = None):
    form = client.get(path)
    assert form.status_code == 200, form.text
    data = {"password": password, "confirm": confirm or password, "csrf": csrf_of(form.text)}
    return client.post(path, data=data, follow_redirects=False)


def test_an_invitation_sets_the_password_once(client):
    from pmo.accounts import links

    name = f"invited-{secrets.token_hex(4)}"
    email = f"{name}@city.example.lg.jp"
    with session_scope() as session:
        account = service.create_account(session, name, "municipality", "131016", actor="test")
        links.invite(session, account, email, actor="test")
    path = link_in(email)
    mismatch = choose(client, path, "a long enough passphrase", "a different passphrase")
    assert mismatch.status_code == 422 and 'id="error-confirm"' in mismatch.text and "一致しません" in mismatch.text
    short = choose(client, path, "short")
    assert short.status_code == 422 and 'id="error-password"' in short.text and 'aria-invalid="true"' in short.text
    done = choose(client, path, "a long enough passphrase")
    assert done.status_code == 303 and done.headers["location"] == "/login?password_set=1"
    assert "パスワードを設定しました" in client.get("/login?password_set=1").text
    assert password_sign_in(client, email, "a long enough passphrase").status_code == 303
    client.cookies.clear()
    again = client.get(path)
    assert again.status_code == 404 and "使用済みか、有効期限が切れています" in again.text


def test_a_reset_is_mailed_only_to_a_known_address_and_says_the_same_either_way(client):
    _, email = person()
    answers = []
    for address in (email, "nobody-here@example.lg.jp"):
        client.cookies.clear()
        form = client.get("/password/forgot")
        r = client.post("/password/forgot", data={"email": address, "csrf": csrf_of(form.text)})
        assert r.status_code == 200
        answers.append(r.text.split('id="reset-sent">')[1].split("</p>")[0])
    assert answers[0] == answers[1]  # nothing tells whether the address is known
    path = link_in(email.lower())
    assert choose(client, path, "my brand new passphrase").status_code == 303
    assert password_sign_in(client, email).status_code == 401  # the old password is gone
    assert password_sign_in(client, email, "my brand new passphrase").status_code == 303


def test_a_link_expires(client):
    from datetime import timedelta

    from pmo.accounts import links
    from pmo.models import AccountLink

    _, email = person()
    with session_scope() as session:
        account = session.scalars(select(Account).where(Account.email == email.lower())).one()
        links.request_reset(session, email, "203.0.113.9")
        session.flush()
        link = session.scalars(select(AccountLink).where(AccountLink.account_id == account.id)).one()
        link.expires_at -= timedelta(hours=2)  # an hour-long link, two hours later
    r = client.get(link_in(email.lower()))
    assert r.status_code == 404 and "有効期限" in r.text


def test_the_account_page_lists_your_sessions_and_ends_one_elsewhere(client):
    from fastapi.testclient import TestClient

    from pmo.app import create_app

    _, email = person()
    assert password_sign_in(client, email).status_code == 303
    with TestClient(create_app()) as other:  # a second browser
        assert password_sign_in(other, email).status_code == 303
        page = client.get("/account")
        assert page.status_code == 200 and page.text.count("/end") == 2 and "このブラウザー" in page.text
        elsewhere = re.findall(r'action="/account/sessions/(\d+)/end"', page.text)
        current = re.search(r'このブラウザー.*?action="/account/sessions/(\d+)/end"', page.text, re.S).group(1)
        [theirs] = [i for i in elsewhere if i != current]
        r = client.post(f"/account/sessions/{theirs}/end", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
        assert r.status_code == 303
        assert other.get("/account", follow_redirects=False).status_code == 303  # that browser is signed out
        assert client.get("/account").status_code == 200  # this one is not


def test_a_personal_token_is_shown_once_works_and_can_be_revoked(client):
    _, email = person()
    password_sign_in(client, email)
    page = client.get("/account")
    blank = client.post("/account/tokens", data={"label": "", "days": "30", "csrf": csrf_of(page.text)})
    assert blank.status_code == 422 and 'id="error-label"' in blank.text
    too_long = client.post("/account/tokens", data={"label": "集計", "days": "400", "csrf": csrf_of(page.text)})
    assert too_long.status_code == 422 and 'id="error-days"' in too_long.text
    made = client.post("/account/tokens", data={"label": "集計スクリプト", "days": "30", "csrf": csrf_of(page.text)})
    token = re.search(r'id="new-token-text" type="text" readonly value="(pmo_[^"]+)"', made.text).group(1)
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    again = client.get("/account")
    assert token not in again.text and "集計スクリプト" in again.text  # shown once
    token_id = re.search(r'action="/account/tokens/(\d+)/revoke"', again.text).group(1)
    client.post(f"/account/tokens/{token_id}/revoke", data={"csrf": csrf_of(again.text)})
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_changing_the_password_needs_the_current_one(client):
    _, email = person()
    password_sign_in(client, email)
    page = client.get("/account")
    wrong = client.post(
        "/account/password",
        data={
            "current": "not it at all",
            "password": "a newer passphrase",
            "confirm": "a newer passphrase",
            "csrf": csrf_of(page.text),
        },
    )
    assert (
        wrong.status_code == 422
        and "現在のパスワードが正しくありません" in wrong.text
        and 'id="error-current"' in wrong.text
    )
    done = client.post(
        "/account/password",
        data={
            "current": PASSWORD,
            "password": "a newer passphrase",
            "confirm": "a newer passphrase",
            "csrf": csrf_of(page.text),
        },
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/login?password_set=1"
    assert password_sign_in(client, email).status_code == 401
    assert password_sign_in(client, email, "a newer passphrase").status_code == 303


def code_step(client, page_text: str, code: str):
    ticket = re.search(r'name="ticket" value="([^"]+)"', page_text).group(1)
    data = {"ticket": ticket, "code": code, "csrf": csrf_of(page_text), "next": "/inquiries"}
    return client.post("/login/code", data=data, follow_redirects=False)


def test_a_prefecture_enrols_a_second_factor_at_its_first_sign_in_and_needs_it_after(client):
    import pyotp

    _, email = person("prefecture", "130001")
    first = password_sign_in(client, email)
    assert first.status_code == 200 and "二段階認証の設定" in first.text and "<svg" in first.text
    assert client.get("/inquiries", follow_redirects=False).status_code == 303  # not signed in yet
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', first.text).group(1)
    wrong = code_step(client, first.text, "000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    assert wrong.status_code == 422 and 'id="error-code"' in wrong.text and "確認コードが正しくありません" in wrong.text
    code = pyotp.TOTP(secret).now()
    enrolled = code_step(client, wrong.text, code)
    assert enrolled.status_code == 200 and "二段階認証を設定しました" in enrolled.text
    assert 'class="who-name"' in enrolled.text and 'href="/login">ログイン' not in enrolled.text  # signed in already
    recovery = re.findall(r"<li><code>([0-9a-f]{10})</code></li>", enrolled.text)
    assert len(recovery) == 10
    assert client.get("/inquiries").status_code == 200  # signed in

    again = password_sign_in(client, email)
    assert again.status_code == 200 and "確認コードの入力" in again.text and "<svg" not in again.text
    assert code_step(client, again.text, code).status_code == 422  # a code's time step is accepted once
    assert code_step(client, again.text, recovery[0]).status_code == 303  # a recovery code instead
    third = password_sign_in(client, email)
    assert code_step(client, third.text, recovery[0]).status_code == 422  # once only
    with session_scope(read_only=True) as session:
        account = session.scalars(select(Account).where(Account.email == email.lower())).one()
        assert account.totp_enabled_at and secret == account.totp_secret and len(account.recovery_hashes) == 9


def test_a_second_factor_ticket_works_only_in_the_browser_that_gave_the_password(client):
    from fastapi.testclient import TestClient

    from pmo.app import create_app

    _, email = person("helpdesk", None)
    first = password_sign_in(client, email)
    ticket = re.search(r'name="ticket" value="([^"]+)"', first.text).group(1)
    with TestClient(create_app()) as other:
        form = other.get("/login")
        r = other.post("/login/code", data={"ticket": ticket, "code": "123456", "csrf": csrf_of(form.text)})
        assert r.status_code == 401 and "確認の期限" in r.text


def test_a_municipality_turns_the_optional_second_factor_on_and_off_on_its_account_page(client):
    import pyotp

    _, email = person("municipality", "131016")
    assert password_sign_in(client, email).status_code == 303  # optional: no code asked yet
    page = client.get("/account")
    assert "任意ですが、設定をおすすめします" in page.text
    started = client.post("/account/second-factor", data={"csrf": csrf_of(page.text)})
    assert started.status_code == 200 and "<svg" in started.text
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', started.text).group(1)
    wrong = "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"
    refused = client.post("/account/second-factor/confirm", data={"csrf": csrf_of(started.text), "code": wrong})
    assert refused.status_code == 422 and 'id="error-code"' in refused.text
    code = pyotp.TOTP(secret).now()
    done = client.post("/account/second-factor/confirm", data={"csrf": csrf_of(refused.text), "code": code})
    assert done.status_code == 200 and len(re.findall(r"<li><code>[0-9a-f]{10}</code></li>", done.text)) == 10

    asked = password_sign_in(client, email)  # from now on the code is asked for
    assert asked.status_code == 200 and "確認コードの入力" in asked.text
    recovery = re.findall(r"<li><code>([0-9a-f]{10})</code></li>", done.text)
    assert code_step(client, asked.text, recovery[0]).status_code == 303
    page = client.get("/account")
    off = client.post(
        "/account/second-factor/off", data={"csrf": csrf_of(page.text), "code": recovery[1]}, follow_redirects=False
    )
    assert off.status_code == 303 and off.headers["location"].startswith("/account?done=second_factor_off")
    assert password_sign_in(client, email).status_code == 303  # no code any more
    with session_scope(read_only=True) as session:
        account = session.scalars(select(Account).where(Account.email == email.lower())).one()
        assert account.totp_secret is None and account.recovery_hashes is None


def test_a_role_that_requires_the_second_factor_cannot_turn_it_off(client, token_for):
    from tests.test_dashboard import sign_in

    headers = token_for("helpdesk")
    sign_in(client, headers)
    page = client.get("/account")
    r = client.post("/account/second-factor/off", data={"csrf": csrf_of(page.text), "code": "123456"})
    assert r.status_code == 409 and "必須" in r.text
