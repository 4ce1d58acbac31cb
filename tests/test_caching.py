"""pmo.caching: budgets, ages (on a fake clock), invalidation by tag and on commit, and what /metrics shows."""

import pytest

from pmo import caching, periods

STATS = "/api/v1/stats"


@pytest.fixture
def named():
    made: list[str] = []

    def make(**kw) -> caching.Cache:
        name = f"test_{len(made)}"
        made.append(name)
        return caching.Cache(name, **{"max_entries": 100, **kw})

    yield make
    for name in made:
        caching.REGISTRY.pop(name, None)


def test_an_entry_lives_for_its_ttl_on_the_cache_clock(named, fake_clock):
    cache = named(ttl=10.0)
    cache.put("k", "v")
    fake_clock.advance(9.9)
    assert cache.get("k") == "v"
    fake_clock.advance(0.1)
    assert cache.get("k") is None
    assert cache.stats().entries == 0


def test_a_ttl_read_from_a_setting_applies_when_it_changes(named, fake_clock):
    ttl = {"seconds": 60.0}
    cache = named(ttl=lambda: ttl["seconds"])
    cache.put("k", "v")
    fake_clock.advance(5)
    assert cache.get("k") == "v"
    ttl["seconds"] = 5.0
    assert cache.get("k") is None


def test_the_least_recently_used_go_first_past_the_entry_budget(named):
    cache = named(max_entries=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # now b is the least recently used
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)
    assert cache.stats().evictions == 1


def test_the_byte_budget_holds_and_a_value_larger_than_it_is_not_kept(named):
    cache = named(max_bytes=100, sizeof=len)
    for key in "abcd":
        cache.put(key, b"x" * 30)
    assert cache.stats().bytes == 90 and cache.get("a") is None and cache.get("d") == b"x" * 30
    assert cache.put("huge", b"y" * 101) == b"y" * 101  # returned to the caller, never stored
    assert cache.get("huge") is None and cache.stats().bytes == 90
    cache.put("d", b"z" * 10)  # replacing an entry counts its new size only
    assert cache.stats().bytes == 70


def test_discard_drops_exactly_the_entries_whose_tag_is_stale(named):
    cache = named()
    for period in (202601, 202602, 202603):
        cache.put(("trend", period), period, tag=period)
    cache.discard(lambda _key, depends_on: depends_on >= 202602)
    assert sorted(cache.keys()) == [("trend", 202601)]


def test_stats_count_hits_misses_and_the_oldest_age(named, fake_clock):
    cache = named()
    cache.put("a", 1)
    fake_clock.advance(30)
    cache.put("b", 2)
    cache.get("a"), cache.get("a"), cache.get("zz")
    fake_clock.advance(12)
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.entries, stats.oldest_age) == (2, 1, 2, 42)


def test_a_data_version_is_asked_again_after_its_interval_or_a_local_commit(fake_clock):
    from pmo.db import session_scope
    from pmo.models import FollowUp

    watch = caching.DataVersion({FollowUp.__tablename__}, 5.0)
    try:
        assert watch.recheck_due()
        fake_clock.advance(4.9)
        assert not watch.recheck_due()
        fake_clock.advance(0.1)
        assert watch.recheck_due() and not watch.recheck_due()
        with session_scope():  # a commit that wrote nothing expires nothing
            pass
        assert not watch.recheck_due()
        watch.expire()
        assert watch.recheck_due()
    finally:
        caching.WATCHES.remove(watch)


def _put_report(client, token_for, code: str, step: str) -> None:
    period = periods.fmt(periods.add_months(periods.current(), -1))
    r = client.put(
        f"/api/v1/bodies/{code}/reports/{period}",
        headers=token_for("municipality", code),
        json={"cells": [{"operation": "koseki", "step": step, "status": "done"}]},
    )
    assert r.status_code == 200, r.text


def _done(client, headers) -> int:
    r = client.get(f"{STATS}/progress", headers=headers)
    assert r.status_code == 200
    return sum(cell["done"] for cell in r.json()["cells"])


