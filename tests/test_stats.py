"""Statistics: exact, over groups that cannot single a body out (tests/test_disclosure.py attacks them), read-only."""

import pytest

from pmo import periods

LAST = periods.fmt(periods.add_months(periods.current(), -1))
FUNAHASHI, KAMIICHI, TOYAMA_CITY, TOYAMA_PREF = "163210", "163228", "162019", "160008"
STATS = "/api/v1/stats"


def report(client, token_for, code, cells, period=LAST):
    role = "prefecture" if code[2:5] == "000" else "municipality"
    r = client.put(f"/api/v1/bodies/{code}/reports/{period}", headers=token_for(role, code), json={"cells": cells})
    assert r.status_code == 200, r.text


def steps(operation, status, first, last):
    return [{"operation": operation, "step": f"S{i:02d}", "status": status} for i in range(first, last + 1)]


@pytest.fixture
def viewer(token_for):
    return token_for("viewer")


@pytest.fixture
def toyama(client, token_for):
    """A few reports in 富山県: its only village, a town, a city and the prefecture itself."""
    report(client, token_for, FUNAHASHI, steps("koseki", "done", 1, 30) + steps("seikatsu_hogo", "done", 1, 40))
    report(client, token_for, KAMIICHI, steps("koseki", "done", 1, 10) + steps("koseki", "in_progress", 11, 12))
    report(client, token_for, TOYAMA_CITY, steps("koseki", "not_applicable", 1, 4))
    report(client, token_for, TOYAMA_PREF, steps("seikatsu_hogo", "in_progress", 1, 2))


def get(client, headers, path, **params):
    r = client.get(f"{STATS}/{path}", headers=headers, params={k: v for k, v in params.items() if v is not None})
    assert r.status_code == 200, r.text
    return r.json()


def test_published_figures_are_exact(client, viewer, toyama):
    table = get(client, viewer, "progress", period=LAST, by="operation")
    koseki = next(c for c in table["cells"] if c["operation"] == "koseki")
    assert koseki["n_bodies"] == 1741 and koseki["n_reported"] == 3 and koseki["suppressed"] is None
    assert (koseki["done"], koseki["in_progress"], koseki["not_applicable"]) == (40, 2, 4)
    assert koseki["completion_rate"] == round(44 / (1741 * 40), 6)
    assert koseki["done"] + koseki["in_progress"] + koseki["not_started"] + koseki["not_applicable"] == 1741 * 40
    hogo = next(c for c in table["cells"] if c["operation"] == "seikatsu_hogo")
    assert hogo["n_bodies"] == 1788 and hogo["n_reported"] == 4 and (hogo["done"], hogo["in_progress"]) == (40, 2)
    toyama_row = get(client, viewer, "progress", period=LAST, by="operation", prefecture="16", operation="koseki")
    [cell] = toyama_row["cells"]
    assert (cell["n_bodies"], cell["done"], cell["in_progress"], cell["not_applicable"]) == (15, 40, 2, 4)
    towns = get(client, viewer, "progress", period=LAST, by="kind", operation="koseki")
    town = next(c for c in towns["cells"] if c["kind"] == "towns_villages")  # 743 towns and 183 villages
    assert (town["n_bodies"], town["done"], town["in_progress"]) == (926, 40, 2)
    assert table["as_of"] is not None and table["k"] == 3


def test_groups_are_unions_of_atoms_and_nothing_is_hidden(client, viewer, toyama):
    table = get(client, viewer, "progress", period=LAST, by="kind", prefecture="16")
    by_kind = {c["kind"]: c for c in table["cells"]}
    assert {k: c["n_bodies"] for k, c in by_kind.items()} == {"cities": 10, "towns_villages": 5}  # no prefecture body
    assert by_kind["towns_villages"]["n_reported"] == 2 and by_kind["towns_villages"]["done"] == 40 + 40
    hogo = get(client, viewer, "progress", period=LAST, by="prefecture,operation", operation="seikatsu_hogo")
    toyama_hogo = next(c for c in hogo["cells"] if c["prefecture"] == "16")
    assert (toyama_hogo["n_bodies"], toyama_hogo["n_reported"]) == (15, 3)  # 富山県 itself is not in its row
    national = get(client, viewer, "progress", period=LAST, by="kind", operation="seikatsu_hogo")
    assert {c["kind"]: c["n_bodies"] for c in national["cells"]} == {
        "prefecture": 47,
        "cities": 792,
        "special_ward": 23,
        "towns_villages": 926,
    }
    for by in ("operation", "operation,step", "prefecture,operation", "kind", "phase", "none"):
        assert all(
            c["suppressed"] is None and c["done"] is not None for c in get(client, viewer, "progress", by=by)["cells"]
        )


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"kind": "village"}, "towns_villages"),
        ({"kind": "designated_city"}, "cities"),
        ({"kind": "prefecture", "prefecture": "16"}, "都道府県別"),
        ({"kind": "prefecture", "by": "prefecture"}, "都道府県別"),
    ],
)
def test_groups_that_would_single_bodies_out_are_refused_with_the_reason(client, viewer, params, needle):
    r = client.get(f"{STATS}/progress", headers=viewer, params=params)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "kind"]
    assert needle in r.json()["detail"][0]["msg"]


