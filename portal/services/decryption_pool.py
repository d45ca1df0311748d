"""Decrypting the many items of a search in a few worker processes.

A search for words decrypts every report and message a user holds: thousands
of ML-KEM decapsulations, a second or more of one core for 2,000 cases. Done in
the request's thread, it would hold the GIL all that time and stall the other
request threads of its gunicorn worker (reporters' pages among them), and it
would use one core only. So a large batch goes, in chunks, to a small pool of
processes started by a fork server (they inherit nothing of the web process:
no database connection, no session), and the request's thread waits without
the GIL. The identity travels with each chunk through the pool's pipe and the
texts come back the same way: nothing is written anywhere, and a worker keeps
neither once its chunk is done. A small batch is not worth the trip and is
decrypted in the thread; so is every batch if the pool cannot run.
"""

import logging
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from . import item_text, work_slots

# Fewer items than this are decrypted in the request's thread.
SMALLEST_BATCH = 300
CHUNK = 200
WORKERS = max(1, min(4, os.cpu_count() or 1))
log = logging.getLogger(__name__)
_lock = threading.Lock()
_pool = None


def _executor() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["portal.services.item_text"])
            # At the heavy work's priority (work_slots), so reporters' pages keep the CPU.
            _pool = ProcessPoolExecutor(WORKERS, mp_context=context, initializer=os.nice,
                                        initargs=(work_slots.NICENESS,))
        return _pool


def _drop_broken() -> None:
    global _pool
    with _lock:
        if _pool is not None:
            _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None


def prepare() -> None:
    """Start the workers in the background (when a search for many items is likely): the first
    search then does not wait for the fork server and the imports, and neither does this request."""
    if _pool is None:
        threading.Thread(target=_start, name="decryption-pool-start", daemon=True).start()


def _start() -> None:
    try:
        _executor().submit(os.getpid).result()
    except (BrokenProcessPool, OSError, RuntimeError):
        _drop_broken()


def read_many(identity, items) -> dict:
    """``item_text.readable`` of each ``(item id, kind, blob)``, by item id."""
    items = list(items)
    if len(items) < SMALLEST_BATCH:
        return _in_this_thread(identity, items)
    chunks = [items[start:start + CHUNK] for start in range(0, len(items), CHUNK)]
    try:
        futures = [_executor().submit(item_text.read_all, str(identity), chunk) for chunk in chunks]
        return {item_id: text for future in futures for item_id, text in future.result()}
    except (BrokenProcessPool, OSError, RuntimeError) as error:
        log.warning("search decrypted in the request's thread: the pool failed (%s)", type(error).__name__)
        _drop_broken()
        return _in_this_thread(identity, items)


def _in_this_thread(identity, items) -> dict:
    identity = item_text.SamePlaceFirst(identity)
    return {item_id: item_text.readable(kind, blob, identity) for item_id, kind, blob in items}
