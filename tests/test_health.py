"""Health, readiness, metrics, and what every response carries (request id, security headers, limits)."""

import os

import pytest
from fastapi import Request
from fastapi.testclient import TestClient
from pydantic import BaseModel

from pmo.config import get_settings
from pmo.db import reset_engines


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_readyz_names_the_database(client, database_url):
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {
        "status": "ready",
        "database": "postgresql" if database_url.startswith("postgresql") else "sqlite",
    }


def test_readyz_is_503_when_the_database_is_unreachable(database_url):
    from pmo.app import create_app

    os.environ["PMO_DATABASE_URL"] = "postgresql+psycopg://nobody@127.0.0.1:1/nothing"
    reset_engines()
    try:
        with TestClient(create_app()) as client:
            r = client.get("/readyz")
            assert client.get("/healthz").status_code == 200
    finally:
        os.environ["PMO_DATABASE_URL"] = database_url
        reset_engines()
    assert r.status_code == 503
    assert r.json()["error"] == "service_unavailable"


@pytest.fixture
def scrape(client, monkeypatch):
    """GET /metrics as a Prometheus configured with the scrape token."""
    monkeypatch.setattr(get_settings(), "metrics_token", "scrape-secret")
    return lambda: client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})


def test_metrics_are_for_the_scrape_token_or_this_host_only(client, token_for, monkeypatch):
    admin = token_for("admin")
    assert client.get("/metrics").status_code == 403  # the test client is not on the loopback address
    assert client.get("/metrics", headers=admin).status_code == 403  # an account's token is not the scrape token
    monkeypatch.setattr(get_settings(), "metrics_token", "scrape-secret")
    for headers in ({}, admin, {"Authorization": "Bearer scrape-secreT"}, {"Authorization": "Basic scrape-secret"}):
        r = client.get("/metrics", headers=headers)
        assert r.status_code == 403 and r.json()["error"] == "forbidden", headers
        assert "pmo_reports_submitted" not in r.text
    assert client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"}).status_code == 200


def test_metrics_count_requests_by_route_template(client, token_for, scrape):
    headers = token_for("viewer")
    client.get("/api/v1/bodies/131016", headers=headers)
    client.get("/api/v1/bodies/011002", headers=headers)
    r = scrape()
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert "# TYPE pmo_http_requests_total counter" in text
    assert 'pmo_http_requests_total{method="GET",route="/api/v1/bodies/{code}",status="200"}' in text
    assert "pmo_http_request_duration_seconds_bucket" in text
    assert "131016" not in text  # templates, not raw paths: no unbounded label values


@pytest.mark.parametrize("path", ["/healthz", "/api/v1/me", "/no-such-route"])
def test_every_response_has_security_headers_and_a_request_id(client, path):
    r = client.get(path)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "same-origin"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert len(r.headers["x-request-id"]) == 32
    assert client.get(path).headers["x-request-id"] != r.headers["x-request-id"]


def test_a_given_request_id_is_echoed(client):
    assert client.get("/healthz", headers={"X-Request-Id": "trace-123"}).headers["x-request-id"] == "trace-123"


def _assert_413(r):
    assert r.status_code == 413, r.text
    body = r.json()
    assert body["error"] == "payload_too_large" and body["message"] and "detail" in body
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-request-id"]


def _chunks(total: int, size: int = 64 * 1024):
    sent = 0
    while sent < total:
        yield b"x" * min(size, total - sent)
        sent += size


def test_a_body_over_the_limit_is_413_with_content_length(client):
    big = b"x" * (get_settings().max_body_bytes + 1)
    _assert_413(client.post("/api/v1/me", content=big))
    _assert_413(client.put("/api/v1/bodies/131016", content=big))


class _Item(BaseModel):
    text: str


@pytest.fixture
def echo_client(database_url):
    """The real app plus two routes that read their body, to send bodies without Content-Length."""
    from pmo.app import create_app

    app = create_app()

    @app.post("/_test/raw")
    async def raw(request: Request):
        return {"bytes": len(await request.body())}

    @app.post("/_test/model")
    def model(item: _Item):
        return {"chars": len(item.text)}

    with TestClient(app) as test_client:
        yield test_client


def test_a_body_over_the_limit_is_413_without_content_length(echo_client):
    limit = get_settings().max_body_bytes
    r = echo_client.post("/_test/raw", content=_chunks(limit + 1))
    assert "content-length" not in r.request.headers
    _assert_413(r)
    # a route with a pydantic body: FastAPI would turn the failed read into a 400
    _assert_413(
        echo_client.post("/_test/model", content=_chunks(3_000_000), headers={"Content-Type": "application/json"})
    )