def test_a_worker_reads_its_own_report_at_once_and_another_workers_after_the_recheck(
    client, token_for, monkeypatch, fake_clock
):
    """With a recheck interval of an hour, a report this process stored shows in the next statistics answer;
    one stored by another process (its commit does not reach this process's watches) once the hour is over."""
    from pmo.config import get_settings

    monkeypatch.setattr(get_settings(), "stats_recheck_seconds", 3600.0)
    viewer = token_for("viewer")
    before = _done(client, viewer)
    _put_report(client, token_for, "131016", "S01")
    assert _done(client, viewer) == before + 1
    with monkeypatch.context() as elsewhere:
        elsewhere.setattr(caching, "WATCHES", [])
        _put_report(client, token_for, "131024", "S01")
    fake_clock.advance(3599)
    assert _done(client, viewer) == before + 1  # not asked yet: the cached answer
    fake_clock.advance(1)
    assert _done(client, viewer) == before + 2


def test_the_rendered_answers_stay_within_their_byte_budget(client, token_for, monkeypatch):
    from pmo.config import get_settings

    monkeypatch.setattr(get_settings(), "stats_response_cache_mb", 1)
    viewer = token_for("viewer")
    for prefecture in range(1, 48):
        r = client.get(
            f"{STATS}/progress", params={"by": "operation,step", "prefecture": f"{prefecture:02d}"}, headers=viewer
        )
        assert r.status_code == 200
    stats = caching.REGISTRY["stats_responses"].stats()
    assert 0 < stats.bytes <= 2**20 and stats.evictions > 0


def test_metrics_show_every_named_cache(client, token_for, monkeypatch):
    from pmo.config import get_settings

    monkeypatch.setattr(get_settings(), "metrics_token", "scrape-secret")
    viewer = token_for("viewer")
    client.get(f"{STATS}/progress", headers=viewer)
    client.get(f"{STATS}/progress", headers=viewer)
    text = client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"}).text
    for name in ("stats_responses", "stats_matrices", "principals", "catalog", "bodies", "faq_terms"):
        assert f'pmo_cache_entries{{cache="{name}"}}' in text, name
    hits = next(line for line in text.splitlines() if line.startswith('pmo_cache_hits_total{cache="stats_responses"}'))
    assert float(hits.rsplit(" ", 1)[1]) >= 1
    assert 'pmo_cache_oldest_age_seconds{cache="stats_responses"}' in text


def test_what_loads_while_reports_arrive_is_kept_for_the_periods_they_did_not_change(client, token_for, monkeypatch):
    """Under a steady stream of reports the data version moves while matrices load: a summary read for an
    older period must still be kept (else every whole-history trend recomputes every month, one after the
    other, and requests queue for tens of seconds), and one for the period a report changed must not."""
    from pmo import periods
    from pmo.db import session_scope
    from pmo.stats import matrix as stats_matrix
    from tests.test_stats import report, steps

    older, last = (periods.add_months(periods.current(), n) for n in (-2, -1))
    report(client, token_for, "163210", steps("koseki", "done", 1, 5), period=periods.fmt(older))
    report(client, token_for, "163228", steps("koseki", "done", 1, 5), period=periods.fmt(last))
    cache = stats_matrix.cache
    with session_scope(read_only=True) as session:
        cache.sync(session)
    cache.summaries.clear()
    cache.matrices.clear()
    summarize = stats_matrix.summarize_matrix
    arrived = []

    def a_report_arrives_meanwhile(directory, matrix):
        if not arrived:  # while the first of the two loads, a report for the newer period is stored and seen
            arrived.append(True)
            report(client, token_for, "162019", steps("koseki", "in_progress", 1, 3), period=periods.fmt(last))
            with session_scope(read_only=True) as inner:
                cache.sync(inner)
        return summarize(directory, matrix)

    monkeypatch.setattr(stats_matrix, "summarize_matrix", a_report_arrives_meanwhile)
    with session_scope(read_only=True) as session:
        cache.get_summaries(session, [older, last])
    assert arrived
    assert cache.summaries.get(older) is not None  # the report did not touch it: kept
    assert cache.summaries.get(last) is None  # read before the report changed it: not kept
