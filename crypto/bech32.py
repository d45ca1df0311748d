"""Bech32 (BIP 173) without the 90-character limit, as age uses it.

Hybrid post-quantum recipients are about 1,950 characters long, so the
length limit of BIP 173 is dropped, as the age spec says.
"""

import base64
import binascii

from .errors import KeyFormatError

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CHARSET_INDEX = {c: i for i, c in enumerate(_CHARSET)}
_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
# Base32 spells the same 5-bit groups with another alphabet, at C speed.
_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_TO_BECH32 = str.maketrans(_BASE32, _CHARSET)
_TO_BASE32 = str.maketrans(_CHARSET, _BASE32)
# The generator terms each value of the checksum's top five bits adds.
_TOP_TERMS = [0] * 32
for _top in range(32):
    for _i in range(5):
        if (_top >> _i) & 1:
            _TOP_TERMS[_top] ^= _GENERATOR[_i]



def _step(checksum, value):
    return ((checksum & 0x1FFFFFF) << 5) ^ value ^ _TOP_TERMS[checksum >> 25]


# Two steps at once: the checksum is linear in its bits, so what its top ten bits add over
# two steps is looked up, and a hybrid recipient's ~1,950 values take half the loop.
_PAIR_TERMS = [_step(_step(_top << 20, 0), 0) for _top in range(1024)]
_VALUE_OF = bytes.maketrans(_CHARSET.encode("ascii"), bytes(range(32)))


def _polymod(values):
    values = bytes(values)
    paired = len(values) - len(values) % 2
    checksum = 1
    for high, low in zip(values[0:paired:2], values[1:paired:2]):
        checksum = ((checksum & 0xFFFFF) << 10) ^ (high << 5 | low) ^ _PAIR_TERMS[checksum >> 20]
    if paired != len(values):
        checksum = _step(checksum, values[-1])
    return checksum


def _hrp_expand(hrp):
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _to_groups(data: bytes) -> str:
    """``data`` as Bech32 characters of 5 bits each, the last zero-padded."""
    return base64.b32encode(data).decode("ascii").rstrip("=").translate(_TO_BECH32)


def _from_groups(text: str) -> bytes:
    if (len(text) * 5) % 8 >= 5:
        raise KeyFormatError("bech32: invalid data length")
    padded = text.translate(_TO_BASE32) + "=" * (-len(text) % 8)
    try:
        data = base64.b32decode(padded)
    except binascii.Error:
        raise KeyFormatError("bech32: invalid data length") from None
    if _to_groups(data) != text:
        raise KeyFormatError("bech32: non-zero padding bits")
    return data


def encode(hrp: str, data: bytes) -> str:
    """Encode ``data`` under ``hrp``; the case of ``hrp`` sets the output case."""
    lower_hrp = hrp.lower()
    groups = _to_groups(data)
    values = bytes(_hrp_expand(lower_hrp)) + groups.encode("ascii").translate(_VALUE_OF) + bytes(6)
    polymod = _polymod(values) ^ 1
    checksum = "".join(_CHARSET[(polymod >> 5 * (5 - i)) & 31] for i in range(6))
    text = lower_hrp + "1" + groups + checksum
    return text.upper() if hrp.isupper() else text


def decode(text: str) -> tuple[str, bytes]:
    """Return ``(hrp, data)``; the hrp comes back lower-case."""
    if text.lower() != text and text.upper() != text:
        raise KeyFormatError("bech32: mixed case")
    lower = text.lower()
    separator = lower.rfind("1")
    if separator < 1 or separator + 7 > len(lower):
        raise KeyFormatError("bech32: missing separator or checksum")
    hrp = lower[:separator]
    if any(ord(c) < 33 or ord(c) > 126 for c in hrp):
        raise KeyFormatError("bech32: invalid character in prefix")
    try:
        values = [_CHARSET_INDEX[c] for c in lower[separator + 1 :]]
    except KeyError:
        raise KeyFormatError("bech32: invalid character in data") from None
    if _polymod(_hrp_expand(hrp) + values) != 1:
        raise KeyFormatError("bech32: bad checksum")
    return hrp, _from_groups(lower[separator + 1 : -6])