def test_no_body_code_or_name_in_any_statistics(client, viewer, toyama):
    from sqlalchemy import select

    from pmo.db import session_scope
    from pmo.models import Body

    with session_scope(read_only=True) as s:
        bodies = [(b.code, b.name) for b in s.scalars(select(Body))]
    texts = [
        client.get(f"{STATS}/progress", headers=viewer, params={"period": LAST, "by": by}).text
        for by in ("operation", "step", "operation,step", "prefecture", "prefecture,operation", "kind", "phase", "none")
    ]
    texts.append(client.get(f"{STATS}/reporting", headers=viewer, params={"period": LAST}).text)
    texts.append(client.get(f"{STATS}/distribution", headers=viewer, params={"period": LAST}).text)
    texts.append(
        client.get(f"{STATS}/trend", headers=viewer, params={"from": LAST, "to": LAST, "by": "prefecture"}).text
    )
    for text in texts:
        for code, name in bodies:
            assert f'"{code}"' not in text and f'"{name}"' not in text


def test_bodies_yet_to_report_are_pending_until_the_due_time_and_missing_after(client, viewer, token_for):
    """Before the due date the national page counted every body not yet in as 未報告 (issue #16)."""
    due, current = periods.add_months(periods.current(), -2), periods.current()
    report(client, token_for, FUNAHASHI, steps("koseki", "done", 1, 3), period=periods.fmt(due))
    for period, still_open in ((due, False), (current, True)):
        r = get(client, viewer, "reporting", period=periods.fmt(period), by="prefecture")
        toyama = next(c for c in r["cells"] if c["prefecture"] == "16")
        yet = 15 - toyama["n_reported"]
        assert r["window_open"] is still_open
        assert (toyama["pending"], toyama["missing"]) == ((yet, 0) if still_open else (0, yet)), period
    assert toyama["n_reported"] == 0 and yet == 15


def test_distribution_and_reporting(client, viewer, toyama):
    d = get(client, viewer, "distribution", period=LAST)
    assert d["n_bodies"] == 1788 and d["n_reported"] == 4
    counts = [b["n_bodies"] for b in d["bins"]]
    assert sum(counts) == 1788 and counts[0] >= 1780 and not any(b["suppressed"] for b in d["bins"])
    r = get(client, viewer, "reporting", period=LAST, by="prefecture")
    toyama = next(c for c in r["cells"] if c["prefecture"] == "16")
    assert (toyama["n_bodies"], toyama["n_reported"]) == (15, 3)  # its municipalities
    assert toyama["pending"] + toyama["missing"] == 12 and (toyama["missing"] == 0) == r["window_open"]
    assert toyama["late"] + toyama["on_time"] == 3
    kinds = get(client, viewer, "reporting", period=LAST, by="kind")
    assert {c["kind"]: c["n_bodies"] for c in kinds["cells"]}["prefecture"] == 47


def test_trend_series_and_fiscal_years(client, viewer, toyama):
    start = periods.fmt(periods.add_months(periods.current(), -14))
    t = get(client, viewer, "trend", **{"from": start, "to": LAST, "by": "none"})
    assert [c["period"] for c in t["cells"]] == [
        periods.fmt(p) for p in periods.span(periods.parse(start), periods.parse(LAST))
    ]
    assert t["cells"][-1]["done"] == 80 and t["cells"][0]["done"] == 0
    fy = get(client, viewer, "trend", **{"from": start, "to": LAST, "by": "none", "interval": "fiscal_year"})
    assert len(fy["cells"]) == len({c["fiscal_year"] for c in t["cells"]})
    assert client.get(f"{STATS}/trend", headers=viewer, params={"from": LAST, "to": start}).status_code == 422


