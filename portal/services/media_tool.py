"""ffmpeg and ffprobe, run confined: the one door through which sound and video cleaning reaches them.

The tool runs as a separate process with limits on memory, CPU time and the size of the files it
writes, a wall-clock timeout, no standard input, and only a private temporary directory holding the
file to read. That directory (mode 0700) and everything in it is deleted as soon as the tool ends,
so a worker's original recording never outlives the cleaning on disk. It takes one of the
server's cleaning slots (``confinement.slot``), shared with the photo and PDF cleaner across every
gunicorn worker, so sound, video, photos and PDFs together never clean more files at once than
``PORTAL_CLEANING_SLOTS``. Unlike that cleaner, ffmpeg reads and writes files (in the private
directory), and may run longer (``TIMEOUT_SECONDS``).
"""

import os
import resource
import signal
import subprocess
import tempfile
from dataclasses import dataclass

from . import confinement
from .refusal import Refusal

MEMORY_BYTES = 1536 * 1024 * 1024  # address space: libx264 reserves much more than it touches
CPU_SECONDS = 200
OUTPUT_BYTES = 200 * 1024 * 1024
TIMEOUT_SECONDS = 100  # below the 120 s nginx and gunicorn give a whole request


class ToolFailed(Refusal):
    """The tool did not finish: ``reason`` is "busy", "missing" (not installed), "too_large",
    "too_slow" or "failed" (it could not read or write the file)."""


@dataclass(frozen=True)
class ToolResult:
    stdout: bytes
    output: bytes | None


def _limits():  # pragma: no cover - runs in the child between fork and exec
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))
    resource.setrlimit(resource.RLIMIT_FSIZE, (OUTPUT_BYTES, OUTPUT_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.setsid()


def run(argv: list[str], data: bytes, *, output: str | None = None) -> ToolResult:
    """Run ``argv`` over ``data``; "{input}" and "{output}" in ``argv`` name the files.

    Returns the tool's standard output and, when ``output`` (a file name such as "out.mp4") is
    given, the bytes of the file it wrote.
    """
    try:
        with confinement.slot(), tempfile.TemporaryDirectory(prefix="portal-media-") as workdir:
            source = os.path.join(workdir, "input")
            with open(os.open(source, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as file:
                file.write(data)
            target = os.path.join(workdir, output) if output else None
            args = [a.replace("{input}", source).replace("{output}", target or "") for a in argv]
            try:
                done = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, cwd=workdir, preexec_fn=_limits,
                                      timeout=TIMEOUT_SECONDS, env={"PATH": os.environ.get("PATH", "")})
            except subprocess.TimeoutExpired:
                raise ToolFailed("too_slow") from None
            except OSError:
                raise ToolFailed("missing") from None
            finally:
                os.unlink(source)
            if done.returncode == -signal.SIGXFSZ:
                raise ToolFailed("too_large")
            if done.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
                raise ToolFailed("too_slow")
            if done.returncode != 0:
                raise ToolFailed("failed")
            produced = None
            if target is not None:
                with open(target, "rb") as file:
                    produced = file.read()
            return ToolResult(done.stdout, produced)
    except confinement.ConfinementError as refusal:
        raise ToolFailed(refusal.reason) from None
