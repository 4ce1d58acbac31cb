"""Helpdesk work on pages: routing, bulk actions (all or none), saved filters, FAQ drafting and publishing."""

import html
import re

import pytest

from tests.test_dashboard import csrf_of, sign_in

CHIYODA, TOKYO = "131016", "130001"
API = "/api/v1"
QUESTION = {"title": "Fit&Gap分析の進め方", "question": "独自施策の扱いを教えてください。", "category": "fit_gap"}


def file(client, headers, **changes) -> int:
    r = client.post(f"{API}/inquiries", headers=headers, json={**QUESTION, **changes})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def read(client, headers, inquiry_id) -> dict:
    return client.get(f"{API}/inquiries/{inquiry_id}", headers=headers).json()


def post(client, path: str, data: dict, page: str = "/inquiries"):
    """Post a page's form with the CSRF token of the page it is on."""
    return client.post(path, data={"csrf": csrf_of(client.get(page).text), **data}, follow_redirects=False)


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page))


@pytest.fixture
def who(token_for):
    return {
        "chiyoda": token_for("municipality", CHIYODA),
        "tokyo": token_for("prefecture", TOKYO),
        "helpdesk": token_for("helpdesk"),
    }


def test_the_helpdesk_routes_an_inquiry_from_its_page(client, who):
    inquiry = file(client, who["tokyo"])
    sign_in(client, who["helpdesk"])
    page = client.get(f"/inquiries/{inquiry}").text
    assert f'action="/inquiries/{inquiry}/route"' in page and '<option value="総務省">' in page
    r = post(client, f"/inquiries/{inquiry}/route", {"ministry": "文部科学省ではない省", "text": "所管のため"})
    assert r.status_code == 422 and 'aria-describedby="error-ministry"' in r.text and "回付先は" in r.text
    assert "所管のため" in r.text  # what was typed is kept
    assert read(client, who["helpdesk"], inquiry)["tier"] == "helpdesk"
    r = post(client, f"/inquiries/{inquiry}/route", {"ministry": "総務省", "text": ""})
    assert r.status_code == 422 and 'id="error-text"' in r.text
    r = post(client, f"/inquiries/{inquiry}/route", {"ministry": "総務省", "text": "住民記録の所管のため"})
    assert r.status_code == 303
    routed = read(client, who["helpdesk"], inquiry)
    assert routed["tier"] == "ministry" and routed["history"][-1]["note"] == "総務省: 住民記録の所管のため"


def test_bulk_close_closes_every_selected_inquiry(client, who):
    ids = [file(client, who["chiyoda"], title=f"問合せ{n}") for n in range(3)]
    sign_in(client, who["chiyoda"])
    queue = client.get("/inquiries").text
    for i in ids:
        assert f'id="pick-{i}"' in queue and f'<label for="pick-{i}" class="visually-hidden">問合せ' in queue
    r = post(client, "/inquiries/bulk", {"ids": [str(i) for i in ids], "action": "close", "text": "解決しました"})
    assert r.status_code == 303 and "done=close" in r.headers["location"] and "n=3" in r.headers["location"]
    assert "3 件を完了にしました。" in client.get(r.headers["location"]).text
    assert [read(client, who["chiyoda"], i)["state"] for i in ids] == ["closed"] * 3


def test_a_bulk_action_one_inquiry_refuses_changes_nothing_and_names_it(client, who):
    ids = [file(client, who["tokyo"], title=f"府省への確認{n}") for n in range(3)]
    r = client.post(
        f"{API}/inquiries/{ids[1]}/route", headers=who["helpdesk"], json={"ministry": "総務省", "reason": "先に回付"}
    )
    assert r.status_code == 200
    sign_in(client, who["helpdesk"])
    data = {"ids": [str(i) for i in ids], "action": "route", "ministry": "厚生労働省", "text": "所管のため"}
    r = post(client, "/inquiries/bulk", data)
    assert r.status_code == 409, r.text
    said = text_of(r.text)
    assert (
        f"問合せ {ids[1]}「府省への確認1」はこの操作を受け付けませんでした" in said and "どれも変更していません" in said
    )
    assert r.text.count(" checked>") == 3 + 1  # the selection (and the chosen action) are kept
    assert [read(client, who["helpdesk"], i)["tier"] for i in ids] == ["helpdesk", "ministry", "helpdesk"]
    assert read(client, who["helpdesk"], ids[0])["history"][-1]["action"] == "file"
    # the asker's action is not the helpdesk's: a 403 for the first row, again nothing changed
    r = post(client, "/inquiries/bulk", {"ids": [str(ids[0]), str(ids[2])], "action": "close"})
    assert r.status_code == 403 and f"問合せ {ids[0]}" in text_of(r.text)
    assert read(client, who["tokyo"], ids[0])["state"] == "open"


