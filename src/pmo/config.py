"""Settings read from the environment (prefix PMO_) and .env."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    """Everything an operator can set; each field is documented in docs/operations.md."""

    model_config = SettingsConfigDict(env_prefix="PMO_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{PROJECT_ROOT / 'var' / 'pmo.sqlite3'}",
        description="SQLAlchemy URL; SQLite file by default, postgresql+psycopg://… in production.",
    )
    stats_database_url: str | None = Field(
        default=None,
        description="URL of a read-only role for statistics (PostgreSQL); derived from database_url when unset.",
    )
    seeds_dir: Path = Field(default=PROJECT_ROOT / "seeds", description="Folder of the master-data CSV files.")
    token_ttl_days: int = Field(default=365, ge=1, description="Default lifetime of an issued token, in days.")
    clock_offset_days: int = Field(
        default=0,
        ge=0,
        le=36_500,
        description="Days added to the real clock (benchmarks and demos of a later date, e.g. a 120-month history).",
    )
    report_due_day: int = Field(
        default=10, ge=1, le=28, description="Day of the following month by which a period's report is due."
    )
    max_body_bytes: int = Field(default=2_000_000, ge=1024, description="Largest accepted request body, in bytes.")
    page_size_max: int = Field(default=500, ge=1, description="Largest page size a list endpoint returns.")
    suppression_k: int = Field(
        default=3, ge=1, description="Statistics: every published atom must have more bodies (else 503)."
    )
    public_stats: bool = Field(default=False, description="Serve statistics to anonymous callers.")
    stats_recheck_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="Statistics: how often a worker asks the database whether data changed.",
    )
    auth_cache_seconds: float = Field(
        default=10.0,
        ge=0,
        le=300,
        description="Statistics: how long a token's principal is remembered per worker.",
    )
    stats_response_cache_mb: int = Field(
        default=256, ge=1, description="Statistics: memory per worker for rendered answers, in MiB (LRU beyond it)."
    )
    stats_matrix_cache_mb: int = Field(
        default=48,
        ge=8,
        description="Statistics: memory per worker for period matrices (≈1.4 MiB each, a row per body), in MiB.",
    )
    stats_summary_cache_mb: int = Field(
        default=96,
        ge=8,
        description="Statistics: memory per worker for period summaries (≈0.4 MiB a month of history), in MiB.",
    )
    stats_derived_cache_mb: int = Field(
        default=64, ge=1, description="Statistics: memory per worker for derived values (charts, curves), in MiB."
    )
    warm_cache: bool = Field(
        default=True, description="Load every period's statistics matrix in the background at start-up."
    )
    lag_window_months: int = Field(default=6, ge=1, le=24, description="Lagging: months of report history weighed.")
    lag_stalled_months: int = Field(
        default=3, ge=1, description="Lagging: months without any changed cell that count as stalled."
    )
    lag_peer_months: int = Field(
        default=3, ge=1, description="Lagging: months behind the kind's national median that count."
    )
    lag_open_inquiries: int = Field(default=3, ge=1, description="Lagging: open inquiries that count as many.")
    lag_min_score: float = Field(
        default=2.0, ge=0, description="Lagging: bodies scoring below this are never listed first."
    )
    lag_share: float = Field(
        default=0.15,
        gt=0,
        le=1,
        description="Lagging: the share of a prefecture's municipalities listed first (the highest scores).",
    )
    sla_prefecture_days: int = Field(
        default=5, ge=1, le=60, description="Inquiries: business days a prefecture has to answer."
    )
    sla_helpdesk_days: int = Field(
        default=10, ge=1, le=60, description="Inquiries: business days the helpdesk has to answer."
    )
    inquiry_reopen_days: int = Field(
        default=14,
        ge=0,
        le=365,
        description="Inquiries: days after the answer (or closing) within which the asker may reopen.",
    )
    metrics_token: str | None = Field(
        default=None,
        description="Bearer token a Prometheus scrape of /metrics must send; unset: only this host may scrape.",
    )
    session_secret: str | None = Field(
        default=None,
        description="Key that signs dashboard session cookies; unset: a random key kept in var/session-secret.",
    )
    auth_failures_per_client: int = Field(
        default=60,
        ge=1,
        description="Failed sign-ins (bad tokens) one client may make per minute before it must wait (429).",
    )
    auth_failures_per_token: int = Field(
        default=10, ge=1, description="Failed sign-ins per minute for one token prefix (its first 12 characters)."
    )
    auth_failures_per_account: int = Field(
        default=5, ge=1, description="Failed password sign-ins per minute for one e-mail address before it must wait."
    )
    smtp_url: str | None = Field(
        default=None,
        description="smtp://[user:password@]host[:port] (STARTTLS when offered; smtps:// for TLS from the start). "
        "Unset: messages stay in the outbox for admins to see (/outbox), nothing is sent.",
    )
    remind_business_days: int = Field(
        default=3, ge=0, le=20, description="pmo remind: tell a body its report is due this many business days ahead."
    )
    outbox_retry_seconds: int = Field(
        default=60, ge=0, description="First retry after a failed delivery; doubled each time, at most 6 hours."
    )
    outbox_deliver_seconds: int = Field(
        default=0,
        ge=0,
        description="When above 0, each server worker runs `pmo outbox deliver` this often itself (else use cron).",
    )
    digest_hour: int = Field(
        default=8, ge=0, le=23, description="Hour (Japan time) the daily digest of held messages is mailed."
    )
    mail_from: str = Field(default="pmo <noreply@pmo.invalid>", description="The From: of every message.")
    site_url: str = Field(
        default="http://127.0.0.1:8000", description="The address people open the pages at (links in messages)."
    )
    session_hours: int = Field(default=12, ge=1, le=720, description="Dashboards: hours a sign-in lasts.")
    timezone: str = Field(default="Asia/Tokyo", description="Time zone in which periods and deadlines are judged.")


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
