"""Directory endpoints: bodies, operations, steps, and the error shape of every refusal."""

import pytest

from pmo.directory.codes import check_digit, code_problem

API = "/api/v1"


def _assert_error_shape(response, status: int, error: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"error", "message", "detail"}
    assert body["error"] == error
    assert isinstance(body["message"], str) and body["message"]
    return body


def _all_bodies(client, headers, **params) -> list[dict]:
    items, offset = [], 0
    while True:
        page = client.get(f"{API}/bodies", params={"limit": 2000, "offset": offset, **params}, headers=headers)
        assert page.status_code == 200, page.text
        data = page.json()
        items += data["items"]
        offset += data["limit"]
        if offset >= data["total"]:
            assert len(items) == data["total"]
            return items


def test_every_body_is_served_and_every_code_passes_its_check_digit(client, token_for):
    bodies = _all_bodies(client, token_for("viewer"))
    assert len(bodies) == 1788
    assert len({b["code"] for b in bodies}) == 1788
    assert sum(b["kind"] == "prefecture" for b in bodies) == 47
    assert sum(b["kind"] == "special_ward" for b in bodies) == 23
    assert sum(b["kind"] == "designated_city" for b in bodies) == 20
    for b in bodies:
        assert code_problem(b["code"]) is None, b
        assert int(b["code"][5]) == check_digit(b["code"][:5])
        assert b["code"][:2] == b["prefecture_code"]
    assert [b["code"] for b in bodies] == sorted(b["code"] for b in bodies)


def test_one_body(client, token_for):
    r = client.get(f"{API}/bodies/131016", headers=token_for("viewer"))
    assert r.status_code == 200
    assert r.json() == {
        "code": "131016",
        "name": "千代田区",
        "name_kana": r.json()["name_kana"],
        "kind": "special_ward",
        "prefecture_code": "13",
        "prefecture_name": "東京都",
        "prefecture_body_code": "130001",
    }
    pref = client.get(f"{API}/bodies/130001", headers=token_for("viewer")).json()
    assert pref["kind"] == "prefecture" and pref["name"] == "東京都"


def test_filters_by_prefecture_and_kind(client, token_for):
    headers = token_for("viewer")
    wards = client.get(
        f"{API}/bodies", params={"prefecture": "13", "kind": "special_ward", "limit": 100}, headers=headers
    ).json()
    assert wards["total"] == 23 and len(wards["items"]) == 23
    assert {b["kind"] for b in wards["items"]} == {"special_ward"}
    assert {b["prefecture_code"] for b in wards["items"]} == {"13"}

    prefectures = client.get(f"{API}/bodies", params={"kind": "prefecture", "limit": 100}, headers=headers).json()
    assert prefectures["total"] == 47
    assert {b["code"][2:5] for b in prefectures["items"]} == {"000"}

    tokyo = client.get(f"{API}/bodies", params={"prefecture": "13", "limit": 2000}, headers=headers).json()
    assert tokyo["total"] == len(tokyo["items"]) > 23
    assert {b["prefecture_name"] for b in tokyo["items"]} == {"東京都"}
    assert "130001" in {b["code"] for b in tokyo["items"]}

    # Osaka has no special wards: an empty page, not an error.
    none = client.get(f"{API}/bodies", params={"prefecture": "27", "kind": "special_ward"}, headers=headers).json()
    assert none == {"items": [], "total": 0, "limit": 100, "offset": 0}


@pytest.mark.parametrize(
    "params, field",
    [
        ({"prefecture": "48"}, "prefecture"),
        ({"prefecture": "1"}, "prefecture"),
        ({"kind": "ward"}, "kind"),
        ({"limit": 0}, "limit"),
        ({"limit": 2001}, "limit"),
        ({"offset": -1}, "offset"),
    ],
)
def test_bad_filters_are_422_naming_the_parameter(client, token_for, params, field):
    r = client.get(f"{API}/bodies", params=params, headers=token_for("viewer"))
    body = _assert_error_shape(r, 422, "validation_error")
    assert body["detail"][0]["loc"] == ["query", field]
    assert body["detail"][0]["msg"]


