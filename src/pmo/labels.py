"""Japanese labels shared by pages, exports and messages: months as 2025年4月, fiscal years as 令和7年度, kinds,
statuses, roles."""

from datetime import date, datetime, timedelta

from pmo import periods
from pmo.stats.groups import STATS_KIND_LABELS  # noqa: F401  (the pages' label for a statistics kind)

# (first fiscal year of the era, era name); 令和元年 is 2019 (FY2019 is 令和元年度).
ERAS = ((2019, "令和"), (1989, "平成"))
KIND_LABELS = {
    "prefecture": "都道府県",
    "designated_city": "政令指定都市",
    "city": "市",
    "special_ward": "特別区",
    "town": "町",
    "village": "村",
}
STATUS_LABELS = {"done": "完了済み", "in_progress": "作業中", "not_started": "未着手", "not_applicable": "対象外"}
STATUS_COLORS = {"done": "#2f6db5", "in_progress": "#f2a93b", "not_started": "#d9dde3", "not_applicable": "#9bc3e6"}
ROLE_LABELS = {
    "municipality": "市区町村",
    "prefecture": "都道府県",
    "helpdesk": "ヘルプデスク",
    "admin": "管理者",
    "viewer": "閲覧者",
    "vendor": "事業者",
    "ministry": "府省",
}
AUDIT_LABELS = {  # what happened to an account, as its administrator reads the record
    "account.create": "アカウントの作成",
    "account.invite": "招待メールの送付",
    "account.password": "パスワードの設定",
    "account.sign_in": "ログイン",
    "account.second_factor": "二要素認証の設定",
    "account.recovery_code": "回復コードでのログイン",
    "account.second_factor_reset": "二要素認証のリセット",
    "account.reset_requested": "パスワード再設定の申込み",
    "account.reset_sent": "パスワード再設定メールの送付",
    "account.disable": "無効化",
    "account.enable": "有効化",
    "account.administrator": "アカウント管理者の指定の変更",
    "account.role": "ロールの変更",
    "account.rename": "氏名の変更",
    "token.issue": "トークンの発行",
    "token.create": "個人用トークンの作成",
    "token.revoke": "トークンの失効",
    "session.end": "セッションの終了",
}
REPORT_STATUS_LABELS = {"on_time": "期限内", "late": "期限後", "missing": "未報告", "pending": "受付中"}


def _period(value: int | str | None) -> int | None:
    return periods.parse(value) if isinstance(value, str) else value


def month_ja(value: int | str | None) -> str:
    """202504 or '2025-04' → '2025年4月' ('' for None)."""
    period = _period(value)
    return "" if period is None else f"{period // 100}年{period % 100}月"


def fiscal_year_ja(year: int) -> str:
    """2025 → '令和7年度', 2019 → '令和元年度', 2018 → '平成30年度'."""
    for start, era in ERAS:
        if year >= start:
            n = year - start + 1
            return f"{era}{'元' if n == 1 else n}年度"
    return f"{year}年度"


def period_fy_ja(value: int | str | None) -> str:
    """The fiscal year of a period in Japanese: '2025-04' → '令和7年度'."""
    period = _period(value)
    return "" if period is None else fiscal_year_ja(periods.fiscal_year(period))


def percent(value: float | None, digits: int = 1) -> str:
    """0.6234 → '62.3%'; None (suppressed or missing) → '—'."""
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def _local(value: datetime | str | None) -> datetime | None:
    if value is None or value == "":
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    return moment.astimezone(periods.zone()) if moment.tzinfo else moment


def date_ja(value: date | datetime | str | None) -> str:
    """A moment as its local date, or a date: '2025年4月10日'."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return f"{value.year}年{value.month}月{value.day}日"
    local = _local(value)
    return "" if local is None else f"{local.year}年{local.month}月{local.day}日"


def datetime_ja(value: datetime | str | None) -> str:
    """A moment in local time: '2025年4月10日 9:05'."""
    local = _local(value)
    return "" if local is None else f"{date_ja(local)} {local.hour}:{local.minute:02d}"


def deadline_ja(value: datetime | str | None) -> str:
    """A report's due time (the midnight ending its due day) as that day: '2025年5月10日'."""
    local = _local(value)
    return "" if local is None else date_ja(local - timedelta(microseconds=1))
