"""Property-based fuzzing of every operation of openapi/openapi.json (schemathesis), as every role.

Each generated request (valid and invalid data alike) is sent with the token of a role drawn with it
(anonymous included) to an app holding a little data: demo reports of a few bodies, inquiries in every
tier, FAQ entries, notices, follow-ups and adviser requests. Path parameters lean towards those rows and
bodies, and the operations whose role, scope and date rules random data seldom meets (ALLOWED) get valid
requests from an allowed caller half the time, and each is also sent once as a fixed valid request; every
operation's handler must be reached (test_fuzzing_ran fails otherwise). Then schemathesis' stateful phase
chains calls (a row created, then read, changed…), each sequence in a world built afresh. Every answer must
be no 5xx, a status the document declares, a body its schema allows, and every 4xx the error shape
{"error": str, "message": str, "detail": …}.

Bounded for CI: PMO_FUZZ_EXAMPLES examples per operation (default 25), no deadline, derandomized (the
same cases on every run). A longer hunt: PMO_FUZZ_EXAMPLES=500, PMO_FUZZ_COVERAGE=1 (schemathesis' boundary
values too), PMO_FUZZ_SEED=N (other cases than CI's)."""

import hashlib
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core import NOT_SET
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import text

from pmo import periods
from pmo.config import PROJECT_ROOT
from pmo.db import Base, session_scope
from tests.conftest import MASTER_TABLES

EXAMPLES = int(os.environ.get("PMO_FUZZ_EXAMPLES", "25"))
CHIYODA, CHUO, TOKYO, SAPPORO, HOKKAIDO = "131016", "131024", "130001", "011002", "010006"
CODES = (CHIYODA, CHUO, TOKYO, SAPPORO, HOKKAIDO)
CALLERS = {  # name → (role, body, account fields); None: no token
    "anonymous": None,
    "municipality": ("municipality", CHIYODA, {}),
    "prefecture": ("prefecture", TOKYO, {}),
    "helpdesk": ("helpdesk", None, {}),
    "admin": ("admin", None, {}),
    "viewer": ("viewer", None, {}),
    "vendor": ("vendor", None, {"organization": "みらい情報システム株式会社", "operations": ["koseki"]}),
    "ministry": ("ministry", None, {"organization": "総務省"}),
}
SCRAPE_TOKEN = "fuzz-scrape-token"  # PMO_METRICS_TOKEN of the fuzzed app; "scrape" sends it
ROW_IDS = ("inquiry_id", "follow_up_id", "faq_id", "notice_id", "request_id", "account_id")

schema = schemathesis.openapi.from_path(PROJECT_ROOT / "openapi" / "openapi.json")
schema.config.phases.coverage.enabled = os.environ.get("PMO_FUZZ_COVERAGE", "0") == "1"  # boundary values (slow)
SEED = os.environ.get("PMO_FUZZ_SEED")  # other cases than CI's derandomized ones
if SEED:
    schema.config.seed = int(SEED)


@dataclass
class FuzzWorld:
    app: object
    headers: dict[str, dict[str, str]]
    ids: dict[str, list[int]]
    assigned_request_id: int  # an adviser request in the state that takes visits


WORLD: dict[str, FuzzWorld] = {}
CASES: Counter = Counter()  # (method path) → requests sent
CALLED: Counter = Counter()  # caller → requests sent


# --- where generated values lean ---------------------------------------------------------------------


def _recent_periods() -> list[str]:
    now = periods.current()
    return [periods.fmt(periods.add_months(now, -i)) for i in range(3)] + ["2022-06"]


def _known(name: str):
    """A strategy for a parameter's known-good values (drawn after the fixture made the rows), or None."""
    if name == "code":
        return st.sampled_from(CODES)
    if name in ("period", "from", "to"):
        return st.sampled_from(_recent_periods())
    if name == "operation":
        return st.sampled_from(["koseki", "seikatsu_hogo", "jumin_kiroku"])
    if name in ROW_IDS and WORLD:  # (schema examples are drawn at collection, before there are rows)
        return st.sampled_from(WORLD["w"].ids[name])
    return None


