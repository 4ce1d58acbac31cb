"""Directory endpoints: operations, steps, bodies."""

from typing import Annotated

from fastapi import APIRouter, Query

from pmo.deps import BodyDep, CurrentUser, ReadSessionDep
from pmo.directory import service
from pmo.directory.codes import PREFECTURE_NUMBER_PATTERN
from pmo.directory.schemas import BodyKind, BodyOut, OperationOut, StepOut
from pmo.pagination import Page, PageRequest, paging

router = APIRouter(tags=["directory"])


@router.get("/operations", response_model=list[OperationOut])
def list_operations(session: ReadSessionDep, _: CurrentUser) -> list[OperationOut]:
    """The 20 standardized operations and which kinds of body report them."""
    return [service.operation_out(op) for op in service.list_operations(session)]


@router.get("/steps", response_model=list[StepOut])
def list_steps(session: ReadSessionDep, _: CurrentUser) -> list[StepOut]:
    """The 40 migration steps (S01–S40) with their phase and group."""
    return [service.step_out(step) for step in service.list_steps(session)]


@router.get("/bodies", response_model=Page[BodyOut])
def list_bodies(
    session: ReadSessionDep,
    _: CurrentUser,
    page: Annotated[PageRequest, paging(100, maximum=2000)],  # every body fits one page: master data
    prefecture: Annotated[
        str | None, Query(pattern=PREFECTURE_NUMBER_PATTERN, description="2-digit prefecture number, 01–47")
    ] = None,
    kind: BodyKind | None = None,
) -> Page[BodyOut]:
    """Bodies in code order, filtered by prefecture and kind, paged."""
    bodies, total = service.list_bodies(session, prefecture=prefecture, kind=kind, limit=page.limit, offset=page.offset)
    return page.of([service.body_out(b) for b in bodies], total)


@router.get("/bodies/{code}", response_model=BodyOut)
async def get_body(body: BodyDep, _: CurrentUser) -> BodyOut:
    """One body's directory entry."""
    return service.body_out(body)
