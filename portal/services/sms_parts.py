"""How a text travels: GSM-7 or UCS-2, and the parts a long one is cut into.

A text of GSM-7 characters alone fits 160 septets in one part and 153 in each
part of a concatenated message (the user data header takes the rest); one
character outside GSM-7 makes the whole text UCS-2: 70 UTF-16 units, 67 per
part. The extension characters (``{}[]~\\|^€`` and form feed) cost two septets
and an escape is never cut from its character; a surrogate pair is never cut.
"""

from dataclasses import dataclass

_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = set("^{}\\[~]|€\f")
SINGLE = {"gsm7": 160, "ucs2": 70}
MULTI = {"gsm7": 153, "ucs2": 67}
# Parts sent as one concatenated message: Twilio takes at most 1600 characters in a body,
# and phones show ten parts well; a longer text goes as several messages.
MAX_PARTS_PER_MESSAGE = 10


@dataclass(frozen=True)
class Encoded:
    encoding: str
    parts: list[str]


def encoding_of(text: str) -> str:
    return "gsm7" if all(c in _GSM_BASIC or c in _GSM_EXTENSION for c in text) else "ucs2"


def _cost(character: str, encoding: str) -> int:
    if encoding == "gsm7":
        return 2 if character in _GSM_EXTENSION else 1
    return 2 if ord(character) > 0xFFFF else 1


def split(text: str) -> Encoded:
    """The parts ``text`` travels in, each as the phone network carries it."""
    encoding = encoding_of(text)
    if sum(_cost(c, encoding) for c in text) <= SINGLE[encoding]:
        return Encoded(encoding, [text])
    limit, parts, current, used = MULTI[encoding], [], [], 0
    for character in text:
        cost = _cost(character, encoding)
        if used + cost > limit:
            parts.append("".join(current))
            current, used = [], 0
        current.append(character)
        used += cost
    parts.append("".join(current))
    return Encoded(encoding, parts)


def messages(text: str) -> list[str]:
    """``text`` as the messages to hand the gateway, each at most ``MAX_PARTS_PER_MESSAGE`` parts."""
    parts = split(text).parts
    return ["".join(parts[i:i + MAX_PARTS_PER_MESSAGE]) for i in range(0, len(parts), MAX_PARTS_PER_MESSAGE)]
