"""The dashboards in a real browser: headless Chromium (Debian's chromium + chromium-driver via Selenium)
against `pmo serve` on a free 127.0.0.1 port. Every page loads, each chart's plotly SVG is in the DOM,
no request leaves 127.0.0.1, the console stays clean, and a prefecture cannot open another's page.

Skipped when /usr/bin/chromium is missing (PMO_REQUIRE_BROWSER=1, as in .ci/run, makes that a failure).
With PMO_SCREENSHOTS=<dir> (make screenshots) a full-page PNG of each page is written there, and with
PMO_BROWSER_DEMO=all the demo history covers every body instead of Tokyo and Toyama only."""

import base64
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
# axe-core from the npm registry (make browser-deps puts it here): every page is checked at WCAG 2.1 AA
AXE = Path(__file__).resolve().parents[1] / "var" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
pytestmark = pytest.mark.browser
if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    if os.environ.get("PMO_REQUIRE_BROWSER") == "1":
        raise RuntimeError(
            "PMO_REQUIRE_BROWSER=1 but /usr/bin/chromium or /usr/bin/chromedriver is missing (make browser-deps)"
        )
    pytest.skip("headless Chromium is not installed (make browser-deps)", allow_module_level=True)
if not AXE.exists() and os.environ.get("PMO_REQUIRE_BROWSER") == "1":
    raise RuntimeError(f"PMO_REQUIRE_BROWSER=1 but {AXE} is missing (make browser-deps installs axe-core)")

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

TOKYO, CHIYODA, SHINJUKU, TOYAMA, TOYAMA_CITY = "130001", "131016", "131041", "160008", "162019"
SCREENSHOTS = os.environ.get("PMO_SCREENSHOTS")


def wait(driver, condition, seconds: int = 60):
    """Wait for condition, ignoring elements that went stale because the page navigated meanwhile (Chromium
    reports some of those as "Node with given id does not belong to the document", a plain WebDriverException)."""
    return WebDriverWait(
        driver, seconds, ignored_exceptions=(StaleElementReferenceException, WebDriverException)
    ).until(condition)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prepare(database_url: str) -> tuple[dict[str, str], int]:
    """Reports for Tokyo and Toyama, systems, follow-ups, an inquiry, a FAQ entry and a notice; a token per role."""
    from sqlalchemy import select

    from pmo.accounts import service as accounts
    from pmo.auth import principal_for_token
    from pmo.db import session_scope
    from pmo.demo import review as review_demo
    from pmo.demo.reports import generate
    from pmo.faqs import service as faqs
    from pmo.faqs.schemas import FaqCreate
    from pmo.inquiries import service as inquiries
    from pmo.inquiries.schemas import InquiryIn
    from pmo.models import Body
    from pmo.notices import service as notices
    from pmo.notices.schemas import NoticeIn

    with session_scope() as s:
        every = os.environ.get("PMO_BROWSER_DEMO") == "all"  # make screenshots: the whole country (≈2 min)
        codes = None if every else list(s.scalars(select(Body.code).where(Body.prefecture_code.in_(("13", "16")))))
        generate(s, only=codes)
        review_demo.generate(s, only=codes)
    tokens = {}
    with session_scope() as s:
        for key, role, body in (
            ("viewer", "viewer", None),
            ("admin", "admin", None),
            ("helpdesk", "helpdesk", None),
            ("tokyo", "prefecture", TOKYO),
            ("toyama", "prefecture", TOYAMA),
            ("chiyoda", "municipality", CHIYODA),
        ):
            account = accounts.create_account(s, f"web-{key}-{secrets.token_hex(3)}", role, body, actor="test")
            tokens[key] = accounts.issue_token(s, account, actor="test", ttl_days=1).token
    with session_scope() as s:
        who = {k: principal_for_token(s, t) for k, t in tokens.items()}
        filed = inquiries.file(
            s,
            who["chiyoda"],
            InquiryIn(
                title="Fit&Gap分析の進め方について",
                question="住民記録のFit&Gap分析で独自施策をどう扱えばよいでしょうか。",
                category="fit_gap",
                operation="jumin_kiroku",
                step="S07",
            ),
        )
        inquiries.act(s, who["tokyo"], filed.id, "escalate", text="国の見解を確認したいため")
        faqs.create(
            s,
            who["helpdesk"],
            FaqCreate(
                title="ガバメントクラウドへの移行時期",
                question="移行時期はいつまでですか。",
                status="published",
                answer="原則として令和7年度末までに標準準拠システムへ移行します。",
                category="schedule",
            ),
        )
        notices.publish(
            s,
            who["helpdesk"],
            NoticeIn(
                title="標準仕様書の改定について",
                body="住民記録システム標準仕様書を改定しました。",
                category="specification",
                audience="all",
            ),
        )
    return tokens, filed.id


