"""The instance's Ed25519 signing key: it signs what this instance sends to
partner instances (published recipients, bundles, statuses), so that the
partner can tell it came from us and was not changed on the way."""

import base64
import hashlib
import json

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from . import instance as instance_service

RAW = dict(encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw)


def _private_key(session) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(instance_service.signing_key(session))


def public_key(session) -> bytes:
    return _private_key(session).public_key().public_bytes(**RAW)


def fingerprint(public: bytes) -> str:
    """SHA-256 of the raw public key, in hex: what administrators compare out of band."""
    return hashlib.sha256(public).hexdigest()


def readable(fingerprint_hex: str) -> str:
    """``ab12 cd34 …``: groups of four, easier to read aloud over the phone."""
    return " ".join(fingerprint_hex[i:i + 4] for i in range(0, len(fingerprint_hex), 4))


def normalise_fingerprint(text: str) -> str | None:
    cleaned = "".join(c for c in (text or "").lower() if c not in " :-\t\n")
    if len(cleaned) != 64 or any(c not in "0123456789abcdef" for c in cleaned):
        return None
    return cleaned


def canonical(document) -> bytes:
    """The one byte form of a JSON document that is signed and verified."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign(session, data: bytes) -> bytes:
    return _private_key(session).sign(data)


def verify(public: bytes, signature: bytes, data: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True


def signed_document(session, document: dict) -> dict:
    """``{"document": …, "signature": base64}``: a JSON message partners can check."""
    return {"document": document, "signature": base64.b64encode(sign(session, canonical(document))).decode()}


def open_signed_document(envelope, public: bytes) -> dict | None:
    """The document of a signed envelope, or None if the signature does not hold."""
    try:
        document = envelope["document"]
        signature = base64.b64decode(envelope["signature"], validate=True)
    except (KeyError, TypeError, ValueError):
        return None
    if not isinstance(document, dict) or not verify(public, signature, canonical(document)):
        return None
    return document
