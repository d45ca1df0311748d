"""Damaged and hostile files are refused, each with its own typed error.

A caller must be able to tell a wrong key from an altered header, a cut-off
download from a forged chunk. Files are damaged by hand; where a damaged file
needs a valid header MAC to reach the part under test, the MAC is recomputed
as the spec defines it (HMAC-SHA-256 under HKDF(file key, "header")), so the
one defect a test plants is the only one in the file.
"""

import base64
import hashlib
import hmac
import os

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

import crypto
from crypto.format import Stanza, build_header, parse_header

CHUNK = 64 * 1024
ENCRYPTED_CHUNK = CHUNK + 16
NONCE = 16
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
PASSPHRASE = "tr0ub4dor&3"


# --- building files by hand ---------------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).rstrip(b"=").decode()


def hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt or None, info).derive(ikm)


def seal_header(text_up_to_dashes: bytes, file_key: bytes) -> bytes:
    """Append the MAC line the spec defines to a header that ends in ``---``."""
    assert text_up_to_dashes.endswith(b"\n---")
    mac = hmac.new(hkdf(file_key, b"", b"header"), text_up_to_dashes, hashlib.sha256).digest()
    return text_up_to_dashes + b" " + b64(mac).encode() + b"\n"


def opened(sealed: bytes, identity):
    """Open a file's header the way a keyholder can: (header, file key, payload)."""
    header, offset = parse_header(sealed)
    return header, crypto.unwrap_file_key(header, identity), sealed[offset:]


def without_mac(header_bytes: bytes) -> bytes:
    return header_bytes[: header_bytes.rindex(b"\n---") + 4]


def non_canonical(encoded: str) -> str:
    """Set the unused low bits of the last base64 character: same bytes, other text."""
    assert len(encoded) % 4 in (2, 3)
    last = B64.index(encoded[-1])
    assert last & 1 == 0
    return encoded[:-1] + B64[last | 1]


def payload_by_hand(file_key: bytes, chunks) -> bytes:
    """An age payload built from the spec: ``chunks`` is a list of (plaintext, final)."""
    nonce = os.urandom(NONCE)
    aead = ChaCha20Poly1305(hkdf(file_key, nonce, b"payload"))
    out = [nonce]
    for counter, (plaintext, final) in enumerate(chunks):
        chunk_nonce = counter.to_bytes(11, "big") + (b"\x01" if final else b"\x00")
        out.append(aead.encrypt(chunk_nonce, plaintext, None))
    return b"".join(out)


def flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


@pytest.fixture
def sealed_for_alice(alice, payloads):
    def make(size=100):
        return crypto.encrypt(payloads(size), alice.recipient)

    return make


# --- the header ---------------------------------------------------------------


@pytest.mark.parametrize("where", ["version line", "stanza", "before the MAC", "MAC line"])
def test_a_file_cut_inside_its_header_is_a_header_error(
    alice, sealed_for_alice, raises_exactly, where
):
    sealed = sealed_for_alice()
    header, _ = crypto.split_header(sealed)
    cut = {
        "version line": 10,
        "stanza": header.index(b"-> X25519") + 20,
        "before the MAC": header.rindex(b"---"),
        "MAC line": len(header) - 10,
    }[where]

    with raises_exactly(crypto.HeaderError):
        crypto.decrypt(sealed[:cut], alice)


def test_a_file_that_is_not_age_at_all_is_a_header_error(alice, raises_exactly):
    with raises_exactly(crypto.HeaderError):
        crypto.decrypt(b"PK\x03\x04 this is a zip file\n", alice)


def test_a_flipped_header_mac_is_detected(alice, sealed_for_alice, raises_exactly):
    sealed = sealed_for_alice()
    header, payload = crypto.split_header(sealed)
    mac = base64.b64decode(header.rsplit(b" ", 1)[1] + b"=")
    forged = without_mac(header) + b" " + b64(flip(mac, 5)).encode() + b"\n"

    with raises_exactly(crypto.HeaderMACError):
        crypto.decrypt(forged + payload, alice)


