"""The systems register and notice pages through HTTP: edits and publishing go through the API's services and
models, errors stand beside their fields (422, nothing stored), read receipts are for the senders only."""

import html
import re

from tests.test_dashboard import csrf_of, sign_in

API = "/api/v1"
TOKYO, CHIYODA, MINATO, TOYAMA, TOYAMA_CITY = "130001", "131016", "131032", "160008", "162019"
DEFERRED = {"deferred": "on", "deferral_reason": "vendor_resources", "deferral_target": "2027-03"}
NOTICE = {"title": "標準仕様書の改定", "body": "第4.0版を公表しました。", "category": "specification"}


def field_error(page: str, name: str) -> str | None:
    """The message shown beside a field (None when there is none), checking the field points at it."""
    found = re.search(rf'<span class="field-error" id="error-{name}">([^<]*)</span>', page)
    if found is None:
        return None
    assert re.search(rf'name="{name}"[^>]*aria-invalid="true" aria-describedby="error-{name}"', page), name
    return found.group(1)


def post_system(client, code: str, operation: str, data: dict, page: str | None = None):
    """Post the edit form as the browser does: with the page's CSRF token and the ETag it was drawn from."""
    page = page or client.get(f"/bodies/{code}/systems/{operation}").text
    etag = re.search(r'name="etag" value="([^"]*)"', page)
    form = {"csrf": csrf_of(page), "etag": html.unescape(etag[1]) if etag else "", **data}
    return client.post(f"/bodies/{code}/systems/{operation}", data=form, follow_redirects=False)


def test_the_body_records_a_system_per_operation_and_sees_it(client, token_for):
    headers = token_for("municipality", CHIYODA)
    sign_in(client, headers)
    assert f'href="/bodies/{CHIYODA}/systems"' in client.get(f"/bodies/{CHIYODA}").text
    listing = client.get(f"/bodies/{CHIYODA}/systems")
    assert listing.status_code == 200 and listing.text.count("未登録") == 20
    form = client.get(f"/bodies/{CHIYODA}/systems/koseki")
    assert 'id="system-form"' in form.text and 'value="&#34;v0&#34;"' in form.text
    r = post_system(client, CHIYODA, "koseki", {"vendor": "A情報システム", "planned_go_live": "2026-01", **DEFERRED})
    assert r.status_code == 303 and r.headers["location"].startswith(
        f"/bodies/{CHIYODA}/systems?saved=koseki&version=1"
    )
    shown = client.get(r.headers["location"]).text
    assert "戸籍のシステムを第1版として登録しました" in shown and "A情報システム" in shown
    assert "事業者のリソースひっ迫" in shown and "移行目標 2027年3月" in shown
    record = client.get(f"{API}/bodies/{CHIYODA}/systems/koseki", headers=headers).json()
    assert (record["vendor"], record["planned_go_live"], record["deferral_target"]) == (
        "A情報システム",
        "2026-01",
        "2027-03",
    )
    again = client.get(f"/bodies/{CHIYODA}/systems/koseki").text  # the form holds the record; no longer deferred
    assert 'value="A情報システム"' in again and "checked" in again and "第1版" in again
    r = post_system(client, CHIYODA, "koseki", {"vendor": "B情報システム", "note": "契約更新"}, again)
    assert r.status_code == 303 and "version=2" in r.headers["location"]
    history = client.get(f"/bodies/{CHIYODA}/systems/koseki").text
    assert "第2版" in history and "A情報システム" in history and "B情報システム" in history and "契約更新" in history
    stale = post_system(client, CHIYODA, "koseki", {"vendor": "C情報システム"}, again)  # its ETag is v1's
    assert stale.status_code == 412 and "ほかの人が先に更新しました" in stale.text


