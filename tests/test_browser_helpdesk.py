"""The helpdesk's daily work in a real browser: route from the thread, bulk route (a refusal, then all), bulk
assign to oneself and the queue of one's own, saved filters, an FAQ drafted from an answered inquiry, reviewed
and published. axe-core checks every page opened."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from tests.test_browser import Walk, browser, site, wait

pytestmark = pytest.mark.browser


def submit(walk: Walk, form: str) -> None:
    walk.driver.find_element(By.CSS_SELECTOR, f"{form} button[type=submit]").click()


def file(walk: Walk, title: str, question: str) -> None:
    walk.open("/inquiries", "file")
    form = walk.driver.find_element(By.CSS_SELECTOR, "form[action='/inquiries'][method='post']")
    form.find_element(By.NAME, "title").send_keys(title)
    Select(form.find_element(By.NAME, "category")).select_by_value("data_migration")
    form.find_element(By.NAME, "question").send_keys(question)
    form.find_element(By.CSS_SELECTOR, "button").click()
    wait(walk.driver, lambda d: "filed=1" in d.current_url)
    walk.drain("filed")


def pick(walk: Walk, title: str) -> None:
    """Tick an inquiry's box from the keyboard (its label is the title)."""
    box = walk.driver.find_element(By.XPATH, f"//label[contains(., '{title}')]/preceding-sibling::input")
    box.send_keys(Keys.SPACE)
    assert box.is_selected()


def test_helpdesk_work_on_pages(site, browser):
    walk, tokens, d = Walk(browser, site["base"]), site["tokens"], browser
    walk.sign_in(tokens["tokyo"], "/inquiries")
    for title in ("府省確認A", "府省確認B"):
        file(walk, title, "所管府省の見解を確認したい事項です。")
    file(walk, "千代田区の外字の移行", "千代田区の担当：山田です。外字の扱いを教えてください。連絡先 03-3264-2111")
    answered = d.current_url.split("/inquiries/")[1].split("?")[0]

    walk.sign_in(tokens["helpdesk"], f"/inquiries/{site['inquiry']}")
    walk.settle("helpdesk-thread-route")
    Select(d.find_element(By.ID, "route-ministry")).select_by_visible_text("総務省")
    d.find_element(By.CSS_SELECTOR, "#form-route textarea").send_keys("住民記録の所管のため")
    submit(walk, "#form-route")
    wait(d, lambda d: "所管府省への回付" in d.find_element(By.ID, "history").text)
    walk.settle("helpdesk-thread-routed")
    assert "所管府省" in walk.text()

    walk.open("/inquiries", "helpdesk-queue")
    pick(walk, "府省確認A")
    pick(walk, "府省確認B")
    submit(walk, "#bulk")  # no ministry, no reason: both beside their fields, nothing changed
    wait(d, lambda d: d.find_elements(By.ID, "error-ministry"))
    walk.settle("helpdesk-bulk-errors")
    assert "府省確認A" in walk.text() and d.find_element(By.ID, "bulk-text").get_attribute("aria-invalid") == "true"
    Select(d.find_element(By.ID, "bulk-ministry")).select_by_visible_text("総務省")
    d.find_element(By.ID, "bulk-text").send_keys("所管府省の見解が必要なため")
    submit(walk, "#bulk")
    wait(d, lambda d: d.find_elements(By.ID, "flash"))
    walk.settle("helpdesk-bulk-done")
    assert "2 件を所管府省へ回付しました。" in walk.text()

    pick(walk, "千代田区の外字の移行")  # take it: the assign action, "自分" chosen by default
    d.find_element(By.CSS_SELECTOR, "#bulk input[name=action][value=assign]").click()
    submit(walk, "#bulk")
    wait(d, lambda d: "done=assign" in d.current_url)
    walk.settle("helpdesk-bulk-assigned")
    assert "1 件の担当者を変更しました。" in walk.text()
    walk.open("/inquiries?assignee=me", "helpdesk-mine")
    assert "千代田区の外字の移行" in walk.text() and "（自分）" in walk.text() and "府省確認A" not in walk.text()

    walk.open("/inquiries?status=active&category=data_migration&q=外字", "helpdesk-queue-filtered")
    d.find_element(By.ID, "filter-name").send_keys("外字の相談")
    submit(walk, "#save-filter")
    wait(d, lambda d: d.find_elements(By.ID, "flash"))
    walk.open("/inquiries", "helpdesk-saved-filters")
    d.find_element(By.LINK_TEXT, "外字の相談").click()
    wait(d, lambda d: "category=data_migration" in d.current_url)
    walk.settle("helpdesk-filter-applied")
    assert "千代田区の外字の移行" in walk.text() and "府省確認A" not in walk.text()
    d.find_element(By.CSS_SELECTOR, "button[aria-label='保存した条件「外字の相談」を削除']").click()
    wait(d, lambda d: "done=deleted" in d.current_url)
    walk.drain("filter deleted")

    walk.open(f"/inquiries/{answered}", "helpdesk-answer")
    d.find_element(By.CSS_SELECTOR, "#form-answer textarea").send_keys(
        "文字情報基盤の文字に同定してから移行してください。"
    )
    submit(walk, "#form-answer")
    wait(d, lambda d: d.find_elements(By.ID, "faq-draft"))
    walk.settle("helpdesk-answered")
    submit(walk, "#faq-draft")
    wait(d, lambda d: "done=drafted" in d.current_url)
    walk.settle("faq-draft-review")
    removed = d.find_element(By.ID, "removed").text
    assert "千代田区" in removed and "03-3264-2111" in removed
    assert d.find_elements(By.CSS_SELECTOR, "#preview mark")
    title = d.find_element(By.ID, "faq-title")
    title.clear()
    d.find_element(By.ID, "publish").click()  # the browser would refuse a blank required field: send it anyway
    d.execute_script("document.getElementById('faq-form').noValidate = true")
    d.find_element(By.ID, "publish").click()
    wait(d, lambda d: d.find_elements(By.ID, "error-title"))
    walk.settle("faq-edit-error")
    d.find_element(By.ID, "faq-title").send_keys("データ移行での外字の扱い")
    d.find_element(By.ID, "publish").click()
    wait(d, lambda d: "done=published" in d.current_url)
    walk.settle("faq-published")
    walk.open("/faqs?q=外字", "faq-search-published")
    assert "データ移行での外字の扱い" in walk.text()
    walk.open("/faqs/new", "faq-new")

    errors = [
        (where, e["message"]) for where, e in walk.console if e["level"] == "SEVERE" and "422" not in e["message"]
    ]
    assert not errors, f"console errors: {errors}"
    assert walk.violations == {}, f"WCAG 2.1 AA violations (axe-core): {walk.violations}"
