"""Encrypting and decrypting whole age files, in memory or as streams."""

import io
import os

from . import armor as _armor
from .errors import HeaderError, NoIdentityError, RecipientMixError
from .format import FILE_KEY_SIZE, Header, build_header, parse_header, read_header
from .keys import parse_identity, parse_recipient
from .passphrase import DEFAULT_WORK_FACTOR, MAX_WORK_FACTOR, ScryptIdentity, ScryptRecipient
from .stream import decrypt_payload, encrypt_payload, read_full

_ARMOR_PROBE = len(_armor.BEGIN)


def _recipients(recipients) -> list:
    if isinstance(recipients, (str, bytes)) or not hasattr(recipients, "__iter__"):
        recipients = [recipients]
    parsed = [parse_recipient(r) if isinstance(r, str) else r for r in recipients]
    if not parsed:
        raise RecipientMixError("no recipients given")
    labels = {r.label for r in parsed}
    if "scrypt" in labels and len(parsed) > 1:
        raise RecipientMixError("a passphrase cannot be combined with other recipients")
    if len(labels) > 1:
        # The spec: a post-quantum file must not also open with a classic key.
        raise RecipientMixError("post-quantum and classic recipients cannot share a file")
    return parsed


def _identities(identities) -> list:
    if isinstance(identities, (str, bytes)) or not hasattr(identities, "__iter__"):
        identities = [identities]
    return [parse_identity(i) if isinstance(i, str) else i for i in identities]


def unwrap_file_key(header: Header, identities) -> bytes:
    """Find the file key with the first identity that opens a stanza; check the MAC."""
    stanzas = header.stanzas
    if any(s.type == "scrypt" for s in stanzas) and len(stanzas) != 1:
        raise HeaderError("an scrypt stanza must be the only stanza")
    for identity in _identities(identities):
        file_key = identity.unwrap(stanzas)
        if file_key is not None:
            if len(file_key) != FILE_KEY_SIZE:
                raise HeaderError("wrapped file key has the wrong length")
            header.verify_mac(file_key)
            return file_key
    raise NoIdentityError("no identity matched any of the file's recipients")


def _wrap(file_key: bytes, recipients) -> bytes:
    stanzas = [stanza for r in _recipients(recipients) for stanza in r.wrap(file_key)]
    return build_header(stanzas, file_key)


def encrypt_stream(src, dst, recipients, *, armor: bool = False) -> None:
    """Encrypt everything read from ``src`` to ``recipients``, writing to ``dst``.

    Memory stays constant whatever the size of the input.
    """
    file_key = os.urandom(FILE_KEY_SIZE)
    header = _wrap(file_key, recipients)
    out = _armor.ArmoredWriter(dst) if armor else dst
    out.write(header)
    encrypt_payload(src, out, file_key)
    if armor:
        out.close()


def _binary_source(src):
    """Return a buffered binary reader of ``src``, armor removed if present."""
    probe = read_full(src, _ARMOR_PROBE)
    skipped = 0
    while probe[:1] in (b" ", b"\t", b"\r", b"\n") and skipped < 1024:
        stripped = probe.lstrip(b" \t\r\n")
        skipped += len(probe) - len(stripped)
        more = read_full(src, _ARMOR_PROBE - len(stripped))
        if not more:
            probe = stripped
            break
        probe = stripped + more
    combined = io.BufferedReader(_Prefixed(probe, src))
    if probe.startswith(_armor.BEGIN[:11]):
        return io.BufferedReader(_armor.ArmoredReader(combined))
    return combined


class _Prefixed(io.RawIOBase):
    """A stream that yields ``prefix`` and then the rest of ``stream``."""

    def __init__(self, prefix: bytes, stream):
        self._prefix = prefix
        self._stream = stream

    def readable(self):
        return True

    def readinto(self, buffer):
        if self._prefix:
            size = min(len(buffer), len(self._prefix))
            buffer[:size] = self._prefix[:size]
            self._prefix = self._prefix[size:]
            return size
        readinto = getattr(self._stream, "readinto", None)
        if readinto is not None:
            # Straight into the caller's buffer: no intermediate bytes object.
            return readinto(buffer) or 0
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def decrypt_stream(src, dst, identities) -> None:
    """Decrypt the age file read from ``src`` (binary or armored) into ``dst``.

    Only authenticated chunks are written; on any error an ``AgeError``
    is raised and what was written so far must be discarded by the caller.
    """
    source = _binary_source(src)
    header = read_header(source)
    file_key = unwrap_file_key(header, identities)
    decrypt_payload(source, dst, file_key)


def encrypt(data: bytes, recipients, *, armor: bool = False) -> bytes:
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(data), out, recipients, armor=armor)
    return out.getvalue()


def decrypt(data: bytes, identities) -> bytes:
    out = io.BytesIO()
    decrypt_stream(io.BytesIO(data), out, identities)
    return out.getvalue()


def encrypt_with_passphrase(
    data: bytes, passphrase, *, work_factor: int = DEFAULT_WORK_FACTOR, armor: bool = False
) -> bytes:
    return encrypt(data, [ScryptRecipient(passphrase, work_factor)], armor=armor)


def decrypt_with_passphrase(data: bytes, passphrase, *, max_work_factor: int = MAX_WORK_FACTOR) -> bytes:
    return decrypt(data, [ScryptIdentity(passphrase, max_work_factor)])


def split_header(data: bytes) -> tuple[bytes, bytes]:
    """Split a binary age file into its header and its payload."""
    header, offset = parse_header(data)
    return header.raw, data[offset:]


def add_recipients(file_or_header: bytes, identity, new_recipients) -> bytes:
    """Return a new header that also admits ``new_recipients``.

    ``identity`` must open the existing header. The payload is untouched:
    the new header followed by the old payload is a valid file for everyone
    the old header admitted and for the new recipients.
    """
    header, _ = parse_header(file_or_header)
    file_key = unwrap_file_key(header, identity)
    if any(s.type == "scrypt" for s in header.stanzas):
        raise RecipientMixError("a passphrase-protected file cannot admit other recipients")
    added = _recipients(new_recipients)
    # Unknown stanza types (grease, future types) are skipped, as when decrypting.
    existing_pq = {
        s.type == "mlkem768x25519" for s in header.stanzas if s.type in ("X25519", "mlkem768x25519")
    }
    if existing_pq != {r.label == "postquantum" for r in added}:
        raise RecipientMixError("post-quantum and classic recipients cannot share a file")
    stanzas = list(header.stanzas) + [s for r in added for s in r.wrap(file_key)]
    return build_header(stanzas, file_key)


def rewrap(file_or_header: bytes, identity, recipients) -> bytes:
    """Return a new header admitting exactly ``recipients``, payload untouched.

    This is how a keyholder is removed. It cannot take back a file key that
    a removed holder already read: it only stops new copies from opening.
    """
    header, _ = parse_header(file_or_header)
    file_key = unwrap_file_key(header, identity)
    return _wrap(file_key, recipients)
