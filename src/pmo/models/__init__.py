"""Every table, imported here so that Base.metadata (and Alembic) sees them all."""

from pmo.models.accounts import ROLES, Account, AccountLink, AuditEntry, PageSession, Token
from pmo.models.advisers import ADVISER_STATES, AdviserRequest, AdviserVisit
from pmo.models.directory import BODY_KINDS, Body, Operation, Step
from pmo.models.faqs import FAQ_STATUSES, Faq, FaqTerm
from pmo.models.followups import CHANNELS, DELAY_CAUSES, FollowUp
from pmo.models.inquiries import (
    INQUIRY_STATES,
    TIERS,
    VISIBILITIES,
    Inquiry,
    InquiryEvent,
    InquiryMessage,
    SavedFilter,
)
from pmo.models.notices import NOTICE_AUDIENCES, Notice, NoticeRead
from pmo.models.outbox import DELIVERIES, NotificationPreference, OutboxMessage
from pmo.models.reports import BodyCells, BodyPeriod, IdempotencyKey, ReportRevision, RevisionCells
from pmo.models.systems import DEFERRAL_REASONS, System, SystemVersion

__all__ = [
    "ADVISER_STATES",
    "BODY_KINDS",
    "CHANNELS",
    "DEFERRAL_REASONS",
    "DELAY_CAUSES",
    "DELIVERIES",
    "FAQ_STATUSES",
    "INQUIRY_STATES",
    "NOTICE_AUDIENCES",
    "ROLES",
    "TIERS",
    "VISIBILITIES",
    "Account",
    "AccountLink",
    "AdviserRequest",
    "AdviserVisit",
    "AuditEntry",
    "Body",
    "BodyCells",
    "BodyPeriod",
    "Faq",
    "FaqTerm",
    "FollowUp",
    "IdempotencyKey",
    "Inquiry",
    "InquiryEvent",
    "InquiryMessage",
    "Notice",
    "NoticeRead",
    "NotificationPreference",
    "Operation",
    "OutboxMessage",
    "PageSession",
    "ReportRevision",
    "RevisionCells",
    "SavedFilter",
    "Step",
    "System",
    "SystemVersion",
    "Token",
]