def test_a_wrong_month_or_a_missing_reason_is_shown_beside_its_field_and_nothing_is_stored(client, token_for):
    headers = token_for("municipality", CHIYODA)
    sign_in(client, headers)
    r = post_system(
        client, CHIYODA, "koseki", {"vendor": "A情報システム", "deferred": "on", "deferral_target": "2027-13"}
    )
    assert r.status_code == 422 and "入力に 2 件の誤りがあります。何も登録していません。" in r.text
    assert field_error(r.text, "deferral_reason") == "特定移行支援システムには deferral_reason（理由）が必要です。"
    assert "YYYY-MM" in field_error(r.text, "deferral_target")
    assert field_error(r.text, "vendor") is None
    assert 'value="A情報システム"' in r.text and 'value="2027-13"' in r.text and "checked" in r.text  # kept
    r = post_system(client, CHIYODA, "koseki", {"deferral_reason": "mainframe"})
    assert r.status_code == 422 and "deferred が true のときだけ" in field_error(r.text, "deferral_reason")
    assert 'value="mainframe" selected' in r.text
    r = post_system(client, CHIYODA, "koseki", {"planned_go_live": "来年"})
    assert r.status_code == 422 and field_error(r.text, "planned_go_live").startswith("年月は YYYY-MM")
    assert client.get(f"{API}/bodies/{CHIYODA}/systems/koseki", headers=headers).json()["registered"] is False
    r = post_system(client, CHIYODA, "nope", {}, client.get(f"/bodies/{CHIYODA}/systems").text)
    assert r.status_code == 422 and "業務コード &#39;nope&#39; はありません" in r.text


def test_readers_see_the_register_but_cannot_change_it(client, token_for):
    sign_in(client, token_for("prefecture", TOKYO))
    listing = client.get(f"/bodies/{CHIYODA}/systems")
    assert listing.status_code == 200 and "登録・変更できるのは千代田区のアカウントだけです" in listing.text
    page = client.get(f"/bodies/{CHIYODA}/systems/koseki")
    assert page.status_code == 200 and 'id="system-form"' not in page.text
    r = post_system(client, CHIYODA, "koseki", {"vendor": "A情報システム"}, page.text)
    assert r.status_code == 403 and "当該団体のアカウントだけ" in r.text
    assert (
        client.get(f"{API}/bodies/{CHIYODA}/systems/koseki", headers=token_for("admin")).json()["registered"] is False
    )
    assert client.get(f"/bodies/{TOYAMA_CITY}/systems").status_code == 403  # another prefecture's municipality
    sign_in(client, token_for("municipality", MINATO))
    assert post_system(client, CHIYODA, "koseki", {"vendor": "A"}, page.text).status_code == 403


def publish(client, data: dict, page: str | None = None):
    page = page or client.get("/notices").text
    return client.post("/notices", data={"csrf": csrf_of(page), **data}, follow_redirects=False)


def test_a_sender_publishes_to_an_audience_from_the_page(client, token_for):
    sign_in(client, token_for("helpdesk"))
    page = client.get("/notices").text
    assert 'id="publish-form"' in page and '<option value="13">東京都</option>' in page
    r = publish(client, {**NOTICE, "audience": "prefecture_municipalities", "prefecture": "13", "publisher": "総務省"})
    assert r.status_code == 303 and re.fullmatch(r"/notices/\d+\?published=1", r.headers["location"])
    shown = client.get(r.headers["location"]).text
    assert "お知らせを発信しました（宛先 62 団体）" in shown and "特定の都道府県の市区町村" in shown
    notice_id = int(r.headers["location"].split("/")[2].split("?")[0])
    chiyoda, toyama_city = token_for("municipality", CHIYODA), token_for("municipality", TOYAMA_CITY)
    got = client.get(f"{API}/notices/{notice_id}", headers=chiyoda).json()
    assert (got["audience"], got["prefecture"], got["publisher"], got["category"]) == (
        "prefecture_municipalities",
        "13",
        "総務省",
        "specification",
    )
    assert client.get(f"{API}/notices/{notice_id}", headers=toyama_city).status_code == 404
    sign_in(client, token_for("ministry", organization="総務省"))  # a ministry: for its own operations
    r = publish(client, {**NOTICE, "audience": "all", "operation": "jumin_kiroku"})
    assert r.status_code == 303
    assert client.get(r.headers["location"]).text.count("総務省") >= 1
    assert publish(client, {**NOTICE, "audience": "all", "operation": "seikatsu_hogo"}).status_code == 403