def test_an_added_stanza_is_caught_by_the_header_mac(alice, bob, raises_exactly):
    """An attacker adds a stanza for Bob without knowing how to MAC the header."""
    sealed = crypto.encrypt(b"for alice", alice.recipient)
    header, payload = crypto.split_header(sealed)
    _, file_key, _ = opened(sealed, alice)
    extra = bob.recipient.wrap(file_key)[0].to_bytes()
    end = header.rindex(b"---")
    tampered = header[:end] + extra + header[end:]

    with raises_exactly(crypto.HeaderMACError):
        crypto.decrypt(tampered + payload, alice)


def test_a_non_canonical_base64_stanza_argument_is_a_header_error(
    alice, sealed_for_alice, raises_exactly
):
    sealed = sealed_for_alice()
    header, file_key, payload = opened(sealed, alice)
    (stanza,) = header.stanzas
    (share,) = stanza.args
    bent = Stanza(stanza.type, (non_canonical(share),), stanza.body)
    assert base64.b64decode(bent.args[0] + "=") == base64.b64decode(share + "=")

    with raises_exactly(crypto.HeaderError, match="canonical"):
        crypto.decrypt(build_header([bent], file_key) + payload, alice)


def test_a_non_canonical_base64_stanza_body_is_a_header_error(
    alice, sealed_for_alice, raises_exactly
):
    sealed = sealed_for_alice()
    header, file_key, payload = opened(sealed, alice)
    lines = without_mac(header.raw).split(b"\n")
    body_index = next(i for i, line in enumerate(lines) if line.startswith(b"-> X25519")) + 1
    lines[body_index] = non_canonical(lines[body_index].decode()).encode()
    bent = seal_header(b"\n".join(lines), file_key)

    with raises_exactly(crypto.HeaderError, match="canonical"):
        crypto.decrypt(bent + payload, alice)


@pytest.mark.parametrize(
    "defect",
    [
        "no argument",
        "two arguments",
        "31-byte share",
        "33-byte share",
        "low-order share",
        "31-byte body",
        "48-byte body",
    ],
)
def test_an_x25519_stanza_with_bad_arguments_is_a_stanza_error(
    alice, sealed_for_alice, raises_exactly, defect
):
    sealed = sealed_for_alice()
    header, file_key, payload = opened(sealed, alice)
    (stanza,) = header.stanzas
    share = base64.b64decode(stanza.args[0] + "=")
    args, body = {
        "no argument": ((), stanza.body),
        "two arguments": ((stanza.args[0], stanza.args[0]), stanza.body),
        "31-byte share": ((b64(share[:31]),), stanza.body),
        "33-byte share": ((b64(share + b"\x00"),), stanza.body),
        "low-order share": ((b64(bytes(32)),), stanza.body),
        "31-byte body": (stanza.args, stanza.body[:31]),
        "48-byte body": (stanza.args, stanza.body + bytes(16)),
    }[defect]
    bent = Stanza("X25519", args, body)

    with raises_exactly(crypto.StanzaError):
        crypto.decrypt(build_header([bent], file_key) + payload, alice)


@pytest.mark.parametrize("defect", ["one argument", "15-byte salt", "leading zero", "31-byte body"])
def test_an_scrypt_stanza_with_bad_arguments_is_a_stanza_error(raises_exactly, defect):
    file_key = os.urandom(16)
    salt, body = b64(os.urandom(16)), os.urandom(32)
    args, body = {
        "one argument": ((salt,), body),
        "15-byte salt": ((b64(os.urandom(15)), "10"), body),
        "leading zero": ((salt, "010"), body),
        "31-byte body": ((salt, "10"), body[:31]),
    }[defect]
    sealed = build_header([Stanza("scrypt", args, body)], file_key) + payload_by_hand(
        file_key, [(b"x", True)]
    )

    with raises_exactly(crypto.StanzaError):
        crypto.decrypt_with_passphrase(sealed, PASSPHRASE)


