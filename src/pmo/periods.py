"""Periods (reporting months) as 'YYYY-MM' outside and yyyymm integers inside; deadlines in JST."""

import re
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Annotated, overload
from zoneinfo import ZoneInfo

from pydantic import Field

from pmo.config import get_settings
from pmo.db import utcnow

PERIOD_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"  # ASCII digits: \d would take ２０２６ and ٢٠٢٦
_PERIOD_RE = re.compile(PERIOD_PATTERN)
TRACKING_START = 202206  # the national tool's first monthly survey; series and curves start here
FIRST_PERIOD = 202104  # FY2021, when the standardization act took effect; nothing earlier is a valid report


# A date a person may give (a meeting, a visit, a next check): from the act's first fiscal year to a
# horizon no plan reaches; 0001-01-01 and 9999-12-31 are typing slips, not dates.
PlausibleDate = Annotated[
    date, Field(ge=date(2021, 4, 1), le=date(2099, 12, 31), description="YYYY-MM-DD, 2021-04-01 or later")
]


def parse(text: object) -> int | None:
    """'2025-04' → 202504; None when text is not a well-formed month."""
    if not isinstance(text, str) or not _PERIOD_RE.fullmatch(text):  # fullmatch: $ would let "\n" through
        return None
    return int(text[:4]) * 100 + int(text[5:])


def parse_valid(text: str) -> int:
    """parse() of a month its schema has already checked (the Month pattern), so never None."""
    period = parse(text)
    if period is None:
        raise ValueError(f"not a YYYY-MM month: {text!r}")
    return period


@overload
def fmt(period: int) -> str: ...
@overload
def fmt(period: None) -> None: ...
@overload
def fmt(period: int | None) -> str | None: ...


@lru_cache(maxsize=4096)  # a grid formats 3,200 months; there are only a few hundred distinct ones
def fmt(period: int | None) -> str | None:
    """202504 → '2025-04'."""
    return None if period is None else f"{period // 100:04d}-{period % 100:02d}"


def add_months(period: int, months: int) -> int:
    """period shifted by months (negative goes back)."""
    index = (period // 100) * 12 + (period % 100 - 1) + months
    return (index // 12) * 100 + index % 12 + 1


def months_between(start: int, end: int) -> int:
    """How many months end is after start."""
    return (end // 100 - start // 100) * 12 + (end % 100 - start % 100)


def span(start: int, end: int) -> list[int]:
    """Every period from start to end inclusive."""
    return [add_months(start, i) for i in range(months_between(start, end) + 1)]


def zone() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone)


def today() -> date:
    """Today's date in the configured time zone (a server in UTC is a day behind Japan until 09:00 JST)."""
    return utcnow().astimezone(zone()).date()


def current(now: datetime | None = None) -> int:
    """The period containing now, in the configured time zone."""
    local = (now or utcnow()).astimezone(zone())
    return local.year * 100 + local.month


def due_at(period: int) -> datetime:
    """The end of the due day in the month after period (reports after it are late)."""
    following = add_months(period, 1)
    day = datetime(following // 100, following % 100, get_settings().report_due_day, tzinfo=zone()).date()
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone())


def window_open(period: int, now: datetime | None = None) -> bool:
    """Whether reports for period are still within their window (before due_at): not yet missing."""
    return (now or utcnow()) < due_at(period)


def newest_due(now: datetime | None = None) -> int:
    """The newest period whose report window has closed: last month after its due day, else the month before
    (the pages open on it, so that bodies still within their window are not shown as missing)."""
    last = add_months(current(now), -1)
    return add_months(last, -1) if window_open(last, now) else last


def end_of(period: int) -> datetime:
    """The first moment after the month of period (the register's state 'as of' a period is taken here)."""
    following = add_months(period, 1)
    return datetime(following // 100, following % 100, 1, tzinfo=zone())


def fiscal_year(period: int) -> int:
    """The Japanese fiscal year (April–March) a period belongs to."""
    return period // 100 if period % 100 >= 4 else period // 100 - 1
