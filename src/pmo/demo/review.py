"""Demo systems register and follow-ups, in the proportions MIC published (2025-07: 643 bodies with
3,770 特定移行支援システム of about 34,600; reasons: vendor resources 3,345, individually built 196,
no compliant product 184, mainframe 45)."""

import random
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from pmo import periods
from pmo.db import utcnow
from pmo.models import AdviserRequest, AdviserVisit, Body, FollowUp, System, SystemVersion
from pmo.reports.grid import load_catalog

VENDORS = (
    "みらい情報システム株式会社",
    "東和データサービス株式会社",
    "北辰システムズ株式会社",
    "さくら自治体ソリューションズ株式会社",
    "青葉コンピュータ株式会社",
    "大和情報技術株式会社",
    "瀬戸内電算株式会社",
    "みちのく情報センター株式会社",
)
REASONS = (("vendor_resources", 3345), ("individually_built", 196), ("no_compliant_product", 184), ("mainframe", 45))
DEFERRING_BODIES, DEFERRED_OPERATIONS = 643 / 1788, 0.31
LEARNED = (
    "ベンダーから移行作業の要員を確保できないとの説明があり、移行時期を再調整している。",
    "Fit&Gap分析の結果、独自施策の扱いについて庁内調整に時間を要している。",
    "予算の補正が必要となり、議会日程に合わせて契約時期が後ろ倒しになっている。",
    "担当職員の異動により、移行計画の見直しが止まっていた。",
)
ACTIONS = (
    "月次で進捗を共有し、次回は移行計画の改訂版を確認する。",
    "県の共同調達の枠組みへの参加を検討する。",
    "アドバイザー派遣の活用を案内した。",
)
CAUSES = ("vendor_resources", "staffing", "budget", "specification", "procurement")


def _reason(rng: random.Random) -> str:
    pick = rng.uniform(0, sum(w for _, w in REASONS))
    for reason, weight in REASONS:
        pick -= weight
        if pick <= 0:
            return reason
    return REASONS[0][0]


def generate(
    session: Session, *, seed: int = 2022, now: datetime | None = None, only: list[str] | None = None
) -> tuple[int, int]:
    """Register every body's systems (some deferred) and a few follow-ups per prefecture; returns their counts."""
    now = now or utcnow()
    catalog = load_catalog(session)
    query = select(Body).order_by(Body.id)
    bodies = list(session.scalars(query.where(Body.code.in_(only)) if only else query))
    systems, versions, follow_ups = [], [], []
    for body in bodies:
        rng = random.Random(f"{seed}-systems-{body.code}")
        vendor = rng.choice(VENDORS)
        defers = rng.random() < DEFERRING_BODIES
        for op in catalog.operations_for(body):
            deferred = defers and rng.random() < DEFERRED_OPERATIONS
            row = {
                "body_id": body.id,
                "operation_id": op.id,
                "vendor": vendor if rng.random() < 0.8 else rng.choice(VENDORS),
                "planned_go_live": periods.add_months(202509, rng.randint(-8, 7)) if not deferred else None,
                "deferred": deferred,
                "deferral_reason": _reason(rng) if deferred else None,
                "deferral_target": periods.add_months(202703, rng.randint(0, 36)) if deferred else None,
                "note": None,
            }
            stamp = now - timedelta(days=rng.randint(20, 400))
            systems.append({**row, "version": 1, "updated_at": stamp, "updated_by": f"{body.name} 標準化担当"})
            versions.append({**row, "version": 1, "changed_at": stamp, "changed_by": f"{body.name} 標準化担当"})
    by_prefecture: dict[str, list[Body]] = {}
    for body in bodies:
        if body.kind != "prefecture":
            by_prefecture.setdefault(body.prefecture_code, []).append(body)
    for code, municipalities in by_prefecture.items():
        rng = random.Random(f"{seed}-follow-ups-{code}")
        for body in rng.sample(municipalities, min(len(municipalities), rng.randint(1, 4))):
            held = date.fromordinal(now.date().toordinal() - rng.randint(5, 150))
            shared = rng.random() < 0.4
            follow_ups.append(
                {
                    "body_id": body.id,
                    "prefecture_code": code,
                    "held_on": held,
                    "channel": rng.choice(("visit", "phone", "online")),
                    "learned": rng.choice(LEARNED),
                    "agreed_actions": rng.choice(ACTIONS),
                    "next_check_on": held + timedelta(days=30),
                    "shared_with_national": shared,
                    "delay_cause": rng.choice(CAUSES) if shared else None,
                    "delay_detail": None,
                    "created_at": datetime.combine(held, datetime.min.time(), tzinfo=UTC),
                    "created_by": f"{body.prefecture_name} 市町村支援担当",
                }
            )
    for model, rows in ((System, systems), (SystemVersion, versions), (FollowUp, follow_ups)):
        if rows:
            session.execute(insert(model.__table__), rows)
    _adviser_requests(session, seed, now)
    return len(systems), len(follow_ups)


ADVISERS = ("標準化アドバイザー 佐藤", "標準化アドバイザー 鈴木", "標準化アドバイザー 高橋", "標準化アドバイザー 田中")


def _adviser_requests(session: Session, seed: int, now: datetime) -> None:
    """Every shared follow-up becomes an adviser request, at some stage between requested and completed."""
    rng = random.Random(f"{seed}-advisers")
    shared = session.execute(
        select(FollowUp.id, FollowUp.body_id, FollowUp.prefecture_code, FollowUp.held_on, FollowUp.created_by)
        .where(FollowUp.shared_with_national.is_(True))
        .order_by(FollowUp.id)
    ).all()
    for follow_up_id, body_id, pref, held_on, by in shared:
        stage = rng.choice(("requested", "assigned", "visiting", "visiting", "completed"))
        created = datetime.combine(held_on, datetime.min.time(), tzinfo=UTC) + timedelta(days=2)
        request_id = session.execute(
            insert(AdviserRequest.__table__).returning(AdviserRequest.__table__.c.id),
            [
                {
                    "body_id": body_id,
                    "prefecture_code": pref,
                    "requester_account_id": None,
                    "requester_role": "prefecture",
                    "requested_by": by,
                    "follow_up_id": follow_up_id,
                    "topic": "移行計画の見直しと事業者との調整",
                    "detail": None,
                    "operations": [],
                    "state": stage,
                    "adviser": None if stage == "requested" else rng.choice(ADVISERS),
                    "outcome": "改訂した移行計画について庁内合意を得た。" if stage == "completed" else None,
                    "created_at": created,
                    "updated_at": created,
                }
            ],
        ).scalar_one()
        if stage in ("visiting", "completed"):
            visited = min(held_on + timedelta(days=rng.randint(10, 30)), now.date())
            session.execute(
                insert(AdviserVisit.__table__),
                [
                    {
                        "request_id": request_id,
                        "visited_on": visited,
                        "mode": rng.choice(("onsite", "online")),
                        "summary": "事業者との協議に同席し、移行時期と作業分担の見直しを助言した。",
                        "recorded_by": "ヘルプデスク",
                        "created_at": created,
                    }
                ],
            )
