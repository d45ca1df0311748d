"""Parsing and generating the key strings people copy around."""

import functools

from .errors import KeyFormatError
from .hybrid import HybridIdentity, HybridRecipient
from .x25519 import X25519Identity, X25519Recipient

Identity = X25519Identity | HybridIdentity
Recipient = X25519Recipient | HybridRecipient


def generate_identity(pq: bool = True) -> Identity:
    """A fresh identity: hybrid post-quantum by default, X25519 if ``pq`` is false."""
    return HybridIdentity.generate() if pq else X25519Identity.generate()


@functools.lru_cache(maxsize=4096)
def parse_recipient(text: str) -> Recipient:
    """Parse ``age1pq1...`` or ``age1...``.

    Recipients are immutable and the same few are used for every item of a
    case, so parsed ones are kept: a hybrid key is 1,959 characters of Bech32.
    """
    text = text.strip()
    if text.lower().startswith("age1pq1"):
        return HybridRecipient.parse(text)
    if text.lower().startswith("age1"):
        return X25519Recipient.parse(text)
    raise KeyFormatError("unknown recipient type: expected age1... or age1pq1...")


def parse_identity(text: str) -> Identity:
    """Parse ``AGE-SECRET-KEY-PQ-1...`` or ``AGE-SECRET-KEY-1...``."""
    text = text.strip()
    if text.upper().startswith("AGE-SECRET-KEY-PQ-1"):
        return HybridIdentity.parse(text)
    if text.upper().startswith("AGE-SECRET-KEY-1"):
        return X25519Identity.parse(text)
    raise KeyFormatError("unknown identity type: expected AGE-SECRET-KEY-...")


def _parse_lines(text: str, parse) -> list:
    """Parse a keys file: one key a line, ``#`` comments and blank lines ignored."""
    keys = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            keys.append(parse(line))
        except KeyFormatError as error:
            raise KeyFormatError(f"line {number}: {error}") from None
    return keys


def parse_identities(text: str) -> list[Identity]:
    """Parse an identity file, as ``age-keygen`` writes it."""
    identities = _parse_lines(text, parse_identity)
    if not identities:
        raise KeyFormatError("no identity found")
    return identities


def parse_recipients(text: str) -> list[Recipient]:
    """Parse a recipients file: one ``age1...`` a line."""
    return _parse_lines(text, parse_recipient)
