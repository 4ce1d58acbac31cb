"""The demo generator: deterministic, realistic in shape, stored through the report writer."""

from datetime import UTC, datetime

from sqlalchemy import func, select

from pmo.db import session_scope
from pmo.demo.reports import generate
from pmo.models import BodyCells, BodyPeriod, ReportRevision, RevisionCells
from pmo.reports.cellgrid import unpack_changes

BODIES = ["011002", "131016", "013331", "130001", "463035"]  # 札幌市, 千代田区, a town, 東京都, a village
NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


def _snapshot():
    with session_scope(read_only=True) as s:
        revs = s.execute(
            select(
                ReportRevision.body_id, ReportRevision.period, ReportRevision.revision, ReportRevision.late
            ).order_by(ReportRevision.id)
        ).all()
        rows = s.execute(
            select(RevisionCells.body_id, RevisionCells.period, RevisionCells.revision_id, RevisionCells.cells)
        )
        versions = sorted(
            ((body_id, position, period, revision_id), value)
            for body_id, period, revision_id, blob in rows
            for position, value in unpack_changes(blob).items()
        )
    first_id = min((k[-1] for k, _ in versions), default=0)  # ids need not restart at 1 after the delete
    return revs, [(k[:-1], k[-1] - first_id, v) for k, v in versions]


def test_demo_is_deterministic_and_realistic(client, token_for, database_url):
    with session_scope() as s:
        result = generate(s, seed=7, now=NOW, only=BODIES)
    assert result.bodies == 5 and result.first_period == 202206 and result.last_period == 202610
    first = _snapshot()
    with session_scope() as s:
        for table in (RevisionCells, BodyCells, BodyPeriod, ReportRevision):
            s.execute(table.__table__.delete())
    with session_scope() as s:
        generate(s, seed=7, now=NOW, only=BODIES)
    assert _snapshot() == first
    revs, versions = first
    assert len(versions) == result.cell_versions
    periods_by_body = {}
    for body_id, period, _revision, _late in revs:
        periods_by_body.setdefault(body_id, set()).add(period)
    assert all(len(p) >= 45 for p in periods_by_body.values())  # monthly, a few missing at most
    sapporo = token_for("municipality", "011002")
    early = client.get("/api/v1/bodies/011002/progress?period=2022-09", headers=sapporo).json()
    late = client.get("/api/v1/bodies/011002/progress?period=2026-10", headers=sapporo).json()
    assert early["completion_rate"] < 0.2 < late["completion_rate"]
    tokyo = token_for("prefecture", "130001")
    grid = client.get("/api/v1/bodies/130001/reports/2026-10", headers=tokyo).json()
    assert len(grid["cells"]) == 80
    with session_scope(read_only=True) as s:
        assert s.scalar(select(func.count()).select_from(ReportRevision).where(ReportRevision.source != "demo")) == 0
