"""Follow-ups and adviser requests in a real browser (the harness of test_browser.py: `pmo serve`, headless
Chromium, axe-core on every page opened): each form filled and submitted, one refused as invalid, and the
adviser request taken from the prefecture's follow-up to completion by the helpdesk.
With PMO_SCREENSHOTS=<dir> a PNG of each page is written there."""

from datetime import timedelta

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.ui import Select

from pmo import periods
from tests.test_browser import AXE, TOKYO, Walk, browser, site, wait

pytestmark = pytest.mark.browser
YESTERDAY = (periods.today() - timedelta(days=1)).isoformat()
TOMORROW = (periods.today() + timedelta(days=2)).isoformat()  # still ahead if the run passes midnight (JST)


def set_date(walk: Walk, element_id: str, value: str) -> None:
    """A date input's value as ISO text (what typing it gives, without the locale's digit order)."""
    walk.driver.execute_script("document.getElementById(arguments[0]).value = arguments[1];", element_id, value)


def submit(walk: Walk, form: str, flash: bool = True) -> None:
    """Press the form's button with the keyboard, and wait for the next page (the page before may have a flash)."""
    before = walk.driver.find_element(By.TAG_NAME, "html")
    walk.driver.find_element(By.CSS_SELECTOR, f"{form} button[type=submit]").send_keys(Keys.ENTER)
    wait(walk.driver, staleness_of(before))
    if flash:
        wait(walk.driver, lambda d: d.find_elements(By.ID, "flash"))
    else:
        wait(walk.driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".error-box"))


def test_follow_up_to_adviser_visit_in_the_browser(site, browser):
    walk = Walk(browser, site["base"])
    tokens = site["tokens"]
    driver = walk.driver

    walk.sign_in(tokens["tokyo"], f"/prefectures/{TOKYO}")
    walk.settle("prefecture-tokyo", charts=1)
    links = driver.find_elements(By.CSS_SELECTOR, "#lagging a[href^='/follow-ups?body=']")
    assert links, "each municipality to contact first has a 記録する link"
    code = links[0].get_attribute("href").split("body=")[1][:6]
    links[0].click()
    wait(driver, lambda d: "/follow-ups" in d.current_url)
    walk.settle("follow-ups")
    assert Select(driver.find_element(By.ID, "fu-body")).first_selected_option.get_attribute("value") == code

    # a future date: refused beside the field, what was typed kept
    set_date(walk, "fu-held-on", TOMORROW)
    Select(driver.find_element(By.ID, "fu-channel")).select_by_value("visit")
    driver.find_element(By.ID, "fu-learned").send_keys("事業者の要員不足で計画が遅れている。")
    driver.find_element(By.ID, "fu-actions").send_keys("翌月までに移行計画を再作成する。")
    submit(walk, "#new form", flash=False)
    walk.settle("follow-up-invalid")
    assert "未来の日付は指定できません" in driver.find_element(By.ID, "error-held_on").text
    assert driver.find_element(By.ID, "fu-held-on").get_attribute("aria-invalid") == "true"
    assert driver.find_element(By.ID, "fu-learned").get_attribute("value") == "事業者の要員不足で計画が遅れている。"

    set_date(walk, "fu-held-on", YESTERDAY)
    driver.find_element(By.NAME, "shared_with_national").click()
    Select(driver.find_element(By.ID, "fu-cause")).select_by_value("vendor_resources")
    submit(walk, "#new form")
    walk.settle("follow-up-recorded")
    assert "フォローアップを記録しました。" in walk.text() and "事業者のリソース不足" in walk.text()
    record = driver.find_element(By.CSS_SELECTOR, ".follow-up")
    follow_up_id = record.get_attribute("id").removeprefix("follow-up-")

    record.find_element(By.NAME, "note").send_keys("再作成された計画を確認した。")
    submit(walk, f"#follow-up-{follow_up_id} form.done-form")
    walk.settle("follow-up-done")
    assert "フォローアップを完了にしました。" in walk.text() and "再作成された計画を確認した。" in walk.text()

    driver.find_element(By.CSS_SELECTOR, f"#follow-up-{follow_up_id} a[href^='/adviser-requests']").click()
    wait(driver, lambda d: "/adviser-requests" in d.current_url)
    walk.settle("adviser-requests")
    assert Select(driver.find_element(By.ID, "ar-follow-up")).first_selected_option.get_attribute("value") == (
        follow_up_id
    )
    driver.find_element(By.ID, "ar-topic").send_keys("移行計画の見直しとベンダー調整")
    driver.find_element(By.ID, "ar-detail").send_keys("要員の確保と日程の再調整について助言がほしい。")
    driver.find_element(By.CSS_SELECTOR, "input[name='operations'][value='jumin_kiroku']").click()
    submit(walk, "#new form")
    walk.settle("adviser-request-new")
    assert "アドバイザー派遣を依頼しました。" in walk.text() and "依頼受付" in walk.text()
    detail = driver.current_url.split("?")[0].removeprefix(site["base"])

    walk.sign_in(tokens["helpdesk"], detail)
    walk.settle("adviser-request-helpdesk")
    driver.find_element(By.ID, "f-adviser").send_keys("標準化アドバイザー 山田")
    submit(walk, "#form-assign")
    set_date(walk, "f-visited-on", YESTERDAY)
    Select(driver.find_element(By.ID, "f-mode")).select_by_value("online")
    driver.find_element(By.ID, "f-summary").send_keys("要員計画を確認し、調達の前倒しを助言した。")
    submit(walk, "#form-visit")
    walk.settle("adviser-request-visited")
    assert "派遣の記録を追加しました。" in walk.text() and "調達の前倒しを助言した" in walk.text()
    driver.find_element(By.ID, "f-outcome-complete").send_keys("計画を見直し、移行時期を確定した。")
    submit(walk, "#form-complete")
    walk.settle("adviser-request-completed")
    assert "支援を完了にしました。" in walk.text() and "いまできる操作" not in walk.text()
    walk.open("/follow-ups", "follow-ups-helpdesk")  # the shared record reached the national tier
    assert "事業者の要員不足で計画が遅れている。" in walk.text()

    walk.sign_in(tokens["chiyoda"], "/adviser-requests")
    walk.settle("adviser-requests-municipality")
    driver.find_element(By.ID, "ar-topic").send_keys("文字コードの移行")
    submit(walk, "#new form")
    driver.find_element(By.ID, "f-outcome-cancel").send_keys("自団体で解決した。")
    submit(walk, "#form-cancel")
    walk.settle("adviser-request-cancelled")
    assert "依頼を取り下げました。" in walk.text() and "取り下げ" in walk.text()

    severe = [(where, e["message"]) for where, e in walk.console if e["level"] == "SEVERE"]
    assert severe == [(where, m) for where, m in severe if "422" in m], f"console errors: {severe}"
    assert not AXE.exists() or len(walk.audited) >= 12, walk.audited
    assert walk.violations == {}, f"WCAG 2.1 AA violations (axe-core): {walk.violations}"
