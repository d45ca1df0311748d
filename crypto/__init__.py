"""age v1 file encryption, written with ``cryptography`` alone.

A standalone library: it imports nothing from the portal. The public surface
is what this module exports; ``docs/crypto.md`` describes the format.
"""

from .age import (
    add_recipients,
    decrypt,
    decrypt_stream,
    decrypt_with_passphrase,
    encrypt,
    encrypt_stream,
    encrypt_with_passphrase,
    rewrap,
    split_header,
    unwrap_file_key,
)
from .armor import armor, dearmor
from .errors import (
    AgeError,
    ArmorError,
    HeaderError,
    HeaderMACError,
    KeyFormatError,
    NoIdentityError,
    PayloadError,
    RecipientMixError,
    StanzaError,
    TrailingDataError,
    TruncatedPayloadError,
    WorkFactorError,
)
from .hybrid import HybridIdentity, HybridRecipient
from .keys import (
    generate_identity,
    parse_identities,
    parse_identity,
    parse_recipient,
    parse_recipients,
)
from .passphrase import ScryptIdentity, ScryptRecipient
from .x25519 import X25519Identity, X25519Recipient

__all__ = [
    "AgeError",
    "ArmorError",
    "HeaderError",
    "HeaderMACError",
    "HybridIdentity",
    "HybridRecipient",
    "KeyFormatError",
    "NoIdentityError",
    "PayloadError",
    "RecipientMixError",
    "ScryptIdentity",
    "ScryptRecipient",
    "StanzaError",
    "TrailingDataError",
    "TruncatedPayloadError",
    "WorkFactorError",
    "X25519Identity",
    "X25519Recipient",
    "add_recipients",
    "armor",
    "dearmor",
    "decrypt",
    "decrypt_stream",
    "decrypt_with_passphrase",
    "encrypt",
    "encrypt_stream",
    "encrypt_with_passphrase",
    "generate_identity",
    "parse_identities",
    "parse_identity",
    "parse_recipient",
    "parse_recipients",
    "rewrap",
    "split_header",
    "unwrap_file_key",
]
