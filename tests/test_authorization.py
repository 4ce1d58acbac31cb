"""Authorization matrix: every route of the app × every role × every scope, asserted against the access rule
(README, "Who may see what").

The routes come from the app itself (API, HTML pages, docs, static files — include_in_schema or not), so
a route without an entry in RULES fails here with a message to add one. Each entry says who may call
the route; everyone else is refused (a new role included), the project's way (README "Who may see what"):
401 without credentials (a page: 303 to /login); 403 for anything under /bodies/{code} or /prefectures/{code}
(the directory is public) and for a wrong role; 404 for rows whose existence is private (inquiries,
follow-ups, FAQ drafts, notices addressed to others) — the same 404 a row that does not exist gets.
An allowed call must not be refused (nor 404, nor 422: the table's requests are valid); none may be a 5xx.
Lists must hold exactly the rows the caller may see.

Callers: one account per role (ROLES) and an anonymous one. Scopes: the caller's own body, its
prefecture, a municipality of the same prefecture, another prefecture's bodies, and national routes
without a body; rows (inquiries, follow-ups, FAQ, notices) are made per test through the API."""

import re
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from pmo import periods
from pmo.db import session_scope, utcnow
from pmo.directory.codes import prefecture_body_code

CHIYODA, CHUO, TOKYO, SAPPORO, HOKKAIDO = (
    "131016",
    "131024",
    "130001",
    "011002",
    "010006",
)  # 千代田区 中央区 東京都 札幌市 北海道
BODIES = (CHIYODA, CHUO, TOKYO, SAPPORO, HOKKAIDO)
PERIOD = periods.fmt(periods.current())
MISSING_ID = 2_000_000_000


# --- callers --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Role:
    """What an account of the role is bound to: a body's code, or nothing (national); extra account fields."""

    body: str | None = None
    account: dict = field(default_factory=dict)
    role: str | None = None  # the account's role when the entry's name is not one (an administrator)


# Adding a role is one line here; every rule refuses it until the rule names it.
ROLES: dict[str, Role] = {
    "municipality": Role(body=CHIYODA),
    "prefecture": Role(body=TOKYO),
    "helpdesk": Role(),
    "admin": Role(),
    "viewer": Role(),
    "vendor": Role(account={"organization": "みらい情報システム株式会社", "operations": ["koseki"]}),
    "ministry": Role(account={"organization": "総務省"}),
    # bodies' account administrators: their role's rights, and the accounts of their scope
    "prefecture administrator": Role(body=TOKYO, role="prefecture", account={"administrator": True}),
    "municipality administrator": Role(body=CHIYODA, role="municipality", account={"administrator": True}),
}


@dataclass
class Caller:
    """Someone calling: a role's account (token, and a dashboard session made on demand) or anonymous."""

    name: str
    role: str | None
    body: str | None = None
    org: str | None = None
    token: str | None = None
    cookie: str | None = None
    csrf: str | None = None
    administrator: bool = False

    @property
    def pref(self) -> str | None:
        return self.body[:2] if self.body else None


# --- what is called -------------------------------------------------------------------------------


@dataclass
class Target:
    """What a call is about: a body, a row (with the body it belongs to and its facts), or nothing (national)."""

    kind: str  # national | body | inquiry | follow_up | faq | notice
    label: str
    code: str | None = None
    id: int | None = None
    facts: dict = field(default_factory=dict)

    @property
    def pref(self) -> str | None:
        return self.code[:2] if self.code else None

    @property
    def is_prefecture(self) -> bool:
        return self.code is not None and self.code[2:5] == "000"


def scope(c: Caller, t: Target) -> str:
    """How the target relates to the caller (for the report)."""
    if t.code is None:
        return "national"
    if c.body is None:
        return "any body"
    if t.code == c.body:
        return "own"
    if t.pref != c.pref:
        return "other prefecture"
    return "own prefecture" if t.is_prefecture else "municipality of own prefecture"


# --- who (predicates of caller and target) ----------------------------------------------------------


class Who:
    """A named predicate of (caller, target); `a | b` lets in either."""

    def __init__(self, name: str, test: Callable[[Caller, Target], bool]):
        self.name, self.test = name, test

    def __call__(self, c: Caller, t: Target) -> bool:
        return c.role is not None and bool(self.test(c, t))

    def __or__(self, other: "Who") -> "Who":
        return Who(f"{self.name} | {other.name}", lambda c, t: self(c, t) or other(c, t))

    def __repr__(self) -> str:
        return self.name


def roles(*names: str) -> Who:
    return Who("/".join(names), lambda c, t: c.role in names)


anyone_signed_in = Who("anyone_signed_in", lambda c, t: True)
NOT_YOURS = Who("nobody: another account's row", lambda c, t: False)
admin = roles("admin")
owner = Who("owner", lambda c, t: c.body is not None and c.body == t.code)
its_prefecture = Who("its_prefecture", lambda c, t: c.role == "prefecture" and not t.is_prefecture and t.pref == c.pref)
body_readers = owner | its_prefecture | admin  # "reads row-level" in the access rule
national = roles("helpdesk", "admin")
# Inquiries: the asker (its body; a vendor: its account), the prefecture handling it, the helpdesk once it
# reached it, the ministry it was routed to.
asker = Who(
    "asker",
    lambda c, t: (
        c.name == t.facts["asker_account"]
        if t.facts.get("asker_account")
        else c.body == t.code and c.role == t.facts["asker_role"]
    ),
)
handling_prefecture = Who(
    "handling_prefecture", lambda c, t: c.role == "prefecture" and c.pref == t.pref and c.body != t.code
)
helpdesk_once_escalated = Who("helpdesk_once_escalated", lambda c, t: c.role == "helpdesk" and t.facts["escalated"])
ministry_routed_to = Who("ministry_routed_to", lambda c, t: c.role == "ministry" and c.org == t.facts.get("routed_to"))
inquiry_parties = asker | handling_prefecture | helpdesk_once_escalated | ministry_routed_to
inquiry_readers = inquiry_parties | admin
handlers = handling_prefecture | helpdesk_once_escalated | ministry_routed_to  # the tiers that answer
# Follow-ups: the municipality's prefecture; the helpdesk the shared ones.
helpdesk_if_shared = Who("helpdesk_if_shared", lambda c, t: c.role == "helpdesk" and t.facts["shared"])
follow_up_readers = its_prefecture | helpdesk_if_shared | admin
faq_readers = roles("helpdesk", "admin") | Who("published", lambda c, t: t.facts["status"] == "published")
senders = roles("helpdesk", "admin")
publishers = roles("helpdesk", "admin", "ministry")  # a ministry for its own operations
addressed = Who(
    "addressed",
    lambda c, t: (
        (c.role == "vendor" and t.facts["audience"] == "vendors")
        or (c.role == "prefecture" and t.facts["audience"] in ("all", "prefectures"))
        or (
            c.role == "municipality"
            and (
                t.facts["audience"] in ("all", "municipalities")
                or (t.facts["audience"] == "prefecture_municipalities" and t.facts["prefecture"] == c.pref)
            )
        )
    ),
)
notice_readers = publishers | addressed
# Adviser requests: the body, its prefecture, the national tier.
adviser_readers = owner | its_prefecture | national
# Accounts: the national admin manages national accounts and prefectures' administrators; a body's
# administrator its own staff, and a prefecture's also its municipalities' administrators.
NATIONAL_ROLES = ("admin", "helpdesk", "viewer", "vendor", "ministry")
account_admins = admin | Who("a body's account administrator", lambda c, t: c.administrator)


