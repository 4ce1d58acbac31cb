"""Account views."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class MeOut(BaseModel):
    name: str
    role: str
    body_code: str | None
    prefecture_code: str | None


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: dict[str, Any] | None
