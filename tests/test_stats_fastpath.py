"""Cached statistics answered before the framework (pmo/stats/fastpath.py): the same bytes and headers as the
route, never to a caller the route would refuse, never a rendering the clock has made stale."""

import pytest

from pmo import caching, periods
from pmo.accounts import service as accounts
from pmo.config import get_settings
from pmo.db import session_scope
from pmo.stats import fastpath
from pmo.stats.matrix import cache

URL = "/api/v1/stats/progress?by=operation"


@pytest.fixture
def served_early(monkeypatch):
    """How many answers the fast path gave (the rest went to the route), from empty caches."""
    cache.clear()
    caching.clear_all()
    answered = []
    real = fastpath.CachedStatisticsMiddleware._cached

    def counted(scope):
        hit = real(scope)
        if hit is not None:
            answered.append(1)
        return hit

    monkeypatch.setattr(fastpath.CachedStatisticsMiddleware, "_cached", staticmethod(counted))
    return answered


def test_the_fast_path_answers_as_the_route_does(client, token_for, served_early):
    viewer = token_for("viewer")
    client.get(URL, headers=viewer)  # the statistics' first look at the data
    first = client.get(URL, headers=viewer)
    assert first.status_code == 200 and served_early == []
    again = client.get(URL, headers=viewer)
    assert served_early == [1]
    assert again.content == first.content
    same = ("etag", "cache-control", "content-type", "content-length", "x-content-type-options", "x-frame-options")
    assert {h: again.headers[h] for h in same} == {h: first.headers[h] for h in same}
    assert again.headers["x-request-id"] != first.headers["x-request-id"]
    unchanged = client.get(URL, headers={**viewer, "If-None-Match": first.headers["etag"]})
    assert unchanged.status_code == 304 and unchanged.content == b"" and served_early == [1, 1]
    assert client.head(URL, headers=viewer).content == b"" and served_early == [1, 1, 1]
    other = token_for("municipality", "131016")
    assert client.get(URL, headers=other).status_code == 200 and served_early == [1, 1, 1]  # a token not yet seen
    assert client.get(URL, headers=other).content == first.content and served_early == [1, 1, 1, 1]


def test_the_fast_path_never_answers_a_caller_the_route_refuses(client, token_for, served_early):
    viewer = token_for("viewer")
    assert client.get(URL, headers=viewer).status_code == 200
    assert client.get(URL, headers=viewer).status_code == 200
    assert client.get(URL, headers=viewer).status_code == 200 and served_early == [1]
    for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer x"}):
        r = client.get(URL, headers=headers)
        assert r.status_code == 401, (headers, r.status_code)
    with session_scope() as session:
        name = client.get("/api/v1/me", headers=viewer).json()["name"]
        assert accounts.revoke_tokens(session, actor="test", account_name=name) == 1
    assert client.get(URL, headers=viewer).status_code == 401  # at once: the revocation committed in this worker
    assert served_early == [1]


def test_a_new_month_is_not_answered_with_last_months_default(client, token_for, served_early, monkeypatch):
    viewer = token_for("viewer")
    client.get(URL, headers=viewer)
    assert client.get(URL, headers=viewer).json()["period"] == periods.fmt(periods.add_months(periods.current(), -1))
    assert served_early == []
    monkeypatch.setattr(get_settings(), "clock_offset_days", 32)
    later = client.get(URL, headers=viewer).json()["period"]
    assert later == periods.fmt(periods.add_months(periods.current(), -1)) and served_early == []


def test_a_report_is_seen_at_once_not_after_the_kept_answer(client, token_for, served_early):
    viewer = token_for("viewer")
    client.get(URL, headers=viewer)
    before = client.get(URL, headers=viewer).json()
    assert client.get(URL, headers=viewer).json() == before and served_early == [1]
    period = before["period"]
    cells = [{"operation": "koseki", "step": "S01", "status": "done"}]
    body = token_for("municipality", "131016")
    assert client.put(f"/api/v1/bodies/131016/reports/{period}", headers=body, json={"cells": cells}).status_code == 200
    after = client.get(URL, headers=viewer).json()
    koseki = [next(c for c in t["cells"] if c["operation"] == "koseki") for t in (before, after)]
    assert koseki[1]["done"] == koseki[0]["done"] + 1 and served_early == [1]