def _manages(c: Caller, t: Target) -> bool:
    role, marked = t.facts["role"], t.facts["administrator"]
    if c.role == "admin":
        return role in NATIONAL_ROLES or (role == "prefecture" and marked)
    if not c.administrator:
        return False
    if role == c.role and t.code == c.body:
        return not marked
    return c.role == "prefecture" and role == "municipality" and marked and t.pref == c.pref


manages = Who("manages the account", _manages)


# --- the table ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """Who may call a route, about what, and the valid request to send.

    target: national | body | prefecture (a prefecture's code) | inquiry | follow_up | faq | notice | adviser_request.
    auth: token (API), session (dashboard cookie) or public. Refusals: anonymous → 401 (token) or
    303 to /login (session); gate fails → 403 (a role check before any row is read); see fails → 404
    (rows whose existence is private); allow fails → 403."""

    allow: Who
    target: str = "national"
    auth: str = "token"
    gate: Who | None = None
    see: Who | None = None
    json: Any = None  # a value, or a function of the target
    form: Any = None
    files: Any = None
    query: dict | None = None
    path: dict = field(default_factory=dict)
    lists: str | None = None  # the JSON answer lists rows of this kind: exactly those the caller may see
    anonymous: int | str | None = "default"

    def refusal(self, c: Caller, t: Target) -> int | None:
        """The status a refused caller gets; None when the call is allowed."""
        if c.role is None:
            if self.anonymous != "default":
                return self.anonymous  # type: ignore[return-value]
            return {"token": 401, "session": 303, "public": None}[self.auth]
        if self.auth == "public":
            return None
        if self.gate is not None and not self.gate(c, t):
            return 403
        if self.see is not None and not self.see(c, t):
            return 404
        return None if self.allow(c, t) else 403


def public(**kw) -> Rule:
    return Rule(anyone_signed_in, auth="public", **kw)


def body(allow: Who, **kw) -> Rule:
    return Rule(allow, target="body", **kw)


def rows(kind: str, see: Who, allow: Who | None = None, **kw) -> Rule:
    return Rule(allow or see, target=kind, see=see, **kw)


def page(allow: Who, **kw) -> Rule:
    return Rule(allow, auth="session", **kw)


def _op(t: Target) -> str:
    return "seikatsu_hogo" if t.is_prefecture else "koseki"  # an operation the body reports


def _csv(t: Target) -> dict:
    return {"file": ("report.csv", f"業務コード,ステップ,状況\n{_op(t)},S01,完了済み\n".encode(), "text/csv")}


QUESTION = {
    "title": "Fit&Gap分析の進め方について",
    "question": "独自施策の扱いはどう整理すればよいでしょうか。",
    "category": "fit_gap",
}
TEXT = {"text": "標準仕様書 第4.0版 の該当箇所をご確認ください。"}
REASON = {"reason": "国の解釈が必要なため。"}
FOLLOW_UP = {
    "held_on": (periods.today() - timedelta(days=1)).isoformat(),
    "channel": "phone",
    "learned": "事業者の体制を確認した。",
}
FAQ = {"title": "ガバメントクラウドの利用料", "question": "利用料の負担は？", "answer": "団体の負担です。"}
NOTICE = {
    "title": "事務連絡",
    "body": "別添のとおりお知らせします。",
    "category": "other",
    "audience": "all",
    "operation": "jumin_kiroku",
}  # 総務省's: the ministry caller may publish it
ADVISER = {"topic": "移行計画の見直しとベンダー調整"}
API = "/api/v1"
B, P, INQ = f"{API}/bodies/{{code}}", f"{API}/prefectures/{{code}}", f"{API}/inquiries/{{inquiry_id}}"
ADV = f"{API}/adviser-requests/{{request_id}}"
ACC = f"{API}/accounts/{{account_id}}"


def _invitation(t: Target) -> dict:
    return {"email": f"invited-{secrets.token_hex(4)}@matrix.test", "display_name": "招待 太郎"}


RULES: dict[tuple[str, str], Rule] = {
    # health, metrics (the scrape token only), the OpenAPI document and its viewers
    **{(m, "/openapi.json"): public() for m in ("GET", "HEAD")},
    ("GET", "/docs"): public(),
    ("MOUNT", "/docs/assets"): public(path={"": "/swagger-ui.css"}),
    ("GET", "/healthz"): public(),
    ("GET", "/readyz"): public(),
    ("GET", "/metrics"): Rule(lambda c, t: False, anonymous=403),  # the scrape token or this host only
    # directory, who am I, audit
    ("GET", f"{API}/operations"): Rule(anyone_signed_in),
    ("GET", f"{API}/steps"): Rule(anyone_signed_in),
    ("GET", f"{API}/bodies"): Rule(anyone_signed_in),
    ("GET", B): body(anyone_signed_in),
    ("GET", f"{API}/me"): Rule(anyone_signed_in),
    ("GET", f"{API}/audit"): Rule(admin),
    # delegated administration: each administrator its own scope (another's account is a 404)
    ("GET", f"{API}/accounts"): Rule(account_admins, lists="account"),
    ("POST", f"{API}/accounts"): Rule(account_admins, json=_invitation),  # its own staff (admin: a viewer)
    ("GET", ACC): rows("account", manages, gate=account_admins),
    ("PATCH", ACC): rows("account", manages, gate=account_admins, json={"display_name": "異動 太郎"}),
    ("POST", f"{ACC}/link"): rows("account", manages, gate=account_admins),
    ("POST", f"{ACC}/second-factor/reset"): rows("account", manages, gate=account_admins),
    ("GET", "/accounts"): page(account_admins),
    ("POST", "/accounts"): page(account_admins, form=_invitation),
    ("GET", "/accounts/{account_id}"): page(manages, target="account", see=manages, gate=account_admins),
    ("POST", "/accounts/{account_id}"): page(
        manages, target="account", see=manages, gate=account_admins, form=lambda t: {"display_name": "異動 太郎"}
    ),
    **{
        ("POST", f"/accounts/{{account_id}}/{action}"): page(
            manages, target="account", see=manages, gate=account_admins, form=lambda t: {}
        )
        for action in ("link", "second-factor/reset")
    },
    # reports: only the body writes; the body, its prefecture and admin read
    ("PUT", f"{B}/reports/{{period}}"): body(owner, json={}),
    ("GET", f"{B}/reports/{{period}}"): body(body_readers),
    ("GET", f"{B}/reports"): body(body_readers),
    ("GET", f"{B}/reports/{{period}}/revisions"): body(body_readers),
    ("GET", f"{B}/progress"): body(body_readers),
    ("GET", f"{B}/reports/{{period}}/download"): body(body_readers, query={"format": "csv"}),
    ("POST", f"{B}/reports/{{period}}/upload"): body(owner, files=_csv),
    ("GET", f"{B}/missing-reports"): body(body_readers),
    # systems register
    ("GET", f"{B}/systems"): body(body_readers),
    ("GET", f"{B}/systems/{{operation}}"): body(body_readers),
    ("PUT", f"{B}/systems/{{operation}}"): body(owner, json={"vendor": "株式会社サンプル情報システム"}),
    # prefecture review: the prefecture itself and admin
    ("GET", f"{P}/bodies"): Rule(owner | admin, target="prefecture"),
    ("GET", f"{P}/lagging"): Rule(owner | admin, target="prefecture"),
    ("GET", f"{P}/missing-reports"): Rule(owner | admin, target="prefecture"),
    # follow-ups: written by the municipality's prefecture; read by it, the helpdesk (shared ones) and admin
    ("POST", f"{B}/follow-ups"): body(its_prefecture, json=FOLLOW_UP),
    ("GET", f"{B}/follow-ups"): body(its_prefecture | roles("helpdesk", "admin"), lists="follow_up"),
    ("GET", f"{API}/follow-ups"): Rule(anyone_signed_in, lists="follow_up"),
    ("GET", f"{API}/follow-ups/{{follow_up_id}}"): rows("follow_up", follow_up_readers),
    ("POST", f"{API}/follow-ups/{{follow_up_id}}/done"): rows(
        "follow_up", follow_up_readers, its_prefecture, json={"note": "計画の再作成を確認した。"}
    ),
    # inquiries: bodies file; each transition belongs to one party of the inquiry (admin only reads)
    ("POST", f"{API}/inquiries"): Rule(roles("municipality", "prefecture", "vendor"), json=QUESTION),
    ("GET", f"{API}/inquiries"): Rule(anyone_signed_in, lists="inquiry"),
    ("GET", f"{API}/inquiries/similar"): Rule(anyone_signed_in, query={"q": "Fit&Gap分析"}),
    ("GET", INQ): rows("inquiry", inquiry_readers),
    ("POST", f"{INQ}/messages"): rows("inquiry", inquiry_readers, inquiry_parties, json=TEXT),
    ("POST", f"{INQ}/answer"): rows("inquiry", inquiry_readers, handlers, json=TEXT),
    ("POST", f"{INQ}/ask-back"): rows("inquiry", inquiry_readers, handlers, json=TEXT),
    ("POST", f"{INQ}/reply"): rows("inquiry", inquiry_readers, asker, json=TEXT),
    ("POST", f"{INQ}/escalate"): rows("inquiry", inquiry_readers, handling_prefecture, json=REASON),
    ("POST", f"{INQ}/route"): rows(
        "inquiry", inquiry_readers, helpdesk_once_escalated, json={"ministry": "総務省", **REASON}
    ),
    ("POST", f"{INQ}/close"): rows("inquiry", inquiry_readers, asker),
    ("POST", f"{INQ}/reopen"): rows("inquiry", inquiry_readers, asker, json=REASON),
    ("POST", f"{INQ}/assign"): rows("inquiry", inquiry_readers, handlers, json={"assignee": "me"}),
    # FAQ: published entries for every signed-in caller, drafts and writing for the helpdesk
    ("GET", f"{API}/faqs"): Rule(anyone_signed_in, lists="faq"),
    ("GET", f"{API}/faqs/{{faq_id}}"): rows("faq", faq_readers),
    ("POST", f"{API}/faqs"): Rule(roles("helpdesk"), json={**FAQ, "status": "published"}),
    ("PUT", f"{API}/faqs/{{faq_id}}"): rows(
        "faq",
        faq_readers,
        roles("helpdesk"),
        gate=roles("helpdesk"),
        json=lambda t: {**FAQ, "status": t.facts["status"]},
    ),
    # notices: senders publish and see who read; bodies see what is addressed to them and mark it read
    ("GET", f"{API}/notices"): Rule(anyone_signed_in, lists="notice"),
    ("POST", f"{API}/notices"): Rule(publishers, gate=publishers, json=NOTICE),
    ("GET", f"{API}/notices/{{notice_id}}"): rows("notice", notice_readers),
    ("POST", f"{API}/notices/{{notice_id}}/read"): rows("notice", notice_readers, roles("municipality", "prefecture")),
    ("GET", f"{API}/notices/{{notice_id}}/readers"): rows("notice", notice_readers, senders, gate=senders),
    # adviser support: the body or its prefecture asks; the national tier assigns, visits, completes
    ("POST", f"{B}/adviser-requests"): body(owner | its_prefecture, json=ADVISER),
    ("GET", f"{B}/adviser-requests"): body(adviser_readers, lists="adviser_request"),
    ("GET", f"{API}/adviser-requests"): Rule(anyone_signed_in, lists="adviser_request"),
    ("GET", ADV): rows("adviser_request", adviser_readers),
    ("POST", f"{ADV}/assign"): rows(
        "adviser_request", adviser_readers, national, json={"adviser": "標準化アドバイザー 山田"}
    ),
    ("POST", f"{ADV}/visits"): rows(
        "adviser_request",
        adviser_readers,
        national,
        json={"visited_on": FOLLOW_UP["held_on"], "mode": "online", "summary": "計画を確認した。"},
    ),
    ("POST", f"{ADV}/complete"): rows(
        "adviser_request", adviser_readers, national, json={"outcome": "計画を見直した。"}
    ),
    ("POST", f"{ADV}/cancel"): rows("adviser_request", adviser_readers, owner | its_prefecture | national, json={}),
    # statistics: aggregates for every signed-in caller (anonymous only with PMO_PUBLIC_STATS)
    **{
        ("GET", f"{API}/stats/{s}"): Rule(anyone_signed_in)
        for s in ("progress", "trend", "distribution", "reporting", "systems", "inquiries", "advisers")
    },
    # dashboard pages (session cookie; forms carry the CSRF token; the same services decide)
    ("GET", "/login"): public(),
    ("POST", "/login"): page(anyone_signed_in, anonymous=401, form=lambda t: {}),  # anonymous: a wrong token
    ("GET", "/outbox"): page(roles("admin")),
    # your own account: anyone signed in, about their own rows only (someone else's id is a 404)
    ("GET", f"{API}/notifications"): Rule(anyone_signed_in),
    ("POST", f"{API}/notifications/read"): Rule(anyone_signed_in),
    ("POST", f"{API}/notifications/{{notification_id}}/read"): Rule(
        anyone_signed_in, see=NOT_YOURS, path={"notification_id": "2147483000"}
    ),
    ("GET", f"{API}/notifications/preferences"): Rule(anyone_signed_in),
    ("PUT", f"{API}/notifications/preferences"): Rule(anyone_signed_in, json={"modes": {"notices": "digest"}}),
    ("GET", "/notifications"): page(anyone_signed_in),
    ("POST", "/notifications/read"): page(anyone_signed_in, form=lambda t: {}),
    ("POST", "/notifications/preferences"): page(anyone_signed_in, form=lambda t: {"notices": "digest"}),
    ("POST", "/notifications/{notification_id}/open"): page(
        anyone_signed_in, see=NOT_YOURS, path={"notification_id": "2147483000"}, form=lambda t: {}
    ),
    ("GET", "/account"): page(anyone_signed_in),
    ("POST", "/account/tokens"): page(anyone_signed_in, form=lambda t: {"label": "集計スクリプト", "days": "30"}),
    ("POST", "/account/sessions/{session_id}/end"): page(
        anyone_signed_in, see=NOT_YOURS, path={"session_id": "2147483000"}, form=lambda t: {}
    ),
    ("POST", "/account/tokens/{token_id}/revoke"): page(
        anyone_signed_in, see=NOT_YOURS, path={"token_id": "2147483000"}, form=lambda t: {}
    ),
    ("POST", "/account/second-factor"): page(anyone_signed_in, form=lambda t: {}),
    ("POST", "/account/second-factor/confirm"): page(anyone_signed_in, form=lambda t: {}),  # a pending key's code
    ("POST", "/account/second-factor/off"): page(anyone_signed_in, form=lambda t: {}),  # 409 where it is required
    ("POST", "/account/password"): page(  # the caller is given MATRIX_PASSWORD first, and keeps it
        anyone_signed_in,
        form=lambda t: {"current": MATRIX_PASSWORD, "password": MATRIX_PASSWORD, "confirm": MATRIX_PASSWORD},
    ),
    # one-time links to set a password: whoever holds the link (each call below gets a fresh one)
    ("GET", "/password/forgot"): public(),
    ("POST", "/password/forgot"): page(
        anyone_signed_in, anonymous=None, form=lambda t: {"email": f"x-{secrets.token_hex(4)}@matrix.test"}
    ),
    ("GET", "/password/set/{token}"): public(),
    ("POST", "/password/set/{token}"): page(
        anyone_signed_in, anonymous=None, form=lambda t: {"password": MATRIX_PASSWORD, "confirm": MATRIX_PASSWORD}
    ),
    ("POST", "/login/code"): page(anyone_signed_in, anonymous=401, form=lambda t: {}),  # anonymous: no ticket
    ("POST", "/login/password"): page(anyone_signed_in, anonymous=401, form=lambda t: {}),  # anonymous: no account
    ("POST", "/logout"): page(anyone_signed_in, anonymous=None, form=lambda t: {}),
    ("GET", "/"): page(anyone_signed_in),
    ("GET", "/prefectures/{code}"): page(owner | admin, target="prefecture"),
    ("GET", "/prefectures/{code}/export"): page(owner | admin, target="prefecture", query={"format": "csv"}),
    ("GET", "/bodies/{code}"): page(body_readers, target="body"),
    ("POST", "/bodies/{code}/reports/{period}"): page(owner, target="body", form=lambda t: {"action": "no_change"}),
    ("POST", "/bodies/{code}/reports/{period}/upload"): page(owner, target="body", form=lambda t: {}, files=_csv),
    ("GET", "/bodies/{code}/reports/{period}/download"): page(body_readers, target="body", query={"format": "csv"}),
    ("GET", "/static/vendor/plotly-{version}.min.js"): public(),
    ("MOUNT", "/static"): public(path={"": "/dashboard.css"}),
    ("GET", "/inquiries"): page(anyone_signed_in),
    ("POST", "/inquiries"): page(roles("municipality", "prefecture", "vendor"), form=lambda t: dict(QUESTION)),
    ("GET", "/inquiries/{inquiry_id}"): page(inquiry_readers, target="inquiry", see=inquiry_readers),
    ("POST", "/inquiries/{inquiry_id}/{action}"): page(
        handlers, target="inquiry", see=inquiry_readers, path={"action": "answer"}, form=lambda t: dict(TEXT)
    ),
    ("GET", "/faqs"): page(anyone_signed_in),
    # helpdesk pages: bulk actions (the service decides per inquiry), saved filters (the owner's alone), FAQ drafting
    ("POST", "/inquiries/bulk"): page(
        asker, target="inquiry", see=inquiry_readers, form=lambda t: {"ids": str(t.id), "action": "close"}
    ),
    ("POST", "/inquiries/filters"): page(
        anyone_signed_in, form=lambda t: {"name": "期限超過", "query": "overdue=true"}
    ),
    ("POST", "/inquiries/filters/{filter_id}/delete"): page(
        Who("nobody", lambda c, t: False),  # the callers own no saved filter: anyone else's answers as missing
        see=Who("the filter's owner", lambda c, t: False),
        path={"filter_id": str(MISSING_ID)},
        form=lambda t: {},
    ),
    ("GET", "/faqs/new"): page(roles("helpdesk"), gate=roles("helpdesk")),
    ("POST", "/faqs/new"): page(
        roles("helpdesk"),
        target="inquiry",
        gate=roles("helpdesk"),
        see=inquiry_readers,
        form=lambda t: {"from_inquiry": str(t.id)},  # unanswered: 409 for the helpdesk
    ),
    ("GET", "/faqs/{faq_id}/edit"): page(roles("helpdesk"), target="faq", gate=roles("helpdesk"), see=faq_readers),
    ("POST", "/faqs/{faq_id}/edit"): page(
        roles("helpdesk"),
        target="faq",
        gate=roles("helpdesk"),
        see=faq_readers,
        form=lambda t: {**FAQ, "status": t.facts["status"]},
    ),
    # follow-ups and adviser support as pages: the same services decide
    ("GET", "/follow-ups"): page(anyone_signed_in),
    ("POST", "/follow-ups"): page(its_prefecture, target="body", form=lambda t: {"body": t.code, **FOLLOW_UP}),
    ("POST", "/follow-ups/{follow_up_id}/done"): page(
        its_prefecture, target="follow_up", see=follow_up_readers, form=lambda t: {"note": "確認した。"}
    ),
    ("GET", "/adviser-requests"): page(anyone_signed_in),
    ("POST", "/adviser-requests"): page(
        owner | its_prefecture, target="body", form=lambda t: {"body": t.code, **ADVISER}
    ),
    ("GET", "/adviser-requests/{request_id}"): page(adviser_readers, target="adviser_request", see=adviser_readers),
    ("POST", "/adviser-requests/{request_id}/{action}"): page(
        national,
        target="adviser_request",
        see=adviser_readers,
        path={"action": "assign"},
        form=lambda t: {"adviser": "標準化アドバイザー 山田"},
    ),
    ("GET", "/bodies/{code}/systems"): page(body_readers, target="body"),
    ("GET", "/bodies/{code}/systems/{operation}"): page(body_readers, target="body"),
    ("POST", "/bodies/{code}/systems/{operation}"): page(
        owner, target="body", form=lambda t: {"vendor": "株式会社サンプル情報システム"}
    ),
    ("GET", "/notices"): page(anyone_signed_in),
    ("POST", "/notices"): page(publishers, form=lambda t: dict(NOTICE)),
    ("GET", "/notices/{notice_id}"): page(notice_readers, target="notice", see=notice_readers),
    ("GET", "/notices/{notice_id}/receipts"): page(senders, target="notice", see=notice_readers),
    ("POST", "/notices/{notice_id}/read"): page(
        roles("municipality", "prefecture"), target="notice", see=notice_readers, form=lambda t: {}
    ),
}


# --- the routes the app has -----------------------------------------------------------------------


def app_routes(app) -> list[tuple[str, str]]:
    """(method, path) of every route the app serves, mounts as ("MOUNT", path)."""
    try:
        from fastapi.routing import iter_route_contexts

        found = [(r.original_route, r.path) for r in iter_route_contexts(app.routes)]
    except ImportError:  # FastAPI before lazily included routers
        found = [(r, r.path) for r in app.routes]
    out = []
    for route, path in found:
        methods = getattr(route, "methods", None)
        out.extend((m, path) for m in sorted(methods)) if methods else out.append(("MOUNT", path))
    return sorted(set(out), key=lambda k: (k[1], k[0]))


def _collect() -> list[tuple[str, str]]:
    from pmo.app import create_app

    return app_routes(create_app())


ROUTES = _collect()


# --- making the world ------------------------------------------------------------------------------


class World:
    """Callers and, on demand, rows of every kind in every scope, made through the API."""

    ROW_KINDS = ("inquiry", "follow_up", "faq", "notice", "adviser_request", "account")

    def __init__(self, client: TestClient, make_token: Callable[..., str]):
        self.client, self.make_token = client, make_token
        self.callers = [Caller("anonymous", None)] + [
            Caller(
                name,
                r.role or name,
                r.body,
                r.account.get("organization"),
                make_token(r.role or name, r.body, **r.account),
                administrator=r.account.get("administrator", False),
            )
            for name, r in ROLES.items()
        ]
        self._tokens: dict[tuple[str, str | None], str] = {
            (c.role, c.body): c.token for c in self.callers if c.role and c.token and not c.administrator
        }
        self._rows: dict[str, list[Target]] = {}

    def auth(self, role: str, code: str | None = None) -> dict[str, str]:
        key = (role, code)
        if key not in self._tokens:  # "other vendor": a second company
            extra = {"organization": "東和データサービス株式会社"} if role == "other vendor" else {}
            self._tokens[key] = self.make_token(role.removeprefix("other "), code, **extra)
        return {"Authorization": f"Bearer {self._tokens[key]}"}

    def post(self, url: str, headers: dict, json: Any, status: int = 201) -> dict:
        r = self.client.post(url, headers=headers, json=json)
        assert r.status_code == status, (url, r.text)
        return r.json()

    def rows(self, kind: str) -> list[Target]:
        if kind not in self._rows:
            self._rows[kind] = getattr(self, f"_make_{kind}")()
        return self._rows[kind]

    def _make_inquiry(self) -> list[Target]:
        out = []
        for role, code, escalate, route in (
            ("municipality", CHIYODA, False, None),
            ("municipality", CHUO, False, None),
            ("municipality", SAPPORO, False, None),
            ("municipality", CHIYODA, True, None),
            ("municipality", SAPPORO, True, None),
            ("prefecture", TOKYO, True, None),
            ("prefecture", HOKKAIDO, True, None),
            ("prefecture", TOKYO, True, "総務省"),
            ("municipality", SAPPORO, True, "厚生労働省"),
            ("vendor", None, True, None),
            ("other vendor", None, True, None),
        ):
            made = self.post(f"{API}/inquiries", self.auth(role, code), QUESTION)
            if escalate and role == "municipality":
                handler = self.auth("prefecture", prefecture_body_code(code[:2]))
                self.post(f"{API}/inquiries/{made['id']}/escalate", handler, REASON, 200)
            if route:
                self.post(
                    f"{API}/inquiries/{made['id']}/route", self.auth("helpdesk"), {"ministry": route, **REASON}, 200
                )
            where = f"routed to {route}" if route else "at the helpdesk" if escalate else "at its prefecture"
            facts = {
                "asker_role": role,
                "escalated": escalate,
                "routed_to": route,
                "asker_account": role if role in ("vendor", "other vendor") else None,
            }
            out.append(Target("inquiry", f"inquiry of {code or role} {where}", code, made["id"], facts))
        return out

    def _make_adviser_request(self) -> list[Target]:
        out = []
        for code, role in (
            (CHIYODA, "municipality"),
            (CHUO, "prefecture"),
            (SAPPORO, "municipality"),
            (TOKYO, "prefecture"),
            (HOKKAIDO, "prefecture"),
        ):
            by = code if role == "municipality" else prefecture_body_code(code[:2])
            made = self.post(f"{API}/bodies/{code}/adviser-requests", self.auth(role, by), ADVISER)
            out.append(Target("adviser_request", f"adviser request for {code} by {by}", code, made["id"]))
        return out

    def _make_follow_up(self) -> list[Target]:
        out = []
        for code, prefecture, shared in (
            (CHIYODA, TOKYO, False),
            (CHUO, TOKYO, True),
            (SAPPORO, HOKKAIDO, False),
            (SAPPORO, HOKKAIDO, True),
        ):
            data = {**FOLLOW_UP, "shared_with_national": shared, "delay_cause": "staffing" if shared else None}
            made = self.post(f"{API}/bodies/{code}/follow-ups", self.auth("prefecture", prefecture), data)
            out.append(
                Target(
                    "follow_up",
                    f"follow-up of {code}{' shared' if shared else ''}",
                    code,
                    made["id"],
                    {"shared": shared},
                )
            )
        return out

    def _make_faq(self) -> list[Target]:
        return [
            Target(
                "faq",
                f"{status} FAQ",
                None,
                self.post(f"{API}/faqs", self.auth("helpdesk"), {**FAQ, "status": status})["id"],
                {"status": status},
            )
            for status in ("published", "draft")
        ]

    def _make_notice(self) -> list[Target]:
        out = []
        for audience, prefecture in (
            ("all", None),
            ("prefectures", None),
            ("municipalities", None),
            ("prefecture_municipalities", "13"),
            ("prefecture_municipalities", "01"),
            ("vendors", None),
        ):
            made = self.post(
                f"{API}/notices", self.auth("helpdesk"), {**NOTICE, "audience": audience, "prefecture": prefecture}
            )
            out.append(
                Target(
                    "notice",
                    f"notice to {audience}{' ' + prefecture if prefecture else ''}",
                    None,
                    made["id"],
                    {"audience": audience, "prefecture": prefecture},
                )
            )
        return out

    def _make_account(self) -> list[Target]:
        from pmo.accounts import passwords, service

        out = []
        for role, code, marked in (
            ("viewer", None, False),
            ("vendor", None, False),
            ("prefecture", TOKYO, True),
            ("prefecture", TOKYO, False),
            ("prefecture", HOKKAIDO, True),
            ("prefecture", HOKKAIDO, False),
            ("municipality", CHIYODA, True),
            ("municipality", CHIYODA, False),
            ("municipality", CHUO, True),
            ("municipality", CHUO, False),
            ("municipality", SAPPORO, True),
            ("municipality", SAPPORO, False),
        ):
            name = f"row-{role}-{code}-{int(marked)}"
            extra = {"organization": "東和データサービス株式会社"} if role == "vendor" else {}
            with session_scope() as session:
                made = service.create_account(session, name, role, code, actor="t", administrator=marked, **extra)
                passwords.claim_email(session, made, f"{name}@matrix.test")
                account_id = made.id
            label = f"account {role}{' ' + code if code else ''}{' administrator' if marked else ''}"
            out.append(Target("account", label, code, account_id, {"role": role, "administrator": marked}))
        return out

    def callers_accounts(self) -> list[Target]:
        """The callers' own accounts, as rows a list of accounts may hold (never targets: writes would change them)."""
        from pmo.auth import hash_token
        from pmo.models import Account, Body, Token

        tokens = {hash_token(c.token): c for c in self.callers if c.token}
        with session_scope(read_only=True) as session:
            found = session.execute(
                select(Token.token_hash, Account.id, Account.role, Account.administrator, Body.code)
                .join(Account, Account.id == Token.account_id)
                .outerjoin(Body, Body.id == Account.body_id)
                .where(Token.token_hash.in_(tokens))
            ).all()
        return [
            Target("account", f"{tokens[h].name}'s own", code, i, {"role": role, "administrator": marked})
            for h, i, role, marked, code in found
        ]

    def targets(self, rule: Rule) -> list[Target]:
        if rule.target == "national":
            return [Target("national", "national")]
        if rule.target == "body":
            return [Target("body", code, code) for code in BODIES]
        if rule.target == "prefecture":
            return [Target("body", code, code) for code in BODIES if code[2:5] == "000"]
        return self.rows(rule.target)

    def sign_in(self, c: Caller) -> None:
        """A dashboard session for the caller (anonymous: the session the sign-in form starts)."""
        if c.csrf is not None:
            return
        r = self.client.get("/login")
        cookie, csrf = r.cookies.get("pmo_session"), _csrf(r.text)
        if c.token:
            r = self.client.post(
                "/login",
                data={"token": c.token, "csrf": csrf, "next": "/"},
                headers={"Cookie": f"pmo_session={cookie}"},
                follow_redirects=False,
            )
            assert r.status_code == 303, r.text
            cookie = r.cookies.get("pmo_session")
            csrf = _csrf(self.client.get("/login", headers={"Cookie": f"pmo_session={cookie}"}).text)
        self.client.cookies.clear()
        c.cookie, c.csrf = cookie, csrf


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]*)"', html)
    assert found and found.group(1), "no CSRF token on the sign-in page"
    return found.group(1)


