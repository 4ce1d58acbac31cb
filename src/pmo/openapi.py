"""The OpenAPI document's parts: tag descriptions, operation ids, each route's error responses and security,
derived from what the route depends on (pmo.app.openapi_text writes the document)."""

import re
from collections.abc import Iterator

from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security.base import SecurityBase

from pmo.db import read_session, request_session, stats_session
from pmo.deps import RoleGate, bearer_header, body_from_path, current_principal, required_token, statistics_reader
from pmo.errors import ErrorOut

TAGS = [
    {"name": "health", "description": "Liveness, readiness and Prometheus metrics for operators."},
    {"name": "directory", "description": "The 20 operations, the 40 migration steps and the 1,788 local bodies."},
    {"name": "accounts", "description": "The caller's own account, accounts its administrators manage, the audit log."},
    {"name": "reports", "description": "Each body's monthly step status: submit, read, history, Excel/CSV."},
    {"name": "systems", "description": "Each body's system per operation: vendor, planned go-live, deferral."},
    {"name": "prefecture review", "description": "A prefecture's view of its municipalities: rates, laggards."},
    {"name": "follow-ups", "description": "Hearings and advice a prefecture records with its municipalities."},
    {"name": "advisers", "description": "Requests for a national adviser, their visits and outcome."},
    {"name": "inquiries", "description": "Questions from bodies and vendors, answered tier by tier within a due time."},
    {"name": "faq", "description": "Published answers, searchable in Japanese, drafted from answered inquiries."},
    {"name": "notices", "description": "Notices to bodies, and who has read them."},
    {"name": "notifications", "description": "Your notifications in the app, and how each topic reaches you by mail."},
    {"name": "statistics", "description": "Aggregate-only figures for every signed-in role (anyone if public)."},
]
UNTAGGED = "pages"  # the HTML pages have no tag (and are not in the document)

ERROR_DESCRIPTIONS = {
    400: "The request body cannot be read (broken or too deeply nested JSON, a broken multipart form)",
    401: "No valid token (missing, malformed, expired, revoked, or a disabled account)",
    403: "Not allowed: a wrong role, or a body outside the caller's scope",
    404: "No such row, or one whose existence the caller may not learn",
    409: "Conflicts with the current state (an inquiry's state, a reused Idempotency-Key, …)",
    412: "If-Match does not match the current ETag",
    413: "The request body or upload is too large",
    422: "Invalid input; detail lists each field's problem",
    429: "Too many failed sign-ins from this client or for this token; retry after Retry-After seconds",
    503: "The database is unavailable for a moment (or statistics cannot be published); retry after Retry-After",
}
NOT_MODIFIED = {"description": "Not modified: the copy named by If-None-Match is current"}

# What a dependency can answer instead of letting the route run (the services' own refusals, which no
# dependency shows, are declared on their routes with declare()).
DEPENDENCY_STATUSES = {
    bearer_header: (401, 429, 503),  # a malformed header or a refused token; throttled sign-in; database down
    statistics_reader: (401, 429, 503),  # the same, for statistics
    current_principal: (401,),
    request_session: (503,),
    read_session: (503,),
    stats_session: (503,),
    body_from_path: (404, 503),
}
HEADER_STATUSES = {"if-match": 412, "if-none-match": 304, "idempotency-key": 409}


def declare(*statuses: int) -> dict[int | str, dict]:
    """A route's responses= for statuses: the ErrorOut shape for errors, no body for 304."""
    return {
        s: NOT_MODIFIED if s == 304 else {"model": ErrorOut, "description": ERROR_DESCRIPTIONS[s]} for s in statuses
    }


def operation_id(route: APIRoute) -> str:
    """The route's first tag and endpoint name in kebab case, e.g. reports-submit-report."""
    tag = str(route.tags[0]) if route.tags else UNTAGGED
    return re.sub(r"[^a-z0-9]+", "-", f"{tag} {route.name}".lower()).strip("-")


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def derived_statuses(route: APIRoute) -> set[int]:
    """The statuses route can answer by what it depends on and the parameters it takes."""
    statuses: set[int] = set()
    for dependant in _dependants(route.dependant):
        statuses.update(DEPENDENCY_STATUSES.get(dependant.call, ()))
        if isinstance(dependant.call, RoleGate):
            statuses.add(403)
        if dependant.path_params:
            statuses.add(404)  # every path parameter here names a body or a row
        if dependant.body_params:
            statuses.update((400, 413))
        params = [
            *dependant.path_params,
            *dependant.query_params,
            *dependant.header_params,
            *dependant.cookie_params,
            *dependant.body_params,
        ]
        if params:
            statuses.add(422)
        headers = {p.alias.lower() for p in dependant.header_params}
        statuses.update(status for header, status in HEADER_STATUSES.items() if header in headers)
    return statuses


def security(route: APIRoute) -> list[dict] | None:
    """Added to the security FastAPI derives from the schemes: [] open to anyone, [{}] the token is optional."""
    calls = [d.call for d in _dependants(route.dependant)]
    if not any(isinstance(call, SecurityBase) for call in calls):
        return []
    signs_in = current_principal in calls or required_token in calls
    if (bearer_header in calls or statistics_reader in calls) and not signs_in:
        return [{}]
    return None


def declare_responses(router: APIRouter) -> None:
    """Give each documented route of router its derived error responses (beside its own) and its security."""
    # before include_router, which copies each route's responses and openapi_extra into the app
    for route in router.routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        route.responses = {**declare(*sorted(derived_statuses(route))), **route.responses}
        extra = security(route)
        if extra is not None:
            route.openapi_extra = {**(route.openapi_extra or {}), "security": extra}