def _lean(values):
    """Half the time, the generated values; otherwise the known-good values where we have them."""
    known = {k: _known(k) for k in values} if isinstance(values, dict) else {}
    if not any(s is not None for s in known.values()):
        return st.just(values)
    return st.one_of(
        st.just(values),
        st.fixed_dictionaries({k: st.just(v) if known[k] is None else known[k] for k, v in values.items()}),
    )


@dataclass(frozen=True)
class Allowed:
    """An operation whose role, scope and date rules generated requests seldom meet: half its cases go to
    this path, with one of these valid bodies (if it takes one), as one of the callers allowed to make it."""

    path: dict[str, str]
    bodies: tuple[dict, ...]
    callers: tuple[str, ...]

    def matches(self, case) -> bool:
        return (case.path_parameters or {}) == _known_path(self) and (not self.bodies or case.body in self.bodies)


YESTERDAY = (periods.today() - timedelta(days=1)).isoformat()
READERS = ("municipality", "prefecture", "admin")  # of 千代田区's rows
ALLOWED = {
    "GET /api/v1/audit": Allowed({}, (), ("admin",)),
    "GET /api/v1/accounts/{account_id}": Allowed({"account_id": "managed"}, (), ("admin",)),
    "POST /api/v1/accounts": Allowed(
        {}, ({"email": "fuzz-invited@example.lg.jp", "display_name": "招待 太郎", "role": "helpdesk"},), ("admin",)
    ),
    "GET /metrics": Allowed({}, (), ("scrape",)),
    "GET /api/v1/bodies/{code}/reports/{period}": Allowed(
        {"code": CHIYODA, "period": _recent_periods()[1]}, (), READERS
    ),
    "GET /api/v1/bodies/{code}/systems/{operation}": Allowed({"code": CHIYODA, "operation": "koseki"}, (), READERS),
    "GET /api/v1/bodies/{code}/progress": Allowed({"code": CHIYODA}, (), READERS),
    "GET /api/v1/bodies/{code}/missing-reports": Allowed({"code": CHIYODA}, (), READERS),
    "POST /api/v1/bodies/{code}/reports/{period}/upload": Allowed(
        {"code": CHIYODA, "period": _recent_periods()[1]},
        ({"file": "業務コード,ステップ,状況\r\nkoseki,S01,作業中\r\n".encode()},),
        ("municipality",),
    ),
    "GET /api/v1/bodies/{code}/follow-ups": Allowed({"code": CHIYODA}, (), ("prefecture", "helpdesk", "admin")),
    "POST /api/v1/bodies/{code}/follow-ups": Allowed(
        {"code": CHIYODA},
        (
            {"held_on": YESTERDAY, "channel": "phone", "learned": "体制を確認した。"},
            {
                "held_on": YESTERDAY,
                "channel": "visit",
                "learned": "遅延の原因を聞いた。",
                "shared_with_national": True,
                "delay_cause": "vendor_resources",
                "next_check_on": periods.today().isoformat(),
            },
        ),
        ("prefecture",),
    ),
    "POST /api/v1/bodies/{code}/adviser-requests": Allowed(
        {"code": CHIYODA},
        (
            {"topic": "移行計画の見直し"},
            {"topic": "ベンダー調整", "detail": "日程の相談", "operations": ["koseki"]},
        ),
        ("municipality", "prefecture"),
    ),
    "POST /api/v1/adviser-requests/{request_id}/visits": Allowed(
        {"request_id": "assigned"},
        ({"visited_on": YESTERDAY, "mode": "online", "summary": "移行計画を確認した。"},),
        ("helpdesk", "admin"),
    ),
    "PUT /api/v1/bodies/{code}/systems/{operation}": Allowed(
        {"code": CHIYODA, "operation": "koseki"},
        (
            {"vendor": "みらい情報システム株式会社", "planned_go_live": "2027-01"},
            {"deferred": True, "deferral_reason": "mainframe", "deferral_target": "2028-03"},
        ),
        ("municipality", "admin"),
    ),
    "POST /api/v1/faqs": Allowed(
        {},
        (
            {"title": "標準仕様書の改定時期", "question": "次の改定はいつですか。", "answer": "年度末の予定です。"},
            {
                "title": "移行経費の補助",
                "question": "補助の対象は？",
                "answer": "基金の要綱のとおりです。",
                "status": "draft",
                "operation": "koseki",
            },
        ),
        ("helpdesk",),
    ),
    # audience and prefecture must agree (a field rule since #16): random pairs seldom do
    "POST /api/v1/notices": Allowed(
        {},
        (
            {"title": "説明会のお知らせ", "body": "日程をお知らせします。", "category": "event", "audience": "all"},
            {
                "title": "都内の説明会",
                "body": "会場をお知らせします。",
                "category": "event",
                "audience": "prefecture_municipalities",
                "prefecture": "13",
            },
        ),
        ("helpdesk", "admin"),
    ),
}