# --- requests and checks --------------------------------------------------------------------------


def fill(path: str, rule: Rule, c: Caller, t: Target) -> str:
    """The path with its parameters taken from the target and the rule."""
    from pmo.dashboard.assets import PLOTLY_VERSION

    values = {
        "code": t.code,
        "period": PERIOD,
        "operation": _op(t),
        "version": PLOTLY_VERSION,
        "inquiry_id": t.id,
        "follow_up_id": t.id,
        "faq_id": t.id,
        "notice_id": t.id,
        "request_id": t.id,
        "account_id": t.id,
        **({"token": fresh_link()} if "{token}" in path else {}),
        **rule.path,
    }

    def one(m: re.Match) -> str:
        name = m.group(1)
        if values.get(name) is None:
            pytest.fail(
                f"no value for path parameter {{{name}}} of {path}: add it to fill() in tests/test_authorization.py"
            )
        return str(values[name])

    return re.sub(r"\{(\w+)(?::\w+)?\}", one, path) + rule.path.get("", "")


def send(client: TestClient, method: str, path: str, rule: Rule, c: Caller, t: Target):
    headers: dict[str, str] = {}
    if c.token and rule.auth in ("token", "public"):
        headers["Authorization"] = f"Bearer {c.token}"
    data = rule.form(t) if rule.form else None
    if rule.auth == "session":
        headers["Cookie"] = f"pmo_session={c.cookie}"
        if data is not None:
            data = {"csrf": c.csrf, **data}
            if path == "/login":
                data["token"] = c.token or "pmo_not-a-token"
            if path == "/account/password" and c.token:
                password_of(c.token)
            if path in ("/account/second-factor/confirm", "/account/second-factor/off"):
                data["code"] = code_of(c.token, enabled=path.endswith("off"))[0] if c.token else "000000"
            if path == "/login/code":
                data.update(second_factor_of(c.token, c.csrf) if c.token else {"ticket": "none", "code": "000000"})
            if path == "/login/password":
                data.update(email=password_of(c.token) if c.token else "nobody@matrix.test", password=MATRIX_PASSWORD)
    kwargs: dict[str, Any] = {"headers": headers, "params": rule.query, "follow_redirects": False}
    if rule.json is not None:
        kwargs["json"] = rule.json(t) if callable(rule.json) else rule.json
    if data is not None:
        kwargs["data"] = data
    if rule.files is not None:
        kwargs["files"] = rule.files(t)
    r = client.request("GET" if method == "MOUNT" else method, fill(path, rule, c, t), **kwargs)
    client.cookies.clear()
    return r


