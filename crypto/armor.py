"""Strict PEM armor (RFC 7468) with the label "AGE ENCRYPTED FILE".

Armored files are malleable unless the parser is strict, so this one accepts
only canonical base64 in 64-column lines, LF or CRLF line ends, and nothing
but whitespace around the block. As in the reference implementation, the END
line may be the file's last line without a newline.
"""

import base64
import binascii
import io

from .errors import ArmorError

BEGIN = b"-----BEGIN AGE ENCRYPTED FILE-----"
END = b"-----END AGE ENCRYPTED FILE-----"
COLUMNS = 64
_BYTES_PER_LINE = COLUMNS // 4 * 3
_WHITESPACE = b" \t\r\n"
# Leading and trailing whitespace is allowed, within reason.
_MAX_WHITESPACE = 1024


class ArmoredWriter(io.RawIOBase):
    """A writable stream that armors what is written; ``close`` ends the block."""

    def __init__(self, dst):
        self._dst = dst
        self._pending = bytearray()
        self._dst.write(BEGIN + b"\n")

    def writable(self):
        return True

    def write(self, data):
        self._pending += data
        whole = len(self._pending) // _BYTES_PER_LINE * _BYTES_PER_LINE
        if whole:
            self._write_lines(bytes(self._pending[:whole]))
            del self._pending[:whole]
        return len(data)

    def _write_lines(self, data):
        encoded = base64.b64encode(data)
        self._dst.write(
            b"".join(encoded[i : i + COLUMNS] + b"\n" for i in range(0, len(encoded), COLUMNS))
        )

    def close(self):
        if not self.closed:
            if self._pending:
                self._write_lines(bytes(self._pending))
            self._dst.write(END + b"\n")
        super().close()


class ArmoredReader(io.RawIOBase):
    """A readable stream that decodes and strictly checks an armored file."""

    def __init__(self, src):
        self._src = src
        self._decoded = b""
        self._done = False
        self._started = False
        self._line_ending = None

    def readable(self):
        return True

    def _readline(self, limit=COLUMNS + 2):
        line = self._src.readline(limit)
        if not line:
            raise ArmorError("armor truncated: no END line")
        if not line.endswith(b"\n"):
            # The reference implementation accepts a file whose END line is its last, unterminated
            # line (editors and copy-paste drop the final newline); nothing can follow it.
            if line == END and not self._src.read(1):
                return line
            raise ArmorError("armor line too long or unterminated")
        ending = b"\r\n" if line.endswith(b"\r\n") else b"\n"
        if self._line_ending is None:
            self._line_ending = ending
        elif ending != self._line_ending:
            raise ArmorError("armor mixes line endings")
        return line[: -len(ending)]

    def _start(self):
        skipped = 0
        while True:
            line = self._src.readline(len(BEGIN) + _MAX_WHITESPACE)
            skipped += len(line)
            if line.strip(_WHITESPACE) or not line or skipped > _MAX_WHITESPACE + len(BEGIN):
                break
        ending = b"\r\n" if line.endswith(b"\r\n") else b"\n"
        if not line.endswith(b"\n") or line[: -len(ending)].lstrip(_WHITESPACE) != BEGIN:
            raise ArmorError("armor does not start with the BEGIN line")
        self._line_ending = ending
        self._started = True

    def _next_line(self):
        line = self._readline()
        if line == END:
            self._finish()
            return b""
        if len(line) > COLUMNS:
            raise ArmorError("armor line longer than 64 columns")
        if len(line) % 4 or not line:
            raise ArmorError("armor line is not whole base64")
        try:
            decoded = base64.b64decode(line, validate=True)
        except binascii.Error:
            raise ArmorError("armor contains invalid base64") from None
        if base64.b64encode(decoded) != line:
            raise ArmorError("armor contains non-canonical base64")
        if len(line) < COLUMNS or line.endswith(b"="):
            if self._readline() != END:
                raise ArmorError("short armor line before the end")
            self._finish()
        return decoded

    def _finish(self):
        self._done = True
        trailing = self._src.read(_MAX_WHITESPACE + 1)
        if trailing.strip(_WHITESPACE) or len(trailing) > _MAX_WHITESPACE:
            raise ArmorError("data after the END line")

    def readinto(self, buffer):
        if not self._started:
            self._start()
        while not self._decoded and not self._done:
            self._decoded = self._next_line()
        size = min(len(buffer), len(self._decoded))
        buffer[:size] = self._decoded[:size]
        self._decoded = self._decoded[size:]
        return size


def armor(data: bytes) -> bytes:
    out = io.BytesIO()
    writer = ArmoredWriter(out)
    writer.write(data)
    writer.close()
    return out.getvalue()


def dearmor(data: bytes) -> bytes:
    return ArmoredReader(io.BytesIO(data)).read()
