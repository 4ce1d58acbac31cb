"""Business days of Japanese government offices: not Saturday or Sunday, not a national holiday
(jpholiday), and not the year-end closure 12/29–1/3 (行政機関の休日に関する法律). Judged in PMO_TIMEZONE."""

from datetime import date, datetime, timedelta

import jpholiday

from pmo import periods


def is_business_day(day: date) -> bool:
    """True for a working day of government offices."""
    if day.weekday() >= 5 or jpholiday.is_holiday(day):
        return False
    return not ((day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3))


def add_business_days(start: datetime, days: int) -> datetime:
    """The same local clock time on the days-th business day after start's local date."""
    local = start.astimezone(periods.zone())
    day = local.date()
    remaining = days
    while remaining > 0:
        day += timedelta(days=1)
        if is_business_day(day):
            remaining -= 1
    return datetime.combine(day, local.timetz()).astimezone(start.tzinfo)


def business_days_between(start: datetime, end: datetime) -> int:
    """Business days d with start's local date < d ≤ end's local date (0 when end is the same day)."""
    zone = periods.zone()
    first, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    count, day = 0, first
    while day < last:
        day += timedelta(days=1)
        count += is_business_day(day)
    return count