def operation_key(operation) -> str:
    """'GET /api/v1/…': how the counters and ALLOWED name an operation."""
    return f"{operation.method.upper()} {operation.path}"


def past_the_gates(response) -> bool:
    """Past authentication and validation: the handler ran."""
    return response.status_code not in (401, 403, 422)


def _allowed(operation) -> Allowed | None:
    return ALLOWED.get(operation_key(operation))


def _known_path(allowed: Allowed) -> dict:
    known = {"assigned": WORLD["w"].assigned_request_id, "managed": WORLD["w"].ids["account_id"][0]}
    return {k: known.get(v, v) for k, v in allowed.path.items()}


@schema.hook("flatmap_path_parameters")
def _path_parameters(context, path_parameters):
    allowed = _allowed(context.operation)
    if allowed is not None and WORLD:
        return st.one_of(st.just(path_parameters), st.just(_known_path(allowed)))
    return _lean(path_parameters)


@schema.hook("flatmap_body")
def _body(context, body):
    allowed = _allowed(context.operation)
    if allowed is None or not allowed.bodies:
        return st.just(body)
    return st.one_of(st.just(body), st.sampled_from(allowed.bodies))


@schema.hook("flatmap_query")
def _query(context, query):
    return _lean(query)


# --- the custom check ----------------------------------------------------------------------------------


def error_shape(ctx, response, case) -> bool | None:
    """Every 4xx is {"error": str, "message": str, "detail": …} (HEAD and 304 have no body)."""
    if not 400 <= response.status_code < 500 or case.method.upper() == "HEAD":
        return None
    try:
        body = response.json()
    except ValueError as exc:
        raise AssertionError(f"{response.status_code} is not JSON: {response.text[:200]!r}") from exc
    if not (
        isinstance(body, dict)
        and set(body) == {"error", "message", "detail"}
        and isinstance(body["error"], str)
        and body["error"]
        and isinstance(body["message"], str)
        and body["message"]
    ):
        raise AssertionError(f"{response.status_code} without the error shape: {str(body)[:300]}")
    return True


CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, error_shape]


# --- the data ------------------------------------------------------------------------------------------


def _wipe() -> None:
    """Delete every row but master data; on PostgreSQL ids restart too, so a replayed sequence sees the same ids."""
    from pmo import caching
    from pmo.throttle import failures

    tables = [t for t in reversed(Base.metadata.sorted_tables) if t.name not in MASTER_TABLES]
    with session_scope() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text(f"TRUNCATE {', '.join(t.name for t in tables)} RESTART IDENTITY"))
        else:
            for table in tables:
                session.execute(table.delete())
    caching.clear_all()
    failures.clear()


