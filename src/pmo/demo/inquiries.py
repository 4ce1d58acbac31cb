"""Demo inquiries in every state and tier, FAQ entries (some drafted from answered inquiries) and
notices with read marks — written through the services, with the clock set back, so histories,
due times, search terms and the audit log are what real use would leave. Deterministic per seed."""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from pmo.auth import Principal
from pmo.db import utcnow
from pmo.faqs import service as faqs
from pmo.faqs.schemas import FaqCreate
from pmo.inquiries import assignment
from pmo.inquiries import service as inquiries
from pmo.inquiries.schemas import Category, InquiryIn, MessageIn
from pmo.models import Account, Body, Notice, NoticeRead
from pmo.notices import service as notices
from pmo.notices.schemas import Audience, NoticeCategory, NoticeIn

PREFECTURES = (
    "13",
    "01",
    "14",
    "27",
    "23",
    "40",
    "04",
    "16",
    "34",
    "47",
)  # 東京, 北海道, 神奈川, 大阪, 愛知, 福岡, 宮城, 富山, 広島, 沖縄
NAMED = {"131016": "demo-chiyoda", "130001": "demo-tokyo"}  # the accounts `make run` issues tokens for

# (category, operation, step, title, question, answer)
Topic = tuple[Category, str | None, str | None, str, str, str]
TOPICS: tuple[Topic, ...] = (
    (
        "fit_gap",
        "jumin_kiroku",
        "S07",
        "Fit&Gap分析で独自施策をどう扱うか",
        "{body}では住民記録システムのFit&Gap分析を進めています。標準仕様書にない独自施策（転入者への案内の自動送付）について、"
        "標準準拠システムでの扱いをどう整理すればよいでしょうか。",
        "標準仕様書に定めのない独自施策は、標準準拠システムのカスタマイズではなく、運用の見直しか、標準準拠システムと疎結合な"
        "別システムで実現する整理が基本です。Fit&Gap分析では「業務の見直し」「運用で対応」「別システム」「廃止」のいずれかに"
        "分類し、判断の経緯を記録しておいてください。",
    ),
    (
        "fit_gap",
        "kotei_shisanzei",
        "S08",
        "ギャップ対応方針の庁内合意の進め方",
        "固定資産税のFit&Gap分析で約40件のギャップが見つかりました。業務所管課との合意形成はどの単位で進めるのがよいでしょうか。",
        "ギャップは帳票・画面・処理の単位で一覧にし、業務への影響度で優先順位を付けたうえで、所管課ごとに合意してください。"
        "標準に合わせて業務を見直すことが原則であり、見直しの根拠として標準仕様書の該当箇所を示すと合意が得やすくなります。",
    ),
    (
        "government_cloud",
        None,
        "S30",
        "ガバメントクラウドの利用料の見積り方法",
        "ガバメントクラウド移行後の運用経費の見積りを財政課から求められています。利用料の試算にはどの資料を参照すればよいでしょうか。",
        "デジタル庁が公表しているガバメントクラウドの見積り支援資料と、ベンダーから提示されるシステム構成案をもとに試算してください。"
        "共同利用方式の場合は、参加団体間の按分方法もあわせて確認が必要です。",
    ),
    (
        "government_cloud",
        None,
        "S30",
        "ガバメントクラウド接続回線の調達単位",
        "ガバメントクラウドへの接続回線は、業務システムごとに調達する必要がありますか。県内の共同調達も検討しています。",
        "接続回線は業務システムごとではなく団体単位での調達が一般的です。県内の共同調達も可能で、回線の冗長化要件は"
        "ガバメントクラウドの接続ガイドに従ってください。",
    ),
    (
        "data_migration",
        "jumin_kiroku",
        "S33",
        "データ移行時の外字の取扱い",
        "現行の住民記録システムで使用している外字を標準準拠システムへ移行する際、文字の同定はどの段階で行うべきでしょうか。",
        "文字情報基盤の文字への同定は、データ移行リハーサルの前に完了させることを推奨しています。同定できない文字は一覧にし、"
        "住民への確認が必要なものを早めに洗い出してください。",
    ),
    (
        "data_migration",
        "kokuho",
        "S33",
        "移行データの検証（突合）の方法",
        "国民健康保険の資格・賦課データの移行後、現行システムとの突合はどの程度の範囲で行えばよいでしょうか。",
        "件数・金額の総量突合に加え、世帯構成や異動履歴が複雑な世帯を抽出した個票突合を行ってください。"
        "突合の観点と結果は移行判定の資料として残してください。",
    ),
    (
        "deferred_system",
        "koseki",
        "S16",
        "特定移行支援システムに該当するかの判断",
        "ベンダーから2025年度末までの移行は難しいとの連絡がありました。特定移行支援システムとして申し出る場合の要件を教えてください。",
        "事業者のリソース不足など、団体の責によらない事情で期限内の移行が困難な場合が対象です。移行完了の見込み時期と理由を整理のうえ、"
        "所定の様式で都道府県を経由して申し出てください。",
    ),
    (
        "deferred_system",
        "kaigo_hoken",
        "S16",
        "特定移行支援システムの移行完了時期の見直し",
        "特定移行支援システムとして申し出た介護保険システムについて、移行完了の見込み時期を変更する場合の手続を教えてください。",
        "見込み時期の変更は、次回の定期調査で変更後の時期と理由を報告してください。大幅な変更の場合は都道府県に事前に相談してください。",
    ),
    (
        "specification",
        "jido_teate",
        "S06",
        "標準仕様書の改定版への対応時期",
        "児童手当システムの標準仕様書が改定されました。既に契約済みの場合、改定内容にはいつまでに対応する必要がありますか。",
        "改定版の適用時期と経過措置は改定の通知に記載されています。契約済みの場合は、ベンダーと改定内容の影響を確認し、"
        "移行計画に反映してください。",
    ),
    (
        "specification",
        "kojin_juminzei",
        "S31",
        "標準仕様書にない帳票の扱い",
        "個人住民税の独自帳票（納税通知書の同封チラシ）は標準仕様書にありません。どのように扱えばよいでしょうか。",
        "標準仕様書に定めのない帳票は、標準準拠システムの外で作成するか、様式を見直して標準帳票に合わせてください。",
    ),
    (
        "schedule",
        None,
        "S16",
        "移行時期の決定と他業務との調整",
        "{body}では20業務のうち3業務の移行時期が2026年度にずれ込む見込みです。他業務との連携はどう調整すればよいでしょうか。",
        "先行して移行する業務との連携は、共通機能（庁内データ連携機能）を介した標準の連携方式に合わせて設計してください。"
        "移行時期の異なる業務間の暫定連携は、ベンダー間で早めに仕様を確認することが重要です。",
    ),
    (
        "funding",
        None,
        "S17",
        "補助金の対象経費（Fit&Gap分析の委託）",
        "Fit&Gap分析をコンサルタントに委託する経費は、デジタル基盤改革支援補助金の対象になりますか。",
        "標準準拠システムへの移行に必要な作業の委託経費は、補助対象となり得ます。対象経費の範囲は交付要綱とQ&Aで確認してください。",
    ),
    (
        "procurement",
        None,
        "S19",
        "共同調達に参加する場合の契約方法",
        "県内の市町村と共同調達を検討しています。契約は各団体で締結する必要がありますか。",
        "共同調達でも契約は各団体が締結する方式が一般的です。代表団体が調達手続を行い、各団体が同一条件で契約する方法が多く採られています。",
    ),
    (
        "procurement",
        None,
        "S11",
        "RFIの実施方法と情報提供依頼の範囲",
        "RFI（情報提供依頼）を行う際、標準準拠システムの価格情報まで求めてもよいでしょうか。",
        "RFIで概算価格の提示を求めることは可能です。ただし、RFIの回答は調達の前提ではないことを明示し、比較可能な形式で求めてください。",
    ),
    (
        "other",
        None,
        "S01",
        "庁内推進体制の作り方",
        "情報政策担当と業務所管課の役割分担がうまくいっていません。他団体ではどのような推進体制を取っていますか。",
        "首長をトップとする推進本部の下に、情報政策担当と業務所管課からなる作業部会を置く例が多く見られます。"
        "進捗を月次で共有する場を設けることが有効です。",
    ),
)
ASK_BACK = (
    "現行システムの契約期間と、ベンダーとの協議状況を教えてください。",
    "該当する業務と、影響を受ける住民の概数を教えてください。",
    "検討中の対応案があれば共有してください。",
)
REPLIES = (
    "契約は2026年3月末までで、延長について協議中です。",
    "対象は約1,200世帯です。",
    "運用で対応する案と別システムで対応する案を比較しています。",
)
REASONS = (
    "標準仕様書の解釈に関わるため、国の見解を伺います。",
    "県内の複数団体で同様の論点があり、統一的な回答が必要なため。",
    "補助金の対象となるかは国の判断が必要なため。",
)
# (scenario, weight)
SCENARIOS = (
    ("open", 6),
    ("open_overdue", 3),
    ("awaiting", 3),
    ("answered", 5),
    ("closed", 6),
    ("withdrawn", 1),
    ("escalated_open", 4),
    ("escalated_awaiting", 2),
    ("escalated_answered", 3),
    ("escalated_closed", 4),
    ("reopened", 2),
    ("direct_open", 2),
    ("direct_closed", 2),
)
FAQ_ENTRIES: tuple[Topic, ...] = (
    (
        "fit_gap",
        "jumin_kiroku",
        "S07",
        "Fit&Gap分析の進め方",
        "標準仕様書と現行業務のFit&Gap分析はどのように進めればよいですか。",
        "標準仕様書の機能要件・帳票要件ごとに現行の運用と比較し、差異（ギャップ）とその対応方針を一覧にまとめます。"
        "対応方針は業務の見直しを原則とし、判断の経緯を記録してください。",
    ),
    (
        "data_migration",
        "jumin_kiroku",
        "S33",
        "住民記録システムのデータ移行",
        "住民記録システムのデータ移行で使用する中間ファイルの形式は決まっていますか。",
        "標準仕様書のデータ要件・連携要件に定める標準レイアウトを使用します。移行リハーサルで変換結果を必ず検証してください。",
    ),
    (
        "government_cloud",
        None,
        "S30",
        "ガバメントクラウドの利用料の負担",
        "ガバメントクラウドを共同利用する場合、利用料はどのように負担しますか。",
        "利用量に応じて参加団体間で按分する方法が一般的です。按分方法は協定書等で事前に合意してください。",
    ),
    (
        "specification",
        None,
        "S06",
        "標準仕様書の改定への対応",
        "標準仕様書の改定版が公表された場合、いつまでに対応が必要ですか。",
        "改定の通知に示す適用時期と経過措置を確認し、移行計画に反映してください。",
    ),
    (
        "deferred_system",
        None,
        "S16",
        "特定移行支援システムの申出",
        "特定移行支援システムとして申し出るにはどうすればよいですか。",
        "移行完了の見込み時期と理由を所定の様式に記入し、都道府県を経由して申し出てください。",
    ),
    (
        "funding",
        None,
        "S17",
        "デジタル基盤改革支援補助金の対象経費",
        "補助金の対象となる経費の範囲を教えてください。",
        "標準準拠システムへの移行に必要な経費（Fit&Gap分析、データ移行、環境構築等）が対象です。詳細は交付要綱を確認してください。",
    ),
    (
        "procurement",
        None,
        "S19",
        "共同調達の進め方",
        "県内の団体と共同で調達する場合の進め方を教えてください。",
        "代表団体を決め、調達仕様と評価基準を共同で作成したうえで、各団体が同一条件で契約する方法が一般的です。",
    ),
    (
        "data_migration",
        "kokuho",
        "S33",
        "移行データの突合の範囲",
        "移行後のデータ突合はどこまで行えばよいですか。",
        "総量突合に加え、異動履歴が複雑なデータを抽出した個票突合を行ってください。",
    ),
    (
        "specification",
        None,
        "S37",
        "条例・規則の改正が必要となる場合",
        "標準準拠システムへの移行に伴い、条例や規則の改正は必要ですか。",
        "帳票の様式や手数料の算定方法など、標準仕様に合わせて運用を変える場合は改正が必要となることがあります。早めに法規担当と調整してください。",
    ),
    (
        "schedule",
        None,
        "S39",
        "本番移行判定の基準",
        "移行リハーサルの結果から本番移行を判定する基準はありますか。",
        "データ突合の結果、性能、運用手順の確認状況を判定項目とし、判定会議で可否を決める方法を推奨しています。",
    ),
    (
        "government_cloud",
        None,
        "S30",
        "ガバクラ接続回線の冗長化",
        "ガバメントクラウドへの接続回線は冗長化が必要ですか。",
        "業務継続の観点から冗長化を推奨しています。要件はガバメントクラウドの接続ガイドを参照してください。",
    ),
    (
        "other",
        None,
        "S36",
        "職員研修の時期",
        "標準準拠システムの職員研修はいつ頃行うのがよいですか。",
        "運用テストと並行して、本番移行の1〜2か月前に行う例が多く見られます。",
    ),
)
NOTICES: tuple[tuple[NoticeCategory, Audience, str | None, str | None, int, str, str], ...] = (
    (
        "basic_policy",
        "all",
        None,
        None,
        150,
        "地方公共団体情報システム標準化基本方針の改定について",
        "地方公共団体情報システム標準化基本方針が閣議決定により改定されました。移行期限の考え方と特定移行支援システムの取扱いについて、"
        "別添の概要資料をご確認ください。",
    ),
    (
        "specification",
        "all",
        None,
        "jumin_kiroku",
        120,
        "住民記録システム標準仕様書【第5.0版】の公表について",
        "住民記録システム標準仕様書の第5.0版を公表しました。主な改定内容は、帳票要件の見直しと連携要件の追加です。",
    ),
    (
        "administrative_notice",
        "municipalities",
        None,
        None,
        90,
        "特定移行支援システムの該当見込みに関する調査について（依頼）",
        "各団体における特定移行支援システムの該当見込みについて調査を行います。回答期限までに都道府県を経由して回答してください。",
    ),
    (
        "administrative_notice",
        "prefectures",
        None,
        None,
        75,
        "ガバメントクラウド移行に係る経費の見込み調査について",
        "管内市区町村のガバメントクラウド移行に係る経費の見込みについて、取りまとめのうえご回答ください。",
    ),
    (
        "event",
        "prefectures",
        None,
        None,
        60,
        "標準化・ガバメントクラウド移行に関する都道府県説明会の開催について",
        "都道府県の担当者を対象に、移行状況の把握と市区町村支援の進め方に関する説明会をオンラインで開催します。",
    ),
    (
        "funding",
        "municipalities",
        None,
        None,
        45,
        "デジタル基盤改革支援補助金の交付申請について",
        "令和7年度の交付申請の受付を開始します。申請様式と留意事項を別添のとおりお知らせします。",
    ),
    (
        "schedule",
        "prefecture_municipalities",
        "13",
        None,
        30,
        "移行スケジュールの再確認のお願い（東京都内市区町村）",
        "東京都内の市区町村の皆様へ。月次報告の移行スケジュールと実態に差がないか、改めてご確認ください。",
    ),
    (
        "administrative_notice",
        "prefecture_municipalities",
        "01",
        None,
        20,
        "北海道内市町村向け 共同調達の説明会について",
        "北海道内の市町村を対象に、共同調達の進め方に関する説明会を開催します。",
    ),
    (
        "other",
        "all",
        None,
        None,
        10,
        "よくある質問（Fit&Gap分析）を公開しました",
        "問合せの多かったFit&Gap分析の進め方について、FAQを公開しました。問合せの前にご確認ください。",
    ),
    (
        "specification",
        "all",
        None,
        "koseki",
        3,
        "戸籍システム標準仕様書の改定案に関する意見照会について",
        "戸籍システム標準仕様書の改定案について意見照会を行います。意見は所定の様式で提出してください。",
    ),
)


