"""The committed OpenAPI document is the one the app generates."""

import json
import re

import pytest

from pmo.app import openapi_text
from pmo.config import PROJECT_ROOT

COMMITTED = PROJECT_ROOT / "openapi" / "openapi.json"


def test_committed_openapi_matches_the_app():
    assert COMMITTED.exists(), "openapi/openapi.json is missing: run `make openapi` and commit it"
    assert COMMITTED.read_text(encoding="utf-8") == openapi_text(), (
        "openapi/openapi.json is out of date: run `make openapi` and commit the result"
    )


def test_openapi_documents_the_contract_paths():
    doc = json.loads(openapi_text())
    for path in (
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/v1/operations",
        "/api/v1/steps",
        "/api/v1/bodies",
        "/api/v1/bodies/{code}",
        "/api/v1/me",
    ):
        assert path in doc["paths"], path
    assert doc["paths"]["/api/v1/bodies"]["get"]["description"]  # route docstrings become the text


OPERATION_ID = re.compile(r"^[a-z]+(-[a-z0-9]+)+$")
METHODS = ("get", "put", "post", "delete", "patch")


def _operations(doc: dict) -> list[tuple[str, str, dict]]:
    return [(m, p, op) for p, item in doc["paths"].items() for m, op in item.items() if m in METHODS]


@pytest.fixture(scope="module")
def doc() -> dict:
    return json.loads(openapi_text())


def test_operation_ids_are_unique_kebab_case_and_start_with_the_tag(doc):
    ids = [op["operationId"] for _, _, op in _operations(doc)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    for method, path, op in _operations(doc):
        assert OPERATION_ID.match(op["operationId"]), (method, path, op["operationId"])
        tag = op["tags"][0].replace(" ", "-")
        assert op["operationId"].startswith(f"{tag}-"), (method, path, op["operationId"])
    assert doc["paths"]["/api/v1/bodies/{code}/reports/{period}"]["put"]["operationId"] == "reports-submit-report"
    assert doc["paths"]["/api/v1/stats/progress"]["get"]["operationId"] == "statistics-progress"


def test_every_tag_used_has_a_one_line_description(doc):
    described = {t["name"]: t.get("description", "") for t in doc["tags"]}
    used = {op["tags"][0] for _, _, op in _operations(doc)}
    assert used == set(described), used ^ set(described)
    for name, text in described.items():
        assert text and "\n" not in text, name


def test_operations_that_need_a_token_declare_the_bearer_scheme_and_401(doc):
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": doc["components"]["securitySchemes"]["bearer"]["description"],
    }
    assert "security" not in doc  # each operation says what it needs
    for method, path, op in _operations(doc):
        if path.startswith("/api/v1/stats/"):
            assert op["security"] == [{"bearer": []}, {}], path  # anonymous too when PMO_PUBLIC_STATS is on
        elif path.startswith("/api/v1/"):
            assert op["security"] == [{"bearer": []}], (method, path)
        if {"bearer": []} in op["security"]:
            assert {"401", "429"} <= set(op["responses"]), (method, path)
    for path in ("/healthz", "/readyz"):
        assert doc["paths"][path]["get"]["security"] == []
    assert doc["paths"]["/metrics"]["get"]["security"] == [{"metrics": []}]


def test_anonymous_requests_to_token_operations_are_401_with_the_error_shape(client):
    for url in ("/api/v1/me", "/api/v1/bodies", "/api/v1/inquiries"):
        r = client.get(url)
        assert r.status_code == 401 and set(r.json()) == {"error", "message", "detail"}, url
    r = client.get("/api/v1/me", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401
    assert r.json()["message"] == "Authorization ヘッダーは「Bearer トークン」の形式で指定してください。"


def test_no_operation_declares_a_status_it_cannot_produce_in_the_obvious_cases(doc):
    paths = doc["paths"]
    assert set(paths["/healthz"]["get"]["responses"]) == {"200"}
    assert set(paths["/readyz"]["get"]["responses"]) == {"200", "503"}
    assert set(paths["/metrics"]["get"]["responses"]) == {"200", "403"}
    assert not {"404", "422", "403"} & set(paths["/api/v1/me"]["get"]["responses"])
    assert "HTTPValidationError" not in doc["components"]["schemas"]  # every 422 is ErrorOut
    for method, path, op in _operations(doc):
        statuses = set(op["responses"])
        headers = {p["name"].lower() for p in op.get("parameters", []) if p["in"] == "header"}
        has_body = "requestBody" in op
        where = (method, path)
        assert ("404" in statuses) == ("{" in path) or method == "post", where  # POST /faqs: from_inquiry may 404
        assert ("422" in statuses) == bool(op.get("parameters") or has_body), where
        assert ("400" in statuses) == ("413" in statuses) == has_body, where
        assert ("412" in statuses) == ("if-match" in headers), where
        assert "304" not in statuses or method == "get", where
        assert "401" in statuses or not op["security"] or op["security"] == [{"metrics": []}], where
        for status, response in op["responses"].items():
            if status >= "400":
                assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorOut"}
