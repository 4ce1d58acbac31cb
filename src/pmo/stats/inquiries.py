"""Inquiry counts by operation, tier, state or category — counts only, small groups suppressed.

Each group counts inquiries and the distinct askers — bodies, or vendor accounts, which have no body;
a group of fewer than k askers is hidden (primary), and with the total published, so is the smallest other group of the
line until no hidden figure can be recovered by subtraction (suppression.line_pattern)."""

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from pmo.config import get_settings
from pmo.errors import InvalidInput
from pmo.inquiries.schemas import CATEGORY_LABELS
from pmo.models import INQUIRY_STATES, TIERS, Inquiry, Operation
from pmo.stats.suppression import PRIMARY, line_pattern

INQUIRY_BY = ("operation", "tier", "state", "category")
# Who asked: the body, or for a vendor (no body) its account, negated so it never meets a body id.
ASKER = func.coalesce(Inquiry.asker_body_id, -Inquiry.asker_account_id)


def inquiries(session: Session, by: str) -> dict:
    """The table for one grouping, with its published total."""
    if by not in INQUIRY_BY:
        raise InvalidInput.at(["query", "by"], f"by は {' / '.join(INQUIRY_BY)} のいずれかです（{by!r}）。", input=by)
    k = get_settings().suppression_k
    column = {"operation": Operation.code, "tier": Inquiry.current_tier, "state": Inquiry.state, "category": Inquiry.category}[by]
    query = select(column, func.count(), func.count(distinct(ASKER))).select_from(Inquiry)
    if by == "operation":
        query = query.outerjoin(Operation, Operation.id == Inquiry.operation_id)
        keys = [*session.scalars(select(Operation.code).order_by(Operation.order)), None]
    else:
        keys = list({"tier": TIERS, "state": INQUIRY_STATES, "category": tuple(CATEGORY_LABELS)}[by])
    counts = {key: (n, b) for key, n, b in session.execute(query.group_by(column))}
    keys += [key for key in counts if key not in keys]
    n_total, b_total = session.execute(select(func.count(), func.count(distinct(ASKER)))).one()
    total_mark = PRIMARY if 0 < b_total < k else None
    marks = line_pattern([counts.get(key, (0, 0))[1] for key in keys], k)
    cells = []
    for key, mark in zip(keys, marks, strict=True):
        n, b = counts.get(key, (0, 0))
        mark = mark or (total_mark if n else None)
        cells.append({by: key, "suppressed": mark, "n_inquiries": None if mark else n, "n_bodies": None if mark else b})
    total = {"suppressed": total_mark, "n_inquiries": None if total_mark else n_total, "n_bodies": None if total_mark else b_total}
    return {"by": by, "k": k, "total": total, "cells": cells}