def test_an_scrypt_work_factor_over_the_limit_is_refused_before_any_work(raises_exactly):
    """Work factor 23 would need 8 GiB of memory: a reader must refuse, not try."""
    file_key = os.urandom(16)
    stanza = Stanza("scrypt", (b64(os.urandom(16)), "23"), os.urandom(32))
    sealed = build_header([stanza], file_key) + payload_by_hand(file_key, [(b"x", True)])

    with raises_exactly(crypto.WorkFactorError):
        crypto.decrypt_with_passphrase(sealed, PASSPHRASE)


def test_a_real_passphrase_file_above_the_readers_own_limit_is_refused(raises_exactly):
    sealed = crypto.encrypt_with_passphrase(b"minutes", PASSPHRASE, work_factor=12)

    with raises_exactly(crypto.WorkFactorError):
        crypto.decrypt_with_passphrase(sealed, PASSPHRASE, max_work_factor=11)
    with raises_exactly(crypto.WorkFactorError):
        crypto.decrypt(sealed, crypto.ScryptIdentity(PASSPHRASE, max_work_factor=11))
    assert crypto.decrypt_with_passphrase(sealed, PASSPHRASE, max_work_factor=12) == b"minutes"


def test_a_writer_refuses_a_work_factor_no_reader_would_accept(raises_exactly):
    with raises_exactly(crypto.WorkFactorError):
        crypto.encrypt_with_passphrase(b"x", PASSPHRASE, work_factor=23)


def test_an_scrypt_stanza_beside_an_x25519_stanza_is_a_header_error(
    alice, sealed_for_alice, raises_exactly
):
    """A passphrase file that also opens with a key would defeat the passphrase."""
    sealed = sealed_for_alice()
    header, file_key, payload = opened(sealed, alice)
    scrypt = crypto.ScryptRecipient(PASSPHRASE, work_factor=10).wrap(file_key)
    mixed = build_header(list(header.stanzas) + scrypt, file_key) + payload

    with raises_exactly(crypto.HeaderError):
        crypto.decrypt(mixed, [crypto.ScryptIdentity(PASSPHRASE), alice])
    with raises_exactly(crypto.HeaderError):
        crypto.decrypt(mixed, alice)


def test_a_wrong_passphrase_is_no_identity(raises_exactly):
    sealed = crypto.encrypt_with_passphrase(b"x", PASSPHRASE, work_factor=10)

    with raises_exactly(crypto.NoIdentityError):
        crypto.decrypt_with_passphrase(sealed, "Tr0ub4dor&3")


def test_an_unknown_stanza_type_is_skipped_when_the_mac_covers_it(
    alice, sealed_for_alice, payloads
):
    """Future recipient types must not break today's readers (the spec's grease)."""
    sealed = sealed_for_alice(CHUNK + 1)
    header, file_key, payload = opened(sealed, alice)
    unknown = Stanza("x-future-recipient", ("ab", "c.d=e"), os.urandom(70))
    greased = build_header([unknown, *header.stanzas], file_key) + payload

    assert crypto.decrypt(greased, alice) == payloads(CHUNK + 1)


@pytest.mark.interop
def test_age_also_skips_our_unknown_stanza(age_tool, age_keypair, payloads):
    identity_file, recipient = age_keypair
    sealed = crypto.encrypt(payloads(1), recipient)
    header, payload = crypto.split_header(sealed)
    identity = crypto.parse_identities(identity_file.read_text())[0]
    parsed, file_key, _ = opened(sealed, identity)
    unknown = Stanza("x-future-recipient", ("arg",), b"")
    greased = build_header([*parsed.stanzas, unknown], file_key) + payload

    assert age_tool.decrypt(greased, identity_file) == payloads(1)


# --- the payload --------------------------------------------------------------


@pytest.mark.parametrize(
    "size, keep",
    [
        (CHUNK + 10, NONCE + ENCRYPTED_CHUNK + 15),  # final chunk cut below its tag
        (0, NONCE + 10),  # the empty payload's only chunk cut short
        (100, NONCE - 1),  # cut inside the payload nonce
    ],
    ids=["after-full-chunk", "empty-payload", "in-nonce"],
)
def test_a_truncated_final_chunk_is_a_truncated_payload(
    alice, sealed_for_alice, raises_exactly, size, keep
):
    header, payload = crypto.split_header(sealed_for_alice(size))
    assert len(payload) > keep

    with raises_exactly(crypto.TruncatedPayloadError):
        crypto.decrypt(header + payload[:keep], alice)


