"""Follow-up and adviser-request pages through HTTP: each form reaches the same service as the API, problems
are shown beside their field (422, nothing stored), and the roles the service refuses are refused."""

import html
import re
from datetime import timedelta

from pmo import periods
from tests.test_dashboard import csrf_of, sign_in

TOKYO, CHIYODA, MINATO = "130001", "131016", "131032"
YESTERDAY = (periods.today() - timedelta(days=1)).isoformat()
TOMORROW = (periods.today() + timedelta(days=2)).isoformat()  # still ahead if the run passes midnight (JST)
FOLLOW_UP = {"body": CHIYODA, "held_on": YESTERDAY, "channel": "phone", "learned": "事業者の要員が不足している。"}


def post_form(client, page: str, action: str, data: dict):
    """Submit a form the way the page does: with the CSRF token the page carries."""
    token = csrf_of(client.get(page).text)
    return client.post(action, data={"csrf": token, **data}, follow_redirects=False)


def field_error(page: str, name: str) -> str:
    """The message shown beside the field (empty when there is none)."""
    found = re.search(rf'<span class="field-error" id="error-{name}">(.*?)</span>', page, re.S)
    return html.unescape(found.group(1)) if found else ""


def api_follow_ups(client, headers) -> list[dict]:
    return client.get("/api/v1/follow-ups", headers=headers).json()["items"]


def test_a_prefecture_records_a_follow_up_and_sees_it_listed(client, token_for):
    tokyo = token_for("prefecture", TOKYO)
    sign_in(client, tokyo)
    form = client.get(f"/follow-ups?body={CHIYODA}")
    assert form.status_code == 200 and 'id="new"' in form.text
    assert f'<option value="{CHIYODA}" selected>' in form.text  # the prefecture page's 記録する link preselects
    data = {**FOLLOW_UP, "agreed_actions": "翌月までに計画を再作成する。", "next_check_on": periods.today().isoformat()}
    data |= {"shared_with_national": "on", "delay_cause": "vendor_resources", "delay_detail": "SEが2名不足。"}
    r = post_form(client, "/follow-ups", "/follow-ups", data)
    assert r.status_code == 303, r.text
    assert r.headers["location"].startswith(f"/follow-ups?body={CHIYODA}&flash=recorded#follow-up-")
    listed = client.get(r.headers["location"])
    assert "フォローアップを記録しました。" in listed.text and "事業者の要員が不足している。" in listed.text
    assert "事業者のリソース不足" in listed.text and "国と共有" in listed.text
    (saved,) = api_follow_ups(client, tokyo)
    assert saved["shared_with_national"] and saved["delay_detail"] == "SEが2名不足。" and saved["channel"] == "phone"
    assert f'id="follow-up-{saved["id"]}"' in listed.text
    # the helpdesk sees the shared record, without the forms that belong to the prefecture
    sign_in(client, token_for("helpdesk"))
    seen = client.get("/follow-ups")
    assert "事業者の要員が不足している。" in seen.text and "完了にする" not in seen.text and 'id="new"' not in seen.text


def test_invalid_follow_ups_are_shown_beside_the_field_and_nothing_is_stored(client, token_for):
    tokyo = token_for("prefecture", TOKYO)
    sign_in(client, tokyo)
    future = post_form(
        client, "/follow-ups", "/follow-ups", {**FOLLOW_UP, "held_on": TOMORROW, "agreed_actions": "残す"}
    )
    assert future.status_code == 422
    assert "未来の日付は指定できません" in field_error(future.text, "held_on")
    assert 'aria-invalid="true" aria-describedby="error-held_on"' in future.text
    assert "入力に 1 件の誤りがあります。何も登録していません。" in future.text
    assert "事業者の要員が不足している。</textarea>" in future.text and ">残す</textarea>" in future.text  # kept
    ill_formed = post_form(client, "/follow-ups", "/follow-ups", {**FOLLOW_UP, "held_on": "2025-13-45", "learned": ""})
    assert ill_formed.status_code == 422
    assert field_error(ill_formed.text, "held_on") == "日付は YYYY-MM-DD で指定してください。"
    assert field_error(ill_formed.text, "learned") == "必須項目です。"
    unshared = post_form(client, "/follow-ups", "/follow-ups", {**FOLLOW_UP, "shared_with_national": "on"})
    assert unshared.status_code == 422 and "delay_cause（遅延の原因）が必要です" in field_error(
        unshared.text, "delay_cause"
    )
    backwards = post_form(client, "/follow-ups", "/follow-ups", {**FOLLOW_UP, "next_check_on": "2022-01-04"})
    assert backwards.status_code == 422 and "held_on（実施日）以降" in field_error(backwards.text, "next_check_on")
    outside = post_form(client, "/follow-ups", "/follow-ups", {**FOLLOW_UP, "body": "011002"})  # 札幌市
    assert outside.status_code == 403 and "その都道府県のアカウントだけです" in outside.text
    unknown = post_form(client, "/follow-ups", "/follow-ups", {**FOLLOW_UP, "body": "999999"})
    assert unknown.status_code == 422 and field_error(unknown.text, "body")
    assert api_follow_ups(client, tokyo) == []