def test_bulk_input_is_checked_beside_its_field(client, who):
    file(client, who["tokyo"])
    sign_in(client, who["helpdesk"])
    r = post(client, "/inquiries/bulk", {"action": "route", "ministry": "総務省", "text": "所管"})
    assert r.status_code == 422 and "対象の問合せを 1 件以上選んでください。" in r.text
    r = post(
        client,
        "/inquiries/bulk",
        {"ids": [str(n) for n in range(1, 102)], "action": "route", "ministry": "総務省", "text": "x"},
    )
    assert r.status_code == 422 and "一度に操作できるのは 100 件までです（101 件）。" in r.text
    r = post(client, "/inquiries/bulk", {"ids": ["1"], "action": "route", "ministry": "総務省", "text": ""})
    assert r.status_code == 422 and 'id="error-text"' in r.text
    r = post(client, "/inquiries/bulk", {"ids": ["1"], "action": "route", "ministry": "", "text": "x"})
    assert r.status_code == 422 and "回付先の府省を選んでください。" in r.text
    r = post(client, "/inquiries/bulk", {"ids": ["0"], "action": "route", "ministry": "総務省", "text": "x"})
    assert r.status_code == 422


def test_saved_filters_are_kept_reapplied_replaced_and_deleted_by_their_owner_only(client, who, token_for):
    late = file(client, who["tokyo"], title="データ移行の外字", category="data_migration")
    file(client, who["tokyo"], title="補助金の申請", category="funding")
    sign_in(client, who["helpdesk"])
    narrowed = client.get("/inquiries", params={"category": "data_migration", "q": "外字", "tier": "helpdesk"}).text
    assert "データ移行の外字" in narrowed and "補助金の申請" not in narrowed
    query = "status=active&tier=helpdesk&category=data_migration&q=%E5%A4%96%E5%AD%97"
    assert f'name="query" value="{query}"' in narrowed.replace("&amp;", "&")
    r = post(client, "/inquiries/filters", {"name": "外字", "query": query, "back": query})
    assert r.status_code == 303 and r.headers["location"] == f"/inquiries?{query}&done=saved"
    page = client.get("/inquiries").text
    assert f'<a href="/inquiries?{query.replace("&", "&amp;")}">外字</a>' in page
    applied = client.get(f"/inquiries?{query}").text
    assert f"/inquiries/{late}" in applied and "補助金の申請" not in applied
    r = post(client, "/inquiries/filters", {"name": "外字", "query": "status=closed"})  # the same name: replaced
    assert r.status_code == 303
    page = client.get("/inquiries").text
    assert page.count(">外字</a>") == 1 and 'href="/inquiries?status=closed">外字' in page
    r = post(client, "/inquiries/filters", {"name": "x" * 61, "query": "status=closed"})
    assert r.status_code == 422 and 'aria-describedby="error-name"' in r.text and "60文字以内" in r.text
    r = post(client, "/inquiries/filters", {"name": "だめ", "query": "status=closed&drop=table"})
    assert r.status_code == 422 and "条件に使えない項目 'drop'" in text_of(r.text)
    filter_id = int(re.search(r'action="/inquiries/filters/(\d+)/delete"', page).group(1))

    sign_in(client, token_for("helpdesk"))  # a colleague: neither sees it nor deletes it
    assert ">外字</a>" not in client.get("/inquiries").text
    assert post(client, f"/inquiries/filters/{filter_id}/delete", {}).status_code == 404
    sign_in(client, who["helpdesk"])
    r = post(client, f"/inquiries/filters/{filter_id}/delete", {})
    assert r.status_code == 303 and ">外字</a>" not in client.get("/inquiries").text


def test_a_queue_filter_the_queue_cannot_use_is_a_422_page(client, who):
    sign_in(client, who["helpdesk"])
    r = client.get("/inquiries", params={"tier": "mayor"})
    assert r.status_code == 422 and "tier" in r.text
    assert client.get("/inquiries", params={"operation": "no_such_op"}).status_code == 422


