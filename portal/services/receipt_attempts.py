"""Receipt attempts: which budget a typed receipt may spend, and what an app process
remembers so that a flood of wrong receipts is refused without Argon2id or a database write.

Budgets are shared by every node (services/throttle.py); what is remembered here
lives in one process's memory only and is never written down.
"""

import hashlib
import hmac
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from ..models import Case
from . import clock, leftovers, throttle

# Look-ups of receipts whose check code is right, for the whole instance.
RECEIPT_BUDGET = "receipt-attempts"
# Receipts whose check fails, tried against cases whose receipts were issued before check codes.
LEGACY_RECEIPT_BUDGET = "legacy-receipt-attempts"
LEGACY_SPACING = timedelta(seconds=1)
USED_UP_HELD = timedelta(seconds=2)
MISSES_KEPT = 20_000
# How often one receipt may open its case in a minute, in one app process: far more than a worker
# opening hers, far less than a flood of it (each costs an Argon2id).
OPENINGS_PER_MINUTE = 20


@dataclass(frozen=True)
class Budget:
    name: str
    per_window: int
    window: timedelta
    # Looked up among the cases with old receipts only.
    legacy_only: bool


def budget_for(session, config, passes_check: bool) -> Budget | None:
    """The budget a receipt's look-up spends, or None when it is refused without one.

    A receipt whose check fails is looked up only while cases with receipts
    issued before check codes remain, under their own budget, one at a time
    evenly through the minute: a flood gets no burst of Argon2id to stall the
    workers with, and can delay those holders and never anyone else.
    """
    if passes_check:
        return Budget(RECEIPT_BUDGET, config["RECEIPT_ATTEMPTS_PER_MINUTE"], throttle.WINDOW, False)
    per_minute = config["LEGACY_RECEIPT_ATTEMPTS_PER_MINUTE"]
    if per_minute > 0 and _legacy_receipts_remain(session):
        return Budget(LEGACY_RECEIPT_BUDGET, 1, max(LEGACY_SPACING, throttle.WINDOW / per_minute), True)
    return None


# Per database engine, a budget this process found used up: trusted for two seconds.
_used_up = weakref.WeakKeyDictionary()


def spend(session, config, budget: Budget, now=None) -> bool:
    """Take one attempt from ``budget`` (at ``now``); False when it is used up (then asked again only two
    seconds later)."""
    now = now or clock.now()
    held = _used_up.setdefault(session.get_bind(), {})
    until = held.get(budget.name)
    if until is not None and now < until:
        return False
    if throttle.spend(session, budget.name, budget.per_window, now, window=budget.window,
                      redis_url=config["REDIS_URL"]):
        return True
    # Refused here without asking for a moment: at most that moment longer than the budget says.
    held[budget.name] = clock.now() + min(budget.window, USED_UP_HELD)
    return False


def opened(session, config, budget: Budget, spent_at, check_key: bytes, receipt: str) -> None:
    """``receipt`` opened its case: the attempt goes back to the budget, and the opening is counted.

    A receipt that opens a case is no guess. Anyone can hold one (send a report, note its
    receipt): had its openings spent the shared budget, a flood of one's own receipt would keep
    every worker out, as wrong receipts no longer can.
    """
    give_back(session, config, budget, spent_at)
    _openings.add(check_key, receipt)


def give_back(session, config, budget: Budget, spent_at) -> None:
    """Return the attempt taken at ``spent_at``: it was no guess (its receipt opened a case), or the
    server was too busy to look it up."""
    if not budget.legacy_only:
        # The old way's budget paces its Argon2id through the minute, whoever's receipt it was.
        throttle.give_back(session, budget.name, spent_at, window=budget.window, redis_url=config["REDIS_URL"])


def opened_often(check_key: bytes, receipt: str) -> bool:
    """Whether this process let ``receipt`` open its case OPENINGS_PER_MINUTE times within the last minute:
    its holder is refused for a while, before any Argon2id (a worker opens her case a few times at most)."""
    return _openings.often(check_key, receipt)


def _legacy_receipts_remain(session) -> bool:
    return leftovers.remain(session, "legacy receipts", select(Case.id).where(Case.legacy_receipt.is_(True)))


class _Misses:
    """Receipts whose Argon2id look-up opened nothing.

    Without this, one receipt that passes the check (found by timing many
    guesses) could be sent again and again to spend the shared budget.
    Remembered, it is refused at the cost of an HMAC: each such receipt costs a
    flood about 10,000 guesses and spends the budget once per app process.
    """

    def __init__(self, limit: int):
        self.limit = limit
        self.digests = OrderedDict()
        self.lock = threading.Lock()

    def seen(self, key: bytes, receipt: str) -> bool:
        digest = self._digest(key, receipt)
        with self.lock:
            if digest not in self.digests:
                return False
            self.digests.move_to_end(digest)
            return True

    def add(self, key: bytes, receipt: str) -> None:
        digest = self._digest(key, receipt)
        with self.lock:
            self.digests[digest] = None
            self.digests.move_to_end(digest)
            while len(self.digests) > self.limit:
                self.digests.popitem(last=False)

    @staticmethod
    def _digest(key: bytes, receipt: str) -> bytes:
        # Keyed by the instance's check key, so two instances in one process (tests) share no entry.
        return hmac.new(key, b"missed:" + receipt.encode("ascii"), hashlib.sha256).digest()


_misses = _Misses(MISSES_KEPT)


class _Openings:
    """Receipts that opened a case within the last minute, and when: in this process's memory only."""

    def __init__(self, limit: int):
        self.limit = limit
        self.times = OrderedDict()
        self.lock = threading.Lock()

    def often(self, key: bytes, receipt: str) -> bool:
        digest = _Misses._digest(key, receipt)
        with self.lock:
            recent = self._recent(digest)
            return len(recent) >= OPENINGS_PER_MINUTE

    def add(self, key: bytes, receipt: str) -> None:
        digest = _Misses._digest(key, receipt)
        with self.lock:
            self.times[digest] = self._recent(digest) + [time.monotonic()]
            self.times.move_to_end(digest)
            while len(self.times) > self.limit:
                self.times.popitem(last=False)

    def _recent(self, digest: bytes) -> list[float]:
        since = time.monotonic() - throttle.WINDOW.total_seconds()
        return [moment for moment in self.times.get(digest, []) if moment > since]


_openings = _Openings(MISSES_KEPT)


def missed_before(check_key: bytes, receipt: str) -> bool:
    """Whether this process already looked ``receipt`` up and found no case."""
    return _misses.seen(check_key, receipt)


def missed(check_key: bytes, receipt: str) -> None:
    _misses.add(check_key, receipt)
