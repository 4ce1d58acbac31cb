"""The committed OpenAPI document is the one the app generates."""

import json

from pmo.config import PROJECT_ROOT
from pmo.openapi import openapi_text

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
