"""Large files stream through in constant memory, and nothing unauthenticated leaks out.

tracemalloc counts every Python allocation, so the memory bound below is a
deterministic measurement, not a timing.
"""

import hashlib
import io
import random
import tracemalloc

import pytest

import crypto

CHUNK = 64 * 1024
ENCRYPTED_CHUNK = CHUNK + 16
NONCE = 16
MiB = 1024 * 1024
STREAM_SIZE = 64 * MiB
MEMORY_LIMIT = 4 * MiB


class PseudoRandomSource:
    """A readable stream of ``size`` pseudo-random bytes that never exists in memory whole."""

    def __init__(self, size: int, seed: int = 2024):
        self.remaining = size
        self.random = random.Random(seed)
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self.remaining
        size = min(size, self.remaining)
        data = self.random.randbytes(size)
        self.remaining -= size
        self.digest.update(data)
        return data


class HashingSink:
    """A writable stream that keeps only a hash and a count of what it was given."""

    def __init__(self):
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data) -> int:
        self.digest.update(data)
        self.size += len(data)
        return len(data)


def peak_memory_of(action) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def round_trip_in_constant_memory(identity, tmp_path, size, armor):
    source = PseudoRandomSource(size)
    sealed_path = tmp_path / "big.age"

    with open(sealed_path, "wb") as sealed:
        encrypt_peak = peak_memory_of(
            lambda: crypto.encrypt_stream(source, sealed, identity.recipient, armor=armor)
        )
    assert source.remaining == 0
    assert sealed_path.stat().st_size > size

    sink = HashingSink()
    with open(sealed_path, "rb") as sealed:
        decrypt_peak = peak_memory_of(lambda: crypto.decrypt_stream(sealed, sink, identity))

    assert sink.size == size
    assert sink.digest.digest() == source.digest.digest()
    assert decrypt_peak < MEMORY_LIMIT, f"decrypt_stream peaked at {decrypt_peak} bytes"
    assert encrypt_peak < MEMORY_LIMIT, f"encrypt_stream peaked at {encrypt_peak} bytes"


def test_a_64_mib_stream_round_trips_in_constant_memory(alice, tmp_path):
    round_trip_in_constant_memory(alice, tmp_path, STREAM_SIZE, armor=False)


def test_an_armored_stream_round_trips_in_constant_memory(alice, tmp_path):
    # Armor is decoded line by line in Python; 8 MiB (128 chunks) keeps the test quick.
    round_trip_in_constant_memory(alice, tmp_path, 8 * MiB, armor=True)


def test_a_stream_to_a_hybrid_recipient_round_trips(payloads):
    identity = crypto.HybridIdentity.generate()
    plaintext = payloads(3 * CHUNK + 5)
    sealed = io.BytesIO()

    crypto.encrypt_stream(io.BytesIO(plaintext), sealed, [identity.recipient])
    opened = io.BytesIO()
    crypto.decrypt_stream(io.BytesIO(sealed.getvalue()), opened, identity)

    assert opened.getvalue() == plaintext


def test_decrypt_stream_writes_only_the_chunks_that_authenticated(alice, payloads):
    """A corrupted third chunk: exactly the first two chunks come out, then an error."""
    plaintext = payloads(4 * CHUNK + 123)
    sealed = crypto.encrypt(plaintext, alice.recipient)
    header, payload = crypto.split_header(sealed)
    third_chunk = NONCE + 2 * ENCRYPTED_CHUNK
    corrupt = bytearray(payload)
    corrupt[third_chunk + 500] ^= 0x80
    written = io.BytesIO()

    with pytest.raises(crypto.PayloadError) as failure:
        crypto.decrypt_stream(io.BytesIO(header + bytes(corrupt)), written, alice)

    assert failure.type is crypto.PayloadError
    assert len(written.getvalue()) == 2 * CHUNK
    assert written.getvalue() == plaintext[: 2 * CHUNK]


def test_decrypt_stream_writes_nothing_when_the_header_is_forged(alice, bob, payloads):
    sealed = crypto.encrypt(payloads(CHUNK), alice.recipient)
    written = io.BytesIO()

    with pytest.raises(crypto.NoIdentityError):
        crypto.decrypt_stream(io.BytesIO(sealed), written, bob)

    assert written.getvalue() == b""


def test_decrypt_stream_reads_from_a_pipe_like_source_that_returns_short_reads(alice, payloads):
    """A socket or pipe hands out data in small pieces; the result is the same."""

    class Trickle(io.RawIOBase):
        def __init__(self, data):
            self.data = memoryview(data)

        def readable(self):
            return True

        def readinto(self, buffer):
            size = min(len(buffer), 1000, len(self.data))
            buffer[:size] = self.data[:size]
            self.data = self.data[size:]
            return size

    plaintext = payloads(2 * CHUNK + 1)
    for armor in (False, True):
        sealed = crypto.encrypt(plaintext, alice.recipient, armor=armor)
        written = io.BytesIO()
        crypto.decrypt_stream(Trickle(sealed), written, alice)
        assert written.getvalue() == plaintext
