"""Every table, imported here so that Base.metadata (and Alembic) sees them all."""

from pmo.models.accounts import ROLES, Account, AuditEntry, Token
from pmo.models.directory import BODY_KINDS, Body, Operation, Step

__all__ = ["ROLES", "BODY_KINDS", "Account", "AuditEntry", "Body", "Operation", "Step", "Token"]
