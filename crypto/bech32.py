"""Bech32 (BIP 173) without the 90-character limit, as age uses it.

Hybrid post-quantum recipients are about 1,950 characters long, so the
length limit of BIP 173 is dropped, as the age spec says. Such a key is
encoded on every report sent, so the work is done on big integers, whose
operations run in C, rather than in a Python loop over its characters.
"""

import functools

from .errors import KeyFormatError

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_TO_CHARSET = bytes.maketrans(bytes(range(32)), _CHARSET.encode("ascii"))
# Every byte that is not a Bech32 character becomes 0xFF, which no 5-bit value is.
_TO_VALUES = bytearray(b"\xff" * 256)
for _value, _char in enumerate(_CHARSET.encode("ascii")):
    _TO_VALUES[_char] = _value
_TO_VALUES = bytes(_TO_VALUES)
_CHECKSUM_BITS = 30


# The generator terms each value of the checksum's top five bits adds.
_TOP_TERMS = [0] * 32
for _top in range(32):
    for _i in range(5):
        if (_top >> _i) & 1:
            _TOP_TERMS[_top] ^= _GENERATOR[_i]


def _step(checksum, value):
    return ((checksum & 0x1FFFFFF) << 5) ^ value ^ _TOP_TERMS[checksum >> 25]


def _parity_masks(length):
    """The checksum as parities: bit k of it is the parity of the input bits in mask k.

    Started from zero the checksum is linear over GF(2) in the input's bits, so
    each of its 30 bits is a parity of some of them. An input of up to ``length``
    5-bit values is laid out one value a byte (the last in the lowest byte), the
    form in which the values come; mask k holds the input bits that reach bit k.
    """
    # effects[b][j]: what bit b of the value j places before the end adds.
    effects = []
    for bit in range(5):
        effect, column = 1 << bit, []
        for _ in range(length):
            column.append(effect)
            effect = _step(effect, 0)
        # Written first position first, so slicing a string gives a mask's bits high to low.
        effects.append("".join(format(e, "030b") for e in reversed(column)))
    masks = []
    for k in range(_CHECKSUM_BITS):
        bits = bytearray(b"0" * (8 * length))
        for bit in range(5):
            bits[7 - bit :: 8] = effects[bit][_CHECKSUM_BITS - 1 - k :: _CHECKSUM_BITS].encode("ascii")
        masks.append(int(bits, 2))
    return masks


# Room for a hybrid recipient (1,966 values with the checksum's start); longer input takes the loop.
_MASKED_LENGTH = 2048
_MASKS = _parity_masks(_MASKED_LENGTH)


def _polymod(values: bytes) -> int:
    # Starting from 1 is starting from 0 with a value 1 in front.
    if len(values) + 1 > _MASKED_LENGTH:
        checksum = 1
        for value in values:
            checksum = _step(checksum, value)
        return checksum
    bits = int.from_bytes(b"\x01" + values, "big")
    checksum = 0
    for k, mask in enumerate(_MASKS):
        checksum |= ((bits & mask).bit_count() & 1) << k
    return checksum


def _hrp_expand(hrp):
    return bytes([ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp])


@functools.lru_cache(maxsize=16)
def _spread_masks(blocks: int) -> tuple[int, ...]:
    """Masks for ``blocks`` 64-bit slots: 20-bit halves of 40 bits, 10-bit halves of 32, 5-bit of 16."""
    patterns = (
        0x00000000000FFFFF, 0x000000FFFFF00000,
        0x000003FF000003FF, 0x000FFC00000FFC00,
        0x001F001F001F001F, 0x03E003E003E003E0,
    )
    return tuple(int.from_bytes(p.to_bytes(8, "big") * blocks, "big") for p in patterns)


def _to_values(data: bytes) -> bytes:
    """``data`` as 5-bit values, one a byte, the last zero-padded.

    Each 5 bytes go into the low 40 bits of a 64-bit slot; three rounds of
    masks and shifts split every slot down to one 5-bit value a byte.
    """
    blocks = -(-len(data) // 5)
    padded = data + bytes(5 * blocks - len(data))
    slots = bytearray(8 * blocks)
    for i in range(5):
        slots[3 + i :: 8] = padded[i::5]
    x = int.from_bytes(slots, "big")
    low20, high20, low10, high10, low5, high5 = _spread_masks(blocks)
    x = (x & low20) | ((x & high20) << 12)
    x = (x & low10) | ((x & high10) << 6)
    x = (x & low5) | ((x & high5) << 3)
    return x.to_bytes(8 * blocks, "big")[: -(-len(data) * 8 // 5)]


def _from_values(values: bytes) -> bytes:
    """The bytes that ``values`` (5 bits each) spell; the padding bits must be zero."""
    size, spare = divmod(len(values) * 5, 8)
    if spare >= 5:
        raise KeyFormatError("bech32: invalid data length")
    if values and values[-1] & ((1 << spare) - 1):
        raise KeyFormatError("bech32: non-zero padding bits")
    blocks = -(-len(values) // 8)
    x = int.from_bytes(values + bytes(8 * blocks - len(values)), "big")
    low20, high20, low10, high10, low5, high5 = _spread_masks(blocks)
    x = (x & low5) | ((x >> 3) & high5)
    x = (x & low10) | ((x >> 6) & high10)
    x = (x & low20) | ((x >> 12) & high20)
    slots = x.to_bytes(8 * blocks, "big")
    padded = bytearray(5 * blocks)
    for i in range(5):
        padded[i::5] = slots[3 + i :: 8]
    return bytes(padded[:size])


def encode(hrp: str, data: bytes) -> str:
    """Encode ``data`` under ``hrp``; the case of ``hrp`` sets the output case."""
    lower_hrp = hrp.lower()
    values = _to_values(data)
    polymod = _polymod(_hrp_expand(lower_hrp) + values + bytes(6)) ^ 1
    checksum = bytes((polymod >> 5 * (5 - i)) & 31 for i in range(6))
    text = lower_hrp + "1" + (values + checksum).translate(_TO_CHARSET).decode("ascii")
    return text.upper() if hrp.isupper() else text


def decode(text: str) -> tuple[str, bytes]:
    """Return ``(hrp, data)``; the hrp comes back lower-case."""
    if text.lower() != text and text.upper() != text:
        raise KeyFormatError("bech32: mixed case")
    if not text.isascii():
        # Also keeps out letters that lower-case to ASCII ones, such as the Kelvin sign.
        raise KeyFormatError("bech32: invalid character")
    lower = text.lower()
    separator = lower.rfind("1")
    if separator < 1 or separator + 7 > len(lower):
        raise KeyFormatError("bech32: missing separator or checksum")
    hrp = lower[:separator]
    if any(ord(c) < 33 or ord(c) > 126 for c in hrp):
        raise KeyFormatError("bech32: invalid character in prefix")
    values = lower[separator + 1 :].encode("ascii").translate(_TO_VALUES)
    if b"\xff" in values:
        raise KeyFormatError("bech32: invalid character in data")
    if _polymod(_hrp_expand(hrp) + values) != 1:
        raise KeyFormatError("bech32: bad checksum")
    return hrp, _from_values(values[:-6])
