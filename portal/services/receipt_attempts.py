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
from . import clock, throttle

# Look-ups of receipts whose check code is right, for the whole instance.
RECEIPT_BUDGET = "receipt-attempts"
# Receipts whose check fails, tried against cases whose receipts were issued before check codes.
LEGACY_RECEIPT_BUDGET = "legacy-receipt-attempts"
LEGACY_SPACING = timedelta(seconds=1)
USED_UP_HELD = timedelta(seconds=2)
LEGACY_RECHECK_SECONDS = 10
MISSES_KEPT = 20_000


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


# Per database engine, what this process learnt and may trust for a while: a budget found used up
# (for two seconds), and whether cases with old receipts remain (for ten seconds; once none is
# left, for good: none is ever made again).
_used_up = weakref.WeakKeyDictionary()
_legacy_remain = weakref.WeakKeyDictionary()


def spend(session, config, budget: Budget) -> bool:
    """Take one attempt from ``budget``; False when it is used up (then asked again only two seconds later)."""
    held = _used_up.setdefault(session.get_bind(), {})
    until = held.get(budget.name)
    if until is not None and clock.now() < until:
        return False
    if throttle.spend(session, budget.name, budget.per_window, window=budget.window, redis_url=config["REDIS_URL"]):
        return True
    # Refused here without asking for a moment: at most that moment longer than the budget says.
    held[budget.name] = clock.now() + min(budget.window, USED_UP_HELD)
    return False


def _legacy_receipts_remain(session) -> bool:
    engine = session.get_bind()
    known = _legacy_remain.get(engine)
    if known is not None and (known is False or known > time.monotonic()):
        return known is not False
    remain = session.scalar(select(Case.id).where(Case.legacy_receipt.is_(True)).limit(1)) is not None
    _legacy_remain[engine] = time.monotonic() + LEGACY_RECHECK_SECONDS if remain else False
    return remain


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


def missed_before(check_key: bytes, receipt: str) -> bool:
    """Whether this process already looked ``receipt`` up and found no case."""
    return _misses.seen(check_key, receipt)


def missed(check_key: bytes, receipt: str) -> None:
    _misses.add(check_key, receipt)
