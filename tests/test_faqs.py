"""FAQ through HTTP: Japanese search on either database, drafts, promotion from an inquiry with identities removed."""

import pytest

from pmo.faqs.text import normalise, query_terms

API = "/api/v1/faqs"
CHIYODA, TOKYO, SAPPORO = "131016", "130001", "011002"
ENTRIES = [
    {
        "title": "Fit&Gap分析の進め方",
        "question": "標準仕様書と現行業務の比較はどう進めればよいですか。",
        "answer": "機能要件ごとに現行の運用と比べ、差異と対応方針を一覧にまとめます。",
        "operation": "jumin_kiroku",
        "step": "S07",
    },
    {
        "title": "住民記録システムのデータ移行",
        "question": "移行用の中間ファイルの形式は決まっていますか。",
        "answer": "標準仕様書のデータ要件・連携要件に定める標準レイアウトを使用します。",
        "operation": "jumin_kiroku",
        "step": "S30",
    },
    {
        "title": "ガバメントクラウドの利用料の負担",
        "question": "共同利用の場合の費用按分の考え方を教えてください。",
        "answer": "利用量に応じて団体間で按分する方法が一般的です。",
        "operation": None,
        "step": None,
    },
    {
        "title": "標準仕様書の改定への対応",
        "question": "改定版が公表された場合、いつまでに対応が必要ですか。",
        "answer": "改定内容と経過措置を確認し、移行計画に反映してください。",
        "operation": "koseki",
        "step": "S10",
    },
]


@pytest.fixture
def helpdesk(token_for):
    return token_for("helpdesk")


@pytest.fixture
def entries(client, helpdesk) -> list[dict]:
    out = []
    for entry in ENTRIES:
        r = client.post(API, headers=helpdesk, json={**entry, "category": "other", "status": "published"})
        assert r.status_code == 201, r.text
        out.append(r.json())
    return out


def titles(client, headers, **params) -> list[str]:
    r = client.get(API, headers=headers, params=params)
    assert r.status_code == 200, r.text
    return [i["title"] for i in r.json()["items"]]


def test_normalisation_folds_width_script_case_and_synonyms():
    assert (
        normalise("ＦＩＴ＆ＧＡＰ")
        == normalise("Fit&Gap")
        == normalise("フィットギャップ")
        == normalise("ﾌｨｯﾄｷﾞｬｯﾌﾟ")
        == "fitgap"
    )
    assert normalise("データ") == normalise("でーた") == normalise("ﾃﾞｰﾀ")
    assert query_terms("データ移行") == ["でー", "ーた", "た移", "移行"]
    assert query_terms("ガバクラ") == query_terms("ガバメントクラウド")


@pytest.mark.parametrize(
    "query, first",
    [
        ("フィットギャップ", "Fit&Gap分析の進め方"),
        ("Fit&Gap", "Fit&Gap分析の進め方"),
        ("fit gap 分析", "Fit&Gap分析の進め方"),
        ("ﾌｨｯﾄｷﾞｬｯﾌﾟ", "Fit&Gap分析の進め方"),
        ("データ移行", "住民記録システムのデータ移行"),
        ("ガバクラ 利用料", "ガバメントクラウドの利用料の負担"),
        ("標準仕様書　改定", "標準仕様書の改定への対応"),
    ],
)
def test_japanese_search_finds_the_entry_first(client, token_for, entries, query, first):
    found = titles(client, token_for("municipality", CHIYODA), q=query)
    assert found and found[0] == first, found


def test_search_matches_only_what_contains_most_of_the_query(client, token_for, entries):
    chiyoda = token_for("municipality", CHIYODA)
    assert titles(client, chiyoda, q="データ移行") == ["住民記録システムのデータ移行"]
    assert titles(client, chiyoda, q="フィットギャップ") == ["Fit&Gap分析の進め方"]
    assert titles(client, chiyoda, q="児童手当の支給") == []
    scored = client.get(API, headers=chiyoda, params={"q": "標準仕様書"}).json()
    assert scored["total"] == 3 and scored["items"][0]["title"] == "標準仕様書の改定への対応"  # the title weighs most
    assert [i["score"] for i in scored["items"]] == sorted((i["score"] for i in scored["items"]), reverse=True)


def test_filters_by_operation_and_step_and_pages(client, token_for, entries):
    chiyoda = token_for("municipality", CHIYODA)
    assert titles(client, chiyoda, operation="jumin_kiroku") == ["住民記録システムのデータ移行", "Fit&Gap分析の進め方"]
    assert titles(client, chiyoda, operation="jumin_kiroku", step="S07") == ["Fit&Gap分析の進め方"]
    assert titles(client, chiyoda, q="標準仕様書", operation="koseki") == ["標準仕様書の改定への対応"]
    page = client.get(API, headers=chiyoda, params={"limit": 2, "offset": 1}).json()
    assert page["total"] == 4 and len(page["items"]) == 2
    for params, loc in (
        ({"operation": "nope"}, ["query", "operation"]),
        ({"step": "S99"}, ["query", "step"]),
        ({"q": "!!"}, ["query", "q"]),
        ({"limit": 100000}, ["query", "limit"]),
    ):
        r = client.get(API, headers=chiyoda, params=params)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == loc, (params, r.text)