@dataclass(frozen=True)
class DemoInquiries:
    inquiries: int
    faqs: int
    notices: int
    reads: int


def _account(session: Session, name: str, role: str, body: Body | None, now: datetime) -> Principal:
    """The demo account of that name (reused when it already is what we need)."""
    account = session.scalar(select(Account).where(Account.name == name))
    if account is not None and (account.role != role or account.body_id != (body.id if body else None)):
        name, account = f"{name}-demo", session.scalar(select(Account).where(Account.name == f"{name}-demo"))
    if account is None:
        account = Account(
            name=name,
            role=role,
            body_id=body.id if body else None,
            created_at=now,
            display_name=f"{body.name} 標準化担当" if body else "国 ヘルプデスク",
        )
        session.add(account)
        session.flush()
    return Principal(
        account_id=account.id,
        name=account.name,
        role=role,
        body_id=body.id if body else None,
        body_code=body.code if body else None,
        prefecture_code=body.prefecture_code if body else None,
    )


def _pick(rng: random.Random, weighted: tuple) -> str:
    chosen: str = rng.choices([s for s, _ in weighted], weights=[w for _, w in weighted])[0]
    return chosen


def _later(rng: random.Random, t: datetime, now: datetime, lo: float, hi: float) -> datetime:
    return min(t + timedelta(days=rng.uniform(lo, hi)), now - timedelta(minutes=5))


