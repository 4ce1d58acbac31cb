"""FAQ: entries, drafts promoted from answered inquiries, and Japanese search ranked by BM25.

Search runs the same SQL on SQLite and PostgreSQL: faq_terms holds each entry's normalised terms
(character bigrams and words, see faqs/text.py) with their field-weighted frequency, and the score
is Σ idf × tf·(k1+1) / (tf + k1·(1 − b + b·len/avglen)) computed with GROUP BY faq_id."""

import math
from datetime import datetime

from sqlalchemy import ColumnElement, case, delete, func, insert, not_, select, true
from sqlalchemy.orm import Session

from pmo import audit, caching, messages
from pmo.auth import Principal
from pmo.db import utcnow
from pmo.directory import service as directory
from pmo.errors import Conflict, InvalidInput, NotFound
from pmo.faqs.schemas import DraftedFaq, FaqCreate, FaqOut, FaqUpdate, Removed
from pmo.faqs.scrub import Scrubber
from pmo.faqs.text import needed_matches, query_terms, weighted_terms
from pmo.inquiries.access import visible_to as inquiry_visible_to
from pmo.inquiries.schemas import CATEGORY_LABELS, SimilarFaq
from pmo.models import Account, Body, Faq, FaqTerm, Inquiry, InquiryMessage, Operation, Step
from pmo.pagination import Page

K1, B = 1.2, 0.75
FIELD_WEIGHTS = {"title": 3.0, "question": 1.0, "answer": 1.0}
SEARCH_COVERAGE = 0.6  # an entry must contain this share of the query's terms
EDITORS = ("helpdesk",)


def visible_to(principal: Principal) -> ColumnElement[bool]:
    """Bodies (and everyone else) see published entries; the helpdesk and admin also see drafts."""
    if principal.role in ("helpdesk", "admin"):
        return true()
    return Faq.status == "published"


def _codes(session: Session, faqs: list[Faq]) -> tuple[dict[int, str], dict[int, str]]:
    op_ids = {f.operation_id for f in faqs if f.operation_id}
    step_ids = {f.step_id for f in faqs if f.step_id}
    ops = (
        dict(session.execute(select(Operation.id, Operation.code).where(Operation.id.in_(op_ids))).all())
        if op_ids
        else {}
    )
    steps = dict(session.execute(select(Step.id, Step.code).where(Step.id.in_(step_ids))).all()) if step_ids else {}
    return ops, steps


def _out(
    principal: Principal, f: Faq, ops: dict[int, str], steps: dict[int, str], score: float | None = None
) -> FaqOut:
    return FaqOut(
        id=f.id,
        title=f.title,
        question=f.question,
        answer=f.answer,
        category=f.category,
        category_label=CATEGORY_LABELS.get(f.category) if f.category else None,
        operation=ops.get(f.operation_id) if f.operation_id is not None else None,
        step=steps.get(f.step_id) if f.step_id is not None else None,
        status=f.status,
        publisher=f.publisher,
        source_inquiry=f.source_inquiry_id if principal.role in ("helpdesk", "admin") else None,
        created_at=f.created_at,
        updated_at=f.updated_at,
        published_at=f.published_at,
        score=None if score is None else round(score, 4),
    )


def index(session: Session, faq: Faq) -> None:
    """Rewrite the entry's search terms (called on every create and update)."""
    counts = weighted_terms(
        (faq.title, FIELD_WEIGHTS["title"]),
        (faq.question, FIELD_WEIGHTS["question"]),
        (faq.answer, FIELD_WEIGHTS["answer"]),
    )
    faq.length = float(sum(counts.values())) or 1.0
    session.execute(delete(FaqTerm).where(FaqTerm.faq_id == faq.id))
    if counts:
        session.execute(
            insert(FaqTerm),
            [{"faq_id": faq.id, "term": t, "weight": w, "length": faq.length} for t, w in counts.items()],
        )


# --- search -------------------------------------------------------------------------------------


document_frequencies: caching.Cache[tuple[tuple, str], int] = caching.Cache("faq_terms", max_entries=50_000)