def test_publishing_errors_are_shown_beside_their_fields_and_nothing_is_published(client, token_for):
    helpdesk = token_for("helpdesk")
    sign_in(client, helpdesk)
    r = publish(client, {"title": "", "body": "本文", "category": "other", "audience": "prefecture_municipalities"})
    assert r.status_code == 422 and "何も登録していません" in r.text
    assert field_error(r.text, "title") == "必須項目です。"
    assert "prefecture（都道府県番号 01〜47）を指定してください" in field_error(r.text, "prefecture")
    assert field_error(r.text, "body") is None and ">本文</textarea>" in r.text
    assert 'value="prefecture_municipalities" selected' in r.text
    r = publish(client, {**NOTICE, "audience": "all", "prefecture": "13", "faq_id": "9999"})
    assert r.status_code == 422 and "のときだけ指定できます" in field_error(r.text, "prefecture")
    r = publish(client, {**NOTICE, "audience": "all", "faq_id": "9999"})  # the service's own check, beside it
    assert r.status_code == 422 and field_error(r.text, "faq_id") == "FAQ 9999 はありません。"
    assert client.get(f"{API}/notices", headers=helpdesk).json()["total"] == 0


def test_who_is_not_a_sender_cannot_publish(client, token_for):
    for role, body in (("municipality", CHIYODA), ("prefecture", TOKYO), ("viewer", None)):
        sign_in(client, token_for(role, body))
        page = client.get("/notices")
        assert page.status_code == 200 and 'id="publish-form"' not in page.text
        r = publish(client, {**NOTICE, "audience": "all"}, page.text)
        assert r.status_code == 403 and "お知らせを発信できるのは" in r.text, role
    assert client.get(f"{API}/notices", headers=token_for("admin")).json()["total"] == 0


def test_read_receipts_are_shown_to_the_senders_only(client, token_for):
    helpdesk = token_for("helpdesk")
    made = client.post(
        f"{API}/notices",
        headers=helpdesk,
        json={**NOTICE, "audience": "prefecture_municipalities", "prefecture": "16"},
    ).json()
    url = f"/notices/{made['id']}"
    sign_in(client, token_for("municipality", TOYAMA_CITY))
    page = client.get(url).text
    assert "既読状況" not in page and 'name="back" value="notice"' in page
    r = client.post(f"{url}/read", data={"csrf": csrf_of(page), "back": "notice"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == url
    assert "既読（" in client.get(url).text
    sign_in(client, token_for("prefecture", TOYAMA))  # not in the audience (municipalities only)
    assert client.get(url).status_code == 404
    sign_in(client, helpdesk)
    listing = client.get("/notices").text
    assert f'<a href="{url}">既読 1 / 15 団体</a>' in listing
    receipts = client.get(url).text
    assert "既読状況" in receipts and "<td>富山市</td>" not in receipts and "<td>高岡市</td>" in receipts
    assert re.search(r'未読</div><div class="value">14<', receipts)
    read = client.get(url, params={"read": "read"}).text
    assert "<td>富山市</td>" in read and "<td>高岡市</td>" not in read
    assert client.get(url, params={"read": "nobody"}).status_code == 422
    sign_in(client, token_for("ministry", organization="総務省"))  # a publisher, but not a sender: no receipts
    assert "既読状況" not in client.get(url).text


def test_read_receipts_page_by_prefecture_a_hundred_at_a_time_and_download(client, token_for):
    import io

    from openpyxl import load_workbook

    from tests.test_dashboard import sign_in

    helpdesk = token_for("helpdesk")
    notice = {"title": "事務連絡", "body": "別添のとおり。", "category": "other", "audience": "municipalities"}
    made = client.post("/api/v1/notices", json=notice, headers=helpdesk)
    assert made.status_code == 201, made.text
    notice_id = made.json()["id"]
    sign_in(client, helpdesk)
    first = client.get(f"/notices/{notice_id}", params={"read": "all"}).text
    assert first.count("<tr><td>") == 100 and "1〜100 件目" in first and "次の100団体" in first
    hokkaido = client.get(f"/notices/{notice_id}", params={"read": "all", "pref": "01"}).text
    assert "札幌市" in hokkaido and "千代田区" not in hokkaido
    xlsx = client.get(f"/notices/{notice_id}/receipts", params={"read": "unread", "pref": "13"})
    assert xlsx.status_code == 200 and "attachment" in xlsx.headers["content-disposition"]
    rows = list(load_workbook(io.BytesIO(xlsx.content)).active.iter_rows(values_only=True))
    assert (
        rows[0] == ("団体コード", "団体名", "区分", "既読日時", "既読にした人") and len(rows) == 1 + 62
    )  # 東京都's 62
    assert client.get(f"/notices/{notice_id}/receipts", params={"pref": "1"}).status_code == 422
