"""The age payload: STREAM over ChaCha20-Poly1305 in 64 KiB chunks.

Decryption releases a chunk only after it authenticated, and fails with a
typed error on truncation, reordering, a misplaced final chunk or trailing
bytes, so a caller never mistakes part of a file for the whole.
"""

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from .errors import PayloadError, TrailingDataError, TruncatedPayloadError
from .format import hkdf

CHUNK_SIZE = 64 * 1024
TAG_SIZE = 16
ENCRYPTED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE
NONCE_SIZE = 16
_MAX_COUNTER = 1 << 88


def payload_key(file_key: bytes, nonce: bytes) -> bytes:
    return hkdf(file_key, nonce, b"payload")


def _chunk_nonce(counter: int, final: bool) -> bytes:
    if counter >= _MAX_COUNTER:
        raise PayloadError("payload too long: chunk counter overflow")
    return counter.to_bytes(11, "big") + (b"\x01" if final else b"\x00")


def read_full(stream, size: int) -> bytes:
    """Read exactly ``size`` bytes unless the stream ends first."""
    parts = []
    remaining = size
    while remaining:
        part = stream.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def encrypt_payload(src, dst, file_key: bytes) -> None:
    """Read plaintext from ``src`` to its end and write the payload to ``dst``."""
    nonce = os.urandom(NONCE_SIZE)
    aead = ChaCha20Poly1305(payload_key(file_key, nonce))
    dst.write(nonce)
    counter = 0
    chunk = read_full(src, CHUNK_SIZE)
    while True:
        following = read_full(src, CHUNK_SIZE) if len(chunk) == CHUNK_SIZE else b""
        final = not following
        dst.write(aead.encrypt(_chunk_nonce(counter, final), chunk, None))
        if final:
            return
        counter += 1
        chunk = following


def _read_into(stream, view) -> int:
    """Fill ``view`` from ``stream`` unless it ends first; return the byte count.

    Uses ``readinto`` when the stream has it, so a chunk goes from the source
    into one reused buffer without intermediate copies.
    """
    readinto = getattr(stream, "readinto", None)
    filled = 0
    while filled < len(view):
        if readinto is not None:
            count = readinto(view[filled:])
        else:
            part = stream.read(len(view) - filled)
            count = len(part) if part else 0
            view[filled : filled + count] = part
        if not count:
            break
        filled += count
    return filled


def decrypt_payload(src, dst, file_key: bytes) -> None:
    """Authenticate and decrypt the payload read from ``src`` into ``dst``."""
    nonce = read_full(src, NONCE_SIZE)
    if len(nonce) < NONCE_SIZE:
        raise TruncatedPayloadError("payload truncated: missing nonce")
    aead = ChaCha20Poly1305(payload_key(file_key, nonce))
    counter = 0
    # One byte of look-ahead tells a full non-final chunk from a full final one.
    # A single buffer is reused for every chunk; only the plaintext of a chunk
    # that authenticated is ever handed to ``dst``.
    buffer = bytearray(ENCRYPTED_CHUNK_SIZE + 1)
    view = memoryview(buffer)
    chunk = view[:ENCRYPTED_CHUNK_SIZE]
    filled = _read_into(src, view)
    while filled > ENCRYPTED_CHUNK_SIZE:
        try:
            plaintext = aead.decrypt(_chunk_nonce(counter, False), chunk, None)
        except InvalidTag:
            if _opens(aead, counter, True, chunk):
                raise TrailingDataError("trailing data after the final chunk") from None
            raise PayloadError("payload chunk failed to authenticate") from None
        dst.write(plaintext)
        counter += 1
        buffer[0] = buffer[ENCRYPTED_CHUNK_SIZE]
        filled = 1 + _read_into(src, view[1:])
    if filled < TAG_SIZE:
        raise TruncatedPayloadError("payload truncated: no final chunk")
    last = view[:filled]
    try:
        plaintext = aead.decrypt(_chunk_nonce(counter, True), last, None)
    except InvalidTag:
        if _opens(aead, counter, False, last):
            raise TruncatedPayloadError("payload truncated: last chunk is not final") from None
        raise PayloadError("final chunk failed to authenticate") from None
    if not plaintext and counter:
        raise PayloadError("empty final chunk after full chunks")
    dst.write(plaintext)


def _opens(aead, counter, final, chunk) -> bool:
    try:
        aead.decrypt(_chunk_nonce(counter, final), chunk, None)
    except InvalidTag:
        return False
    return True