@pytest.mark.parametrize(
    "size, full_chunks_kept",
    [(2 * CHUNK + 100, 2), (2 * CHUNK, 1), (3 * CHUNK + 1, 1)],
    ids=["short-final-dropped", "full-final-dropped", "two-chunks-dropped"],
)
def test_a_file_cut_exactly_at_a_chunk_boundary_is_a_truncated_payload(
    alice, sealed_for_alice, raises_exactly, size, full_chunks_kept
):
    """The classic attack on naive chunking: drop whole chunks from the end."""
    header, payload = crypto.split_header(sealed_for_alice(size))
    cut = NONCE + full_chunks_kept * ENCRYPTED_CHUNK

    with raises_exactly(crypto.TruncatedPayloadError):
        crypto.decrypt(header + payload[:cut], alice)


def test_an_empty_final_chunk_after_full_chunks_is_refused(alice, raises_exactly, payloads):
    """The spec allows an empty final chunk only when the whole payload is empty."""
    file_key = os.urandom(16)
    header = build_header(alice.recipient.wrap(file_key), file_key)
    plaintext = payloads(CHUNK)

    # Control: the same construction with the full chunk marked final is a valid file.
    valid = header + payload_by_hand(file_key, [(plaintext, True)])
    assert crypto.decrypt(valid, alice) == plaintext
    empty_payload = header + payload_by_hand(file_key, [(b"", True)])
    assert crypto.decrypt(empty_payload, alice) == b""

    bad = header + payload_by_hand(file_key, [(plaintext, False), (b"", True)])
    with raises_exactly(crypto.PayloadError):
        crypto.decrypt(bad, alice)


@pytest.mark.parametrize("size", [CHUNK, 2 * CHUNK], ids=["one-chunk", "two-chunks"])
def test_bytes_after_the_final_chunk_are_trailing_data(
    alice, sealed_for_alice, raises_exactly, size
):
    sealed = sealed_for_alice(size)

    with raises_exactly(crypto.TrailingDataError):
        crypto.decrypt(sealed + b"garbage", alice)


def test_bytes_after_a_short_final_chunk_are_refused_too(alice, sealed_for_alice):
    """A short final chunk cannot be told apart from a forged one; still an error."""
    with pytest.raises(crypto.PayloadError):
        crypto.decrypt(sealed_for_alice(100) + b"\n", alice)


@pytest.mark.parametrize(
    "where", ["nonce", "first chunk", "tag of final chunk"], ids=["nonce", "chunk", "tag"]
)
def test_a_flipped_payload_byte_fails_authentication(
    alice, sealed_for_alice, raises_exactly, where
):
    header, payload = crypto.split_header(sealed_for_alice(CHUNK + 100))
    index = {"nonce": 3, "first chunk": NONCE + 1000, "tag of final chunk": len(payload) - 1}[where]

    with raises_exactly(crypto.PayloadError):
        crypto.decrypt(header + flip(payload, index), alice)


def test_swapped_chunks_fail_authentication(alice, sealed_for_alice, raises_exactly):
    header, payload = crypto.split_header(sealed_for_alice(3 * CHUNK))
    nonce, chunks = payload[:NONCE], payload[NONCE:]
    first, second = chunks[:ENCRYPTED_CHUNK], chunks[ENCRYPTED_CHUNK : 2 * ENCRYPTED_CHUNK]
    swapped = nonce + second + first + chunks[2 * ENCRYPTED_CHUNK :]

    with raises_exactly(crypto.PayloadError):
        crypto.decrypt(header + swapped, alice)


# --- keys ---------------------------------------------------------------------