MATRIX_PASSWORD = "matrix passphrase 2026"


def second_factor_of(token: str, csrf: str | None) -> dict[str, str]:
    """A ticket (as the password step gives this browser) and a current code, for the token's account,
    which is given an enabled TOTP key first."""
    from itsdangerous import URLSafeTimedSerializer

    from pmo.config import get_settings
    from pmo.dashboard import session as page_session

    code, account_id = code_of(token, enabled=True)
    key = get_settings().session_secret or page_session._file_secret(page_session.SECRET_FILE)
    ticket = URLSafeTimedSerializer(key, salt="pmo-second-factor").dumps({"a": account_id, "c": csrf})
    return {"ticket": ticket, "code": code}


def code_of(token: str, *, enabled: bool) -> tuple[str, int]:
    """A current code of a new TOTP key given to the token's account (enabled, or pending enrolment)."""
    import pyotp

    from pmo.auth import hash_token
    from pmo.models import Account, Token

    with session_scope() as session:
        account = session.scalars(
            select(Account).join(Token, Token.account_id == Account.id).where(Token.token_hash == hash_token(token))
        ).one()
        account.totp_secret, account.totp_last_step = pyotp.random_base32(), 0
        account.totp_enabled_at = utcnow() if enabled else None
        return pyotp.TOTP(account.totp_secret).now(), account.id


