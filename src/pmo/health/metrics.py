"""/metrics: request metrics (per process, merged across workers) and figures read from the database
at scrape time, so every worker reports the same business numbers."""

import os
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import func, select

from pmo import caching, periods
from pmo.db import session_scope, utcnow
from pmo.models import BodyPeriod, Inquiry, ReportRevision
from pmo.models.inquiries import TIERS


class DatabaseCollector:
    """Reports submitted, bodies reported this period, inquiries open and overdue by tier."""

    def collect(self) -> Iterator[Metric]:
        with session_scope(read_only=True) as s:
            revisions = s.scalar(select(func.count()).select_from(ReportRevision)) or 0
            period = periods.add_months(periods.current(), -1)
            reported = s.scalar(select(func.count()).select_from(BodyPeriod).where(BodyPeriod.period == period)) or 0
            open_rows = s.execute(
                select(Inquiry.current_tier, func.count())
                .where(Inquiry.state.in_(("open", "awaiting_asker")))
                .group_by(Inquiry.current_tier)
            ).all()
            overdue_rows = s.execute(
                select(Inquiry.current_tier, func.count())
                .where(Inquiry.state == "open", Inquiry.due_at.is_not(None), Inquiry.due_at < utcnow())
                .group_by(Inquiry.current_tier)
            ).all()
        yield GaugeMetricFamily("pmo_reports_submitted", "Report revisions stored in total", value=revisions)
        yield GaugeMetricFamily(
            "pmo_bodies_reported_last_period", "Bodies that reported for the previous month", value=reported
        )
        for name, doc, rows in (
            ("pmo_inquiries_open", "Inquiries open or waiting on the asker", open_rows),
            ("pmo_inquiries_overdue", "Open inquiries past their due time", overdue_rows),
        ):
            family = GaugeMetricFamily(name, doc, labels=["tier"])
            counts = dict(rows)
            for tier in TIERS:
                family.add_metric([tier], counts.get(tier, 0))
            yield family


class CacheCollector:
    """Each named cache of the worker that answers the scrape: hits, misses, evictions, entries, bytes, and
    the age of its oldest entry (pmo.caching)."""

    def collect(self) -> Iterator[Metric]:
        stats = [cache.stats() for cache in caching.REGISTRY.values()]
        for name, doc, kind, read in (
            ("pmo_cache_hits", "Lookups answered from the cache", CounterMetricFamily, lambda c: c.hits),
            ("pmo_cache_misses", "Lookups the cache could not answer", CounterMetricFamily, lambda c: c.misses),
            (
                "pmo_cache_evictions",
                "Entries dropped to stay within budget",
                CounterMetricFamily,
                lambda c: c.evictions,
            ),
            ("pmo_cache_entries", "Entries held", GaugeMetricFamily, lambda c: c.entries),
            ("pmo_cache_bytes", "Bytes held (as the cache measures its values)", GaugeMetricFamily, lambda c: c.bytes),
            ("pmo_cache_oldest_age_seconds", "Age of the oldest entry", GaugeMetricFamily, lambda c: c.oldest_age),
        ):
            family = kind(name, doc, labels=["cache"])
            for cache_stats in stats:
                family.add_metric([cache_stats.name], read(cache_stats))
            yield family


_scrape_time_registry = CollectorRegistry(auto_describe=False)
_scrape_time_registry.register(DatabaseCollector())
_scrape_time_registry.register(CacheCollector())


def render() -> bytes:
    """The exposition text: process metrics (merged over workers when several run) plus database figures."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        process_text = generate_latest(registry)
    else:
        from prometheus_client import REGISTRY

        process_text = generate_latest(REGISTRY)
    return process_text + generate_latest(_scrape_time_registry)