def test_concurrent_requests_on_a_cold_cache_load_the_matrices_once(client, viewer, toyama, monkeypatch):
    """A cold start under load: the first trend requests wait for one load instead of each repeating it."""
    from concurrent.futures import ThreadPoolExecutor

    from pmo.stats import matrix

    loads = []
    real = matrix.scan_matrices
    monkeypatch.setattr(matrix, "scan_matrices", lambda *a, **k: loads.append(1) or real(*a, **k))
    matrix.cache.clear()
    start = periods.fmt(periods.add_months(periods.current(), -24))
    with ThreadPoolExecutor(6) as pool:
        answers = list(
            pool.map(lambda _: get(client, viewer, "trend", **{"from": start, "to": LAST, "by": "none"}), range(6))
        )
    assert len(loads) == 1
    assert all(a == answers[0] for a in answers) and answers[0]["cells"][-1]["done"] == 80


def test_cache_follows_new_reports_and_etag_revalidates(client, viewer, token_for, toyama):
    first = client.get(f"{STATS}/progress", headers=viewer, params={"period": LAST})
    etag = first.headers["etag"]
    assert (
        client.get(f"{STATS}/progress", headers={**viewer, "If-None-Match": etag}, params={"period": LAST}).status_code
        == 304
    )
    report(client, token_for, "131016", steps("koseki", "done", 1, 5))
    second = client.get(f"{STATS}/progress", headers={**viewer, "If-None-Match": etag}, params={"period": LAST})
    assert second.status_code == 200 and second.headers["etag"] != etag
    koseki = next(c for c in second.json()["cells"] if c["operation"] == "koseki")
    assert koseki["done"] == 45


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_statistics_are_read_only(client, viewer, method):
    r = client.request(method.upper(), f"{STATS}/progress", headers=viewer)
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"
    assert client.head(f"{STATS}/progress", headers=viewer).status_code == 200


def test_bad_parameters_and_who_may_read(client, viewer, token_for, monkeypatch):
    for params, field in (
        ({"by": "body"}, "by"),
        ({"period": "2025-13"}, "period"),
        ({"operation": "x"}, "operation"),
        ({"prefecture": "48"}, "prefecture"),
        ({"kind": "metropolis"}, "kind"),
    ):
        r = client.get(f"{STATS}/progress", headers=viewer, params=params)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == field, params
    for role, body in (("municipality", "131016"), ("prefecture", "130001"), ("helpdesk", None), ("admin", None)):
        assert client.get(f"{STATS}/progress", headers=token_for(role, body)).status_code == 200
    assert client.get(f"{STATS}/progress").status_code == 401
    from pmo.config import get_settings

    monkeypatch.setattr(get_settings(), "public_stats", True)
    assert client.get(f"{STATS}/progress").status_code == 200


def test_statistics_connection_cannot_write(database_url):
    from sqlalchemy import make_url, text
    from sqlalchemy.exc import DBAPIError

    from pmo.db import build_engine, get_stats_engine

    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        from typer.testing import CliRunner

        from pmo.cli import app

        result = CliRunner().invoke(app, ["db", "create-stats-role", "--name", "pmo_stats_test"])
        assert result.exit_code == 0, result.output
        password = 'it\'s "quoted"; DROP ROLE x; --'  # a utility statement: quoted as a literal, not bound
        result = CliRunner().invoke(
            app, ["db", "create-stats-role", "--name", "pmo_stats_test", "--password", password]
        )
        assert result.exit_code == 0, result.output
        admin = build_engine(url)
        with admin.connect() as conn:
            assert conn.scalar(text("SELECT rolpassword IS NOT NULL FROM pg_authid WHERE rolname = 'pmo_stats_test'"))
        admin.dispose()
        engine = build_engine(url.set(username="pmo_stats_test"), read_only=True)
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT count(*) FROM bodies")) == 1788
        with engine.connect() as conn, pytest.raises(DBAPIError, match="permission denied"):  # not even a read
            conn.execute(text("SELECT count(*) FROM tokens"))
        with engine.connect() as conn:
            conn.exec_driver_sql("SET default_transaction_read_only = off")
            conn.commit()  # even with read-only switched off, the role has no write grant
            with pytest.raises(DBAPIError, match="permission denied"):
                conn.execute(text("UPDATE bodies SET name = 'x'"))
        engine.dispose()
    else:
        engine = get_stats_engine()
    with engine.connect() as conn, pytest.raises(DBAPIError, match=r"read-only|readonly"):
        conn.execute(text("UPDATE bodies SET name = 'x'"))


