"""The VRS-style rule for row-level data of bodies, stated once.

A body reads its own rows; a prefecture also reads its municipalities'; admin reads everything;
everyone else reads no row. Bodies are public directory data, so an out-of-scope read of a body's
rows is 403 (existence is no secret); rows whose existence is private answer 404 instead."""

from sqlalchemy import ColumnElement, and_, false, true

from pmo.auth import Principal
from pmo.errors import Forbidden
from pmo.models import Body


def visible_to(principal: Principal) -> ColumnElement[bool]:
    """A WHERE clause on Body selecting the bodies whose rows principal may read."""
    if principal.role == "admin":
        return true()
    if principal.role == "municipality" and principal.body_id is not None:
        return Body.id == principal.body_id
    if principal.role == "prefecture" and principal.body_id is not None:
        return (Body.id == principal.body_id) | and_(
            Body.prefecture_code == principal.prefecture_code, Body.kind != "prefecture"
        )
    return false()


def can_read(principal: Principal, body: Body) -> bool:
    """The same rule as visible_to, for one body already loaded."""
    return principal.role == "admin" or principal.owns(body) or principal.oversees(body)


def ensure_readable(principal: Principal, body: Body) -> None:
    """403 unless principal may read body's rows."""
    if not can_read(principal, body):
        raise Forbidden(
            f"{body.name}（{body.code}）の個別データを閲覧する権限がありません。統計は /api/v1/stats で参照できます。"
        )


def ensure_owner(principal: Principal, body: Body) -> None:
    """403 unless principal is the body itself (only a body writes its own records)."""
    if not principal.owns(body):
        raise Forbidden(f"{body.name}（{body.code}）の報告を登録できるのは当該団体のアカウントだけです。")
