"""Saved queue filters: a person's named query strings of the inquiry queue, seen and changed by that account only."""

import re
from datetime import datetime
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pmo import audit
from pmo.auth import Principal
from pmo.db import utcnow
from pmo.errors import Conflict, InvalidInput, NotFound
from pmo.inquiries.schemas import CATEGORY_LABELS, TIER_LABELS, SavedFilterIn, SavedFilterOut
from pmo.models import SavedFilter

MAX_PER_ACCOUNT = 50
STATUS_VALUES = {"", "active", "open", "awaiting_asker", "answered", "closed"}
# what each parameter of the queue may hold; status "" means every state, so it is the one kept when blank
QUEUE_PARAMS: dict[str, str] = {
    "status": "",
    "overdue": "true|false",
    "tier": "|".join(TIER_LABELS),
    "category": "|".join(CATEGORY_LABELS),
    "operation": "[a-z0-9_]{1,40}",
    "prefecture": "[0-9]{2}",
    "assignee": "me|none",
    "q": r"[^\x00-\x1f\x7f]{1,200}",
}


def _problem(msg: str, query: str) -> InvalidInput:
    return InvalidInput.at(["body", "query"], msg, input=query)


def normalized(query: str) -> str:
    """The query string with only the queue's parameters, each once and valid, in a fixed order (blank ones dropped)."""
    given: dict[str, str] = {}
    for key, value in parse_qsl(query.lstrip("?"), keep_blank_values=True):
        if key not in QUEUE_PARAMS:
            raise _problem(f"条件に使えない項目 {key!r} があります（{', '.join(QUEUE_PARAMS)}）。", query)
        given[key] = value.strip()
    for key, value in given.items():
        ok = value in STATUS_VALUES if key == "status" else not value or re.fullmatch(QUEUE_PARAMS[key], value)
        if not ok:
            raise _problem(f"条件 {key} の値 {value!r} は使えません。", query)
    kept = [(k, given[k]) for k in QUEUE_PARAMS if k in given and (given[k] or k == "status")]
    return urlencode(kept)


def _out(row: SavedFilter) -> SavedFilterOut:
    return SavedFilterOut(id=row.id, name=row.name, query=row.query, created_at=row.created_at)


def list_filters(session: Session, principal: Principal) -> list[SavedFilterOut]:
    """The caller's saved filters, by name."""
    rows = session.scalars(
        select(SavedFilter).where(SavedFilter.account_id == principal.account_id).order_by(SavedFilter.name)
    )
    return [_out(r) for r in rows]


def save_filter(
    session: Session, principal: Principal, data: SavedFilterIn, *, now: datetime | None = None
) -> SavedFilterOut:
    """Keep the filter under its name for the caller; a filter of the same name is replaced."""
    query = normalized(data.query)
    name = data.name.strip()
    row = session.scalar(
        select(SavedFilter)
        .where(SavedFilter.account_id == principal.account_id, SavedFilter.name == name)
        .with_for_update()
    )
    if row is None:
        count = session.scalar(
            select(func.count()).select_from(SavedFilter).where(SavedFilter.account_id == principal.account_id)
        )
        if (count or 0) >= MAX_PER_ACCOUNT:
            raise InvalidInput.at(
                ["body", "name"], f"保存できる条件は {MAX_PER_ACCOUNT} 件までです。使わない条件を削除してください。"
            )
        row = SavedFilter(account_id=principal.account_id, name=name, query=query, created_at=now or utcnow())
        try:
            with session.begin_nested():  # the same name saved at the same moment in another request
                session.add(row)
        except IntegrityError:
            raise Conflict(f"条件「{name}」は同時に保存されました。もう一度保存してください。") from None
    else:
        row.query, row.created_at = query, now or utcnow()
        session.flush()
    audit.record(session, principal, "inquiry.filter.save", f"saved_filter:{row.id}", {"name": name, "query": query})
    return _out(row)


def delete_filter(session: Session, principal: Principal, filter_id: int) -> None:
    """Delete one of the caller's saved filters (another account's is 404, as if it did not exist)."""
    row = session.scalar(
        select(SavedFilter).where(SavedFilter.id == filter_id, SavedFilter.account_id == principal.account_id)
    )
    if row is None:
        raise NotFound(f"保存した条件 {filter_id} はありません。")
    session.delete(row)
    session.flush()
    audit.record(session, principal, "inquiry.filter.delete", f"saved_filter:{filter_id}", {"name": row.name})
