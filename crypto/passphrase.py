"""The scrypt recipient type: a file opened by a passphrase alone."""

import os
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from .errors import StanzaError, WorkFactorError
from .format import FILE_KEY_SIZE, Stanza, b64decode, b64encode

STANZA_TYPE = "scrypt"
LABEL = "scrypt"
DEFAULT_WORK_FACTOR = 18
# 2**22 with r=8 needs 4 GiB of memory: the most a reader will accept.
MAX_WORK_FACTOR = 22
_SALT_LABEL = b"age-encryption.org/v1/scrypt"
_ZERO_NONCE = bytes(12)
_WORK_FACTOR = re.compile(r"\A[1-9][0-9]*\Z")


def _as_bytes(passphrase) -> bytes:
    return passphrase.encode("utf-8") if isinstance(passphrase, str) else bytes(passphrase)


def _wrap_key(passphrase: bytes, salt: bytes, work_factor: int) -> bytes:
    kdf = Scrypt(salt=_SALT_LABEL + salt, length=32, n=1 << work_factor, r=8, p=1)
    return kdf.derive(passphrase)


class ScryptRecipient:
    label = LABEL

    def __init__(self, passphrase, work_factor: int = DEFAULT_WORK_FACTOR):
        if not isinstance(work_factor, int) or not 1 <= work_factor <= MAX_WORK_FACTOR:
            raise WorkFactorError(f"scrypt work factor must be between 1 and {MAX_WORK_FACTOR}")
        if not passphrase:
            raise ValueError("empty passphrase")
        self._passphrase = _as_bytes(passphrase)
        self.work_factor = work_factor

    def wrap(self, file_key: bytes) -> list[Stanza]:
        salt = os.urandom(16)
        key = _wrap_key(self._passphrase, salt, self.work_factor)
        body = ChaCha20Poly1305(key).encrypt(_ZERO_NONCE, file_key, None)
        return [Stanza(STANZA_TYPE, (b64encode(salt), str(self.work_factor)), body)]


class ScryptIdentity:
    def __init__(self, passphrase, max_work_factor: int = MAX_WORK_FACTOR):
        self._passphrase = _as_bytes(passphrase)
        self.max_work_factor = max_work_factor

    def unwrap(self, stanzas) -> bytes | None:
        for stanza in stanzas:
            if stanza.type != STANZA_TYPE:
                continue
            if len(stanzas) != 1:
                raise StanzaError("an scrypt stanza must be the only stanza")
            if len(stanza.args) != 2:
                raise StanzaError("scrypt stanza must have exactly two arguments")
            salt = b64decode(stanza.args[0], "scrypt salt")
            if len(salt) != 16:
                raise StanzaError("scrypt salt must be 16 bytes")
            if not _WORK_FACTOR.match(stanza.args[1]):
                raise StanzaError("scrypt work factor is not a decimal number")
            work_factor = int(stanza.args[1])
            if work_factor > self.max_work_factor:
                raise WorkFactorError(
                    f"scrypt work factor {work_factor} exceeds the limit of {self.max_work_factor}"
                )
            if len(stanza.body) != FILE_KEY_SIZE + 16:
                raise StanzaError("scrypt stanza body must be 32 bytes")
            key = _wrap_key(self._passphrase, salt, work_factor)
            try:
                return ChaCha20Poly1305(key).decrypt(_ZERO_NONCE, stanza.body, None)
            except InvalidTag:
                return None
        return None
