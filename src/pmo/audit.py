"""The audit log: every write records who, when and what, inside the write's own transaction."""

from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from pmo.auth import Principal
from pmo.db import utcnow
from pmo.models import AuditEntry

_INSERT = insert(AuditEntry.__table__)


def record(
    session: Session, actor: Principal | str, action: str, target: str, detail: dict[str, Any] | None = None
) -> None:
    """Append one audit entry; actor is the caller, or a name such as 'cli' for operator commands."""
    account_id, name = (actor.account_id, actor.name) if isinstance(actor, Principal) else (None, actor)
    # through the Connection: the ORM's execute of a Core statement costs about twice the CPU for nothing here
    session.connection().execute(
        _INSERT,
        {"at": utcnow(), "account_id": account_id, "actor": name, "action": action, "target": target, "detail": detail},
    )
