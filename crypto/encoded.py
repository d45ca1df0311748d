"""What every recipient and identity type shares: its Bech32 text form."""

from . import bech32
from .errors import KeyFormatError


class EncodedRecipient:
    """A public key with a Bech32 form; equal when the keys are equal."""

    HRP = ""
    KIND = ""

    def __init__(self, public_bytes: bytes):
        self.public_bytes = public_bytes
        self._text = None

    @classmethod
    def parse(cls, text: str):
        hrp, data = bech32.decode(text)
        if hrp != cls.HRP:
            raise KeyFormatError(f"not {cls.KIND}")
        return cls(data)

    def __str__(self) -> str:
        if self._text is None:
            self._text = bech32.encode(self.HRP, self.public_bytes)
        return self._text

    def __eq__(self, other):
        return type(other) is type(self) and other.public_bytes == self.public_bytes

    def __hash__(self):
        return hash(self.public_bytes)


class EncodedIdentity:
    """A secret key with a Bech32 form (upper case, as age writes identities)."""

    HRP = ""
    KIND = ""

    @classmethod
    def parse(cls, text: str):
        hrp, data = bech32.decode(text)
        if hrp != cls.HRP.lower():
            raise KeyFormatError(f"not {cls.KIND}")
        return cls(data)

    def __str__(self) -> str:
        return bech32.encode(self.HRP, self._secret)
