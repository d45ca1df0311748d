"""The age v1 header: stanzas, canonical base64, parsing and the MAC.

The header is the part of an age file that says who may open it. Parsing is
strict: every rule of the spec's ABNF is enforced, and the exact bytes read are
kept so the MAC is checked over what was actually on disk.
"""

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import HeaderError, HeaderMACError

VERSION_LINE = b"age-encryption.org/v1\n"
FILE_KEY_SIZE = 16
BODY_COLUMNS = 64
# A header is at most a few hundred stanzas; anything far larger is hostile.
MAX_HEADER_SIZE = 16 * 1024 * 1024

_BASE64_CHARS = re.compile(rb"\A[A-Za-z0-9+/]*\Z")
_ARGUMENT = re.compile(rb"\A[\x21-\x7e]+\Z")


def b64encode(data: bytes) -> str:
    """Unpadded standard base64, as every part of the age header uses."""
    return base64.b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text, what="base64 value") -> bytes:
    """Decode unpadded base64, refusing anything that is not canonical."""
    raw = text.encode("ascii") if isinstance(text, str) else bytes(text)
    if not _BASE64_CHARS.match(raw) or len(raw) % 4 == 1:
        raise HeaderError(f"{what} is not valid unpadded base64")
    try:
        decoded = base64.b64decode(raw + b"=" * (-len(raw) % 4), validate=True)
    except binascii.Error:
        raise HeaderError(f"{what} is not valid unpadded base64") from None
    if base64.b64encode(decoded).rstrip(b"=") != raw:
        raise HeaderError(f"{what} is not canonical base64")
    return decoded


def hkdf(ikm: bytes, salt: bytes, info: bytes, length: int = 32) -> bytes:
    return HKDF(hashes.SHA256(), length, salt or None, info).derive(ikm)


@dataclass(frozen=True)
class Stanza:
    """One recipient stanza: its arguments and its binary body."""

    type: str
    args: tuple[str, ...]
    body: bytes

    def to_bytes(self) -> bytes:
        line = " ".join(("->", self.type) + self.args).encode("ascii") + b"\n"
        encoded = b64encode(self.body).encode("ascii")
        lines = [encoded[i : i + BODY_COLUMNS] for i in range(0, len(encoded), BODY_COLUMNS)]
        if not lines or len(lines[-1]) == BODY_COLUMNS:
            lines.append(b"")
        return line + b"".join(chunk + b"\n" for chunk in lines)


@dataclass(frozen=True)
class Header:
    """A parsed header; ``raw`` is its exact bytes, MAC line included."""

    stanzas: tuple[Stanza, ...]
    mac: bytes
    raw: bytes

    @property
    def mac_input(self) -> bytes:
        return self.raw[: self.raw.rindex(b"\n---") + 4]

    def verify_mac(self, file_key: bytes) -> None:
        if not hmac.compare_digest(header_mac(file_key, self.mac_input), self.mac):
            raise HeaderMACError("header MAC mismatch: the header was altered")


def header_mac(file_key: bytes, mac_input: bytes) -> bytes:
    key = hkdf(file_key, b"", b"header")
    return hmac.new(key, mac_input, hashlib.sha256).digest()


def build_header(stanzas, file_key: bytes) -> bytes:
    """Serialise stanzas into a complete header with its MAC line."""
    if not stanzas:
        raise HeaderError("a header needs at least one stanza")
    mac_input = VERSION_LINE + b"".join(s.to_bytes() for s in stanzas) + b"---"
    mac = header_mac(file_key, mac_input)
    return mac_input + b" " + b64encode(mac).encode("ascii") + b"\n"


class _LineReader:
    """Reads header lines from a binary stream, never past the header's end."""

    def __init__(self, stream):
        self.stream = stream
        self.consumed = bytearray()

    def line(self) -> bytes:
        budget = MAX_HEADER_SIZE - len(self.consumed)
        if budget <= 0:
            raise HeaderError("header too large")
        line = self.stream.readline(budget)
        if not line.endswith(b"\n"):
            raise HeaderError("header is truncated" if len(line) < budget else "header too large")
        self.consumed += line
        return line[:-1]


def read_header(stream) -> Header:
    """Parse a header from a binary stream positioned at the start of a file.

    The stream is left positioned at the first byte of the payload. Any
    grammar violation raises ``HeaderError``.
    """
    reader = _LineReader(stream)
    version = reader.line()
    if version + b"\n" != VERSION_LINE:
        if version.startswith(b"age-encryption.org/"):
            raise HeaderError("unsupported age format version")
        raise HeaderError("not an age file: missing version line")
    stanzas = []
    while True:
        line = reader.line()
        if line.startswith(b"---"):
            break
        if not line.startswith(b"-> "):
            raise HeaderError("malformed header line: expected a stanza or the MAC")
        stanzas.append(_read_stanza(line, reader))
    if not stanzas:
        raise HeaderError("header has no recipient stanza")
    if not line.startswith(b"--- ") or len(line) != 4 + 43:
        raise HeaderError("malformed MAC line")
    mac = b64decode(line[4:], "header MAC")
    return Header(tuple(stanzas), mac, bytes(reader.consumed))


def _read_stanza(arg_line: bytes, reader: _LineReader) -> Stanza:
    args = arg_line[3:].split(b" ")
    if not all(_ARGUMENT.match(arg) for arg in args):
        raise HeaderError("malformed stanza arguments")
    body = bytearray()
    while True:
        line = reader.line()
        if len(line) > BODY_COLUMNS:
            raise HeaderError("stanza body line longer than 64 columns")
        if not _BASE64_CHARS.match(line):
            raise HeaderError("stanza body is not base64")
        body += line
        if len(line) < BODY_COLUMNS:
            break
    decoded_args = [a.decode("ascii") for a in args]
    return Stanza(decoded_args[0], tuple(decoded_args[1:]), b64decode(bytes(body), "stanza body"))


def parse_header(data: bytes) -> tuple[Header, int]:
    """Parse a header at the start of ``data``; return it and the payload offset."""
    import io

    stream = io.BytesIO(data)
    header = read_header(stream)
    return header, stream.tell()