def test_a_body_under_the_limit_passes(echo_client):
    limit = get_settings().max_body_bytes
    assert echo_client.post("/_test/raw", content=_chunks(limit)).json() == {"bytes": limit}
    assert echo_client.post("/_test/raw", content=b"x" * limit).json() == {"bytes": limit}
    assert echo_client.post("/_test/model", json={"text": "あ" * 1000}).json() == {"chars": 1000}


def test_every_setting_is_documented_in_the_operations_guide():
    from pathlib import Path

    from pmo.config import PROJECT_ROOT, Settings

    guide = Path(PROJECT_ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    missing = [f"PMO_{name.upper()}" for name in Settings.model_fields if f"| `PMO_{name.upper()}` |" not in guide]
    assert not missing, f"add these settings to the table in docs/operations.md: {missing}"


def test_access_log_is_json_with_the_request_id(client, caplog):
    import json
    import logging

    from pmo.logs import JsonFormatter, request_id

    with caplog.at_level(logging.INFO, logger="pmo.access"):
        r = client.get("/healthz", headers={"X-Request-Id": "trace-123"})
    record = next(rec for rec in caplog.records if rec.name == "pmo.access")
    assert (record.route, record.status, record.method) == ("/healthz", 200, "GET")
    assert r.headers["x-request-id"] == "trace-123"
    token = request_id.set("trace-123")
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id.reset(token)
    assert line["request_id"] == "trace-123" and line["msg"] == "request" and line["duration_ms"] >= 0


def test_the_access_line_written_directly_is_the_line_logging_writes(monkeypatch):
    import io
    import json
    import logging

    from pmo import logs

    root, access = logging.getLogger(), logging.getLogger("pmo.access")
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(logs.JsonFormatter())
    monkeypatch.setattr(logs, "_handler", handler)
    monkeypatch.setattr(root, "handlers", [handler])  # as in a server: the JSON handler alone (no capture)
    level = root.level
    root.setLevel(logging.INFO)
    fields = {"method": "GET", "path": "/healthz", "route": "/healthz", "status": 200, "duration_ms": 0.4}
    token = logs.request_id.set("trace-9")
    try:
        logs.info_line(access, "request", fields)  # straight to the stream
        access.info("request", extra=fields)  # through a LogRecord and the formatter
        seen: list[logging.LogRecord] = []
        listener = logging.Handler()
        listener.emit = seen.append  # type: ignore[method-assign]
        root.addHandler(listener)  # someone else listening: the record goes through logging for them too
        logs.info_line(access, "request", fields)
    finally:
        logs.request_id.reset(token)
        root.setLevel(level)
    direct, through, third = (json.loads(line) for line in handler.stream.getvalue().splitlines())
    assert len(direct.pop("ts")) == len(through.pop("ts")) == len(third.pop("ts"))
    assert direct == through == third and direct["request_id"] == "trace-9" and direct["status"] == 200
    assert [r.getMessage() for r in seen] == ["request"]


def test_metrics_report_database_figures(client, token_for, scrape):
    from pmo import periods

    headers = token_for("municipality", "131016")
    client.put(f"/api/v1/bodies/131016/reports/{periods.fmt(periods.current())}", headers=headers, json={})
    text = scrape().text
    assert "pmo_reports_submitted 1.0" in text
    for tier in ("prefecture", "helpdesk", "ministry"):
        for gauge in ("pmo_inquiries_open", "pmo_inquiries_overdue"):
            assert f'{gauge}{{tier="{tier}"}} 0.0' in text


def test_metrics_merge_across_workers(database_url):
    import httpx

    from tests.serverproc import Server

    server = Server(database_url, workers=2)
    try:
        for _ in range(20):
            httpx.get(f"{server.url}/healthz")
        text = httpx.get(f"{server.url}/metrics").text  # from this host: no token needed
    finally:
        server.stop()
    line = next(
        row for row in text.splitlines() if row.startswith('pmo_http_requests_total{method="GET",route="/healthz"')
    )
    assert float(line.rsplit(" ", 1)[1]) >= 20  # both workers' counts, whichever answered the scrape
    assert "python_gc_objects_collected_total" not in text  # the merged multi-process registry, not one worker's
