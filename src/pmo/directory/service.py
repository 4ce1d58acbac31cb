"""Reading master data: bodies, operations, steps."""

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from pmo import caching, messages
from pmo.directory.codes import code_problem, prefecture_body_code
from pmo.directory.schemas import BodyOut, OperationOut, OperationScope, StepOut
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
    applies: list[OperationScope] = []
    if op.for_municipalities:
        applies.append("municipality")
    if op.for_prefectures:
        applies.append("prefecture")
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


BODY_SECONDS = 60.0  # bodies are master data (`pmo seed`): a renamed body shows within this time
bodies: caching.Cache[tuple[str, str], Body] = caching.Cache("bodies", max_entries=10_000, ttl=BODY_SECONDS)
caching.on_commit("bodies", bodies.clear)
_BODY_COLUMNS = ("id", "code", "prefecture_code", "prefecture_name", "name", "name_kana", "kind")


def cached_body(code: str, engine: Engine) -> Body | None:
    """The body with this code as last read from engine's database, if read within BODY_SECONDS (422 when
    the code is malformed). The object belongs to no session: read it, never add it to one."""
    validate_body_code(code)
    return bodies.get((engine.url.render_as_string(), code))


def get_body(session: Session, code: str) -> Body:
    """The body with this code: 422 when the code is malformed, 404 when no body has it."""
    engine = session.get_bind().engine  # the bind is an Engine (whose .engine is itself)
    hit = cached_body(code, engine)
    if hit is not None:
        return hit
    row = session.execute(select(*(getattr(Body, c) for c in _BODY_COLUMNS)).where(Body.code == code)).first()
    if row is None:
        raise NotFound(f"団体コード {code} の団体は登録されていません。")
    return bodies.put((engine.url.render_as_string(), code), Body(**dict(zip(_BODY_COLUMNS, row, strict=False))))


def resolve_operation_step(session: Session, operation: str | None, step: str | None) -> tuple[int | None, int | None]:
    """Ids of an optional operation and step code given in a request body (422 naming the field when unknown)."""
    operation_id = step_id = None
    if operation is not None:
        operation_id = session.scalar(select(Operation.id).where(Operation.code == operation))
        if operation_id is None:
            raise InvalidInput.at(["body", "operation"], messages.unknown_operation(operation), input=operation)
    if step is not None:
        step_id = session.scalar(select(Step.id).where(Step.code == step))
        if step_id is None:
            raise InvalidInput.at(["body", "step"], messages.unknown_step(step), input=step)
    return operation_id, step_id


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
