"""Receipts: 16 digits that let an anonymous reporter come back.

A receipt is never stored. What is stored is a look-up key derived from it
with Argon2id and the instance salt, so testing one guess costs real memory
and time, in the server's bounded "argon2" pool (``work_slots``): when every
slot stays taken, ``derive_keys`` raises ``work_slots.Busy`` and nothing is
derived. The reporter's age identity is derived from the same secret, so
replies to the reporter are encrypted at rest and only the receipt opens them.

The last four digits are a check code: an HMAC of the first twelve under a key
only this instance has. A guess (or a typo) whose check fails is refused
before any Argon2id, so a flood of wrong receipts costs the server almost
nothing; see docs/threat-model.md for the entropy this leaves.
"""

import functools
import hashlib
import hmac
from dataclasses import dataclass

from argon2.low_level import Type, hash_secret_raw
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto import HybridIdentity, X25519Identity

from . import typed_text, work_slots

DIGITS = 16
CHECK_DIGITS = 4
BODY_DIGITS = DIGITS - CHECK_DIGITS


class ReceiptFormatError(ValueError):
    """The text entered is not 16 digits."""


@dataclass(frozen=True)
class ReceiptKeys:
    lookup: bytes
    identity: HybridIdentity | X25519Identity


def receipt_for_submission(secret_key: bytes, submission_token: str) -> str:
    """The receipt of a submission, derived from its one-time form token: twelve digits and their check code.

    Deriving instead of drawing lets a resent form get the same receipt back
    without the receipt ever being stored.
    """
    body = _derived_digits(secret_key, submission_token, BODY_DIGITS)
    return body + _check_code(check_key(secret_key), body)


def legacy_receipt_for_submission(secret_key: bytes, submission_token: str) -> str:
    """The receipt a submission got before receipts carried a check code: 16 derived digits."""
    return _derived_digits(secret_key, submission_token, DIGITS)


def passes_check(key: bytes, receipt: str) -> bool:
    """Whether the last digits of a normalised receipt are the check code of the first ones.

    ``key`` is ``check_key(secret_key)``. Costs one HMAC: no Argon2id, no database.
    """
    body, code = receipt[:BODY_DIGITS], receipt[BODY_DIGITS:]
    return hmac.compare_digest(_check_code(key, body), code)


@functools.lru_cache(maxsize=8)
def check_key(secret_key: bytes) -> bytes:
    """The instance's key of receipt check codes, derived from its secret under a label of its own."""
    return HKDF(hashes.SHA256(), 32, None, b"portal receipt check code").derive(secret_key)


def _check_code(key: bytes, body: str) -> str:
    digest = hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()
    return str(int.from_bytes(digest, "big") % 10**CHECK_DIGITS).zfill(CHECK_DIGITS)


def _derived_digits(secret_key: bytes, submission_token: str, digits: int) -> str:
    digest = hmac.new(secret_key, b"receipt:" + submission_token.encode(), hashlib.sha256).digest()
    return str(int.from_bytes(digest, "big") % 10**digits).zfill(digits)


def submission_digest(submission_token: str) -> bytes:
    """The look-up of a submission by the form's own id alone (the token's last part).

    A form sent again is known as sent even when the session that sent it has
    ended (after "Finish", on a shared phone), so it is never stored twice.
    """
    return hashlib.sha256(b"submission:" + submission_token.rpartition(":")[2].encode()).digest()


def group(receipt: str) -> str:
    """``1234 5678 9012 3456``: four groups, easy to copy by hand."""
    return " ".join(receipt[i : i + 4] for i in range(0, DIGITS, 4))


def normalise(text: str) -> str:
    """Read a receipt as typed: any script's digits, spaces and dashes allowed."""
    digits = typed_text.ascii_digits("".join(c for c in text or "" if c not in " -\u00a0\u2009\u202f\t\r\n"))
    if not (digits.isascii() and digits.isdigit()):
        raise ReceiptFormatError("receipt has characters that are not digits")
    if len(digits) != DIGITS:
        raise ReceiptFormatError("receipt must have 16 digits")
    return digits


def derive_keys(receipt: str, salt: bytes, time_cost: int, memory_kib: int,
                post_quantum: bool = True) -> ReceiptKeys:
    master = work_slots.run(
        work_slots.ARGON2,
        hash_secret_raw,
        receipt.encode("ascii"),
        salt,
        time_cost=time_cost,
        memory_cost=memory_kib,
        parallelism=1,
        hash_len=32,
        type=Type.ID,
    )
    return ReceiptKeys(
        lookup=_expand(master, b"portal receipt lookup"),
        identity=(HybridIdentity if post_quantum else X25519Identity)(_expand(master, b"portal reporter identity")),
    )


def _expand(master: bytes, info: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, None, info).derive(master)