def test_statistics_remember_a_token_for_the_configured_time_only(client, token_for, monkeypatch, fake_clock):
    """Another worker's revocation (a commit this process did not make) counts for statistics once the
    remembered principal is PMO_AUTH_CACHE_SECONDS old; row-level routes check the token every time."""
    from datetime import UTC, datetime

    from sqlalchemy import update

    from pmo.config import get_settings
    from pmo.db import get_engine
    from pmo.models import Token

    headers = token_for("viewer")
    monkeypatch.setattr(get_settings(), "auth_cache_seconds", 60.0)
    assert client.get(f"{STATS}/progress", headers=headers).status_code == 200
    with get_engine().begin() as conn:  # as another process would: no commit of this process's sessions
        conn.execute(update(Token).values(revoked_at=datetime.now(UTC)))
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    fake_clock.advance(59)
    assert client.get(f"{STATS}/progress", headers=headers).status_code == 200  # remembered for statistics
    fake_clock.advance(1)
    assert client.get(f"{STATS}/progress", headers=headers).status_code == 401


def test_a_revocation_in_this_worker_ends_statistics_access_at_once(client, token_for, monkeypatch):
    from pmo.accounts import service as accounts
    from pmo.config import get_settings
    from pmo.db import session_scope

    headers = token_for("viewer")
    monkeypatch.setattr(get_settings(), "auth_cache_seconds", 3600.0)
    assert client.get(f"{STATS}/progress", headers=headers).status_code == 200
    with session_scope() as s:
        accounts.revoke_tokens(s, actor="test", account_name=client.get("/api/v1/me", headers=headers).json()["name"])
    assert client.get(f"{STATS}/progress", headers=headers).status_code == 401


QUERIES = [
    ("progress", {"by": "operation,step"}),
    ("progress", {"by": "prefecture,operation"}),
    ("progress", {"by": "kind", "prefecture": "16"}),
    ("progress", {"by": "phase", "operation": "koseki"}),
    ("trend", {"by": "operation", "from": periods.fmt(periods.add_months(periods.current(), -4))}),
    ("trend", {"by": "kind", "interval": "fiscal_year"}),
    ("reporting", {"by": "prefecture"}),
    ("distribution", {"operation": "koseki"}),
]


def test_a_report_patches_the_kept_statistics_exactly_without_reloading_a_period(
    client, viewer, token_for, toyama, monkeypatch
):
    """Incremental statistics (issue 18): after new reports — a first report, a correction, an empty one,
    one for an earlier month that later periods carry — every figure equals a cold recompute,
    and no period matrix was read again (only the reporting bodies' own rows)."""
    from pmo.stats import matrix

    answers = lambda: [get(client, viewer, path, **params) for path, params in QUERIES]  # noqa: E731
    answers()  # every period these read is now kept
    loads = []
    for name in ("scan_matrices", "load_matrix"):
        real = getattr(matrix, name)
        monkeypatch.setattr(matrix, name, lambda *a, real=real, **k: loads.append(1) or real(*a, **k))
    report(client, token_for, KAMIICHI, steps("koseki", "done", 11, 20))  # a correction of last month
    report(client, token_for, "131024", steps("jumin_kiroku", "in_progress", 1, 3))  # a first report
    two_back = periods.fmt(periods.add_months(periods.current(), -3))
    report(client, token_for, "131016", steps("koseki", "done", 1, 40), period=two_back)  # carried into later months
    report(client, token_for, TOYAMA_PREF, [])
    patched = answers()
    assert loads == []
    matrix.cache.clear()
    assert answers() == patched
    koseki = next(c for c in patched[0]["cells"] if c["operation"] == "koseki" and c["step"] == "S15")
    assert koseki["done"] == 3  # 舟橋村, 上市町 and 千代田区 (carried from two months back)