@pytest.fixture(autouse=True)
def clean_database(request):
    """Overrides the per-test cleanup: the fuzzed world lives for the whole module (fuzz_world wipes it)."""
    from pmo.throttle import failures

    yield
    failures.clear()  # fuzzed bad tokens all come from "testclient": they must not lock the next case out
    if "database_url" in request.fixturenames and "fuzz_world" not in request.fixturenames:
        _wipe()


def build_world(app) -> FuzzWorld:
    """Accounts of every role, demo reports of a few bodies, and a row of each kind to aim at."""
    from fastapi.testclient import TestClient

    from pmo.accounts import service
    from pmo.demo.reports import generate

    with session_scope() as session:
        generate(session, only=list(CODES))
    headers: dict[str, dict[str, str]] = {"anonymous": {}, "scrape": {"Authorization": f"Bearer {SCRAPE_TOKEN}"}}
    with session_scope() as session:
        for name, spec in CALLERS.items():
            if spec is None:
                continue
            role, body, extra = spec
            account = service.create_account(session, f"fuzz-{name}", role, body, actor="test", **extra)
            headers[name] = {
                "Authorization": f"Bearer {service.issue_token(session, account, actor='test', ttl_days=1).token}"
            }
        sapporo = service.create_account(session, "fuzz-sapporo", "municipality", SAPPORO, actor="test")
        headers["sapporo"] = {
            "Authorization": f"Bearer {service.issue_token(session, sapporo, actor='test', ttl_days=1).token}"
        }
    ids: dict[str, list[int]] = {k: [] for k in ROW_IDS}
    client = TestClient(app)

    def post(url, who, json, status=201):
        r = client.post(f"/api/v1{url}", headers=headers[who], json=json)
        assert r.status_code == status, (url, r.text)
        return r.json()

    question = {
        "title": "Fit&Gap分析の進め方について",
        "question": "独自施策の扱いはどう整理すればよいでしょうか。",
        "category": "fit_gap",
        "operation": "jumin_kiroku",
        "step": "S07",
    }
    for who in ("municipality", "sapporo", "prefecture", "vendor"):
        ids["inquiry_id"].append(post("/inquiries", who, question)["id"])
    post(
        f"/inquiries/{ids['inquiry_id'][0]}/answer",
        "prefecture",
        {"text": "標準仕様書の該当箇所をご確認ください。"},
        200,
    )
    post(f"/inquiries/{ids['inquiry_id'][2]}/route", "helpdesk", {"ministry": "総務省", "reason": "所管のため。"}, 200)
    faq = {"title": "ガバメントクラウドの利用料", "question": "利用料の負担は？", "answer": "団体の負担です。"}
    ids["faq_id"] += [post("/faqs", "helpdesk", {**faq, "status": s})["id"] for s in ("published", "draft")]
    notice = {"title": "事務連絡", "body": "別添のとおりお知らせします。", "category": "other"}
    for audience, prefecture in (("all", None), ("prefecture_municipalities", "13"), ("vendors", None)):
        ids["notice_id"].append(
            post("/notices", "helpdesk", {**notice, "audience": audience, "prefecture": prefecture})["id"]
        )
    ids["follow_up_id"].append(
        post(
            f"/bodies/{CHIYODA}/follow-ups",
            "prefecture",
            {
                "held_on": YESTERDAY,
                "channel": "phone",
                "learned": "体制を確認した。",
                "shared_with_national": True,
                "delay_cause": "staffing",
            },
        )["id"]
    )
    ids["request_id"].append(
        post(f"/bodies/{CHIYODA}/adviser-requests", "municipality", {"topic": "移行計画の見直し"})["id"]
    )
    ids["request_id"].append(post(f"/bodies/{CHUO}/adviser-requests", "prefecture", {"topic": "ベンダー調整"})["id"])
    post(f"/adviser-requests/{ids['request_id'][1]}/assign", "helpdesk", {"adviser": "標準化アドバイザー"}, 200)
    ids["account_id"].append(
        post("/accounts", "admin", {"email": "fuzz-viewer@example.lg.jp", "display_name": "閲覧 花子"})["id"]
    )
    return FuzzWorld(app, headers, ids, assigned_request_id=ids["request_id"][1])


