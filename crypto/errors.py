"""Typed errors, so a caller can tell a wrong key from a damaged file.

Every error raised while reading an age file is an ``AgeError``; the
subclasses say which part of the file was at fault.
"""


class AgeError(Exception):
    """Base of every error this library raises about keys or files."""


class KeyFormatError(AgeError, ValueError):
    """A recipient or identity string is not a valid encoding."""


class RecipientMixError(AgeError, ValueError):
    """The recipients asked for cannot share one file (see the age spec)."""


class ArmorError(AgeError):
    """The ASCII armor around a file is not strict PEM as the spec demands."""


class HeaderError(AgeError):
    """The header is malformed: version line, stanza grammar or base64."""


class StanzaError(HeaderError):
    """A recognised stanza has arguments or a body the spec forbids."""


class WorkFactorError(StanzaError):
    """An scrypt stanza asks for more work than this reader accepts."""


class HeaderMACError(AgeError):
    """The header MAC does not match: the header was altered."""


class NoIdentityError(AgeError):
    """None of the identities given can open any stanza of the header."""


class PayloadError(AgeError):
    """The payload failed to authenticate: corrupt, reordered or forged."""


class TruncatedPayloadError(PayloadError):
    """The payload ends before a valid final chunk."""


class TrailingDataError(PayloadError):
    """Bytes follow the final chunk."""