@pytest.fixture
def answered(client, who) -> int:
    """An inquiry of 千代田区, escalated by 東京都, answered by the helpdesk, full of identities."""
    inquiry = file(
        client,
        who["chiyoda"],
        title="千代田区の住民記録のデータ移行",
        question="千代田区（131016）の担当：山田 太郎です。外字の扱いを教えてください。連絡先 03-3264-2111",
        category="data_migration",
        operation="jumin_kiroku",
    )
    client.post(f"{API}/inquiries/{inquiry}/escalate", headers=who["tokyo"], json={"reason": "国の見解が必要"})
    r = client.post(
        f"{API}/inquiries/{inquiry}/answer",
        headers=who["helpdesk"],
        json={"text": "文字情報基盤の文字に同定してください。"},
    )
    assert r.status_code == 200, r.text
    return inquiry


def test_an_faq_drafted_from_an_inquiry_shows_what_was_removed_and_publishing_makes_it_searchable(
    client, who, answered
):
    sign_in(client, who["helpdesk"])
    thread = client.get(f"/inquiries/{answered}").text
    assert 'action="/faqs/new"' in thread and f'name="from_inquiry" value="{answered}"' in thread
    r = post(client, "/faqs/new", {"from_inquiry": str(answered)}, page=f"/inquiries/{answered}")
    assert r.status_code == 303 and r.headers["location"].endswith("/edit?done=drafted")
    edit = client.get(r.headers["location"]).text
    removed = re.search(r'<section class="card" id="removed".*?</section>', edit, re.S).group(0)
    for kind, secret in (("団体名", "千代田区"), ("団体コード", "131016"), ("電話番号", "03-3264-2111")):
        assert f"<td>{kind}</td><td>{secret}</td>" in removed
    assert "<mark>〇〇区</mark>の住民記録のデータ移行" in edit and "<mark>〇〇〇〇〇〇</mark>" in edit
    form = re.search(r'<form method="post" action="(/faqs/\d+/edit)"', edit).group(1)
    assert "千代田" not in re.search(r'id="faq-form".*?</form>', edit, re.S).group(0)
    r = post(client, form, {"title": "", "question": "q", "answer": "a", "status": "published"}, page=form)
    assert r.status_code == 422 and 'aria-describedby="error-title"' in r.text
    values = {"question": "外字はどう移行しますか。", "answer": "文字情報基盤の文字に同定してください。"}
    values |= {"title": "データ移行での外字の扱い", "category": "data_migration", "operation": "jumin_kiroku"}
    r = post(client, form, {**values, "status": "published"}, page=form)
    assert r.status_code == 303 and r.headers["location"].endswith("?done=published")
    assert "公開しました" in client.get(r.headers["location"]).text

    sign_in(client, who["chiyoda"])
    found = client.get("/faqs", params={"q": "外字 移行"}).text
    assert "データ移行での外字の扱い" in found and "確認・編集" not in found


def test_drafting_refusals_are_shown_beside_the_number(client, who):
    open_one = file(client, who["tokyo"])
    sign_in(client, who["helpdesk"])
    r = post(client, "/faqs/new", {"from_inquiry": str(open_one)}, page="/faqs/new")
    assert (
        r.status_code == 409 and 'aria-describedby="error-from_inquiry"' in r.text and "回答がまだありません" in r.text
    )
    r = post(client, "/faqs/new", {"from_inquiry": "2000000000"}, page="/faqs/new")
    assert r.status_code == 404 and "問合せ 2000000000 はありません。" in r.text
    r = post(client, "/faqs/new", {"from_inquiry": "abc"}, page="/faqs/new")
    assert r.status_code == 422 and 'id="error-from_inquiry"' in r.text


def test_a_municipality_cannot_reach_the_helpdesk_pages(client, who, answered):
    faq = client.post(f"{API}/faqs", headers=who["helpdesk"], json={"from_inquiry": answered}).json()["id"]
    sign_in(client, who["chiyoda"])
    for path in ("/faqs/new", f"/faqs/{faq}/edit"):
        assert client.get(path).status_code == 403, path
    assert post(client, "/faqs/new", {"from_inquiry": str(answered)}).status_code == 403
    assert (
        post(
            client, f"/faqs/{faq}/edit", {"title": "t", "question": "q", "answer": "a", "status": "published"}
        ).status_code
        == 403
    )
    assert "この問合せから FAQ を下書き" not in client.get(f"/inquiries/{answered}").text


@pytest.mark.parametrize("ids", [["²"], ["9" * 5000], ["-1"], ["1", "x"]])
def test_unreadable_selections_are_a_422(client, who, ids):
    sign_in(client, who["helpdesk"])
    r = post(client, "/inquiries/bulk", {"ids": ids, "action": "route", "ministry": "総務省", "text": "x"})
    assert r.status_code == 422 and "選んだ問合せの番号が読めません" in r.text
    r = post(client, "/faqs/new", {"from_inquiry": ids[-1]}, page="/faqs/new")
    assert r.status_code == 422