@pytest.fixture(scope="module")
def fuzz_world(database_url) -> Iterator[FuzzWorld]:
    from pmo.app import create_app
    from pmo.config import get_settings

    settings = get_settings()
    settings.metrics_token, unset = SCRAPE_TOKEN, settings.metrics_token
    WORLD["w"] = build_world(create_app())
    yield WORLD["w"]
    WORLD.clear()
    settings.metrics_token = unset
    _wipe()


@pytest.fixture(scope="module")
def asgi_client(fuzz_world):
    from schemathesis.python import asgi

    return asgi.get_client(fuzz_world.app)


# --- the test --------------------------------------------------------------------------------------------


def caller_of(case) -> str:
    """The caller a case is sent as: a stable function of the case, so every role gets its share and a
    failing case replays (and shrinks) as the same caller. A valid write goes as a caller allowed to make it."""
    body = (
        case.body if isinstance(case.body, (dict, list, str, bytes, int, float)) else None
    )  # NotSet's repr is an address
    content = repr((case.method, case.path, case.path_parameters, case.query, case.headers, body)).encode()
    allowed = _allowed(case.operation)
    callers = list(allowed.callers if allowed is not None and allowed.matches(case) else CALLERS)
    return callers[int(hashlib.blake2b(content, digest_size=4).hexdigest(), 16) % len(callers)]


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not SEED,
    database=None,
    print_blob=True,
    suppress_health_check=list(HealthCheck),
)
def test_api(case, fuzz_world, asgi_client):
    caller = caller_of(case)
    response = case.call(app=fuzz_world.app, session=asgi_client, headers=fuzz_world.headers[caller])
    CALLED[caller] += 1
    CASES[operation_key(case.operation)] += 1
    if past_the_gates(response):
        REACHED[operation_key(case.operation)] += 1
    case.validate_response(response, checks=CHECKS)


REACHED: Counter = Counter()


@pytest.mark.parametrize("key", sorted(ALLOWED))
def test_each_allowed_request_reaches_its_handler(key, fuzz_world, asgi_client):
    """Each operation of ALLOWED sent once with its valid path and body as an allowed caller: the handler
    runs and answers as declared, whatever the generator drew (its draws move with every edit of test_api,
    whose source seeds them)."""
    method, path = key.split(" ", 1)
    allowed = ALLOWED[key]
    multipart = path.endswith("/upload")
    case = schema[path][method].Case(
        path_parameters=_known_path(allowed) or None,
        body=allowed.bodies[0] if allowed.bodies else NOT_SET,
        media_type=("multipart/form-data" if multipart else "application/json") if allowed.bodies else None,
    )
    response = case.call(app=fuzz_world.app, session=asgi_client, headers=fuzz_world.headers[allowed.callers[0]])
    assert past_the_gates(response), (key, response.status_code, response.text[:300])
    REACHED[key] += 1
    case.validate_response(response, checks=CHECKS)


