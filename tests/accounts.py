"""The test users' credentials, known to the fixtures and to the tests that log in."""

import base64
import hashlib


def passphrase_of(username: str) -> str:
    return f"{username} correct horse battery staple"


def totp_secret_of(username: str) -> str:
    return base64.b32encode(hashlib.sha256(username.encode()).digest()[:20]).decode()
