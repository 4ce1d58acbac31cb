"""Systems register endpoints."""

from fastapi import APIRouter, Response

from pmo.deps import BodyCode, BodyDep, CurrentUser, ReadSessionDep, SessionDep
from pmo.directory import service as directory
from pmo.http.conditional import IfMatchDep
from pmo.openapi import declare
from pmo.systems import service
from pmo.systems.schemas import SystemDetail, SystemIn, SystemOut

router = APIRouter(tags=["systems"], responses=declare(403))  # every route checks the body's scope


@router.get("/bodies/{code}/systems", response_model=list[SystemOut])
def list_systems(body: BodyDep, session: ReadSessionDep, principal: CurrentUser) -> list[SystemOut]:
    """The body's system for each operation: vendor, planned go-live, 特定移行支援システム flag."""
    return service.list_systems(session, principal, body)


@router.get("/bodies/{code}/systems/{operation}", response_model=SystemDetail)
def get_system(
    operation: str, body: BodyDep, session: ReadSessionDep, principal: CurrentUser, response: Response
) -> SystemDetail:
    """One system record with its whole history."""
    out = service.get_system(session, principal, body, operation)
    response.headers["ETag"] = service.etag_of(out.version or 0)
    return out


@router.put("/bodies/{code}/systems/{operation}", response_model=SystemDetail)
def put_system(
    code: BodyCode,
    operation: str,
    data: SystemIn,
    session: SessionDep,
    principal: CurrentUser,
    response: Response,
    if_match: IfMatchDep,
) -> SystemDetail:
    """Record the body's system for an operation (a new version; earlier ones are kept)."""
    body = directory.get_body(session, code)
    out = service.put_system(session, principal, body, operation, data, if_match)
    response.headers["ETag"] = service.etag_of(out.version or 0)  # set: a PUT always makes a version
    return out