def fresh_link() -> str:
    """The token of a new invitation link (for a new account): a link works once."""
    from pmo.accounts import links, service

    with session_scope() as session:
        account = service.create_account(session, f"matrix-invited-{secrets.token_hex(4)}", "viewer", None, actor="t")
        return links.invite(session, account, f"{account.name}@matrix.test", actor="test").rsplit("/", 1)[1]


def password_of(token: str) -> str:
    """Give the token's account a sign-in e-mail and MATRIX_PASSWORD (only for the password route: argon2
    costs tens of milliseconds a hash); returns the e-mail."""
    from pmo.accounts import passwords
    from pmo.auth import hash_token
    from pmo.models import Account, Token

    with session_scope() as session:
        account = session.scalars(
            select(Account).join(Token, Token.account_id == Account.id).where(Token.token_hash == hash_token(token))
        ).one()
        email = f"{account.name}@matrix.test"
        passwords.set_password(session, account, email, MATRIX_PASSWORD, actor="test")
    return email


ERROR_CODES = {401: "unauthenticated", 403: "forbidden", 404: "not_found"}


def brief(r) -> str:
    """The answer in a few words: a page's title, or the start of the JSON."""
    title = re.search(r"<title>(.*?)</title>", r.text, re.S)
    return title.group(1).strip() if title else r.text[:300]