def test_editing_reindexes_the_entry(client, token_for, helpdesk, entries):
    chiyoda = token_for("municipality", CHIYODA)
    entry = entries[2]
    r = client.put(
        f"{API}/{entry['id']}",
        headers=helpdesk,
        json={
            "title": "共同利用の費用負担",
            "question": "共同利用の場合の費用按分の考え方を教えてください。",
            "answer": "利用量に応じて按分します。",
            "status": "published",
            "category": "funding",
        },
    )
    assert r.status_code == 200, r.text
    assert titles(client, chiyoda, q="ガバメントクラウド") == []
    assert titles(client, chiyoda, q="費用負担") == ["共同利用の費用負担"]
    assert client.get(f"{API}/{entry['id']}", headers=chiyoda).json()["category_label"] == "補助金・経費"


def test_drafts_are_seen_by_the_helpdesk_only(client, token_for, helpdesk):
    r = client.post(
        API,
        headers=helpdesk,
        json={
            "title": "特定移行支援システムの申請",
            "question": "申請の時期は？",
            "answer": "所定の様式で申請してください。",
        },
    )
    draft = r.json()
    assert r.status_code == 201 and draft["status"] == "draft" and draft["published_at"] is None
    for role, body in (("municipality", CHIYODA), ("prefecture", TOKYO), ("viewer", None)):
        headers = token_for(role, body)
        assert client.get(f"{API}/{draft['id']}", headers=headers).status_code == 404
        assert titles(client, headers) == [] and titles(client, headers, q="特定移行支援") == []
    assert titles(client, helpdesk, q="特定移行支援") == ["特定移行支援システムの申請"]
    assert titles(client, helpdesk, status="draft") == ["特定移行支援システムの申請"]
    published = client.put(
        f"{API}/{draft['id']}",
        headers=helpdesk,
        json={"title": draft["title"], "question": draft["question"], "answer": draft["answer"], "status": "published"},
    ).json()
    assert published["published_at"] is not None
    assert titles(client, token_for("municipality", CHIYODA), q="特定移行支援") == ["特定移行支援システムの申請"]