def _play(
    session: Session,
    rng: random.Random,
    scenario: str,
    asker: Principal,
    pref: Principal,
    helpdesk: Principal,
    body: Body,
    now: datetime,
    takes: random.Random,
) -> int:
    category, operation, step, title, question, answer = rng.choice(TOPICS)
    direct = scenario.startswith("direct")
    who = pref if direct else asker
    age = {"open": (0.2, 3), "open_overdue": (12, 40)}.get(scenario, (8, 150))
    t = now - timedelta(days=rng.uniform(*age))
    data = InquiryIn(
        title=title,
        question=question.format(body=body.name),
        category=category,
        operation=None if direct else operation,
        step=step,
    )
    inq = inquiries.file(session, who, data, now=t).id

    def act(principal: Principal, action: str, text: str, lo: float = 0.5, hi: float = 6) -> None:
        nonlocal t
        t = _later(rng, t, now, lo, hi)
        inquiries.act(session, principal, inq, action, text=text, now=t)

    def take(principal: Principal) -> None:  # most inquiries someone of the tier has taken on
        if takes.random() < 0.6:
            assignment.assign(session, principal, inq, "me", now=t)

    handler = helpdesk if direct else pref
    take(handler)
    if scenario in ("open", "open_overdue", "direct_open"):
        if rng.random() < 0.4 and not direct:
            t = _later(rng, t, now, 0.1, 1)
            inquiries.add_message(
                session, pref, inq, MessageIn(text="県内の他団体の状況も確認します（県内メモ）。", internal=True), now=t
            )
        return inq
    if scenario == "withdrawn":
        act(asker, "close", "自己解決したため取り下げます。")
        return inq
    if scenario.startswith("escalated") or (scenario == "reopened" and rng.random() < 0.5):
        act(pref, "escalate", rng.choice(REASONS))
        handler = helpdesk
        take(helpdesk)
    if scenario.endswith("awaiting"):
        act(handler, "ask_back", rng.choice(ASK_BACK))
        return inq
    if rng.random() < 0.3:
        act(handler, "ask_back", rng.choice(ASK_BACK))
        act(who, "reply", rng.choice(REPLIES))
    if scenario == "escalated_open":
        return inq
    act(handler, "answer", answer, 1, 9)
    if scenario in ("closed", "escalated_closed", "direct_closed"):
        act(who, "close", "ご回答ありがとうございました。")
    elif scenario == "reopened":
        act(who, "reopen", "回答の適用時期について追加で確認させてください。", 0.5, 3)
    return inq