def problem(r, want: int | None, rule: Rule) -> str | None:
    """What is wrong with the answer, or None."""
    s = r.status_code
    if s >= 500:
        return f"{s} — never a 5xx: {brief(r)}"
    if want is None:
        if s >= 400 and s != 409:  # 409: the right caller at the wrong moment (an inquiry's state)
            return f"allowed, but {s}: {brief(r)}"
        if (
            rule.auth == "session"
            and rule.anonymous == "default"
            and s == 303
            and r.headers["location"].startswith("/login")
        ):
            return "allowed, but sent to the sign-in form"
        return None
    if s != want:
        return f"expected {want}, got {s}: {brief(r)}"
    if want == 303:
        return (
            None
            if r.headers.get("location", "").startswith("/login")
            else f"303 to {r.headers.get('location')}, not /login"
        )
    if rule.auth == "token" and r.request.method != "HEAD":
        body = r.json()
        if set(body) != {"error", "message", "detail"} or body["error"] != ERROR_CODES[want] or not body["message"]:
            return f"{want} without the error shape: {body}"
        if want == 401 and r.headers.get("www-authenticate") != 'Bearer realm="pmo"':
            return "401 without WWW-Authenticate: Bearer"
    return None


def ids_in(answer: Any) -> set[int]:
    items = answer["items"] if isinstance(answer, dict) else answer
    return {item["id"] for item in items}


