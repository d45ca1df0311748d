"""Keys are spelled exactly as BIP 173 spells them, however long.

The library's Bech32 works on big integers for speed; here a plain
transcription of the BIP 173 reference code (checksum and 8-to-5-bit
regrouping, the 90-character limit dropped as age does) is the judge, on
thousands of random keys of every length, around the lengths where the
library changes method, and on damaged keys.
"""

import random

import pytest

import crypto
from crypto import bech32

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
GENERATOR = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
HRPS = ["age", "age1pq", "AGE-SECRET-KEY-", "AGE-SECRET-KEY-PQ-", "a"]


# --- the BIP 173 reference, transcribed -----------------------------------------


def reference_polymod(values):
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            chk ^= GENERATOR[i] if ((top >> i) & 1) else 0
    return chk


def reference_hrp_expand(hrp):
    return [ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp]


def reference_convertbits(data, frombits, tobits, pad):
    acc, bits, ret, maxv = 0, 0, [], (1 << tobits) - 1
    for value in data:
        acc = (acc << frombits) | value
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            ret.append((acc >> bits) & maxv)
    if pad:
        if bits:
            ret.append((acc << (tobits - bits)) & maxv)
    elif bits >= frombits or ((acc << (tobits - bits)) & maxv):
        return None
    return ret


def reference_encode(hrp, data):
    lower = hrp.lower()
    values = reference_convertbits(data, 8, 5, True)
    polymod = reference_polymod(reference_hrp_expand(lower) + values + [0] * 6) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    text = lower + "1" + "".join(CHARSET[d] for d in values + checksum)
    return text.upper() if hrp.isupper() else text


def reference_decode(text):
    """``(hrp, data)``, or None for anything BIP 173 (without its length limit) refuses."""
    if any(ord(x) < 33 or ord(x) > 126 for x in text):
        return None
    if text.lower() != text and text.upper() != text:
        return None
    text = text.lower()
    pos = text.rfind("1")
    if pos < 1 or pos + 7 > len(text):
        return None
    if not all(x in CHARSET for x in text[pos + 1 :]):
        return None
    hrp, values = text[:pos], [CHARSET.find(x) for x in text[pos + 1 :]]
    if reference_polymod(reference_hrp_expand(hrp) + values) != 1:
        return None
    data = reference_convertbits(values[:-6], 5, 8, False)
    return None if data is None else (hrp, bytes(data))


def library_decode(text):
    try:
        return bech32.decode(text)
    except crypto.KeyFormatError:
        return None


# --- the checks -----------------------------------------------------------------

# Every short length (each padding case many times), a hybrid key's, the lengths around
# the end of the checksum's fast path (about 1,280 bytes) and far past it.
LENGTHS = list(range(0, 41)) + [1215, 1216, 1217] + list(range(1268, 1290)) + [3001]


@pytest.mark.parametrize("length", LENGTHS)
def test_every_key_is_spelled_as_the_reference_spells_it_and_reads_back(length):
    rng = random.Random(length)
    for _ in range(40 if length < 100 else 8):
        data = rng.randbytes(length)
        for hrp in HRPS:
            text = bech32.encode(hrp, data)
            assert text == reference_encode(hrp, data)
            assert bech32.decode(text) == (hrp.lower(), data)


def test_fresh_keys_of_both_kinds_are_spelled_as_the_reference_spells_them():
    for identity in [crypto.HybridIdentity.generate() for _ in range(5)] + [
        crypto.X25519Identity.generate() for _ in range(5)
    ]:
        recipient = identity.recipient
        assert str(recipient) == reference_encode(recipient.HRP, recipient.public_bytes)
        assert crypto.parse_recipient(str(recipient)) == recipient


def damaged(rng, text):
    """``text`` with one random defect: a character swapped, dropped, added, or the end cut."""
    position = rng.randrange(len(text))
    defect = rng.randrange(5)
    if defect == 0:
        return text[:position] + rng.choice(CHARSET) + text[position + 1 :]
    if defect == 1:
        return text[:position] + text[position + 1 :]
    if defect == 2:
        return text[:position] + rng.choice(CHARSET + "1bio!Z ") + text[position:]
    if defect == 3:
        return text[:position]
    return text[:position] + text[position].swapcase() + text[position + 1 :]


def test_damaged_keys_are_judged_as_the_reference_judges_them():
    rng = random.Random(173)
    refused = accepted = 0
    for _ in range(3000):
        length = rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 8, 31, 32, 33, 100, 1216, 1300])
        text = damaged(rng, reference_encode(rng.choice(HRPS), rng.randbytes(length)))
        expected = reference_decode(text)
        assert library_decode(text) == expected, text
        refused += expected is None
        accepted += expected is not None
    # Both outcomes were exercised: a cut at the separator's left, say, still reads.
    assert refused > 2000 and accepted > 50


def test_values_with_non_zero_padding_bits_or_a_length_no_bytes_make_are_refused():
    rng = random.Random(5)
    for count in range(1, 60):
        values = [rng.randrange(32) for _ in range(count)]
        text = "age1" + "".join(CHARSET[v] for v in values)
        polymod = reference_polymod(reference_hrp_expand("age") + values + [0] * 6) ^ 1
        text += "".join(CHARSET[(polymod >> 5 * (5 - i)) & 31] for i in range(6))
        assert library_decode(text) == reference_decode(text)


def test_a_letter_that_only_lower_cases_to_a_bech32_one_is_refused(raises_exactly):
    key = next(k for k in (str(crypto.X25519Identity.generate()) for _ in range(1000)) if "K" in k[16:])
    position = key.index("K", 16)  # in the key's data, past "AGE-SECRET-KEY-1"
    kelvin = key[:position] + "\N{KELVIN SIGN}" + key[position + 1 :]  # lower-cases to "k"
    assert reference_decode(kelvin) is None

    with raises_exactly(crypto.KeyFormatError, match="invalid character"):
        crypto.parse_identity(kelvin)