def test_only_the_helpdesk_writes_and_every_field_is_checked(client, token_for, helpdesk, entries):
    entry = {"title": "t", "question": "q", "answer": "a"}
    for role, body in (("municipality", CHIYODA), ("prefecture", TOKYO), ("admin", None), ("viewer", None)):
        headers = token_for(role, body)
        assert client.post(API, headers=headers, json=entry).status_code == 403
        assert (
            client.put(f"{API}/{entries[0]['id']}", headers=headers, json={**entry, "status": "draft"}).status_code
            == 403
        )
    r = client.post(API, headers=helpdesk, json={"title": "見出しだけ"})
    assert r.status_code == 422 and {tuple(d["loc"]) for d in r.json()["detail"]} == {
        ("body", "question"),
        ("body", "answer"),
    }
    r = client.post(API, headers=helpdesk, json={**entry, "operation": "nope"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "operation"]
    assert client.put(f"{API}/999999", headers=helpdesk, json={**entry, "status": "draft"}).status_code == 404
    assert (
        client.put(f"{API}/{entries[0]['id']}", headers=helpdesk, json=entry).status_code == 422
    )  # status is required


# --- promotion from an inquiry ------------------------------------------------------------------


@pytest.fixture
def answered(client, token_for, helpdesk):
    """An inquiry from 千代田区, escalated by 東京都 and answered by the helpdesk, full of identities."""
    chiyoda, tokyo = token_for("municipality", CHIYODA), token_for("prefecture", TOKYO)
    inq = client.post(
        "/api/v1/inquiries",
        headers=chiyoda,
        json={
            "title": "千代田区の住民記録システムのデータ移行について",
            "question": "千代田区（131016）情報政策課の担当：山田 太郎です。"
            "標準仕様書に沿ったデータ移行の中間ファイルで外字を扱う方法を教えてください。"
            "連絡先は yamada@city.chiyoda.lg.jp、03-3264-2111 です。",
            "category": "data_migration",
            "operation": "jumin_kiroku",
            "step": "S30",
        },
    ).json()
    client.post(f"/api/v1/inquiries/{inq['id']}/escalate", headers=tokyo, json={"reason": "外字の扱いは国の見解が必要"})
    r = client.post(
        f"/api/v1/inquiries/{inq['id']}/answer",
        headers=helpdesk,
        json={
            "text": "山田様　お問合せありがとうございます。"
            "千代田区のように外字が多い団体は、文字情報基盤の文字に同定してから移行してください。"
        },
    )
    assert r.status_code == 200, r.text
    return inq


def test_promotion_drafts_the_entry_with_identities_removed(client, token_for, helpdesk, answered):
    r = client.post(API, headers=helpdesk, json={"from_inquiry": answered["id"]})
    assert r.status_code == 201, r.text
    draft = r.json()
    assert draft["status"] == "draft" and draft["source_inquiry"] == answered["id"]
    assert (draft["operation"], draft["step"], draft["category"]) == ("jumin_kiroku", "S30", "data_migration")
    text = draft["title"] + draft["question"] + draft["answer"]
    for secret in ("千代田", "131016", "山田", "太郎", "yamada@", "03-3264-2111"):
        assert secret not in text, (secret, text)
    assert draft["title"] == "〇〇区の住民記録システムのデータ移行について"
    assert "標準仕様書に沿ったデータ移行の中間ファイルで外字を扱う方法" in draft["question"]  # 仕様 is no 〇〇様
    assert "文字情報基盤の文字に同定" in draft["answer"]
    assert "〇〇様" in draft["answer"]
    removed = {(r["kind"], r["text"]) for r in draft["removed"]}
    assert {
        ("body_name", "千代田区"),
        ("body_code", "131016"),
        ("email", "yamada@city.chiyoda.lg.jp"),
        ("phone", "03-3264-2111"),
    } <= removed
    assert any(kind == "person" and "山田" in t for kind, t in removed)
    # the reviewer's edits and publication go through PUT; the draft stays hidden until then
    chiyoda = token_for("municipality", CHIYODA)
    assert client.get(f"{API}/{draft['id']}", headers=chiyoda).status_code == 404
    body = {k: draft[k] for k in ("title", "question", "answer", "category", "operation", "step")}
    published = client.put(f"{API}/{draft['id']}", headers=helpdesk, json={**body, "status": "published"}).json()
    assert published["status"] == "published"
    seen = client.get(f"{API}/{draft['id']}", headers=chiyoda).json()
    assert seen["source_inquiry"] is None  # bodies are not pointed to the asker's inquiry
    assert titles(client, chiyoda, q="データ移行 外字") == [draft["title"]]


def test_promotion_overrides_and_refusals(client, token_for, helpdesk, answered):
    r = client.post(API, headers=helpdesk, json={"from_inquiry": answered["id"], "title": "外字を含むデータ移行"})
    assert r.status_code == 201 and r.json()["title"] == "外字を含むデータ移行"
    r = client.post(API, headers=helpdesk, json={"from_inquiry": answered["id"], "status": "published"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "status"]
    chiyoda, tokyo = token_for("municipality", CHIYODA), token_for("prefecture", TOKYO)
    fresh = client.post(
        "/api/v1/inquiries",
        headers=chiyoda,
        json={"title": "未回答", "question": "まだ回答がありません", "category": "other"},
    ).json()
    assert client.post(API, headers=helpdesk, json={"from_inquiry": fresh["id"]}).status_code == 404  # never escalated
    client.post(f"/api/v1/inquiries/{fresh['id']}/escalate", headers=tokyo, json={"reason": "国へ"})
    r = client.post(API, headers=helpdesk, json={"from_inquiry": fresh["id"]})
    assert r.status_code == 409 and r.json()["detail"]["state"] == "open"
    assert client.post(API, headers=helpdesk, json={"from_inquiry": 10**12}).status_code == 422


def test_a_new_entry_is_found_by_a_query_that_found_nothing_before(client, token_for, helpdesk, entries):
    chiyoda = token_for("municipality", CHIYODA)
    assert titles(client, chiyoda, q="住基ネットの接続") == []  # term statistics are cached per data version
    r = client.post(
        API,
        headers=helpdesk,
        json={
            "title": "住基ネットの接続試験",
            "question": "接続試験の時期は？",
            "answer": "移行リハーサルの前に実施してください。",
            "status": "published",
        },
    )
    assert r.status_code == 201
    assert titles(client, chiyoda, q="住基ネットの接続") == ["住基ネットの接続試験"]
    client.put(
        f"{API}/{r.json()['id']}",
        headers=helpdesk,
        json={
            "title": "住民基本台帳ネットワークの接続試験",
            "question": "時期は？",
            "answer": "リハーサル前です。",
            "status": "draft",
        },
    )
    assert titles(client, chiyoda, q="住基ネットの接続") == []
    assert titles(client, helpdesk, q="住基ネットの接続") == ["住民基本台帳ネットワークの接続試験"]
