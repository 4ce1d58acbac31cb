"""One page type for every list that can grow: {items, total, limit, offset}, limits checked in one place."""

import json

import pytest

from pmo.config import PROJECT_ROOT

DOCUMENT = json.loads((PROJECT_ROOT / "openapi" / "openapi.json").read_text(encoding="utf-8"))
BOUNDED_LISTS = {  # bare arrays whose length the domain bounds: 20 operations, 40 steps, a body's months
    "/api/v1/operations",
    "/api/v1/steps",
    "/api/v1/bodies/{code}/systems",
    "/api/v1/bodies/{code}/reports",
    "/api/v1/bodies/{code}/reports/{period}/revisions",
}


def _ok_schema(operation: dict) -> dict:
    return operation["responses"]["200"]["content"]["application/json"]["schema"]


def _resolve(schema: dict) -> dict:
    ref = schema.get("$ref")
    return DOCUMENT["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else schema


def test_every_list_that_can_grow_is_a_page():
    pages, bare = [], []
    for path, item in DOCUMENT["paths"].items():
        get = item.get("get")
        if not get or "application/json" not in get["responses"].get("200", {}).get("content", {}):
            continue
        schema = _resolve(_ok_schema(get))
        if schema.get("type") == "array":
            bare.append(path)
        elif set(schema.get("properties", {})) == {"items", "total", "limit", "offset"}:
            pages.append(path)
    assert sorted(bare) == sorted(BOUNDED_LISTS)
    # bodies, audit, inquiries, FAQ, notices, follow-ups ×2, adviser requests ×2, accounts, notifications
    assert len(pages) == 11, pages
    for path in pages:
        names = {p["name"] for p in DOCUMENT["paths"][path]["get"].get("parameters", [])}
        assert {"limit", "offset"} <= names, path


@pytest.mark.parametrize("path", ["/api/v1/adviser-requests", "/api/v1/follow-ups", "/api/v1/audit"])
def test_a_page_says_the_total_and_refuses_a_limit_above_the_maximum(client, token_for, path):
    admin = token_for("admin")
    page = client.get(path, params={"limit": 1, "offset": 0}, headers=admin)
    assert page.status_code == 200 and set(page.json()) == {"items", "total", "limit", "offset"}
    assert page.json()["limit"] == 1 and len(page.json()["items"]) <= 1
    too_many = client.get(path, params={"limit": 10_000}, headers=admin)
    assert too_many.status_code == 422 and too_many.json()["detail"][0]["loc"] == ["query", "limit"]


def test_adviser_requests_are_paged_with_their_total(client, token_for):
    chiyoda = token_for("municipality", "131016")
    for topic in ("移行計画の見直し", "ベンダー調整", "データ移行"):
        assert (
            client.post("/api/v1/bodies/131016/adviser-requests", headers=chiyoda, json={"topic": topic}).status_code
            == 201
        )
    first = client.get("/api/v1/adviser-requests", params={"limit": 2}, headers=chiyoda).json()
    second = client.get("/api/v1/adviser-requests", params={"limit": 2, "offset": 2}, headers=chiyoda).json()
    assert first["total"] == second["total"] == 3
    assert [r["topic"] for r in first["items"] + second["items"]] == ["データ移行", "ベンダー調整", "移行計画の見直し"]