def test_the_wrong_identity_is_no_identity(alice, bob, sealed_for_alice, raises_exactly):
    sealed = sealed_for_alice()

    with raises_exactly(crypto.NoIdentityError):
        crypto.decrypt(sealed, bob)
    with raises_exactly(crypto.NoIdentityError):
        crypto.decrypt(sealed, [bob, crypto.HybridIdentity.generate()])


def test_the_wrong_hybrid_identity_is_no_identity(raises_exactly):
    sealed = crypto.encrypt(b"x", crypto.HybridIdentity.generate().recipient)

    with raises_exactly(crypto.NoIdentityError):
        crypto.decrypt(sealed, crypto.HybridIdentity.generate())


def test_post_quantum_and_classic_recipients_cannot_share_a_file(alice, raises_exactly):
    hybrid = crypto.HybridIdentity.generate().recipient

    with raises_exactly(crypto.RecipientMixError):
        crypto.encrypt(b"x", [hybrid, alice.recipient])
    with raises_exactly(crypto.RecipientMixError):
        crypto.encrypt(b"x", [str(alice.recipient), str(hybrid)])


def test_a_passphrase_cannot_share_a_file_with_a_key(alice, raises_exactly):
    with raises_exactly(crypto.RecipientMixError):
        crypto.encrypt(b"x", [crypto.ScryptRecipient(PASSPHRASE, 10), alice.recipient])


def replace_char(text: str, index: int) -> str:
    """Swap one bech32 character for another valid one, keeping the key's case."""
    charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
    replacement = charset[(charset.index(text[index].lower()) + 1) % 32]
    if text.isupper():
        replacement = replacement.upper()
    return text[:index] + replacement + text[index:][1:]


@pytest.fixture(
    params=["x25519-recipient", "x25519-identity", "hybrid-recipient", "hybrid-identity"]
)
def key_text(request, alice):
    hybrid = crypto.HybridIdentity.generate()
    text = {
        "x25519-recipient": str(alice.recipient),
        "x25519-identity": str(alice),
        "hybrid-recipient": str(hybrid.recipient),
        "hybrid-identity": str(hybrid),
    }[request.param]
    parse = crypto.parse_recipient if "recipient" in request.param else crypto.parse_identity
    return text, parse


def test_a_key_with_a_bad_checksum_is_refused(key_text, raises_exactly):
    text, parse = key_text
    parse(text)  # control: the untouched key parses

    with raises_exactly(crypto.KeyFormatError, match="checksum"):
        parse(replace_char(text, len(text) - 1))
    with raises_exactly(crypto.KeyFormatError, match="checksum"):
        parse(replace_char(text, len(text) - 10))


def test_a_key_in_mixed_case_is_refused(key_text, raises_exactly):
    text, parse = key_text
    middle = len(text) // 2
    mixed = text[:middle] + text[middle:].swapcase()

    with raises_exactly(crypto.KeyFormatError, match="mixed case"):
        parse(mixed)


