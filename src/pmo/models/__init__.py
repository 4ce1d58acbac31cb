"""Every table, imported here so that Base.metadata (and Alembic) sees them all."""

from pmo.models.accounts import ROLES, Account, AuditEntry, Token
from pmo.models.directory import BODY_KINDS, Body, Operation, Step
from pmo.models.followups import CHANNELS, DELAY_CAUSES, FollowUp
from pmo.models.reports import BodyPeriod, Cell, CellVersion, IdempotencyKey, ReportRevision
from pmo.models.systems import DEFERRAL_REASONS, System, SystemVersion

__all__ = [
    "CHANNELS", "DEFERRAL_REASONS", "DELAY_CAUSES", "FollowUp", "System", "SystemVersion",
    "ROLES", "BODY_KINDS", "Account", "AuditEntry", "Body", "BodyPeriod", "Cell", "CellVersion", "IdempotencyKey", "Operation",
    "ReportRevision", "Step", "Token",
]