def test_stateful_sequences(fuzz_world, asgi_client):
    """Schemathesis' stateful phase: chains of calls it infers from the schema (an inquiry filed, then read,
    answered, closed…), each call as one of the roles and checked like the single calls above. Every sequence
    starts from a world built afresh, so a replayed sequence meets the same responses (hypothesis requires it)."""
    machine = schema.as_state_machine()

    class Sequences(machine):  # type: ignore[misc, valid-type]
        def setup(self):
            _wipe()
            WORLD["w"] = build_world(fuzz_world.app)

        def get_call_kwargs(self, case):
            return {"app": fuzz_world.app, "session": asgi_client, "headers": WORLD["w"].headers[caller_of(case)]}

        def validate_response(self, response, case, additional_checks=(), **kwargs):
            STATEFUL[operation_key(case.operation)] += 1
            if past_the_gates(response):
                STATEFUL_REACHED[operation_key(case.operation)] += 1
            case.validate_response(response, checks=CHECKS)

    Sequences.run(
        settings=settings(
            max_examples=max(EXAMPLES // 2, 5),
            stateful_step_count=8,
            deadline=None,
            derandomize=not SEED,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
    assert len(STATEFUL_REACHED) >= 5, f"the stateful phase chained too few operations: {dict(STATEFUL)}"


STATEFUL: Counter = Counter()
STATEFUL_REACHED: Counter = Counter()


def test_fuzzing_ran(request):
    """Report how many cases ran, and that every operation ran some and got past validation in some."""
    operations = {f"{m.upper()} {p}" for p, methods in schema.raw_schema["paths"].items() for m in methods}
    line = (
        f"fuzzing: {sum(CASES.values())} cases over {len(operations & set(CASES))} of {len(operations)} operations "
        f"(up to {EXAMPLES} generated per operation) as {dict(CALLED)}; handlers reached in "
        f"{len(operations & set(REACHED))} operations, not in {sorted(operations - set(REACHED))}; stateful: "
        f"{sum(STATEFUL.values())} chained calls over {len(STATEFUL)} operations, handlers reached in "
        f"{len(STATEFUL_REACHED)}"
    )
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.ensure_newline()
            reporter.write_line(line)
    if CASES:  # not when only this test was selected
        assert not operations - set(CASES), f"operations never fuzzed: {sorted(operations - set(CASES))}"
        assert sum(CASES.values()) >= len(operations) * min(EXAMPLES, 5)
        assert EXAMPLES < 25 or not operations - set(REACHED), (
            f"no case got past authentication and validation in {sorted(operations - set(REACHED))}: "
            "add the operation to ALLOWED"
        )


# --- what fuzzing found, kept as plain regression tests ----------------------------------------------------


def test_a_refused_statistics_request_leaves_the_cache_usable(client, token_for):
    """A 422 from a statistics request that loaded the cached directory rolled its session back, which expired
    the cached catalog's rows: every later statistics request was a 500 (DetachedInstanceError)."""
    from pmo.stats.matrix import cache

    admin = token_for("admin")
    cache.clear()
    assert client.get("/api/v1/stats/progress", params={"by": "nonsense"}, headers=admin).status_code == 422
    for url in ("/api/v1/stats/distribution", "/api/v1/stats/progress", "/api/v1/stats/trend"):
        assert client.get(url, headers=admin).status_code == 200, url


@pytest.mark.parametrize(
    "method, url, body",
    [
        ("GET", "/api/v1/follow-ups/99999999999999999999", None),
        ("GET", "/api/v1/adviser-requests/-99999999999999999999", None),
        ("POST", "/api/v1/adviser-requests/99999999999999999999/assign", {"adviser": "山田"}),
        ("POST", f"/api/v1/bodies/{CHIYODA}/adviser-requests", {"topic": "計画", "follow_up_id": 99999999999999999999}),
        ("GET", "/api/v1/bodies?offset=13082325553070653215", None),
        ("GET", "/api/v1/follow-ups?offset=13082325553070653215", None),
        ("GET", "/api/v1/audit?offset=13082325553070653215", None),
    ],
)
def test_numbers_beyond_the_database_integer_are_422(client, token_for, method, url, body):
    """Ids are 32-bit in the database and offsets 64-bit; bigger ones were a 500 (SQLite OverflowError)."""
    who = token_for("admin") if "audit" in url else token_for("municipality", CHIYODA)
    r = client.request(method, url, headers=who, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "validation_error"
