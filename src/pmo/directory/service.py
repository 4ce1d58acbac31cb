"""Reading master data: bodies, operations, steps."""

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pmo.directory.codes import code_problem, prefecture_body_code
from pmo.directory.schemas import BodyOut, OperationOut, StepOut
from pmo.errors import InvalidInput, NotFound
from pmo.models import Body, Operation, Step


def body_out(body: Body) -> BodyOut:
    """The public directory view of a body."""
    return BodyOut(
        code=body.code,
        name=body.name,
        name_kana=body.name_kana,
        kind=body.kind,
        prefecture_code=body.prefecture_code,
        prefecture_name=body.prefecture_name,
        prefecture_body_code=prefecture_body_code(body.prefecture_code),
    )


def operation_out(op: Operation) -> OperationOut:
    """The public view of an operation."""
    applies = (["municipality"] if op.for_municipalities else []) + (["prefecture"] if op.for_prefectures else [])
    return OperationOut(
        code=op.code, order=op.order, name=op.name, short_name=op.short_name, ministry=op.ministry, applies_to=applies
    )


def step_out(step: Step) -> StepOut:
    """The public view of a step."""
    return StepOut(code=step.code, order=step.order, phase=step.phase, group=step.group_name, name=step.name)


def validate_body_code(code: str, loc: list | None = None) -> str:
    """code if well-formed, else a 422 naming why."""
    problem = code_problem(code)
    if problem:
        raise InvalidInput.at(loc or ["path", "code"], problem, input=code)
    return code


def get_body(session: Session, code: str) -> Body:
    """The body with this code: 422 when the code is malformed, 404 when no body has it."""
    validate_body_code(code)
    body = session.scalar(select(Body).where(Body.code == code))
    if body is None:
        raise NotFound(f"団体コード {code} の団体は登録されていません。")
    return body


def list_operations(session: Session) -> list[Operation]:
    """All operations in cabinet-order order."""
    return list(session.scalars(select(Operation).order_by(Operation.order)))


def list_steps(session: Session) -> list[Step]:
    """All steps in order."""
    return list(session.scalars(select(Step).order_by(Step.order)))


def list_bodies(
    session: Session, *, prefecture: str | None, kind: str | None, limit: int, offset: int
) -> tuple[list[Body], int]:
    """A page of bodies filtered by prefecture number and kind, in code order, with the total count."""
    query = select(Body)
    if prefecture:
        query = query.where(Body.prefecture_code == prefecture)
    if kind:
        query = query.where(Body.kind == kind)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(query.order_by(Body.code).limit(limit).offset(offset))
    return list(rows), total or 0