def test_a_prefecture_marks_a_follow_up_done(client, token_for):
    tokyo = token_for("prefecture", TOKYO)
    sign_in(client, tokyo)
    post_form(client, "/follow-ups", "/follow-ups", FOLLOW_UP)
    post_form(client, "/follow-ups", "/follow-ups", {**FOLLOW_UP, "body": MINATO, "learned": "港区は順調。"})
    chiyoda = next(f for f in api_follow_ups(client, tokyo) if f["body"] == CHIYODA)
    action = f"/follow-ups/{chiyoda['id']}/done"
    too_long = post_form(client, "/follow-ups", action, {"note": "あ" * 4001, "back_state": "open"})
    assert too_long.status_code == 422 and field_error(too_long.text, "note") == "4000文字以内で指定してください。"
    r = post_form(client, "/follow-ups", action, {"note": "計画の再作成を確認した。", "back_state": "open"})
    assert (
        r.status_code == 303
        and r.headers["location"] == f"/follow-ups?body=&state=open&flash=done#follow-up-{chiyoda['id']}"
    )
    open_now = client.get(r.headers["location"])
    assert "フォローアップを完了にしました。" in open_now.text
    assert "港区は順調。" in open_now.text and "事業者の要員が不足している。" not in open_now.text
    done = client.get("/follow-ups?state=done")
    assert "計画の再作成を確認した。" in done.text and "港区は順調。" not in done.text
    assert post_form(client, "/follow-ups", action, {}).status_code == 409  # once
    token = csrf_of(client.get("/follow-ups").text)
    for referer, back in (
        ("http://testserver/follow-ups?state=open", '<a href="/follow-ups?state=open" id="back">元のページに戻る</a>'),
        ("https://elsewhere.example/follow-ups", None),  # only this site's pages are offered
    ):
        again = client.post(action, data={"csrf": token}, headers={"Referer": referer}, follow_redirects=False)
        assert again.status_code == 409, again.text
        assert (back in again.text) if back else ('id="back"' not in again.text)
    sign_in(client, token_for("admin"))
    minato = next(f for f in api_follow_ups(client, tokyo) if f["body"] == MINATO)
    refused = post_form(client, "/follow-ups", f"/follow-ups/{minato['id']}/done", {})
    assert refused.status_code == 403 and "記録した都道府県のアカウントだけです" in refused.text


