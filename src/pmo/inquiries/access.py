"""Who sees which inquiries: one rule, used by the inquiries and by FAQ drafting from an inquiry."""

from sqlalchemy import ColumnElement, false, true

from pmo.auth import Principal
from pmo.models import Inquiry


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
