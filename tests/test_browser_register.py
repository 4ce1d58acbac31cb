"""The systems register and notice publishing in headless Chromium, by keyboard: the tab order reaches each
control, errors appear beside their fields, and axe-core finds no WCAG 2.1 AA violation on any page opened."""

import re

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

# browser and site are test_browser's fixtures (a served app with demo data and a token per role, headless Chromium)
from tests.test_browser import AXE, CHIYODA, Walk, browser, site, wait

pytestmark = pytest.mark.browser
SYSTEM_FIELDS = ["vendor", "planned_go_live", "deferred", "deferral_reason", "deferral_target", "note", "save-system"]
NOTICE_FIELDS = ["title", "body", "category", "audience", "prefecture", "operation", "publisher", "faq_id"]


def focused(walk: Walk) -> str:
    return walk.driver.switch_to.active_element.get_attribute("id") or ""


def tab_through(walk: Walk, ids: list[str]) -> None:
    """From the first control, Tab reaches the others in order."""
    walk.driver.find_element(By.ID, ids[0]).click()
    for expected in ids[1:]:
        walk.driver.switch_to.active_element.send_keys(Keys.TAB)
        assert focused(walk) == expected, f"Tab went to {focused(walk)!r}, not {expected!r}"


def type_into(walk: Walk, field: str, value: str) -> None:
    element = walk.driver.find_element(By.ID, field)
    element.clear()
    element.send_keys(value)


def choose(walk: Walk, field: str, value: str) -> None:
    """Pick an option with the keyboard: focus the list, type the start of its label, check what it took."""
    select = walk.driver.find_element(By.ID, field)
    label = select.find_element(By.CSS_SELECTOR, f"option[value='{value}']").text
    select.send_keys(label)
    assert select.get_attribute("value") == value, f"{field}: typed {label!r}, got {select.get_attribute('value')}"


def submit(walk: Walk, button: str, name: str) -> None:
    """Press Enter on the button and wait for the next page."""
    old = walk.driver.find_element(By.TAG_NAME, "html")
    walk.driver.find_element(By.ID, button).send_keys(Keys.ENTER)
    wait(walk.driver, lambda d: old != d.find_element(By.TAG_NAME, "html"))
    walk.settle(name)


def error_beside(walk: Walk, field: str) -> str:
    """The message next to the field, which the field itself points at."""
    control = walk.driver.find_element(By.ID, field)
    assert control.get_attribute("aria-invalid") == "true"
    assert control.get_attribute("aria-describedby") == f"error-{field}"
    return walk.driver.find_element(By.ID, f"error-{field}").text


def test_the_body_edits_its_systems_register_by_keyboard(site, browser):
    walk = Walk(browser, site["base"])
    walk.sign_in(site["tokens"]["chiyoda"], f"/bodies/{CHIYODA}")
    walk.settle("body-with-systems-link", charts=2)
    walk.driver.find_element(By.ID, "systems-link").send_keys(Keys.ENTER)
    wait(walk.driver, lambda d: d.current_url.endswith("/systems"))
    walk.settle("systems")
    walk.driver.find_element(By.CSS_SELECTOR, "a[aria-label='戸籍のシステムを編集']").send_keys(Keys.ENTER)
    wait(walk.driver, lambda d: d.find_elements(By.ID, "system-form"))
    walk.settle("system-edit")
    tab_through(walk, SYSTEM_FIELDS)
    type_into(walk, "vendor", "千代田情報システム株式会社")
    type_into(walk, "planned_go_live", "2026-01")
    if not walk.driver.find_element(By.ID, "deferred").is_selected():
        walk.driver.find_element(By.ID, "deferred").send_keys(Keys.SPACE)
    choose(walk, "deferral_reason", "")
    type_into(walk, "deferral_target", "2028-13")
    submit(walk, "save-system", "system-error")
    assert "入力に 2 件の誤りがあります" in walk.text()
    assert error_beside(walk, "deferral_reason") == "特定移行支援システムには deferral_reason（理由）が必要です。"
    assert error_beside(walk, "deferral_target").startswith("年月は YYYY-MM")
    assert walk.driver.find_element(By.ID, "vendor").get_attribute("value") == "千代田情報システム株式会社"
    choose(walk, "deferral_reason", "mainframe")
    type_into(walk, "deferral_target", "2028-03")
    submit(walk, "save-system", "systems-saved")
    assert re.search(r"戸籍のシステムを第\d+版として登録しました", walk.text())  # the demo registered some
    row = walk.driver.find_element(By.ID, "system-koseki").text
    assert "千代田情報システム株式会社" in row and "メインフレーム" in row and "2028年3月" in row

    walk.sign_in(site["tokens"]["tokyo"], f"/bodies/{CHIYODA}/systems/koseki")  # its prefecture: reads only
    walk.settle("system-read-only")
    assert not walk.driver.find_elements(By.ID, "system-form") and "千代田情報システム株式会社" in walk.text()
    assert walk.violations == {}, f"WCAG 2.1 AA violations (axe-core): {walk.violations}"
    assert not AXE.exists() or len(walk.audited) == 6, walk.audited


def test_the_helpdesk_publishes_a_notice_and_follows_its_read_receipts(site, browser):
    walk = Walk(browser, site["base"])
    walk.sign_in(site["tokens"]["chiyoda"], "/notices")
    walk.settle("notices-body")
    assert not walk.driver.find_elements(By.ID, "publish-form")
    walk.driver.find_element(By.LINK_TEXT, "標準仕様書の改定について").send_keys(Keys.ENTER)
    wait(walk.driver, lambda d: d.find_elements(By.CSS_SELECTOR, "form[action$='/read'] button"))
    notice_url = walk.driver.current_url
    walk.driver.find_element(By.CSS_SELECTOR, "form[action$='/read'] button").send_keys(Keys.ENTER)
    wait(walk.driver, lambda d: "既読（" in d.find_element(By.TAG_NAME, "main").text)
    walk.settle("notice-read")

    walk.sign_in(site["tokens"]["helpdesk"], "/notices")
    walk.settle("notices-sender")
    tab_through(walk, NOTICE_FIELDS)
    type_into(walk, "title", "富山県内の説明会のご案内")
    type_into(walk, "body", "標準化の説明会を開催します。\n詳細は別添をご覧ください。")
    choose(walk, "category", "event")
    choose(walk, "audience", "prefecture_municipalities")
    submit(walk, "publish-notice", "notices-error")
    assert "prefecture（都道府県番号 01〜47）を指定してください" in error_beside(walk, "prefecture")
    assert walk.driver.find_element(By.ID, "title").get_attribute("value") == "富山県内の説明会のご案内"
    choose(walk, "prefecture", "16")
    submit(walk, "publish-notice", "notice-published")
    assert "お知らせを発信しました（宛先 15 団体）" in walk.text()
    assert "宛先の団体\n15" in walk.text() and "未読\n15" in walk.text()

    walk.open(notice_url.removeprefix(site["base"]), "notice-receipts-all")
    assert "既読\n1" in walk.text()
    walk.driver.find_element(By.ID, "read-filter").send_keys("既読")  # the form submits itself on the change
    wait(walk.driver, lambda d: "read=read" in d.current_url)
    walk.settle("notice-receipts-read")
    table = walk.driver.find_element(By.CSS_SELECTOR, "#receipts table").text
    assert "千代田区" in table and "新宿区" not in table and "既読の団体：1団体" in walk.text()
    assert walk.violations == {}, f"WCAG 2.1 AA violations (axe-core): {walk.violations}"
    assert not AXE.exists() or len(walk.audited) == 7, walk.audited