def term_statistics(session: Session, terms: list[str]) -> tuple[int, float, dict[str, int]]:
    """(number of entries, average length, {term: entries containing it}) as of now. Entries change rarely
    and searches are many, so each process counts a term's postings once per version of the FAQ (asked
    with one small query per search; counts of older versions are never read again and age out)."""
    count, length, updated_at, newest = session.execute(
        select(func.count(Faq.id), func.sum(Faq.length), func.max(Faq.updated_at), func.max(Faq.id))
    ).one()
    version = (count, length, updated_at, newest)
    n_docs, total = count or 0, float(length or 0.0)
    known = {t: n for t in terms if (n := document_frequencies.get((version, t))) is not None}
    missing = [t for t in terms if t not in known]
    if missing:
        counted = dict(
            session.execute(
                select(FaqTerm.term, func.count()).where(FaqTerm.term.in_(missing)).group_by(FaqTerm.term)
            ).all()
        )
        for term in missing:
            known[term] = document_frequencies.put((version, term), counted.get(term, 0))
    return n_docs, (total / n_docs if n_docs else 1.0), known


def _ranked(
    session: Session, terms: list[str], coverage: float, *, visible: ColumnElement[bool], where: list | None = None
) -> list[tuple[int, float]]:
    """(faq id, BM25 score) of the entries holding enough of the terms, best first, among those
    visible (a visible_to clause) and matching where (further filters on faqs)."""
    if not terms:
        return []
    n_docs, avg_len, df = term_statistics(session, terms)
    need = needed_matches(len(terms), coverage)
    present = [t for t in terms if df.get(t)]
    if not n_docs or len(present) < need:
        return []
    idf = {t: math.log(1.0 + (n_docs - df[t] + 0.5) / (df[t] + 0.5)) for t in present}
    norm = K1 * (1.0 - B) + (K1 * B / (avg_len or 1.0)) * FaqTerm.length
    score = func.sum(case(idf, value=FaqTerm.term, else_=0.0) * FaqTerm.weight * (K1 + 1.0) / (FaqTerm.weight + norm))
    # The postings alone (one range of the primary key per term, index-only); which entries the caller
    # may see is applied afterwards — joining faqs inside the aggregate makes planners probe it per posting.
    ranked = session.execute(
        select(FaqTerm.faq_id, score.label("score"))
        .where(FaqTerm.term.in_(present))
        .group_by(FaqTerm.faq_id)
        .having(func.count() >= need)
        .order_by(score.desc(), FaqTerm.faq_id)
    ).all()
    if where:
        keep = set(session.scalars(select(Faq.id).where(visible, *where)))
        return [(i, float(s)) for i, s in ranked if i in keep]
    hidden = set(session.scalars(select(Faq.id).where(not_(visible))))  # e.g. drafts, for bodies: a handful
    return [(i, float(s)) for i, s in ranked if i not in hidden]


def _filters(
    session: Session, operation: str | None, step: str | None, status: str | None, category: str | None
) -> list:
    """Clauses on Faq for the query's filters (codes checked: 422 naming the parameter)."""
    where = []
    if operation:
        op_id = session.scalar(select(Operation.id).where(Operation.code == operation))
        if op_id is None:
            raise InvalidInput.at(
                ["query", "operation"],
                messages.unknown_operation(operation),
                input=operation,
            )
        where.append(Faq.operation_id == op_id)
    if step:
        step_id = session.scalar(select(Step.id).where(Step.code == step))
        if step_id is None:
            raise InvalidInput.at(["query", "step"], f"ステップコード {step!r} はありません（S01〜S40）。", input=step)
        where.append(Faq.step_id == step_id)
    if status:
        where.append(Faq.status == status)
    if category:
        where.append(Faq.category == category)
    return where


