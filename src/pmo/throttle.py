"""Failed sign-ins counted per client and per token prefix over a sliding minute; past the limit, further
attempts from that client (or for that prefix) are refused with 429 until the window clears.

Each worker process counts on its own (no database write per failure, which an attacker would use
to load the database): with N workers a client gets at most N × the limit per minute."""

import math
import threading
import time
from collections import OrderedDict, deque

from pmo.config import get_settings
from pmo.errors import TooManyRequests

WINDOW_SECONDS = 60.0
MAX_KEYS = 50_000  # clients and prefixes remembered at once (the oldest are forgotten first)


class FailureThrottle:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and now - times[0] >= WINDOW_SECONDS:
            times.popleft()
        return times

    def check(self, keys: dict[str, int]) -> None:
        """429 while any key (mapped to its limit) has used up its failures in the last minute."""
        now = time.monotonic()
        with self._lock:
            for key, limit in keys.items():
                times = self._recent(key, now)
                if len(times) >= limit:
                    wait = math.ceil(WINDOW_SECONDS - (now - times[0]))
                    raise TooManyRequests(
                        f"認証の失敗が続いたため、試行を一時的に止めています。{wait} 秒後にもう一度お試しください。",
                        headers={"Retry-After": str(wait)},
                    )

    def fail(self, keys: dict[str, int]) -> None:
        """Count one failed attempt against every key."""
        now = time.monotonic()
        with self._lock:
            for key in keys:
                times = self._recent(key, now)
                times.append(now)
                self._failures[key] = times
                self._failures.move_to_end(key)
            while len(self._failures) > MAX_KEYS:
                self._failures.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._failures.clear()


failures = FailureThrottle()


def keys_for(client: str | None, token: str) -> dict[str, int]:
    """The counters one attempt is checked against, with their limits per minute."""
    settings = get_settings()
    return {
        f"client:{client or '-'}": settings.auth_failures_per_client,
        f"token:{token[:12]}": settings.auth_failures_per_token,
    }
