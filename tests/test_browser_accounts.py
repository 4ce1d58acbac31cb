"""Signing in with an e-mail address and password in headless Chromium (issue 17), keyboard only; the sign-in
page with its error is checked by axe-core like every other page."""

import secrets

import pyotp
import pytest

from pmo.accounts import passwords, service
from pmo.db import session_scope
from tests.test_browser import Walk, browser, site, wait  # skips this module too without Chromium

from selenium.webdriver.common.by import By  # isort: skip
from selenium.webdriver.common.keys import Keys  # isort: skip

pytestmark = pytest.mark.browser


def test_a_person_signs_in_with_the_keyboard_and_a_wrong_password_says_why(site, browser):
    email, password = f"tokyo-{secrets.token_hex(3)}@metro.tokyo.lg.jp", "sakura passphrase 2026"
    with session_scope() as session:
        account = service.create_account(session, email.split("@")[0], "prefecture", "130001", actor="test")
        passwords.set_password(session, account, email, password, actor="test")
    walk = Walk(browser, site["base"])
    walk.open("/login?next=/prefectures/130001", "login")
    field = walk.driver.find_element(By.ID, "email")
    field.send_keys(email)
    field.send_keys(Keys.TAB)
    walk.driver.switch_to.active_element.send_keys("not the password" + Keys.ENTER)  # Tab reached the password
    wait(walk.driver, lambda d: d.find_elements(By.ID, "login-error"))
    walk.settle("login-wrong-password")
    assert "メールアドレスまたはパスワードが正しくありません" in walk.text()
    assert walk.driver.find_element(By.ID, "email").get_attribute("value") == email  # kept for the retry
    walk.driver.find_element(By.ID, "password").send_keys(password + Keys.ENTER)
    wait(walk.driver, lambda d: d.find_elements(By.ID, "totp-secret"))  # a prefecture enrols a second factor
    walk.settle("second-factor-enrol")
    assert walk.driver.find_elements(By.CSS_SELECTOR, ".qr svg"), "the QR code is drawn by the app itself"
    secret = walk.driver.find_element(By.ID, "totp-secret").text
    walk.driver.find_element(By.ID, "code").send_keys(pyotp.TOTP(secret).now() + Keys.ENTER)
    wait(walk.driver, lambda d: d.find_elements(By.ID, "recovery-codes"))
    walk.settle("recovery-codes")
    assert len(walk.driver.find_elements(By.CSS_SELECTOR, "#recovery-codes li")) == 10
    walk.driver.find_element(By.LINK_TEXT, "続ける").click()
    wait(walk.driver, lambda d: "/prefectures/130001" in d.current_url)
    walk.settle("prefecture-after-password-sign-in", charts=1)
    assert "東京都" in walk.text()
    assert walk.violations == {}, f"WCAG 2.1 AA violations (axe-core): {walk.violations}"


def test_a_forgotten_password_is_reset_through_the_mailed_link_and_admins_see_the_outbox(site, browser):
    from sqlalchemy import select

    from pmo.models import OutboxMessage

    email = f"chiyoda-{secrets.token_hex(3)}@city.chiyoda.lg.jp"
    with session_scope() as session:
        account = service.create_account(session, email.split("@")[0], "municipality", "131016", actor="test")
        passwords.set_password(session, account, email, "forgotten passphrase", actor="test")
    walk = Walk(browser, site["base"])
    walk.open("/login", "login-before-reset")
    walk.driver.find_element(By.LINK_TEXT, "パスワードを忘れた場合").click()
    wait(walk.driver, lambda d: "/password/forgot" in d.current_url)
    walk.settle("password-forgot")
    walk.driver.find_element(By.ID, "email").send_keys(email + Keys.ENTER)
    wait(walk.driver, lambda d: d.find_elements(By.ID, "reset-sent"))
    walk.settle("password-forgot-sent")
    with session_scope(read_only=True) as session:
        text = session.scalars(select(OutboxMessage.text).where(OutboxMessage.recipient == email)).one()
    path = "/password/set/" + text.split("/password/set/")[1].split()[0]
    walk.open(path, "password-set")
    walk.driver.find_element(By.ID, "password").send_keys("a brand new passphrase")
    walk.driver.find_element(By.ID, "confirm").send_keys("another passphrase" + Keys.ENTER)
    wait(walk.driver, lambda d: d.find_elements(By.ID, "error-confirm"))
    walk.settle("password-set-mismatch")
    assert "確認用のパスワードが一致しません" in walk.text()
    walk.driver.find_element(By.ID, "password").send_keys("a brand new passphrase")
    walk.driver.find_element(By.ID, "confirm").send_keys("a brand new passphrase" + Keys.ENTER)
    wait(walk.driver, lambda d: d.find_elements(By.ID, "password-set"))
    walk.settle("login-after-reset")
    walk.driver.find_element(By.ID, "email").send_keys(email)
    walk.driver.find_element(By.ID, "password").send_keys("a brand new passphrase" + Keys.ENTER)
    wait(walk.driver, lambda d: "/login" not in d.current_url)
    walk.open("/account", "account")
    assert "ログイン中のセッション" in walk.text() and "このブラウザー" in walk.text()
    walk.driver.find_element(By.ID, "label").send_keys("   " + Keys.ENTER)  # blank once trimmed: beside the field
    wait(walk.driver, lambda d: d.find_elements(By.ID, "error-label"))
    walk.settle("account-token-error")
    walk.driver.find_element(By.ID, "label").clear()
    walk.driver.find_element(By.ID, "label").send_keys("集計スクリプト" + Keys.ENTER)
    wait(walk.driver, lambda d: d.find_elements(By.ID, "new-token-text"))
    walk.settle("account-token-made")
    assert walk.driver.find_element(By.ID, "new-token-text").get_attribute("value").startswith("pmo_")

    walk.sign_in(site["tokens"]["admin"], "/outbox")
    walk.settle("outbox")
    assert email in walk.text() and "パスワードの再設定" in walk.text()
    assert walk.violations == {}, f"WCAG 2.1 AA violations (axe-core): {walk.violations}"