def generate(session: Session, *, seed: int = 2022, now: datetime | None = None) -> DemoInquiries:
    """Write the demo inquiries, FAQ and notices in the caller's transaction; returns their counts."""
    now = now or utcnow()
    rng = random.Random(f"{seed}-inquiries")
    takes = random.Random(f"{seed}-assignees")  # its own stream: the inquiries stay as they were without it
    helpdesk = _account(session, "demo-helpdesk", "helpdesk", None, now)
    bodies = list(session.scalars(select(Body).where(Body.prefecture_code.in_(PREFECTURES)).order_by(Body.id)))
    by_pref: dict[str, list[Body]] = {}
    for body in bodies:
        by_pref.setdefault(body.prefecture_code, []).append(body)
    answered_at_helpdesk: list[int] = []
    n_inquiries = 0
    # FAQ first, so that filing finds similar entries as it would in real use
    for i, (category, operation, step, title, question, answer) in enumerate(FAQ_ENTRIES):
        faqs.create(
            session,
            helpdesk,
            FaqCreate(
                title=title,
                question=question,
                answer=answer,
                category=category,
                operation=operation,
                step=step,
                status="published",
            ),
            now=now - timedelta(days=200 - 10 * i),
        )
    for code in PREFECTURES:
        members = by_pref[code]
        pref_body = next(b for b in members if b.kind == "prefecture")
        municipalities = [b for b in members if b.kind != "prefecture"]
        pref = _account(session, NAMED.get(pref_body.code, f"demo-{pref_body.code}"), "prefecture", pref_body, now)
        askers = rng.sample(municipalities, min(len(municipalities), 8))
        if code == "13":
            askers = [b for b in municipalities if b.code == "131016"] + [b for b in askers if b.code != "131016"][:7]
        for body in askers:
            asker = _account(session, NAMED.get(body.code, f"demo-{body.code}"), "municipality", body, now)
            for _ in range(rng.randint(2, 4) + (3 if body.code == "131016" else 0)):
                scenario = _pick(rng, SCENARIOS)
                inq = _play(session, rng, scenario, asker, pref, helpdesk, body, now, takes)
                n_inquiries += 1
                if scenario in ("escalated_answered", "escalated_closed"):
                    answered_at_helpdesk.append(inq)
    # a few drafts promoted from answered inquiries, waiting for review
    for inquiry_id in answered_at_helpdesk[:3]:
        faqs.create(session, helpdesk, FaqCreate(from_inquiry=inquiry_id), now=now - timedelta(days=1))
    n_notices = n_reads = 0
    fit_gap_faq = faqs.search(session, helpdesk, q="Fit&Gap分析の進め方", limit=1).items
    for notice_category, audience, prefecture, operation, days_ago, title, body_text in NOTICES:
        published = now - timedelta(days=days_ago)
        notice_out = notices.publish(
            session,
            helpdesk,
            NoticeIn(
                title=title,
                body=body_text,
                category=notice_category,
                audience=audience,
                prefecture=prefecture,
                operation=operation,
                faq_id=fit_gap_faq[0].id if "FAQ" in title and fit_gap_faq else None,
            ),
            now=published,
        )
        n_notices += 1
        notice = session.get_one(Notice, notice_out.id)
        recipients = list(session.scalars(select(Body.id).where(notices.recipients(notice)).order_by(Body.id)))
        share = min(0.9, 0.25 + days_ago / 120)
        rows = [
            {
                "notice_id": notice.id,
                "body_id": body_id,
                "account_id": None,
                "read_at": published + timedelta(hours=rng.uniform(1, max(2.0, days_ago * 24 * 0.8))),
            }
            for body_id in recipients
            if rng.random() < share
        ]
        if rows:
            session.execute(insert(NoticeRead), rows)
        n_reads += len(rows)
    return DemoInquiries(
        inquiries=n_inquiries,
        faqs=len(FAQ_ENTRIES) + min(3, len(answered_at_helpdesk)),
        notices=n_notices,
        reads=n_reads,
    )
