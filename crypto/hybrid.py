"""The hybrid post-quantum type: ML-KEM-768 + X25519 (X-Wing) through HPKE.

``age1pq1...`` recipients and ``AGE-SECRET-KEY-PQ-1...`` identities. A file
key wrapped this way stays secret even if X25519 falls to a quantum computer
later ("harvest now, decrypt later"), and even if ML-KEM is broken today.
"""

import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from .encoded import EncodedIdentity, EncodedRecipient
from .errors import KeyFormatError, StanzaError
from .format import FILE_KEY_SIZE, Stanza, b64decode, b64encode

RECIPIENT_HRP = "age1pq"
IDENTITY_HRP = "AGE-SECRET-KEY-PQ-"
STANZA_TYPE = "mlkem768x25519"
LABEL = "postquantum"
_INFO = b"age-encryption.org/mlkem768x25519"
_MLKEM_PUBLIC_SIZE = 1184
_ENC_SIZE = 1120
_SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)


class HybridRecipient(EncodedRecipient):
    HRP = RECIPIENT_HRP
    KIND = "a hybrid recipient (age1pq1...)"
    label = LABEL

    def __init__(self, public_bytes: bytes):
        if len(public_bytes) != _MLKEM_PUBLIC_SIZE + 32:
            raise KeyFormatError("a hybrid recipient is 1216 bytes")
        try:
            self._public = hpke.MLKEM768X25519PublicKey(
                mlkem.MLKEM768PublicKey.from_public_bytes(public_bytes[:_MLKEM_PUBLIC_SIZE]),
                x25519.X25519PublicKey.from_public_bytes(public_bytes[_MLKEM_PUBLIC_SIZE:]),
            )
        except ValueError:
            raise KeyFormatError("invalid hybrid recipient key") from None
        super().__init__(public_bytes)

    @classmethod
    def _of_keys(cls, mlkem_public, x25519_public) -> "HybridRecipient":
        """The recipient of keys an identity just derived: no need to parse them back from bytes."""
        recipient = cls.__new__(cls)
        recipient._public = hpke.MLKEM768X25519PublicKey(mlkem_public, x25519_public)
        EncodedRecipient.__init__(recipient, mlkem_public.public_bytes_raw() + x25519_public.public_bytes_raw())
        return recipient

    def wrap(self, file_key: bytes) -> list[Stanza]:
        sealed = _SUITE.encrypt(file_key, self._public, info=_INFO)
        enc, body = sealed[:_ENC_SIZE], sealed[_ENC_SIZE:]
        return [Stanza(STANZA_TYPE, (b64encode(enc),), body)]



class HybridIdentity(EncodedIdentity):
    HRP = IDENTITY_HRP
    KIND = "a hybrid identity (AGE-SECRET-KEY-PQ-1...)"

    def __init__(self, seed: bytes):
        if len(seed) != 32:
            raise KeyFormatError("a hybrid identity is a 32-byte seed")
        self._secret = seed
        # The X-Wing key schedule: one seed expands into both private keys.
        expanded = hashlib.shake_256(seed).digest(96)
        mlkem_private = mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64])
        x25519_private = x25519.X25519PrivateKey.from_private_bytes(expanded[64:])
        self._private = hpke.MLKEM768X25519PrivateKey(mlkem_private, x25519_private)
        # Built from the key objects: parsing their bytes again costs as much as deriving them.
        self.recipient = HybridRecipient._of_keys(mlkem_private.public_key(), x25519_private.public_key())

    @classmethod
    def generate(cls) -> "HybridIdentity":
        return cls(os.urandom(32))

    def unwrap(self, stanzas) -> bytes | None:
        for stanza in stanzas:
            if stanza.type != STANZA_TYPE:
                continue
            if len(stanza.args) != 1:
                raise StanzaError("mlkem768x25519 stanza must have exactly one argument")
            enc = b64decode(stanza.args[0], "mlkem768x25519 encapsulated key")
            if len(enc) != _ENC_SIZE:
                raise StanzaError("mlkem768x25519 encapsulated key must be 1120 bytes")
            if len(stanza.body) != FILE_KEY_SIZE + 16:
                raise StanzaError("mlkem768x25519 stanza body must be 32 bytes")
            try:
                return _SUITE.decrypt(enc + stanza.body, self._private, info=_INFO)
            except InvalidTag:
                continue
        return None

