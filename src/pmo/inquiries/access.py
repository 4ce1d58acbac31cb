"""Who sees which inquiries (one rule, used by the inquiries and by FAQ drafting), and who works an inquiry's tier."""

from sqlalchemy import ColumnElement, Select, false, select, true

from pmo.auth import Principal
from pmo.models import Account, Body, Inquiry


def visible_to(principal: Principal) -> ColumnElement[bool]:
    """Which inquiries principal may see: the asker's own, its prefecture's, the helpdesk's once they reach it."""
    if principal.role == "admin":
        return true()
    if principal.role == "municipality" and principal.body_id is not None:
        return Inquiry.asker_body_id == principal.body_id
    if principal.role == "prefecture" and principal.prefecture_code:
        return Inquiry.prefecture_code == principal.prefecture_code
    if principal.role == "helpdesk":
        return Inquiry.helpdesk_since.is_not(None)
    if principal.role == "vendor":
        return Inquiry.asker_account_id == principal.account_id
    if principal.role == "ministry" and principal.organization:
        return Inquiry.routed_to == principal.organization
    return false()


def tier_accounts(inq: Inquiry) -> Select:
    """The enabled accounts that work the queue the inquiry is in now."""
    return staff_of(inq.current_tier, inq.prefecture_code, inq.routed_to)


def staff_of(tier: str, prefecture_code: str | None, ministry: str | None) -> Select:
    """The enabled accounts of one tier: a prefecture's staff, the helpdesk, or one ministry's staff."""
    if tier == "prefecture":
        prefecture = select(Body.id).where(Body.prefecture_code == prefecture_code, Body.kind == "prefecture")
        query = select(Account).where(Account.role == "prefecture", Account.body_id.in_(prefecture))
    elif tier == "ministry":
        query = select(Account).where(Account.role == "ministry", Account.organization == ministry)
    else:
        query = select(Account).where(Account.role == "helpdesk")
    return query.where(Account.disabled_at.is_(None))
