"""What a logged-in investigator's searches decrypted, kept in this process's memory for the
rest of their web session, so a second search does not decrypt every case again.

Never written anywhere: no file, no database row, no log. An entry is found by
a ``Key``: the digest of the web session's secret id (only its cookie holds
the id), the user, and the digest of the identity that decrypted the text, so
another session, another user or another key never reads it. It is dropped at
log-out (``forget``), after the session's idle timeout or lifetime, and to stay
within ``max_chars`` over all sessions (the least recently used first). The
cache only ever answers for items the caller already chose from the cases the
user holds now: a case handed away or barred by a conflict is never asked for.
"""

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Key:
    session_digest: bytes
    user_id: int
    identity_digest: bytes


@dataclass
class _Entry:
    started: float
    used: float
    # item id -> (text as written, folded text); None: the identity opens no text in it.
    texts: dict = field(default_factory=dict)
    chars: int = 0


class ReadingCache:
    def __init__(self, idle_seconds: float, lifetime_seconds: float, max_chars: int, clock=time.monotonic):
        self.idle_seconds = idle_seconds
        self.lifetime_seconds = lifetime_seconds
        self.max_chars = max_chars
        self._clock = clock
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def known(self, key: Key, item_ids) -> dict:
        """The texts of ``item_ids`` this session already decrypted, by item id."""
        with self._lock:
            self._drop_expired()
            entry = self._entries.get(key)
            if entry is None:
                return {}
            entry.used = self._clock()
            self._entries.move_to_end(key)
            return {item_id: entry.texts[item_id] for item_id in item_ids if item_id in entry.texts}

    def keep(self, key: Key, texts: dict) -> None:
        """Remember newly decrypted ``texts`` (item id -> (text, folded) or None) for the session."""
        if not texts:
            return
        with self._lock:
            self._drop_expired()
            now = self._clock()
            entry = self._entries.setdefault(key, _Entry(started=now, used=now))
            # As much as one session may keep; the rest is decrypted again at the next search.
            for item_id, value in texts.items():
                if entry.chars + _chars(value) > self.max_chars:
                    break
                entry.texts[item_id] = value
                entry.chars += _chars(value)
            entry.used = now
            self._entries.move_to_end(key)
            while self._total_chars() > self.max_chars and len(self._entries) > 1:
                self._entries.popitem(last=False)

    def forget(self, session_digest: bytes) -> None:
        """Drop whatever the web session kept (at log-out)."""
        with self._lock:
            for key in [key for key in self._entries if key.session_digest == session_digest]:
                del self._entries[key]

    def __len__(self) -> int:
        with self._lock:
            self._drop_expired()
            return len(self._entries)

    def _total_chars(self) -> int:
        return sum(entry.chars for entry in self._entries.values())

    def _drop_expired(self) -> None:
        now = self._clock()
        for key in [key for key, entry in self._entries.items()
                    if now - entry.used > self.idle_seconds or now - entry.started > self.lifetime_seconds]:
            del self._entries[key]


def _chars(value) -> int:
    return 0 if value is None else len(value[0]) + len(value[1])