def test_a_key_with_the_wrong_prefix_is_refused(alice, raises_exactly):
    from crypto import bech32

    recipient_bytes = alice.recipient.public_bytes
    wrong = [
        (crypto.parse_recipient, bech32.encode("agf", recipient_bytes)),
        (crypto.parse_recipient, str(alice)),  # an identity where a recipient belongs
        (crypto.parse_identity, str(alice.recipient)),  # and the other way round
        (crypto.parse_identity, bech32.encode("AGE-PUBLIC-KEY-", recipient_bytes)),
        (crypto.X25519Recipient.parse, str(crypto.HybridIdentity.generate().recipient)),
        (crypto.HybridRecipient.parse, str(alice.recipient)),
        (crypto.HybridIdentity.parse, str(alice)),
        (crypto.parse_recipient, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHkey"),
    ]
    for parse, text in wrong:
        with raises_exactly(crypto.KeyFormatError):
            parse(text)


def test_a_recipient_of_the_wrong_length_is_refused(alice, raises_exactly):
    from crypto import bech32

    with raises_exactly(crypto.KeyFormatError):
        crypto.parse_recipient(bech32.encode("age", alice.recipient.public_bytes[:31]))
    with raises_exactly(crypto.KeyFormatError):
        crypto.parse_recipient(bech32.encode("age1pq", os.urandom(1000)))


def test_a_bad_key_in_an_identity_file_names_its_line(alice, raises_exactly):
    text = f"# created: today\n{alice}\nAGE-SECRET-KEY-1NOTAKEY\n"

    with raises_exactly(crypto.KeyFormatError, match="line 3"):
        crypto.parse_identities(text)


# --- armor --------------------------------------------------------------------


@pytest.fixture
def armored_for_alice(alice, payloads):
    """An armored file whose last base64 line ends in '=' padding."""
    for size in range(3):
        sealed = crypto.encrypt(payloads(size), alice.recipient, armor=True)
        lines = sealed.split(b"\n")
        if lines[-3].endswith(b"="):
            return sealed, payloads(size)
    raise AssertionError("no payload size gave a padded armor line")


def test_whitespace_around_the_armor_is_accepted(alice, armored_for_alice):
    sealed, plaintext = armored_for_alice

    assert crypto.decrypt(b"\n  \n" + sealed + b"\n\n", alice) == plaintext
    assert crypto.decrypt(sealed.replace(b"\n", b"\r\n"), alice) == plaintext


def test_garbage_after_the_armor_end_is_an_armor_error(alice, armored_for_alice, raises_exactly):
    sealed, _ = armored_for_alice

    with raises_exactly(crypto.ArmorError):
        crypto.decrypt(sealed + b"and one more thing\n", alice)


def test_an_armor_line_longer_than_64_columns_is_an_armor_error(
    alice, payloads, raises_exactly
):
    sealed = crypto.encrypt(payloads(500), alice.recipient, armor=True)
    lines = sealed.split(b"\n")
    assert len(lines[1]) == len(lines[2]) == 64
    joined = b"\n".join([lines[0], lines[1] + lines[2], *lines[3:]])

    with raises_exactly(crypto.ArmorError):
        crypto.decrypt(joined, alice)
    with raises_exactly(crypto.ArmorError):
        crypto.dearmor(joined)


def test_non_canonical_base64_in_the_armor_is_an_armor_error(
    alice, armored_for_alice, raises_exactly
):
    sealed, _ = armored_for_alice
    lines = sealed.split(b"\n")
    last = lines[-3]
    data, padding = last.rstrip(b"="), last[len(last.rstrip(b"=")) :]
    lines[-3] = non_canonical(data.decode()).encode() + padding
    bent = b"\n".join(lines)
    assert base64.b64decode(lines[-3]) == base64.b64decode(last)

    with raises_exactly(crypto.ArmorError, match="canonical"):
        crypto.decrypt(bent, alice)


def test_an_armor_without_its_end_line_is_an_armor_error(
    alice, armored_for_alice, payloads, raises_exactly
):
    sealed, _ = armored_for_alice
    assert sealed.endswith(b"-----END AGE ENCRYPTED FILE-----\n")

    with raises_exactly(crypto.ArmorError):
        crypto.decrypt(sealed[: sealed.rindex(b"-----END")], alice)

    # Also when the last line is a full 64 columns, so nothing hints at the end.
    for size in range(48):
        full = crypto.encrypt(payloads(size), alice.recipient, armor=True)
        if len(full.split(b"\n")[-3]) == 64:
            break
    else:
        raise AssertionError("no payload size gave a full last armor line")
    with raises_exactly(crypto.ArmorError):
        crypto.decrypt(full[: full.rindex(b"-----END")], alice)


def test_only_the_end_line_may_lose_its_newline(alice, armored_for_alice, raises_exactly):
    sealed, plaintext = armored_for_alice
    clipped = sealed.rstrip(b"\n")
    assert crypto.decrypt(clipped, alice) == plaintext

    # Anything glued after the unterminated END line, or an END line cut short, is still refused.
    for bent in (clipped + b"x", clipped[:-1], clipped + b"\x00"):
        with raises_exactly(crypto.ArmorError):
            crypto.decrypt(bent, alice)