def test_a_prefecture_administrator_invites_a_municipality_administrator_and_disables_an_account(site, browser):
    from selenium.webdriver.support.ui import Select

    with session_scope() as session:
        manager = service.create_account(
            session, f"tokyo-admin-{secrets.token_hex(3)}", "prefecture", "130001", actor="test", administrator=True
        )
        token = service.issue_token(session, manager, actor="test", ttl_days=1).token
        taken = service.create_account(session, f"sapporo-{secrets.token_hex(3)}", "municipality", "011002", actor="t")
        passwords.claim_email(session, taken, f"{taken.name}@city.sapporo.lg.jp")
        taken_email = taken.email
    walk = Walk(browser, site["base"])
    walk.sign_in(token, "/accounts")
    walk.settle("accounts")
    assert "アカウント管理" in walk.text()
    walk.driver.find_element(By.ID, "invite-email").send_keys(taken_email)  # another prefecture's person
    walk.driver.find_element(By.ID, "invite-name").send_keys("中央 花子")
    Select(walk.driver.find_element(By.ID, "invite-target")).select_by_visible_text("中央区のアカウント管理者")
    walk.driver.find_element(By.ID, "invite-name").send_keys(Keys.ENTER)
    wait(walk.driver, lambda d: d.find_elements(By.ID, "error-email"))
    walk.settle("accounts-invite-error")
    assert "このメールアドレスは別のアカウントで使われています" in walk.text()
    field = walk.driver.find_element(By.ID, "invite-email")
    field.clear()
    field.send_keys(f"chuo-{secrets.token_hex(3)}@city.chuo.lg.jp" + Keys.ENTER)
    wait(walk.driver, lambda d: d.find_elements(By.ID, "flash"))
    walk.settle("managed-account")
    assert "招待メールを送りました" in walk.text() and "中央区" in walk.text()
    walk.driver.find_element(By.XPATH, "//button[starts-with(., '無効にする')]").click()
    wait(walk.driver, lambda d: "無効にしました" in d.find_element(By.ID, "flash").text)
    walk.settle("managed-account-disabled")
    assert "有効に戻す" in walk.text()
    assert walk.violations == {}, f"WCAG 2.1 AA violations (axe-core): {walk.violations}"


def test_a_person_reads_notifications_chooses_a_digest_and_turns_on_the_optional_second_factor(site, browser):
    import httpx

    email, password = f"chuo-{secrets.token_hex(3)}@city.chuo.lg.jp", "chuo passphrase 2026"
    with session_scope() as session:
        account = service.create_account(session, email.split("@")[0], "municipality", "131024", actor="test")
        passwords.set_password(session, account, email, password, actor="test")
        asker = service.issue_token(session, account, actor="test", ttl_days=1).token
        tokyo = service.create_account(session, f"tokyo-{secrets.token_hex(3)}", "prefecture", "130001", actor="t")
        answerer = service.issue_token(session, tokyo, actor="test", ttl_days=1).token
    question = {"title": "移行時期の考え方", "question": "移行時期の考え方を教えてください。", "category": "schedule"}
    filed = httpx.post(f"{site['base']}/api/v1/inquiries", json=question, headers={"Authorization": f"Bearer {asker}"})
    r = httpx.post(
        f"{site['base']}/api/v1/inquiries/{filed.json()['id']}/answer",
        json={"text": "標準仕様書のとおりです。"},
        headers={"Authorization": f"Bearer {answerer}"},
    )
    assert r.status_code == 200, r.text
    walk = Walk(browser, site["base"])
    walk.open("/login?next=/notifications", "login-for-notifications")
    walk.driver.find_element(By.ID, "email").send_keys(email)
    walk.driver.find_element(By.ID, "password").send_keys(password + Keys.ENTER)
    wait(walk.driver, lambda d: "/notifications" in d.current_url)
    walk.settle("notifications")
    assert "問合せに回答がありました" in walk.text()
    assert walk.driver.find_element(By.CSS_SELECTOR, ".who-notifications .count").text.startswith("1")
    walk.driver.find_element(By.CSS_SELECTOR, "input[name='inquiries'][value='digest']").click()
    walk.driver.find_element(By.XPATH, "//button[.='保存する']").click()
    wait(walk.driver, lambda d: d.find_elements(By.ID, "flash"))
    walk.settle("notifications-saved")
    assert walk.driver.find_element(By.CSS_SELECTOR, "input[name='inquiries'][value='digest']").is_selected()
    walk.driver.find_element(By.CSS_SELECTOR, "button.subject").click()
    wait(walk.driver, lambda d: "/inquiries/" in d.current_url)
    assert not walk.driver.find_elements(By.CSS_SELECTOR, ".who-notifications .count")  # read now

    walk.open("/account", "account-second-factor-offered")
    walk.driver.find_element(By.XPATH, "//button[.='二段階認証を設定する']").click()
    wait(walk.driver, lambda d: d.find_elements(By.ID, "totp-secret"))
    walk.settle("account-second-factor-enrol")
    secret = walk.driver.find_element(By.ID, "totp-secret").text
    walk.driver.find_element(By.ID, "code").send_keys(pyotp.TOTP(secret).now() + Keys.ENTER)
    wait(walk.driver, lambda d: d.find_elements(By.ID, "recovery-codes"))
    walk.settle("account-second-factor-recovery")
    assert walk.violations == {}, f"WCAG 2.1 AA violations (axe-core): {walk.violations}"
