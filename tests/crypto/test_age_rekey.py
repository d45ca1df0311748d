"""Handing a file to a new keyholder, or taking it from one, without touching the payload.

``add_recipients`` and ``rewrap`` return a new header; the new header followed
by the old payload is the new file. The payload (the bulk of a large file)
is never re-encrypted, so it stays byte-for-byte what it was.
"""

import os

import pytest

import crypto
from crypto.format import Stanza, build_header, parse_header

CHUNK = 64 * 1024


def hand_over(sealed: bytes, new_header: bytes) -> bytes:
    _, payload = crypto.split_header(sealed)
    return new_header + payload


def test_a_file_handed_to_a_new_recipient_opens_for_old_and_new(alice, bob, carol, payloads):
    plaintext = payloads(2 * CHUNK + 7)
    sealed = crypto.encrypt(plaintext, alice.recipient)

    handed = hand_over(sealed, crypto.add_recipients(sealed, alice, [bob.recipient]))

    assert crypto.decrypt(handed, alice) == plaintext
    assert crypto.decrypt(handed, bob) == plaintext
    assert crypto.split_header(handed)[1] == crypto.split_header(sealed)[1]
    with pytest.raises(crypto.NoIdentityError):
        crypto.decrypt(handed, carol)


def test_add_recipients_takes_just_the_header_and_recipient_strings(alice, bob, carol, payloads):
    """An archive can keep headers apart from the bulk and re-key only the header."""
    plaintext = payloads(CHUNK + 1)
    sealed = crypto.encrypt(plaintext, [alice.recipient, bob.recipient])
    old_header, payload = crypto.split_header(sealed)

    new_header = crypto.add_recipients(old_header, str(bob), [str(carol.recipient)])

    for identity in (alice, bob, carol):
        assert crypto.decrypt(new_header + payload, identity) == plaintext


def test_a_handed_over_armored_file_is_not_accepted_as_a_header(alice, bob):
    sealed = crypto.encrypt(b"x", alice.recipient, armor=True)

    with pytest.raises(crypto.HeaderError):
        crypto.add_recipients(sealed, alice, [bob.recipient])
    # After dearmoring it works.
    header = crypto.add_recipients(crypto.dearmor(sealed), alice, [bob.recipient])
    assert crypto.decrypt(hand_over(crypto.dearmor(sealed), header), bob) == b"x"


@pytest.mark.interop
def test_age_opens_a_file_we_handed_over_to_its_key(age_tool, age_keypair, alice, payloads):
    identity_file, recipient = age_keypair
    plaintext = payloads(CHUNK + 1)
    sealed = crypto.encrypt(plaintext, alice.recipient)

    handed = hand_over(sealed, crypto.add_recipients(sealed, alice, [recipient]))

    assert age_tool.decrypt(handed, identity_file) == plaintext
    assert crypto.split_header(handed)[1] == crypto.split_header(sealed)[1]


@pytest.mark.interop
def test_a_file_age_wrote_can_be_handed_on_by_its_recipient(
    age_tool, alice, bob, write_identity, payloads
):
    plaintext = payloads(CHUNK - 1)
    sealed = age_tool.encrypt(plaintext, [alice.recipient])

    handed = hand_over(sealed, crypto.add_recipients(sealed, alice, [bob.recipient]))

    assert crypto.decrypt(handed, bob) == plaintext
    assert age_tool.decrypt(handed, write_identity(bob)) == plaintext
    assert age_tool.decrypt(handed, write_identity(alice)) == plaintext


def test_a_post_quantum_file_is_handed_on_to_a_post_quantum_recipient_only(alice, payloads):
    owner, colleague = crypto.HybridIdentity.generate(), crypto.HybridIdentity.generate()
    sealed = crypto.encrypt(payloads(1), owner.recipient)

    handed = hand_over(sealed, crypto.add_recipients(sealed, owner, [colleague.recipient]))
    assert crypto.decrypt(handed, colleague) == payloads(1)

    with pytest.raises(crypto.RecipientMixError):
        crypto.add_recipients(sealed, owner, [alice.recipient])


def test_a_classic_file_cannot_be_handed_to_a_post_quantum_recipient(alice):
    sealed = crypto.encrypt(b"x", alice.recipient)

    with pytest.raises(crypto.RecipientMixError):
        crypto.add_recipients(sealed, alice, [crypto.HybridIdentity.generate().recipient])


def test_a_post_quantum_file_with_an_unknown_stanza_can_still_be_handed_on(payloads):
    """Unknown stanzas are to be skipped; they say nothing about the file's key types."""
    owner, colleague = crypto.HybridIdentity.generate(), crypto.HybridIdentity.generate()
    sealed = crypto.encrypt(payloads(1), owner.recipient)
    header, offset = parse_header(sealed)
    file_key = crypto.unwrap_file_key(header, owner)
    unknown = Stanza("x-future-recipient", ("arg",), os.urandom(20))
    greased = build_header([*header.stanzas, unknown], file_key) + sealed[offset:]

    handed = hand_over(greased, crypto.add_recipients(greased, owner, [colleague.recipient]))

    assert crypto.decrypt(handed, colleague) == payloads(1)


def test_a_passphrase_file_cannot_be_handed_to_a_key(alice):
    sealed = crypto.encrypt_with_passphrase(b"x", "hunter2", work_factor=10)

    with pytest.raises(crypto.RecipientMixError):
        crypto.add_recipients(sealed, crypto.ScryptIdentity("hunter2"), [alice.recipient])


def test_only_a_keyholder_can_hand_a_file_on(alice, bob, carol):
    sealed = crypto.encrypt(b"x", alice.recipient)

    with pytest.raises(crypto.NoIdentityError):
        crypto.add_recipients(sealed, bob, [carol.recipient])


def test_rewrap_drops_a_recipient(alice, bob, carol, payloads):
    plaintext = payloads(CHUNK + 1)
    sealed = crypto.encrypt(plaintext, [alice.recipient, bob.recipient])

    rewrapped = hand_over(sealed, crypto.rewrap(sealed, alice, [alice.recipient, carol.recipient]))

    assert crypto.decrypt(rewrapped, alice) == plaintext
    assert crypto.decrypt(rewrapped, carol) == plaintext
    with pytest.raises(crypto.NoIdentityError):
        crypto.decrypt(rewrapped, bob)
    assert crypto.split_header(rewrapped)[1] == crypto.split_header(sealed)[1]


def test_rewrap_can_hand_a_file_away_from_its_only_holder(alice, bob, payloads):
    sealed = crypto.encrypt(payloads(10), alice.recipient)

    rewrapped = hand_over(sealed, crypto.rewrap(sealed, alice, bob.recipient))

    assert crypto.decrypt(rewrapped, bob) == payloads(10)
    with pytest.raises(crypto.NoIdentityError):
        crypto.decrypt(rewrapped, alice)
