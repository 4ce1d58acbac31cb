"""Inquiry counts by operation, tier, state or category — national counts only.

Each group counts inquiries and the distinct askers — bodies, or vendor accounts, which have no body.
Every table is national, so any two bodies' inquiries could be swapped without changing a figure:
nothing here tells one asker from the others (groups.py has the argument), and nothing is hidden."""

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from pmo.config import get_settings
from pmo.errors import InvalidInput
from pmo.inquiries.schemas import CATEGORY_LABELS
from pmo.models import INQUIRY_STATES, TIERS, Inquiry, Operation

INQUIRY_BY = ("operation", "tier", "state", "category")
# Who asked: the body, or for a vendor (no body) its account, negated so it never meets a body id.
ASKER = func.coalesce(Inquiry.asker_body_id, -Inquiry.asker_account_id)


def inquiries(session: Session, by: str) -> dict:
    """The table for one grouping, with its published total."""
    if by not in INQUIRY_BY:
        raise InvalidInput.at(["query", "by"], f"by は {' / '.join(INQUIRY_BY)} のいずれかです（{by!r}）。", input=by)
    column = {
        "operation": Operation.code,
        "tier": Inquiry.current_tier,
        "state": Inquiry.state,
        "category": Inquiry.category,
    }[by]
    query = select(column, func.count(), func.count(distinct(ASKER))).select_from(Inquiry)
    if by == "operation":
        query = query.outerjoin(Operation, Operation.id == Inquiry.operation_id)
        keys = [*session.scalars(select(Operation.code).order_by(Operation.order)), None]
    else:
        keys = list({"tier": TIERS, "state": INQUIRY_STATES, "category": tuple(CATEGORY_LABELS)}[by])
    counts = {key: (n, b) for key, n, b in session.execute(query.group_by(column))}
    keys += [key for key in counts if key not in keys]
    n_total, b_total = session.execute(select(func.count(), func.count(distinct(ASKER)))).one()
    cells = [
        {by: key, "suppressed": None, "n_inquiries": counts.get(key, (0, 0))[0], "n_bodies": counts.get(key, (0, 0))[1]}
        for key in keys
    ]
    total = {"suppressed": None, "n_inquiries": n_total, "n_bodies": b_total}
    return {"by": by, "k": get_settings().suppression_k, "total": total, "cells": cells}
