"""Work slots: the server's bounded pools for heavy work, apart from the request threads.

Three kinds of work cost far more than a page: the Argon2id of a receipt (64 MiB
and a quarter second of one core), the cleaning of an evidence file, and the
Argon2id checks of a staff log-in. Each runs in a named pool ("argon2",
"cleaning", "login") with its own number of slots and wait, the same for every process of a node: a slot is one lock file
(``fcntl.flock``) in the instance folder, so gunicorn's workers share them.
The lock goes with its holder, even a killed one.

A request that wants heavy work first takes one of its process's waiting
places (``per_process``, one fewer than gunicorn's threads): a worker process
never has every thread waiting for a slot, so a page that needs none (the blank
form, the follow-up page) always finds a thread. The log-in pool has a few
places of its own, taken from those: anyone can send log-ins by the thousand,
and they must neither slow the reporters' pages nor take the reporters' places. It then waits for a slot up
to its pool's ``wait_seconds``; without one it is refused as ``Busy`` and the
worker is asked to try again in a minute, with everything they wrote kept.

``run`` does the work itself in a thread of this process at a lower scheduling
priority (nice 10), so pages keep the CPU while Argon2id runs: argon2-cffi
lets go of the GIL, so the other request threads go on meanwhile. Cleaning
runs in confined child processes (``confinement``), which lower their own
priority, holding a slot with ``held``.
"""

import fcntl
import os
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .refusal import Refusal

ARGON2, CLEANING, LOGIN = "argon2", "cleaning", "login"
# How long a request polls between tries for a free slot.
POLL_SECONDS = 0.01
# The scheduling priority of the threads that do a pool's work.
NICENESS = 10


class Busy(Refusal):
    """Every slot of the pool stayed taken for the pool's wait, or this process has no waiting place left."""

    def __init__(self, pool: str):
        super().__init__("busy", pool=pool)
        self.pool = pool


@dataclass(frozen=True)
class Pool:
    slots: int
    wait_seconds: float
    # Waiting places of its own in each process (taken from the shared ones), or 0: the shared ones.
    places: int = 0


def default_slots() -> dict[str, Pool]:
    """One core of a node is always left to the pages: Argon2id gets the others (at least one)."""
    cores = os.cpu_count() or 1
    return {ARGON2: Pool(max(1, cores - 1), 10.0), CLEANING: Pool(2, 10.0), LOGIN: Pool(1, 10.0, places=2)}


@dataclass
class _Settings:
    directory: Path = Path(tempfile.gettempdir()) / f"portal-work-slots-{os.getuid()}"
    pools: dict = field(default_factory=default_slots)
    per_process: int = 7


_settings = _Settings()


def _places(settings: _Settings) -> tuple[threading.BoundedSemaphore, dict]:
    """The shared waiting places of a process, and each pool's own (taken from the shared ones)."""
    # A pool's own places never take the shared ones below one.
    spare = max(0, settings.per_process - 1)
    own = {}
    for name, pool in settings.pools.items():
        if pool.places and spare:
            own[name] = min(pool.places, spare)
            spare -= own[name]
    shared = max(1, settings.per_process - sum(own.values()))
    return threading.BoundedSemaphore(shared), {name: threading.BoundedSemaphore(n) for name, n in own.items()}


_waiting, _own_places = _places(_settings)
_workers: dict[str, tuple[int, ThreadPoolExecutor]] = {}
_workers_lock = threading.Lock()
# The slots' folders this process made (or found): made once, not at every request.
_made = set()


def configure(directory, pools: dict[str, Pool] | None = None, per_process: int = 7) -> None:
    """Where the lock files live, each pool's slots and wait (a pool not named keeps its default), and
    how many requests of one process may wait for a slot or hold one."""
    global _settings, _waiting, _own_places
    pools = {name: Pool(max(1, int(pool.slots)), max(0.0, float(pool.wait_seconds)), max(0, int(pool.places)))
             for name, pool in {**default_slots(), **(pools or {})}.items()}
    _settings = _Settings(Path(directory), pools, max(1, int(per_process)))
    _waiting, _own_places = _places(_settings)


def pool(name: str) -> Pool:
    return _settings.pools[name]


@contextmanager
def held(name: str):
    """Hold one slot of the pool ``name`` for the duration of the block, or raise ``Busy``."""
    settings = _settings
    waiting = _own_places.get(name, _waiting)
    if not waiting.acquire(blocking=False):
        raise Busy(name)
    try:
        with _slot(settings, name):
            yield
    finally:
        waiting.release()


def run(name: str, function, *args, **kwargs):
    """``function(*args, **kwargs)`` done in the pool ``name``: a slot held, in a low-priority thread."""
    with held(name):
        return _executor(name).submit(function, *args, **kwargs).result()


@contextmanager
def _slot(settings: _Settings, name: str):
    pool = settings.pools[name]
    folder = settings.directory / name
    if folder not in _made:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        _made.add(folder)
    deadline = time.monotonic() + pool.wait_seconds
    while True:
        for number in range(pool.slots):
            try:
                handle = open(folder / f"slot-{number}.lock", "a+b")
            except FileNotFoundError:  # the folder was removed under the running server
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
                handle = open(folder / f"slot-{number}.lock", "a+b")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
            return
        if time.monotonic() >= deadline:
            raise Busy(name)
        time.sleep(POLL_SECONDS)


def _executor(name: str) -> ThreadPoolExecutor:
    """This process's threads for the pool ``name`` (made again in a forked child: threads do not survive a fork)."""
    with _workers_lock:
        owner, executor = _workers.get(name, (None, None))
        if owner != os.getpid():
            executor = ThreadPoolExecutor(max_workers=_settings.pools[name].slots, thread_name_prefix=f"work-{name}",
                                          initializer=_lower_priority)
            _workers[name] = (os.getpid(), executor)
        return executor


def _lower_priority() -> None:
    # On Linux a thread has its own nice value: only this worker thread yields the CPU to the pages.
    thread = threading.get_native_id()
    os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + NICENESS))