@pytest.fixture
def site(database_url, tmp_path):
    """`pmo serve` on a free port against the test database, and the tokens to sign in with."""
    tokens, inquiry_id = _prepare(database_url)
    port = _free_port()
    env = {
        **os.environ,
        "PMO_DATABASE_URL": database_url,
        "PMO_SESSION_SECRET": secrets.token_urlsafe(32),
        "PMO_PUBLIC_STATS": "false",
    }
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "pmo"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if urllib.request.urlopen(f"{base}/healthz", timeout=1).status == 200:  # noqa: S310 — http://127.0.0.1
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise AssertionError("pmo serve did not start: " + (tmp_path / "serve.log").read_text())
        yield {"base": base, "tokens": tokens, "inquiry": inquiry_id}
    finally:
        server.terminate()
        server.wait(timeout=15)
        log.close()


@pytest.fixture
def browser(tmp_path):
    """Headless Chromium with every page request and console message recorded; nothing is downloaded."""
    os.environ.update(SE_OFFLINE="true", SE_AVOID_STATS="true")  # Selenium Manager must not fetch anything
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--lang=ja",
        "--window-size=1400,1000",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    options.add_experimental_option("prefs", {"intl.accept_languages": "ja,ja-JP"})
    service = Service(executable_path=str(CHROMEDRIVER), env={**os.environ, "LANG": "ja_JP.UTF-8", "LANGUAGE": "ja"})
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


