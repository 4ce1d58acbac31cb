"""Dashboard pages through HTTP: sign-in and its cookie, CSRF, access rules as the API's, the error page,
the report form posting to the report service, figures with suppressed gaps, Japanese dates."""

import html
import json
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from pmo import labels, periods
from pmo.config import get_settings
from pmo.dashboard import figures
from pmo.db import session_scope
from pmo.models import Body

HTML = {"Accept": "text/html"}
TOKYO, CHIYODA, MINATO, TOYAMA = "130001", "131016", "131032", "160008"


def bearer(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def sign_in(client, headers: dict[str, str]) -> None:
    """The browser's way: fetch the form (anonymous session + CSRF), post the token."""
    client.cookies.clear()
    form = client.get("/login")
    r = client.post(
        "/login", data={"token": bearer(headers), "csrf": csrf_of(form.text), "next": "/"}, follow_redirects=False
    )
    assert r.status_code == 303, r.text


def figure(page: str, name: str) -> dict:
    block = re.search(rf'<script type="application/json" id="fig-{name}">(.*?)</script>', page, re.S).group(1)
    return json.loads(block)


def reports_for(codes: list[str]) -> None:
    from pmo.demo.reports import generate

    with session_scope() as s:
        generate(s, only=codes)


def test_japanese_months_and_fiscal_years():
    assert labels.month_ja("2025-04") == "2025年4月" and labels.month_ja(202512) == "2025年12月"
    assert labels.fiscal_year_ja(2025) == "令和7年度" and labels.fiscal_year_ja(2019) == "令和元年度"
    assert labels.fiscal_year_ja(2018) == "平成30年度"
    assert labels.period_fy_ja("2026-03") == "令和7年度" and labels.period_fy_ja("2026-04") == "令和8年度"
    assert labels.deadline_ja(periods.due_at(202504)) == "2025年5月10日"
    assert labels.datetime_ja(datetime(2025, 4, 1, 0, 5, tzinfo=UTC)) == "2025年4月1日 9:05"


def test_signed_out_pages_send_the_browser_to_the_sign_in_form(client):
    r = client.get("/bodies/131016?period=2025-04", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fbodies%2F131016%3Fperiod%3D2025-04"
    assert client.get("/", follow_redirects=False).headers["location"] == "/login?next=%2F"


def test_national_page_is_public_only_when_statistics_are(client, monkeypatch):
    from pmo.config import get_settings

    monkeypatch.setattr(get_settings(), "public_stats", True)
    r = client.get("/")
    assert r.status_code == 200 and "全国の進捗状況" in r.text and "ログイン" in r.text


def test_sign_in_keeps_a_signed_http_only_cookie_without_the_token(client, token_for):
    headers = token_for("viewer")
    form = client.get("/login")
    assert "HttpOnly" in form.headers["set-cookie"] and "SameSite=lax" in form.headers["set-cookie"]
    wrong = client.post("/login", data={"token": "pmo_nope", "csrf": csrf_of(form.text)})
    assert wrong.status_code == 401 and "アクセストークンが正しくありません" in wrong.text
    r = client.post(
        "/login",
        data={"token": bearer(headers), "csrf": csrf_of(form.text), "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/"  # never off-site
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie  # plain http here
    assert bearer(headers) not in cookie and bearer(headers)[4:20] not in cookie
    page = client.get("/")
    assert page.status_code == 200 and "閲覧者" in page.text


def test_every_post_needs_the_session_csrf_token(client, token_for):
    headers = token_for("municipality", CHIYODA)
    sign_in(client, headers)
    period = periods.fmt(periods.add_months(periods.current(), -1))
    r = client.post(f"/bodies/{CHIYODA}/reports/{period}", data={"action": "no_change"}, headers=HTML)
    assert r.status_code == 403 and "フォームの有効期限が切れたか" in r.text
    r = client.post("/logout", data={"csrf": "forged"})
    assert r.status_code == 403
    assert client.get(f"/api/v1/bodies/{CHIYODA}/reports", headers=headers).json() == []


def test_logout_and_revoked_tokens_end_the_session(client, token_for):
    from pmo.accounts import service

    headers = token_for("viewer")
    sign_in(client, headers)
    copied = client.cookies.get("pmo_session")  # the cookie as someone copied it before the sign-out
    r = client.post("/logout", data={"csrf": csrf_of(client.get("/").text)}, follow_redirects=False)
    assert r.status_code == 303 and client.get("/", follow_redirects=False).status_code == 303
    client.cookies.set("pmo_session", copied)
    replay = client.get("/", follow_redirects=False)
    assert replay.status_code == 303 and replay.headers["location"].startswith("/login"), (
        "sign-out ends it on the server"
    )
    client.cookies.clear()
    sign_in(client, headers)
    name = client.get("/api/v1/me", headers=headers).json()["name"]
    with session_scope() as s:
        service.revoke_tokens(s, actor="test", account_name=name)
    assert client.get("/", follow_redirects=False).headers["location"] == "/login?next=%2F"


def test_a_prefecture_gets_the_japanese_403_page_for_another_prefecture(client, token_for):
    sign_in(client, token_for("prefecture", TOKYO))
    assert client.get(f"/prefectures/{TOKYO}").status_code == 200
    r = client.get(f"/prefectures/{TOYAMA}")
    assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")
    assert "このページを表示する権限がありません" in r.text and "富山県の市区町村の状況" in r.text
    assert client.get("/bodies/162019").status_code == 403  # 富山市: not Tokyo's
    assert client.get(f"/bodies/{MINATO}").status_code == 200  # its own municipality


def test_pages_follow_the_same_rules_as_the_api(client, token_for):
    for role, body in (("municipality", CHIYODA), ("viewer", None), ("helpdesk", None)):
        sign_in(client, token_for(role, body))
        for path in (f"/prefectures/{TOKYO}", f"/bodies/{MINATO}"):
            assert client.get(path).status_code == 403, (role, path)
    sign_in(client, token_for("admin"))
    assert client.get(f"/prefectures/{TOYAMA}").status_code == 200
    assert client.get(f"/bodies/{MINATO}").status_code == 200


def test_page_errors_are_pages_and_api_errors_stay_json(client, token_for):
    headers = token_for("viewer")
    sign_in(client, headers)
    r = client.get("/bodies/131017")  # wrong check digit
    assert r.status_code == 422 and "入力内容に誤りがあります" in r.text and "検査数字" in r.text
    assert "ページが見つかりません" in client.get("/no-such-page", headers=HTML).text
    r = client.get("/?kind=castle")
    assert r.status_code == 422 and "団体の種別" in r.text
    api = client.get("/api/v1/bodies/131017", headers={**headers, **HTML})
    assert api.status_code == 422 and api.json()["error"] == "validation_error"
    assert client.get("/no-such-page").json()["error"] == "not_found"  # not a browser: JSON as before


def test_pages_carry_a_same_origin_content_security_policy(client, token_for):
    sign_in(client, token_for("viewer"))
    r = client.get("/")
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src" not in csp and "http" not in csp
    assert "<script>" not in r.text and "onclick" not in r.text  # only src= scripts and JSON data blocks
    scripts = re.findall(r"<script([^>]*)>", r.text)
    assert all("src=" in s or 'type="application/json"' in s for s in scripts)
    assert re.search(r'<script src="/static/vendor/plotly-[0-9.]+\.min\.js"', r.text)


def test_plotly_is_served_by_the_app(client):
    from pmo.dashboard.assets import PLOTLY_VERSION

    r = client.get(f"/static/vendor/plotly-{PLOTLY_VERSION}.min.js")
    assert (
        r.status_code == 200
        and r.content.startswith(b"/**\n* plotly.js v")
        and "immutable" in r.headers["cache-control"]
    )
    assert client.get("/static/vendor/plotly-0.0.0.min.js").status_code == 404
    assert client.get("/static/dashboard.js").status_code == 200


def test_national_page_charts_come_from_the_statistics_service(client, token_for):
    reports_for([CHIYODA, MINATO])
    headers = token_for("viewer")
    sign_in(client, headers)
    page = client.get("/").text
    api = client.get("/api/v1/stats/progress", params={"by": "operation"}, headers=headers).json()
    bars = figure(page, "operations")
    done = next(t for t in bars["data"] if t["name"].startswith("完了済み"))
    assert done["x"] == [round(c["completion_rate"] * 100, 2) for c in api["cells"]]
    for name in ("trend", "operations", "map", "steps", "distribution", "systems", "reporting"):
        assert figure(page, name)["data"], name
    assert "令和7年度末（2026年3月）に100%" in json.dumps(figure(page, "trend"), ensure_ascii=False)


def test_the_national_page_filters_by_the_kinds_statistics_publish(client, token_for):
    sign_in(client, token_for("viewer"))
    page = client.get("/", params={"kind": "towns_villages", "prefecture": "16"})  # 富山県's 4 towns and 1 village
    assert page.status_code == 200
    bars = figure(page.text, "operations")
    assert all(v is not None for t in bars["data"] if t["type"] == "bar" for v in t["x"])
    assert '<option value="towns_villages" selected>町村</option>' in page.text
    refused = client.get("/", params={"kind": "village", "prefecture": "16"})
    assert refused.status_code == 422
    assert client.get("/", params={"kind": "prefecture", "prefecture": "16"}).status_code == 422


def test_figures_mark_suppression_explicitly():
    cells = [
        {
            "operation": "a",
            "n_bodies": 1,
            "n_reported": None,
            "suppressed": "primary",
            "completion_rate": None,
            "in_progress_rate": None,
            "not_started_rate": None,
        },
        {
            "operation": "b",
            "n_bodies": 9,
            "n_reported": 9,
            "suppressed": None,
            "completion_rate": 0.0,
            "in_progress_rate": 0.5,
            "not_started_rate": 0.5,
        },
    ]
    fig = json.loads(figures.operation_bars(cells, {"a": "甲", "b": "乙"}, 3))
    assert fig["data"][0]["x"] == [None, 0.0]  # hidden stays None, a real zero stays 0
    assert [a["text"] for a in fig["layout"]["annotations"]] == ["秘匿"]
    assert fig["data"][-1]["name"].startswith("秘匿（3団体未満")
    assert "</script>" not in figures.operation_bars([{**cells[1], "operation": "</script>"}], {}, 3)


def test_report_form_posts_to_the_report_service(client, token_for):
    headers = token_for("municipality", CHIYODA)
    sign_in(client, headers)
    period = periods.fmt(periods.add_months(periods.current(), -1))
    page = client.get(f"/bodies/{CHIYODA}", params={"period": period, "op": "koseki"})
    assert page.status_code == 200 and 'name="status-S01"' in page.text
    form = {
        "csrf": csrf_of(page.text),
        "operation": "koseki",
        "etag": html.unescape(re.search(r'name="etag" value="([^"]+)"', page.text)[1]),
    }
    for i in range(1, 41):
        form[f"status-S{i:02d}"] = "not_started"
    form.update({"status-S01": "done", "actual_end-S01": period, "planned_end-S02": period, "note-S02": "来月完了予定"})
    r = client.post(f"/bodies/{CHIYODA}/reports/{period}", data=form, follow_redirects=False)
    assert r.status_code == 303 and "saved=1" in r.headers["location"] and "changed=2" in r.headers["location"]
    grid = client.get(f"/api/v1/bodies/{CHIYODA}/reports/{period}", headers=headers).json()
    cells = {(c["operation"], c["step"]): c for c in grid["cells"]}
    assert cells[("koseki", "S01")]["status"] == "done" and cells[("koseki", "S01")]["actual_end"] == period
    assert cells[("koseki", "S02")]["note"] == "来月完了予定"
    assert (
        client.get(f"/api/v1/bodies/{CHIYODA}/reports/{period}/revisions", headers=headers).json()[0]["source"] == "web"
    )
    stale = client.post(f"/bodies/{CHIYODA}/reports/{period}", data=form)  # the same form again: its ETag is old
    assert stale.status_code == 412 and "ほかの人が先に更新しました" in stale.text
    flash = client.get(r.headers["location"]).text
    assert "第1版として登録しました（変更したセル 2 件）" in flash
    r = client.post(
        f"/bodies/{CHIYODA}/reports/{period}",
        data={"csrf": form["csrf"], "action": "no_change"},
        follow_redirects=False,
    )
    assert "saved=2" in r.headers["location"] and "changed=0" in r.headers["location"]


def test_report_form_errors_are_shown_and_nothing_is_stored(client, token_for):
    headers = token_for("municipality", CHIYODA)
    sign_in(client, headers)
    period = periods.fmt(periods.add_months(periods.current(), -1))
    csrf = csrf_of(client.get(f"/bodies/{CHIYODA}").text)
    r = client.post(
        f"/bodies/{CHIYODA}/reports/{period}",
        data={
            "csrf": csrf,
            "operation": "koseki",
            "status-S01": "done",
            "actual_end-S01": "2099-01",
            "status-S02": "in_progress",
            "planned_start-S02": "2025-13",
        },
    )
    assert r.status_code == 422 and "誤りがあります" in r.text
    assert client.get(f"/api/v1/bodies/{CHIYODA}/reports", headers=headers).json() == []


def test_only_the_body_itself_may_submit_from_its_page(client, token_for):
    sign_in(client, token_for("prefecture", TOKYO))
    page = client.get(f"/bodies/{MINATO}")
    assert "報告を登録できるのは港区のアカウントだけです" in page.text and 'id="edit-form"' not in page.text
    period = periods.fmt(periods.add_months(periods.current(), -1))
    r = client.post(f"/bodies/{MINATO}/reports/{period}", data={"csrf": csrf_of(page.text), "action": "no_change"})
    assert r.status_code == 403 and "当該団体のアカウントだけ" in r.text


def test_upload_and_download_round_trip_through_the_page(client, token_for):
    headers = token_for("municipality", CHIYODA)
    sign_in(client, headers)
    period = periods.fmt(periods.add_months(periods.current(), -1))
    csv = client.get(f"/bodies/{CHIYODA}/reports/{period}/download", params={"format": "csv"})
    assert csv.status_code == 200 and "attachment" in csv.headers["content-disposition"]
    text = csv.content.decode("utf-8-sig").replace(",未着手,", ",作業中,", 1)
    csrf = csrf_of(client.get(f"/bodies/{CHIYODA}").text)
    r = client.post(
        f"/bodies/{CHIYODA}/reports/{period}/upload",
        data={"csrf": csrf},
        files={"file": ("grid.csv", text.encode("utf-8"), "text/csv")},
        follow_redirects=False,
    )
    assert r.status_code == 303 and "changed=1" in r.headers["location"]
    bad = client.post(
        f"/bodies/{CHIYODA}/reports/{period}/upload", data={"csrf": csrf}, files={"file": ("grid.csv", b"", "text/csv")}
    )
    assert bad.status_code == 422 and "ファイルが空です" in bad.text
    broken = text.replace(",作業中,", ",おわり,", 1).encode("utf-8")
    bad = client.post(
        f"/bodies/{CHIYODA}/reports/{period}/upload",
        data={"csrf": csrf},
        files={"file": ("grid.csv", broken, "text/csv")},
    )
    row = 1 + next(i for i, line in enumerate(text.splitlines()) if ",作業中," in line)
    assert bad.status_code == 422 and f"{row} 行目「状況」列：" in html.unescape(bad.text), (
        "the page names row and column"
    )


def test_prefecture_page_shows_table_laggards_missing_and_follow_ups(client, token_for):
    with session_scope(read_only=True) as s:
        codes = list(s.scalars(select(Body.code).where(Body.prefecture_code == "16")))
    reports_for(codes[:8])
    sign_in(client, token_for("prefecture", TOYAMA))
    page = client.get(f"/prefectures/{TOYAMA}")
    assert page.status_code == 200
    for heading in ("まず連絡する市区町村", "報告のない市区町村", "フォローアップ", "市区町村一覧", "対応中の問合せ"):
        assert heading in page.text
    heat = figure(page.text, "municipalities")["data"][0]
    assert len(heat["y"]) == len(codes) - 1  # every municipality, not the prefecture itself


@pytest.mark.parametrize("offset_days", [0, 20])
def test_bodies_within_their_window_are_pending_not_missing(client, token_for, monkeypatch, offset_days):
    """On 12-03 November's reports are due on 12-10: the 7 not yet in are 受付中; on 12-23 they are 未報告.
    The national page opens on the newest period that is due and says how many are still within the window."""
    monkeypatch.setattr(get_settings(), "clock_offset_days", offset_days)
    with session_scope(read_only=True) as s:
        codes = list(s.scalars(select(Body.code).where(Body.prefecture_code == "16", Body.kind != "prefecture")))
    last = periods.add_months(periods.current(), -1)
    for code in codes[:8]:
        put = client.put(f"/api/v1/bodies/{code}/reports/{periods.fmt(last)}", headers=token_for("municipality", code))
        assert put.status_code == 200, put.text
    still_open = periods.window_open(last)
    toyama = token_for("prefecture", TOYAMA)
    sign_in(client, toyama)
    page = client.get(f"/prefectures/{TOYAMA}").text
    listing = client.get(f"/api/v1/prefectures/{TOYAMA}/missing-reports", headers=toyama).json()
    assert listing["window_open"] is still_open
    assert (len(listing["pending"]), len(listing["missing"])) == ((7, 0) if still_open else (0, 7))
    assert ("受付中（期限" in page) is still_open and ("未報告（期限超過）" in page) is not still_open
    sign_in(client, token_for("viewer"))
    national = client.get("/").text
    assert (f"{last // 100}年{last % 100}月分は受付中です" in national) is still_open
    opened_on = periods.add_months(last, -1) if still_open else last
    assert f"{opened_on // 100}年{opened_on % 100}月時点" in national


@pytest.mark.parametrize("path", ["/inquiries", "/faqs", "/faqs?q=移行", "/notices"])
def test_inquiry_faq_and_notice_pages_render(client, token_for, path):
    sign_in(client, token_for("municipality", CHIYODA))
    assert client.get(path).status_code == 200


def test_an_inquiry_filed_on_a_page_is_answered_on_a_page(client, token_for):
    chiyoda, tokyo = token_for("municipality", CHIYODA), token_for("prefecture", TOKYO)
    sign_in(client, chiyoda)
    csrf = csrf_of(client.get("/inquiries").text)
    r = client.post(
        "/inquiries",
        data={
            "csrf": csrf,
            "title": "補助金の申請時期",
            "question": "いつまでに申請すればよいですか。",
            "category": "funding",
            "operation": "",
            "step": "",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    inquiry = r.headers["location"].split("?")[0]
    sign_in(client, tokyo)
    thread = client.get(inquiry)
    assert "補助金の申請時期" in thread.text and f'action="{inquiry}/answer"' in thread.text
    r = client.post(
        f"{inquiry}/answer", data={"csrf": csrf_of(thread.text), "text": "来月末までです。"}, follow_redirects=False
    )
    assert r.status_code == 303
    answered = client.get(inquiry, params={}).text
    assert "来月末までです。" in answered and "回答済み" in answered
    r = client.post(f"{inquiry}/answer", data={"csrf": csrf_of(answered), "text": "もう一度"})
    # the refusal on the thread itself, as it stands now: what happened, and what can be done next
    assert r.status_code == 409 and 'id="refusal"' in r.text and "回答済み" in r.text and 'id="history"' in r.text
    assert r.text.count("来月末までです。") == 1  # nothing was added


def test_openapi_does_not_list_the_pages():
    from pmo.app import openapi_text

    paths = json.loads(openapi_text())["paths"]
    assert not [p for p in paths if not p.startswith("/api/") and p not in ("/healthz", "/readyz", "/metrics")]


def test_every_chart_has_its_numbers_in_a_table_beside_it(client, token_for):
    """Chart values are not only on hover (issue 16): each chart's card holds a table of what it draws."""
    reports_for(["131016", "131024", "163210"])
    sign_in(client, token_for("viewer"))
    page = client.get("/").text
    charts = re.findall(r'id="chart-([a-z]+)"', page)
    tables = re.findall(r'<details class="chart-table" id="table-([a-z]+)"', page)
    assert charts and tables == charts, (charts, tables)
    operations = page[page.index('id="table-operations"') :].split("</details>")[0]
    assert '<th scope="row">戸籍</th>' in operations and "完了済み（対象外を含む）" in operations
    tiles = page[page.index('id="table-map"') :].split("</details>")[0]
    assert tiles.count('<th scope="row">') == 47 and "東京都" in tiles
    trend = page[page.index('id="table-trend"') :].split("</details>")[0]
    assert "2022年6月" in trend


def test_every_chart_says_in_words_what_it_shows_and_step_tables_name_the_steps(client, token_for):
    """A text summary under each chart, named by its aria-describedby; heatmap tables head each column with the
    step's name (issue 16: charts were readable only on hover, heatmaps showed S01…S40 without names)."""
    reports_for(["131016", "131024", "163210"])
    sign_in(client, token_for("municipality", "131016"))
    for path in ("/", "/bodies/131016"):
        page = client.get(path).text
        charts = re.findall(r'id="chart-([a-z]+)"[^>]*aria-describedby="summary-([a-z]+)"', page)
        summaries = dict(re.findall(r'<p class="chart-summary" id="summary-([a-z]+)">([^<]+)</p>', page))
        assert charts and all(c == s and summaries.get(s) for c, s in charts), (path, charts, summaries)
        assert len(charts) == len(re.findall(r'id="chart-[a-z]+"', page)), path
    steps = client.get("/").text.split('id="table-steps"')[1].split("</details>")[0]
    assert '<th scope="col">S01 全体方針の決定・推進体制の立ち上げ</th>' in steps
    grid = client.get("/bodies/131016").text
    table = grid.split('id="table-grid"')[1].split("</details>")[0]
    assert '<th scope="col">S40 ' in table and '<td class="num">完了済み</td>' in table
    said = dict(re.findall(r'<p class="chart-summary" id="summary-([a-z]+)">([^<]+)</p>', grid))["grid"]
    counts = r"完了済み [\d,]+、作業中 [\d,]+、未着手 [\d,]+、対象外 [\d,]+"
    assert re.fullmatch(rf"20 業務 × 40 ステップのうち {counts}。", said)
