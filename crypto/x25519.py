"""The X25519 recipient type: ``age1...`` and ``AGE-SECRET-KEY-1...``."""

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from .encoded import EncodedIdentity, EncodedRecipient
from .errors import KeyFormatError, StanzaError
from .format import FILE_KEY_SIZE, Stanza, b64decode, b64encode, hkdf

RECIPIENT_HRP = "age"
IDENTITY_HRP = "AGE-SECRET-KEY-"
STANZA_TYPE = "X25519"
_INFO = b"age-encryption.org/v1/X25519"
_ZERO_NONCE = bytes(12)


def _wrap_key(shared: bytes, share: bytes, recipient: bytes) -> bytes:
    return hkdf(shared, share + recipient, _INFO)


class X25519Recipient(EncodedRecipient):
    HRP = RECIPIENT_HRP
    KIND = "an X25519 recipient (age1...)"
    label = None

    def __init__(self, public_bytes: bytes):
        if len(public_bytes) != 32:
            raise KeyFormatError("an X25519 recipient is 32 bytes")
        self._public = x25519.X25519PublicKey.from_public_bytes(public_bytes)
        super().__init__(public_bytes)

    def wrap(self, file_key: bytes) -> list[Stanza]:
        ephemeral = x25519.X25519PrivateKey.generate()
        share = ephemeral.public_key().public_bytes_raw()
        shared = ephemeral.exchange(self._public)
        body = ChaCha20Poly1305(_wrap_key(shared, share, self.public_bytes)).encrypt(
            _ZERO_NONCE, file_key, None
        )
        return [Stanza(STANZA_TYPE, (b64encode(share),), body)]



class X25519Identity(EncodedIdentity):
    HRP = IDENTITY_HRP
    KIND = "an X25519 identity (AGE-SECRET-KEY-1...)"

    def __init__(self, secret: bytes):
        if len(secret) != 32:
            raise KeyFormatError("an X25519 identity is 32 bytes")
        self._secret = secret
        self._private = x25519.X25519PrivateKey.from_private_bytes(secret)
        self.recipient = X25519Recipient(self._private.public_key().public_bytes_raw())

    @classmethod
    def generate(cls) -> "X25519Identity":
        return cls(os.urandom(32))

    def unwrap(self, stanzas) -> bytes | None:
        for stanza in stanzas:
            if stanza.type != STANZA_TYPE:
                continue
            if len(stanza.args) != 1:
                raise StanzaError("X25519 stanza must have exactly one argument")
            share = b64decode(stanza.args[0], "X25519 ephemeral share")
            if len(share) != 32:
                raise StanzaError("X25519 ephemeral share must be 32 bytes")
            if len(stanza.body) != FILE_KEY_SIZE + 16:
                raise StanzaError("X25519 stanza body must be 32 bytes")
            try:
                shared = self._private.exchange(x25519.X25519PublicKey.from_public_bytes(share))
            except ValueError:
                raise StanzaError("X25519 share is a low-order point") from None
            if shared == bytes(32):
                raise StanzaError("X25519 shared secret is all zeroes")
            key = _wrap_key(shared, share, self.recipient.public_bytes)
            try:
                return ChaCha20Poly1305(key).decrypt(_ZERO_NONCE, stanza.body, None)
            except InvalidTag:
                continue
        return None