ASSERTED: Counter = Counter()  # (route, role, scope) → calls asserted
REFUSED: Counter = Counter()


@pytest.fixture(scope="module")
def app_client(database_url):
    """One app for the module (its OpenAPI document and caches are built once); a 500 is an answer, not a raise."""
    from pmo.app import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def world(database_url, app_client) -> World:
    from pmo.accounts import service

    counter = iter(range(1_000_000))

    def make_token(role: str, code: str | None, **account) -> str:
        with session_scope() as session:
            made = service.create_account(
                session, f"matrix-{role}-{next(counter)}", role, code, actor="test", **account
            )
            return service.issue_token(session, made, actor="test", ttl_days=1).token

    return World(app_client, make_token)


@pytest.mark.parametrize("route", ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_route(route, world):
    method, path = route
    rule = RULES.get(route)
    if rule is None:
        pytest.fail(
            f"{method} {path} has no entry in RULES of tests/test_authorization.py: add one saying who may call "
            "it (roles not named are refused)"
        )
    targets = world.targets(rule)
    # Anonymous callers are refused whatever the target: one target is enough for them.
    cases = [(c, t, rule.refusal(c, t)) for c in world.callers for t in (targets if c.role else targets[:1])]
    if rule.auth == "session":
        for c in world.callers:
            world.sign_in(c)
    if rule.lists:
        world.rows(rule.lists)
    problems, compared = [], set()
    # Refused calls first: they change nothing, and allowed writes (an escalation) must not change what they see.
    for c, t, want in sorted(cases, key=lambda case: case[2] is None):
        r = send(world.client, method, path, rule, c, t)
        found = problem(r, want, rule)
        if found is None and want is None and rule.lists and r.status_code == 200:
            expected = _visible_ids(world, rule, c, t)
            if ids_in(r.json()) != expected:
                found = f"lists {sorted(ids_in(r.json()))}, may see {sorted(expected)}"
        if found is None and want == 404 and rule.auth == "token" and method != "HEAD" and c.name not in compared:
            compared.add(c.name)  # once per caller and route
            found = _same_as_missing(world, method, path, rule, c, t, r)
        if found:
            problems.append(f"{c.name} → {t.label} ({scope(c, t)}): {found}")
        ASSERTED[(method, path, c.name, scope(c, t))] += 1
        REFUSED[want] += 1
    assert not problems, f"{method} {path}:\n  " + "\n  ".join(problems)


SEES = {
    "inquiry": inquiry_readers,
    "follow_up": follow_up_readers,
    "faq": faq_readers,
    "notice": notice_readers,
    "adviser_request": adviser_readers,
    "account": manages,
}


def _visible_ids(world: World, rule: Rule, c: Caller, t: Target) -> set[int]:
    rows = world.rows(rule.lists) + (world.callers_accounts() if rule.lists == "account" else [])
    return {row.id for row in rows if SEES[rule.lists](c, row) and (t.code is None or row.code == t.code)}


def _same_as_missing(world: World, method: str, path: str, rule: Rule, c: Caller, t: Target, refused) -> str | None:
    """A row the caller may not see answers exactly like a row that does not exist."""
    missing = Target(t.kind, "missing", t.code, MISSING_ID, t.facts)
    r = send(world.client, method, path, rule, c, missing)

    def strip(answer: dict, row_id: int) -> dict:
        return {**answer, "message": re.sub(rf"\b{row_id}\b", "#", answer["message"])}

    if r.status_code != 404 or strip(r.json(), MISSING_ID) != strip(refused.json(), t.id):
        return f"refused as {refused.json()}, but a missing row answers {r.status_code} {r.text[:200]}"
    return None


ROW_ROUTES = [route for route in ROUTES if route in RULES and RULES[route].target in World.ROW_KINDS]


@pytest.mark.parametrize("route", ROW_ROUTES, ids=[f"{m} {p}" for m, p in ROW_ROUTES])
@pytest.mark.parametrize("row_id", [0, -1, 10**20])
def test_ids_out_of_range_are_refused_not_5xx(route, row_id, world):
    """Ids the database cannot hold (it has 32-bit integers) are a 4xx, never a 500."""
    method, path = route
    rule = RULES[route]
    target = Target(rule.target, "out of range", None, row_id, {"status": "published"})
    # admin, or the first role past the route's role check, so that the id reaches the database
    caller = next(
        c
        for c in sorted(world.callers, key=lambda c: c.role != "admin")
        if c.role and (rule.gate is None or rule.gate(c, target))
    )
    if rule.auth == "session":
        world.sign_in(caller)
    r = send(world.client, method, path, rule, caller, target)
    assert r.status_code in (404, 422), f"{method} {path} with id {row_id}: {r.status_code} {brief(r)}"


def test_every_role_is_in_the_matrix():
    from pmo.models import ROLES as MODEL_ROLES

    missing = [r for r in MODEL_ROLES if r not in ROLES]
    assert not missing, f"roles {missing} are not in ROLES of tests/test_authorization.py: add one line each"


def test_no_rule_for_a_route_that_is_gone():
    gone = sorted(set(RULES) - set(ROUTES))
    assert not gone, f"RULES of tests/test_authorization.py names routes the app no longer has: {gone} — remove them"


@pytest.fixture(scope="module", autouse=True)
def _report(request):
    yield
    if not ASSERTED:
        return
    routes = {(m, p) for m, p, _, _ in ASSERTED}
    callers = {c for _, _, c, _ in ASSERTED}
    line = (
        f"authorization matrix: {len(routes)} routes × {len(callers)} callers ({len(callers) - 1} roles + anonymous), "
        f"{len(ASSERTED)} (route, caller, scope) cells, {sum(ASSERTED.values())} calls asserted "
        f"({sum(v for k, v in REFUSED.items() if k is not None)} refusals)"
    )
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.ensure_newline()
            reporter.write_line(line)