class Walk:
    """Drives the browser page by page, keeping every request URL, status and console message."""

    def __init__(self, driver, base: str):
        self.driver, self.base = driver, base
        self.requests: list[str] = []
        self.statuses: dict[str, int] = {}
        self.console: list[tuple[str, dict]] = []
        self.shots = 0
        self.violations: dict[str, dict[str, int]] = {}  # page → axe rule → nodes
        self.audited: list[str] = []

    def drain(self, where: str) -> None:
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                self.requests.append(message["params"]["request"]["url"])
            elif message["method"] == "Network.responseReceived":
                self.statuses[message["params"]["response"]["url"]] = message["params"]["response"]["status"]
        self.console.extend((where, e) for e in self.driver.get_log("browser"))

    def open(self, path: str, name: str, charts: int = 0) -> None:
        """Load a page; wait until each of its charts has been drawn and holds plotly's SVG."""
        self.driver.get(self.base + path)
        self.settle(name, charts)

    def settle(self, name: str, charts: int = 0) -> None:
        if charts:
            wait(
                self.driver,
                lambda d: d.execute_script(
                    "const all = document.querySelectorAll('[data-figure]');"
                    "return all.length > 0 && [...all].every(e => e.dataset.rendered === 'true');"
                ),
            )
            found = self.driver.execute_script(
                "return [...document.querySelectorAll('[data-figure]')]"
                ".map(e => [e.id, !!e.querySelector('svg.main-svg')]);"
            )
            assert len(found) == charts, f"{name}: expected {charts} charts, found {[f[0] for f in found]}"
            assert all(has_svg for _, has_svg in found), f"{name}: charts without plotly SVG: {found}"
        self.drain(name)
        self.audit(name)
        if SCREENSHOTS:
            self.screenshot(name)

    def audit(self, name: str) -> None:
        """axe-core on the page as drawn: every WCAG 2.1 A/AA violation, by rule, with how many elements."""
        if not AXE.exists() or self.driver.current_url.startswith(self.base + "/docs"):
            return  # Swagger UI is a third party's page
        self.driver.execute_script(AXE.read_text(encoding="utf-8"))
        result = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}})"
            ".then(r => done(r.violations.map(v => [v.id, v.nodes.length])), e => done([['axe-error', String(e)]]));",
            AXE_TAGS,
        )
        self.audited.append(name)
        if result:
            self.violations[name] = dict(result)

    def screenshot(self, name: str) -> None:
        """The whole page as a PNG (the viewport is stretched to the page's height, then restored)."""
        self.shots += 1
        size = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1400, "height": min(int(size["height"]) + 1, 16000), "deviceScaleFactor": 1, "mobile": False},
        )
        time.sleep(0.8)  # plotly redraws the responsive charts at the new size
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        (Path(SCREENSHOTS) / f"{self.shots:02d}-{name}.png").write_bytes(base64.b64decode(shot["data"]))

    def on_paper(self, name: str) -> None:
        """The page as printed (print media, A4 width): every table whole, no navigation, the time printed."""
        self.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        try:
            clipped = self.driver.execute_script(
                "return [...document.querySelectorAll('.scroll')]"
                ".filter(e => e.scrollHeight > e.clientHeight + 1).map(e => e.parentElement.id);"
            )
            assert clipped == [], f"{name}: tables cut on paper in {clipped}"
            shown = self.driver.execute_script(
                "const seen = s => { const e = document.querySelector(s); return !!e && e.offsetParent !== null; };"
                "return [seen('.print-only'), seen('header.site nav'), seen('form.filters')];"
            )
            assert shown[0] and not shown[1], f"{name}: printed-at line / navigation on paper: {shown}"
            assert "印刷：" in self.text()
        finally:
            self.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
        if SCREENSHOTS:  # what the browser's print gives: A4 pages, as a PDF
            self.driver.execute_script("window.dispatchEvent(new Event('beforeprint'))")
            self.shots += 1
            pdf = self.driver.execute_cdp_cmd("Page.printToPDF", {"paperWidth": 8.27, "paperHeight": 11.69})
            (Path(SCREENSHOTS) / f"{self.shots:02d}-{name}.pdf").write_bytes(base64.b64decode(pdf["data"]))
            self.driver.execute_script("window.dispatchEvent(new Event('afterprint'))")

    def sign_in(self, token: str, next_path: str = "/") -> None:
        self.driver.delete_all_cookies()
        self.driver.get(f"{self.base}/login?next={next_path}")
        self.driver.find_element(By.CSS_SELECTOR, "details.token-login summary").click()  # e-mail sign-in is first
        self.driver.find_element(By.NAME, "token").send_keys(token)
        self.driver.find_element(By.CSS_SELECTOR, "form[action='/login'] button").click()
        wait(self.driver, lambda d: "/login" not in d.current_url)
        self.drain("login")

    def text(self) -> str:
        return self.driver.find_element(By.TAG_NAME, "main").text


