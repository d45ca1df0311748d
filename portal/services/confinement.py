"""Confinement: a hostile file is handled in a separate, bounded process.

``run(argv, data, limits)`` starts ``argv`` in a fresh process with ``data`` on
its standard input and returns what it wrote to standard output. The child gets
resource limits set before it starts (address space, CPU seconds, file size,
open files, no core dump), an empty working directory that is deleted
afterwards, an environment without the portal's settings (no secrets), and a
lower scheduling priority, so the pages are still served while it works. The
parent kills the child's whole process group when the wall-clock time runs out
or the output grows past its cap.

Every run holds one slot of the server's "cleaning" pool (``work_slots``), shared
by every process of the server (gunicorn's workers included). A run that finds
no free slot within the pool's wait is refused as "busy".

Every refusal is a ``ConfinementError`` with one of these reasons:
"busy", "timeout", "too_large" (output over its cap) or "failed" (the child
exited with an error or was killed by a limit; ``details`` has ``returncode``).
"""

import os
import resource
import selectors
import signal
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass

from . import work_slots
from .refusal import Refusal

MiB = 1024 * 1024


class ConfinementError(Refusal):
    """The child could not do its work within its limits."""


@dataclass(frozen=True)
class Limits:
    memory_bytes: int = 496 * MiB  # RLIMIT_AS: all the child's address space, so its RSS too
    cpu_seconds: int = 10          # RLIMIT_CPU: SIGXCPU, then SIGKILL a second later
    wall_seconds: float = 12.0     # killed by the parent after this, even when asleep
    output_bytes: int = 48 * MiB   # what the parent reads from the child at most
    file_bytes: int = 0            # RLIMIT_FSIZE: the child writes no file
    open_files: int = 64           # RLIMIT_NOFILE


@contextmanager
def slot():
    """Hold one of the server's cleaning slots for the duration of the block, or refuse as "busy"."""
    try:
        with work_slots.held(work_slots.CLEANING):
            yield
    except work_slots.Busy:
        raise ConfinementError("busy") from None


def run(argv: list[str], data: bytes, limits: Limits = Limits()) -> bytes:
    """Run ``argv`` confined, with ``data`` on its standard input; return its standard output."""
    with slot(), tempfile.TemporaryDirectory(prefix="portal-confined-") as workdir:
        started = time.monotonic()
        process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=workdir, env=_environment(workdir), close_fds=True, start_new_session=True,
            preexec_fn=lambda: _limit(limits),
        )
        try:
            output = _exchange(process, data, limits, started + limits.wall_seconds)
            remaining = started + limits.wall_seconds - time.monotonic()
            try:
                returncode = process.wait(timeout=max(0.0, remaining))
            except subprocess.TimeoutExpired:
                raise ConfinementError("timeout") from None
        finally:
            _kill(process)
        if returncode != 0:
            # Not logged: a log line's time would tell when a reporter sent a file.
            raise ConfinementError("failed", returncode=returncode)
        return output


def _environment(workdir: str) -> dict:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir,
            "LC_ALL": "C.UTF-8", "OMP_NUM_THREADS": "1"}


def _limit(limits: Limits) -> None:
    """In the child, between fork and exec: only async-signal-safe work."""
    for name, value in ((resource.RLIMIT_AS, limits.memory_bytes),
                        (resource.RLIMIT_FSIZE, limits.file_bytes),
                        (resource.RLIMIT_NOFILE, limits.open_files),
                        (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(name, (value, value))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
    os.nice(10)


def _exchange(process, data: bytes, limits: Limits, deadline: float) -> bytes:
    """Feed ``data`` and read the outputs at once (no pipe can fill up), within the deadline and the cap."""
    output, written = bytearray(), 0
    view = memoryview(data)
    with selectors.DefaultSelector() as selector:
        os.set_blocking(process.stdin.fileno(), False)
        selector.register(process.stdin, selectors.EVENT_WRITE)
        selector.register(process.stdout, selectors.EVENT_READ)
        selector.register(process.stderr, selectors.EVENT_READ)
        if not data:
            selector.unregister(process.stdin)
            process.stdin.close()
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ConfinementError("timeout")
            for key, _events in selector.select(remaining):
                if key.fileobj is process.stdin:
                    try:
                        written += os.write(key.fd, view[written:written + 65536])
                    except BrokenPipeError:
                        written = len(data)
                    if written >= len(data):
                        selector.unregister(process.stdin)
                        process.stdin.close()
                    continue
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                    key.fileobj.close()
                elif key.fileobj is process.stdout:
                    output += chunk
                    if len(output) > limits.output_bytes:
                        raise ConfinementError("too_large")
                # Standard error is read and dropped: it may quote the file.
    return bytes(output)


def _kill(process) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait()
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream and not stream.closed:
            stream.close()