def test_paging(client, token_for):
    headers = token_for("viewer")
    default = client.get(f"{API}/bodies", headers=headers).json()
    assert (default["total"], default["limit"], default["offset"], len(default["items"])) == (1788, 100, 0, 100)

    first = client.get(f"{API}/bodies", params={"limit": 10, "offset": 0}, headers=headers).json()
    second = client.get(f"{API}/bodies", params={"limit": 10, "offset": 10}, headers=headers).json()
    both = client.get(f"{API}/bodies", params={"limit": 20, "offset": 0}, headers=headers).json()
    assert (second["total"], second["limit"], second["offset"]) == (1788, 10, 10)
    assert [b["code"] for b in first["items"] + second["items"]] == [b["code"] for b in both["items"]]
    assert first["items"][0]["code"] == "010006"

    tail = client.get(f"{API}/bodies", params={"limit": 10, "offset": 1785}, headers=headers).json()
    assert len(tail["items"]) == 3 and tail["total"] == 1788
    past = client.get(f"{API}/bodies", params={"limit": 10, "offset": 5000}, headers=headers).json()
    assert past["items"] == [] and past["total"] == 1788


def test_operations(client, token_for):
    r = client.get(f"{API}/operations", headers=token_for("municipality", "131016"))
    assert r.status_code == 200
    ops = r.json()
    assert len(ops) == 20
    assert len({o["code"] for o in ops}) == 20
    assert [o["order"] for o in ops] == sorted(o["order"] for o in ops)
    assert ops[0]["code"] == "jido_teate" and ops[0]["name"] == "児童手当"
    both = {o["code"]: o["name"] for o in ops if "prefecture" in o["applies_to"]}
    assert both == {"seikatsu_hogo": "生活保護", "jido_fuyo_teate": "児童扶養手当"}
    assert all("municipality" in o["applies_to"] for o in ops)
    assert all(o["applies_to"] == ["municipality"] for o in ops if o["code"] not in both)


def test_steps(client, token_for):
    r = client.get(f"{API}/steps", headers=token_for("prefecture", "130001"))
    assert r.status_code == 200
    steps = r.json()
    assert [s["code"] for s in steps] == [f"S{i:02d}" for i in range(1, 41)]
    assert [s["order"] for s in steps] == list(range(1, 41))
    assert all(s["name"] and s["phase"] and s["group"] for s in steps)
    assert next(s["phase"] for s in steps) == "計画立案"


@pytest.mark.parametrize(
    "code, reason",
    [
        ("13101", "6桁"),
        ("1310166", "6桁"),
        ("13101x", "半角数字"),
        ("１３１０１６", "半角数字"),
        ("131017", "検査数字"),
    ],
)
def test_malformed_code_is_422_saying_why(client, token_for, code, reason):
    r = client.get(f"{API}/bodies/{code}", headers=token_for("viewer"))
    body = _assert_error_shape(r, 422, "validation_error")
    assert reason in body["message"]
    [item] = body["detail"]
    assert item["loc"] == ["path", "code"]
    assert reason in item["msg"]


def test_check_digit_message_names_the_right_digit(client, token_for):
    r = client.get(f"{API}/bodies/131017", headers=token_for("viewer"))
    assert "検査数字は 6" in r.json()["detail"][0]["msg"]


def test_unknown_valid_code_is_404(client, token_for):
    code = "13999" + str(check_digit("13999"))
    assert code_problem(code) is None
    r = client.get(f"{API}/bodies/{code}", headers=token_for("viewer"))
    body = _assert_error_shape(r, 404, "not_found")
    assert code in body["message"]


def test_directory_needs_a_token(client):
    for path in ("/bodies", "/bodies/131016", "/operations", "/steps"):
        r = client.get(API + path)
        _assert_error_shape(r, 401, "unauthenticated")


def test_unknown_route_is_404_in_the_error_shape(client):
    r = client.get(f"{API}/no-such-thing")
    body = _assert_error_shape(r, 404, "not_found")
    assert body["detail"] is None


def test_wrong_method_is_405_in_the_error_shape(client, token_for):
    r = client.delete(f"{API}/bodies/131016", headers=token_for("admin"))
    _assert_error_shape(r, 405, "method_not_allowed")
    assert "GET" in r.headers["allow"]
    r = client.post(f"{API}/operations", json={}, headers=token_for("admin"))
    _assert_error_shape(r, 405, "method_not_allowed")
