"""How long a failed login makes the next try wait (`backoff_delay`, a pure function), and in-memory
sliding-window counters: failed logins per address, media views already written to the audit. The failed
logins of each (name, address) are kept in the users store (accounts/store.py), so that `xunlu users unlock`
in another process lifts a wait at once.

Failed logins never lock an account for everyone: they make the address that fails wait, longer with every
failure, so that an attacker cannot keep an admin (or anyone) out by typing wrong passwords under their name.
One address gets `max_failures` tries at once, then waits `backoff` seconds, doubled after every further
failure up to `lockout`. When a name fails `account_failures` times within `account_window` from all addresses
together (a guessing campaign from many addresses), every address that has failed for it waits the account's
delay as well, except an address the name logged in from successfully before. An address that has not failed
for the name is never made to wait (only the per-address limit across names applies to it), so the right
password from anywhere else still gets in."""
from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from typing import Hashable, Optional

from accounts.types import AuthSettings

MAX_KEYS = 100_000
MAX_DOUBLINGS = 40


def backoff_delay(failures: int, account_failures: int, known: bool, settings: AuthSettings) -> float:
    """Seconds an address must wait after its last failure for a name, given its `failures` for that name since
    its last success, the name's `account_failures` from all addresses within the account window, and whether
    the name logged in from this address before (`known`: the account-wide delay does not apply)."""
    if failures <= 0:
        return 0.0
    own = 0.0
    if failures >= settings.max_failures:
        own = settings.backoff * 2.0 ** min(MAX_DOUBLINGS, failures - settings.max_failures)
    wide = 0.0
    if not known and account_failures >= settings.account_failures:
        wide = settings.backoff * 2.0 ** min(MAX_DOUBLINGS, account_failures - settings.account_failures)
    return min(float(settings.lockout), max(own, wide))


class SlidingWindow:
    """At most `limit` events per key within `window` seconds."""

    def __init__(self, limit: int, window: float):
        self.limit, self.window = limit, window
        self._events: OrderedDict[Hashable, deque] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: Hashable, now: float) -> deque:
        events = self._events.get(key)
        if events is None:
            return deque()
        while events and events[0] <= now - self.window:
            events.popleft()
        return events

    def retry_after(self, key: Hashable, now: Optional[float] = None) -> Optional[int]:
        """Seconds until the key may try again, or None when it may now."""
        now = time.time() if now is None else now
        with self._lock:
            events = self._recent(key, now)
            if len(events) < self.limit:
                return None
            return max(1, int(events[0] + self.window - now + 0.999))

    def hit(self, key: Hashable, now: Optional[float] = None) -> int:
        now = time.time() if now is None else now
        with self._lock:
            events = self._recent(key, now)
            events.append(now)
            self._events[key] = events
            self._events.move_to_end(key)
            while len(self._events) > MAX_KEYS:
                self._events.popitem(last=False)
            return len(events)

    def clear(self, key: Hashable) -> None:
        with self._lock:
            self._events.pop(key, None)


class SeenRecently:
    """True the first time a key is seen, then False until it has not been seen for `gap` seconds."""

    def __init__(self, gap: float):
        self.gap = gap
        self._seen: OrderedDict[Hashable, float] = OrderedDict()
        self._lock = threading.Lock()

    def first(self, key: Hashable, now: Optional[float] = None) -> bool:
        now = time.time() if now is None else now
        with self._lock:
            last = self._seen.get(key)
            self._seen[key] = now
            self._seen.move_to_end(key)
            while len(self._seen) > MAX_KEYS:
                self._seen.popitem(last=False)
            return last is None or now - last > self.gap


class Throttle:
    """True at most once per `every` seconds per key (e.g. one audit entry per window during a flood)."""

    def __init__(self, every: float):
        self.every = every
        self._last: OrderedDict[Hashable, float] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, key: Hashable, now: Optional[float] = None) -> bool:
        now = time.time() if now is None else now
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.every:
                return False
            self._last[key] = now
            self._last.move_to_end(key)
            while len(self._last) > MAX_KEYS:
                self._last.popitem(last=False)
            return True