def test_an_adviser_request_from_request_to_completion(client, token_for):
    chiyoda, helpdesk = token_for("municipality", CHIYODA), token_for("helpdesk")
    sign_in(client, chiyoda)
    page = client.get("/adviser-requests")
    assert 'id="new"' in page.text and "千代田区（131016）" in page.text
    empty = post_form(client, "/adviser-requests", "/adviser-requests", {"body": CHIYODA, "topic": " "})
    assert empty.status_code == 422 and field_error(empty.text, "topic") == "必須項目です。"
    data = {
        "body": CHIYODA,
        "topic": "移行計画の見直し",
        "detail": "日程が厳しい。",
        "operations": ["koseki", "jumin_kiroku"],
    }
    r = post_form(client, "/adviser-requests", "/adviser-requests", data)
    assert r.status_code == 303 and re.fullmatch(r"/adviser-requests/\d+\?flash=requested#flash", r.headers["location"])
    url = r.headers["location"].split("?")[0]
    mine = client.get(r.headers["location"])
    assert "アドバイザー派遣を依頼しました。" in mine.text and "依頼受付" in mine.text and "住民基本台帳" in mine.text
    assert 'id="form-cancel"' in mine.text and 'id="form-assign"' not in mine.text  # what the body may do now
    refused = post_form(client, url, f"{url}/assign", {"adviser": "山田"})
    assert refused.status_code == 403 and "国（ヘルプデスク）が行います" in refused.text

    sign_in(client, helpdesk)
    assert 'id="form-assign"' in client.get(url).text and 'id="new"' not in client.get("/adviser-requests").text
    blank = post_form(client, url, f"{url}/assign", {"adviser": ""})
    assert blank.status_code == 422 and field_error(blank.text, "adviser") == "必須項目です。"
    assert post_form(client, url, f"{url}/assign", {"adviser": "標準化アドバイザー 山田"}).status_code == 303
    assigned = client.get(url).text
    assert (
        "標準化アドバイザー 山田" in assigned and 'id="form-visit"' in assigned and 'id="form-complete"' not in assigned
    )
    visit = {"visited_on": TOMORROW, "mode": "onsite", "summary": "移行計画を確認し、調達の前倒しを助言した。"}
    future = post_form(client, url, f"{url}/visit", visit)
    assert (
        future.status_code == 422 and field_error(future.text, "visited_on") == "派遣日に未来の日付は記録できません。"
    )
    assert "移行計画を確認し、調達の前倒しを助言した。</textarea>" in future.text  # kept for correcting
    assert client.get(f"/api/v1{url}", headers=helpdesk).json()["visits"] == []  # nothing stored
    assert post_form(client, url, f"{url}/visit", {**visit, "visited_on": YESTERDAY}).status_code == 303
    assert post_form(client, url, f"{url}/complete", {"outcome": "計画を見直した。"}).status_code == 303
    completed = client.get(f"{url}?flash=complete").text
    assert "支援を完了にしました。" in completed and "計画を見直した。" in completed and "調達の前倒し" in completed
    assert 'id="actions"' not in completed  # nothing more to do
    final = client.get(f"/api/v1{url}", headers=helpdesk).json()
    assert final["state"] == "completed" and [v["mode"] for v in final["visits"]] == ["onsite"]
    assert post_form(client, url, f"{url}/cancel", {}).status_code == 409
    assert post_form(client, url, f"{url}/nonsense", {}).status_code == 404


def test_a_prefecture_asks_for_an_adviser_from_its_follow_up(client, token_for):
    tokyo = token_for("prefecture", TOKYO)
    sign_in(client, tokyo)
    post_form(client, "/follow-ups", "/follow-ups", FOLLOW_UP)
    (follow_up,) = api_follow_ups(client, tokyo)
    page = client.get(f"/adviser-requests?body={CHIYODA}&follow_up={follow_up['id']}")
    assert (
        f'<option value="{follow_up["id"]}" selected>' in page.text
        and f'<option value="{CHIYODA}" selected>' in page.text
    )
    data = {"body": CHIYODA, "topic": "ベンダー調整", "follow_up_id": str(follow_up["id"])}
    r = post_form(client, "/adviser-requests", "/adviser-requests", data)
    assert r.status_code == 303
    detail = client.get(r.headers["location"]).text
    assert f'href="/follow-ups?body={CHIYODA}#follow-up-{follow_up["id"]}"' in detail
    wrong = post_form(client, "/adviser-requests", "/adviser-requests", {**data, "body": MINATO})
    assert wrong.status_code == 422 and "自分の都道府県が記録したフォローアップ" in field_error(
        wrong.text, "follow_up_id"
    )
    bad_op = post_form(client, "/adviser-requests", "/adviser-requests", {**data, "operations": ["nonsense"]})
    assert bad_op.status_code == 422 and "業務コード" in field_error(bad_op.text, "operations")
    assert len(client.get("/api/v1/adviser-requests", headers=tokyo).json()["items"]) == 1


def test_the_prefecture_page_links_each_laggard_to_the_follow_up_form(client, token_for):
    from tests.test_dashboard import reports_for

    reports_for([CHIYODA, MINATO])
    sign_in(client, token_for("prefecture", TOKYO))
    page = client.get(f"/prefectures/{TOKYO}?lagging=all")
    assert page.status_code == 200 and f'href="/follow-ups?body={CHIYODA}#new"' in page.text
    nav = page.text.split("</nav>")[0]
    assert 'href="/follow-ups"' in nav and 'href="/adviser-requests"' in nav
    sign_in(client, token_for("viewer"))
    assert 'href="/follow-ups"' not in client.get("/follow-ups").text.split("</nav>")[0]


def test_pages_ask_anonymous_callers_to_sign_in(client):
    for path in ("/follow-ups", "/adviser-requests", "/adviser-requests/1"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path