def test_every_page_renders_offline_with_its_charts(site, browser):
    walk = Walk(browser, site["base"])
    tokens = site["tokens"]

    walk.driver.get(site["base"] + "/")  # signed out: the sign-in form, then back to the page
    assert "/login" in walk.driver.current_url
    walk.drain("signed out")
    walk.sign_in(tokens["viewer"])
    walk.settle("national", charts=7)
    assert "全国の進捗状況" in walk.text() and "令和" in walk.text()
    walk.open("/?kind=towns_villages&prefecture=16", "national-toyama-towns-villages", charts=7)
    # 富山県's 4 towns and its one village are published together (町村), never the village alone
    assert "秘匿" not in walk.text() and "市（政令指定都市を含む）" in walk.text()
    walk.driver.get(site["base"] + "/docs")  # Swagger UI from the app's own files, under the same CSP
    wait(walk.driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) > 50)
    assert walk.driver.find_elements(By.CSS_SELECTOR, "button.authorize"), "the bearer scheme gives an Authorize button"
    walk.settle("api-docs")
    walk.open("/faqs?q=移行時期", "faq-search")
    assert "ガバメントクラウドへの移行時期" in walk.text()

    walk.sign_in(tokens["tokyo"], f"/prefectures/{TOKYO}")
    walk.settle("prefecture-tokyo", charts=1)
    assert "東京都 管内市区町村の状況" in walk.text() and "まず連絡する市区町村" in walk.text()
    walk.on_paper("prefecture-tokyo-print")
    rows = "#municipality-table tbody tr"
    rates = f"return [...document.querySelectorAll('{rows}')].map(r => parseFloat(r.cells[3].textContent));"
    by_rate = "//section[@id='municipality-table']//th/button[.='完了率']"
    walk.driver.find_element(By.XPATH, by_rate).click()
    ascending = walk.driver.execute_script(rates)
    assert len(ascending) == 62 and ascending == sorted(ascending), "the municipalities sort by completion"
    walk.driver.find_element(By.XPATH, by_rate).send_keys(Keys.ENTER)
    assert walk.driver.execute_script(rates) == sorted(ascending, reverse=True), "again (keyboard): descending"
    walk.open(f"/bodies/{SHINJUKU}", "body-shinjuku-read-by-tokyo", charts=2)
    assert "報告を登録できるのは新宿区のアカウントだけです" in walk.text()
    walk.open("/inquiries", "inquiry-queue")
    assert "Fit&Gap分析の進め方について" in walk.text()
    walk.open(f"/prefectures/{TOYAMA}", "prefecture-forbidden")
    assert "このページを表示する権限がありません" in walk.text() and "富山県" in walk.text()
    assert walk.statuses.get(f"{site['base']}/prefectures/{TOYAMA}") == 403
    walk.open(f"/bodies/{TOYAMA_CITY}", "body-forbidden")
    assert walk.statuses.get(f"{site['base']}/bodies/{TOYAMA_CITY}") == 403

    walk.sign_in(tokens["chiyoda"], f"/bodies/{CHIYODA}")
    walk.settle("body-chiyoda", charts=2)
    Select(walk.driver.find_element(By.NAME, "status-S40")).select_by_value("in_progress")
    walk.driver.find_element(By.ID, "save-report").click()
    wait(walk.driver, lambda d: d.find_elements(By.ID, "flash"))
    walk.settle("body-chiyoda-saved", charts=2)
    assert "として登録しました（変更したセル 1 件）" in walk.text()
    walk.driver.find_element(By.ID, "no-change").click()
    wait(walk.driver, lambda d: "changed=0" in d.current_url)
    walk.settle("body-chiyoda-no-change", charts=2)
    walk.open(f"/inquiries/{site['inquiry']}", "inquiry-thread")
    assert "国のヘルプデスク" in walk.text()
    walk.open("/notices", "notices")
    walk.driver.find_element(By.CSS_SELECTOR, "form[action$='/read'] button").click()
    wait(walk.driver, lambda d: "既読（" in d.find_element(By.TAG_NAME, "main").text)
    walk.drain("notice read")

    walk.sign_in(tokens["helpdesk"], "/inquiries")
    walk.settle("helpdesk-queue")
    assert "Fit&Gap分析の進め方について" in walk.text()
    walk.sign_in(tokens["admin"], f"/prefectures/{TOYAMA}")
    walk.settle("prefecture-toyama-admin", charts=1)

    # chrome:// pages are the browser's own (its start page), data:/blob: never touch the network.
    outside = [
        u
        for u in walk.requests
        if urlsplit(u).scheme not in ("chrome", "data", "blob", "about") and not u.startswith(site["base"] + "/")
    ]
    assert not outside, f"requests left 127.0.0.1: {outside}"
    assert any("/static/vendor/plotly-" in u for u in walk.requests)
    forbidden = {f"{site['base']}/prefectures/{TOYAMA}", f"{site['base']}/bodies/{TOYAMA_CITY}"}
    errors = [
        (where, e["message"])
        for where, e in walk.console
        if e["level"] == "SEVERE" and not any(u in e["message"] and "403" in e["message"] for u in forbidden)
    ]
    assert not errors, f"console errors: {errors}"
    assert not AXE.exists() or len(walk.audited) >= 12, walk.audited
    assert walk.violations == {}, f"WCAG 2.1 AA violations (axe-core): {walk.violations}"
