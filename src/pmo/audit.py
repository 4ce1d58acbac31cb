"""The audit log: every write records who, when and what, inside the write's own transaction."""

from typing import Any

from sqlalchemy.orm import Session

from pmo.auth import Principal
from pmo.db import utcnow
from pmo.models import AuditEntry


def record(session: Session, actor: Principal | str, action: str, target: str, detail: dict[str, Any] | None = None):
    """Append one audit entry; actor is the caller, or a name such as 'cli' for operator commands."""
    if isinstance(actor, Principal):
        entry = AuditEntry(at=utcnow(), account_id=actor.account_id, actor=actor.name, action=action, target=target, detail=detail)
    else:
        entry = AuditEntry(at=utcnow(), account_id=None, actor=actor, action=action, target=target, detail=detail)
    session.add(entry)
    return entry