def search(
    session: Session,
    principal: Principal,
    *,
    q: str | None = None,
    operation: str | None = None,
    step: str | None = None,
    status: str | None = None,
    category: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> Page[FaqOut]:
    """Entries the caller may see: ranked by relevance to q, or newest first without q."""
    visible = visible_to(principal)
    where = _filters(session, operation, step, status, category)
    if q is not None and q.strip():
        terms = query_terms(q)
        if not terms:
            raise InvalidInput.at(
                ["query", "q"],
                "検索語に検索できる語がありません。2文字以上の語句（漢字は1文字から）で指定してください。",
                input=q,
            )
        ranked = _ranked(session, terms, SEARCH_COVERAGE, visible=visible, where=where)
        page = ranked[offset : offset + limit]
        rows = {f.id: f for f in session.scalars(select(Faq).where(Faq.id.in_([i for i, _ in page])))} if page else {}
        ops, steps = _codes(session, list(rows.values()))
        return Page[FaqOut](
            items=[_out(principal, rows[i], ops, steps, s) for i, s in page],
            total=len(ranked),
            limit=limit,
            offset=offset,
        )
    total = session.scalar(select(func.count()).select_from(Faq).where(visible, *where)) or 0
    faqs = list(
        session.scalars(
            select(Faq)
            .where(visible, *where)
            .order_by(Faq.published_at.desc().nulls_last(), Faq.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )
    ops, steps = _codes(session, faqs)
    return Page[FaqOut](items=[_out(principal, f, ops, steps) for f in faqs], total=total, limit=limit, offset=offset)


def search_ids(session: Session, principal: Principal, text: str, *, coverage: float, limit: int) -> list[SimilarFaq]:
    """Published entries resembling text (for duplicate suggestions when filing an inquiry)."""
    ranked = _ranked(session, query_terms(text), coverage, visible=Faq.status == "published")[:limit]
    titles = (
        dict(session.execute(select(Faq.id, Faq.title).where(Faq.id.in_([i for i, _ in ranked]))).all())
        if ranked
        else {}
    )
    return [SimilarFaq(id=i, title=titles[i], score=round(s, 4)) for i, s in ranked]


def get(session: Session, principal: Principal, faq_id: int) -> FaqOut:
    """One entry (404 for a draft unless the caller is the helpdesk or admin)."""
    faq = session.scalar(select(Faq).where(Faq.id == faq_id, visible_to(principal)))
    if faq is None:
        raise NotFound(f"FAQ {faq_id} はありません。")
    return _out(principal, faq, *_codes(session, [faq]))


# --- writing ------------------------------------------------------------------------------------


def _draft_from_inquiry(session: Session, principal: Principal, inquiry_id: int) -> tuple[dict, Scrubber]:
    inq = session.scalar(select(Inquiry).where(Inquiry.id == inquiry_id, inquiry_visible_to(principal)))
    if inq is None:
        raise NotFound(
            f"問合せ {inquiry_id} はありません。",
            detail=[{"loc": ["body", "from_inquiry"], "msg": "該当する問合せがありません。"}],
        )
    answer = session.scalar(
        select(InquiryMessage.text)
        .where(InquiryMessage.inquiry_id == inq.id, InquiryMessage.kind == "answer")
        .order_by(InquiryMessage.id.desc())
        .limit(1)
    )
    if answer is None or inq.state not in ("answered", "closed"):
        raise Conflict(
            f"問合せ {inq.id} は「{inq.state}」で回答がまだありません。FAQ にできるのは回答済みの問合せです。",
            detail={"state": inq.state, "tier": inq.current_tier},
        )
    bodies = [(code, name) for code, name in session.execute(select(Body.code, Body.name))]
    asker = session.execute(select(Body.code, Body.name).where(Body.id == inq.asker_body_id)).first()
    author_ids = set(
        session.scalars(select(InquiryMessage.author_account_id).where(InquiryMessage.inquiry_id == inq.id))
    )
    author_ids.add(inq.asker_account_id)
    people = [
        n
        for row in session.execute(select(Account.name, Account.display_name).where(Account.id.in_(author_ids)))
        for n in row
        if n
    ]
    scrub = Scrubber(bodies, (asker.code, asker.name) if asker else None, people)
    draft = {
        "title": scrub(inq.title),
        "question": scrub(inq.question),
        "answer": scrub(answer),
        "category": inq.category,
        "operation_id": inq.operation_id,
        "step_id": inq.step_id,
        "source_inquiry_id": inq.id,
    }
    return draft, scrub


def _publisher(session: Session, name: str | None) -> str:
    from pmo.accounts.service import ministries

    allowed = ministries(session)
    if name is not None and name not in allowed:
        raise InvalidInput.at(["body", "publisher"], f"発信元は {'・'.join(allowed)} のいずれかです。", input=name)
    return name or "デジタル庁"


def create(session: Session, principal: Principal, data: FaqCreate, *, now: datetime | None = None) -> DraftedFaq:
    """A new entry, or a draft promoted from an answered inquiry with identities removed."""
    now = now or utcnow()
    fields: dict = {"source_inquiry_id": None, "operation_id": None, "step_id": None, "category": None}
    scrub = None
    if data.from_inquiry is not None:
        if data.status == "published":
            raise InvalidInput.at(
                ["body", "status"],
                "問合せから作る FAQ は下書き（draft）として作成されます。"
                "内容を確認してから PUT /api/v1/faqs/{id} で published にしてください。",
                input="published",
            )
        drafted, scrub = _draft_from_inquiry(session, principal, data.from_inquiry)
        fields.update(drafted)
    given = data.model_dump(exclude_unset=True, exclude={"from_inquiry", "status", "operation", "step", "publisher"})
    fields["publisher"] = _publisher(session, data.publisher)
    fields.update({k: v for k, v in given.items() if v is not None})
    if "operation" in data.model_fields_set or "step" in data.model_fields_set or data.from_inquiry is None:
        op_id, step_id = directory.resolve_operation_step(session, data.operation, data.step)
        if "operation" in data.model_fields_set or data.from_inquiry is None:
            fields["operation_id"] = op_id
        if "step" in data.model_fields_set or data.from_inquiry is None:
            fields["step_id"] = step_id
    missing = [f for f in ("title", "question", "answer") if not fields.get(f)]
    if missing:
        raise InvalidInput(
            "FAQ には title（見出し）・question（質問）・answer（回答）が必要です"
            "（from_inquiry を指定すると問合せから下書きします）。",
            detail=[{"loc": ["body", f], "msg": "必須項目です（from_inquiry を指定しない場合）。"} for f in missing],
        )
    faq = Faq(
        **fields,
        status=data.status,
        length=1.0,
        created_at=now,
        created_by=principal.name,
        updated_at=now,
        updated_by=principal.name,
        published_at=now if data.status == "published" else None,
    )
    session.add(faq)
    session.flush()
    index(session, faq)
    audit.record(
        session, principal, "faq.create", f"faq:{faq.id}", {"status": faq.status, "from_inquiry": data.from_inquiry}
    )
    session.flush()
    out = _out(principal, faq, *_codes(session, [faq]))
    return DraftedFaq(**out.model_dump(), removed=scrub.report() if scrub else [])


def update(
    session: Session, principal: Principal, faq_id: int, data: FaqUpdate, *, now: datetime | None = None
) -> FaqOut:
    """Replace an entry's text, labels and status (publishing makes it visible to bodies)."""
    now = now or utcnow()
    faq = session.scalar(select(Faq).where(Faq.id == faq_id).with_for_update())
    if faq is None:
        raise NotFound(f"FAQ {faq_id} はありません。")
    op_id, step_id = directory.resolve_operation_step(session, data.operation, data.step)
    before = faq.status
    faq.title, faq.question, faq.answer, faq.category = data.title, data.question, data.answer, data.category
    faq.operation_id, faq.step_id, faq.status = op_id, step_id, data.status
    faq.publisher = _publisher(session, data.publisher) if data.publisher else faq.publisher
    if data.status == "published" and before != "published":
        faq.published_at = now
    elif data.status == "draft":
        faq.published_at = None
    faq.updated_at, faq.updated_by = now, principal.name
    index(session, faq)
    audit.record(session, principal, "faq.update", f"faq:{faq.id}", {"status": [before, faq.status]})
    session.flush()
    return _out(principal, faq, *_codes(session, [faq]))


def removals(session: Session, principal: Principal, inquiry_id: int | None) -> list[Removed] | None:
    """What drafting removes from the source inquiry as it stands (for the reviewer); None when it cannot be read."""
    if inquiry_id is None:
        return None
    try:
        return _draft_from_inquiry(session, principal, inquiry_id)[1].report()
    except (NotFound, Conflict):  # reopened since, or out of the caller's sight
        return None
