"""One action on many inquiries at once, all or none: the first inquiry that refuses stops the whole batch."""

from typing import Literal

from sqlalchemy.orm import Session

from pmo.auth import Principal
from pmo.errors import InvalidInput, PmoError
from pmo.inquiries import assignment, service

MAX_BATCH = 100
ACTIONS = ("assign", "route", "escalate", "close")  # the actions whose payload is the same for every inquiry
PAYLOAD_FIELDS = (["body", "ministry"], ["body", "assignee"])  # a problem there is the batch's, not one inquiry's


class Refused(Exception):
    """An inquiry of the batch refused the action; the caller rolls back whatever the batch did before it."""

    def __init__(self, inquiry_id: int, error: PmoError):
        super().__init__(error.message)
        self.inquiry_id, self.error = inquiry_id, error


def act_many(
    session: Session,
    principal: Principal,
    ids: list[int],
    action: str,
    *,
    text: str | None = None,
    ministry: str | None = None,
    assignee: int | Literal["me"] | None = None,
) -> int:
    """Take action on each inquiry in order; how many were changed. Raises Refused naming the first that refuses."""
    if action not in ACTIONS:
        raise InvalidInput.at(["body", "action"], f"まとめて行える操作は {', '.join(ACTIONS)} です（{action!r}）。")
    unique = list(dict.fromkeys(ids))
    if not unique:
        raise InvalidInput.at(["body", "ids"], "対象の問合せを 1 件以上選んでください。")
    if len(unique) > MAX_BATCH:
        raise InvalidInput.at(["body", "ids"], f"一度に操作できるのは {MAX_BATCH} 件までです（{len(unique)} 件）。")
    for inquiry_id in unique:
        try:
            if action == "assign":
                assignment.assign(session, principal, inquiry_id, assignee)
            else:
                service.act(session, principal, inquiry_id, action, text=text, ministry=ministry)
        except InvalidInput as exc:
            if any(d.get("loc") in PAYLOAD_FIELDS for d in exc.detail or []):
                raise  # the payload itself, the same for every inquiry: shown beside its field
            raise Refused(inquiry_id, exc) from None
        except PmoError as exc:
            raise Refused(inquiry_id, exc) from None
    return len(unique)
