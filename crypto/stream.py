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


def decrypt_payload(src, dst, file_key: bytes) -> None:
    """Authenticate and decrypt the payload read from ``src`` into ``dst``."""
    nonce = read_full(src, NONCE_SIZE)
    if len(nonce) < NONCE_SIZE:
        raise TruncatedPayloadError("payload truncated: missing nonce")
    aead = ChaCha20Poly1305(payload_key(file_key, nonce))
    counter = 0
    # One byte of look-ahead tells a full non-final chunk from a full final one.
    buffered = read_full(src, ENCRYPTED_CHUNK_SIZE + 1)
    while len(buffered) > ENCRYPTED_CHUNK_SIZE:
        chunk, rest = buffered[:ENCRYPTED_CHUNK_SIZE], buffered[ENCRYPTED_CHUNK_SIZE:]
        try:
            dst.write(aead.decrypt(_chunk_nonce(counter, False), chunk, None))
        except InvalidTag:
            if _opens(aead, counter, True, chunk):
                raise TrailingDataError("trailing data after the final chunk") from None
            raise PayloadError("payload chunk failed to authenticate") from None
        counter += 1
        buffered = rest + read_full(src, ENCRYPTED_CHUNK_SIZE + 1 - len(rest))
    if len(buffered) < TAG_SIZE:
        raise TruncatedPayloadError("payload truncated: no final chunk")
    try:
        plaintext = aead.decrypt(_chunk_nonce(counter, True), buffered, None)
    except InvalidTag:
        if _opens(aead, counter, False, buffered):
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
