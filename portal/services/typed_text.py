"""Text as a person typed it, made ready to keep: one place for every script's quirks.

- Free text a reporter writes (a report, an answer) loses its control
  characters, and Burmese typed with a Zawgyi keyboard or font becomes Unicode,
  so investigators, who read Unicode, see real Burmese and not garbled letters.
  Zawgyi reuses the Myanmar code points for other letters: the same bytes mean
  different words in the two encodings, so text is converted only when Google's
  detector (``myanmartools``) is all but sure it is Zawgyi, and with ICU's
  ``Zawgyi-my`` transform (from CLDR; ICU comes in the ``pyicu-wheels`` wheel).
- Digits of any script (Thai ๑๒๓, Burmese ၁၂၃, Bengali ১২৩, Devanagari १२३,
  Khmer ១២៣, Arabic-Indic ١٢٣...) are read as 0-9 wherever a number is asked.
"""

import functools
import re
import threading
import unicodedata
import warnings

# Above this probability text is taken to be Zawgyi. Converting Unicode by mistake
# would garble it, so only text the detector is all but sure of is converted.
ZAWGYI_THRESHOLD = 0.95
# Control characters but tab and newline; and the Myanmar block. Searched as patterns, not
# character by character in Python: a report's text is read on every submission.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f]+")
_MYANMAR = re.compile("[\u1000-\u109f]")
_transform_lock = threading.Lock()


def reporter_text(text) -> str:
    """Free text typed by a reporter, as it is to be encrypted: no control characters, Burmese in Unicode."""
    # NUL and other control characters would only ever be noise or an attack.
    cleaned = _CONTROL.sub("", text or "").strip()
    return zawgyi_to_unicode(cleaned)


def is_zawgyi(text: str) -> bool:
    """Whether the text has Burmese letters and the detector judges them Zawgyi."""
    if not _MYANMAR.search(text or ""):
        return False
    return _detector().get_zawgyi_probability(text) > ZAWGYI_THRESHOLD


def zawgyi_to_unicode(text: str) -> str:
    """The text in Unicode Burmese if it was typed in Zawgyi, else unchanged."""
    if not is_zawgyi(text):
        return text
    transform = _zawgyi_transform()
    # An ICU transliterator is not documented as safe to share between threads.
    with _transform_lock:
        converted = transform.transliterate(text)
    return unicodedata.normalize("NFC", converted)


def unicode_to_zawgyi(text: str) -> str:
    """Burmese text in Zawgyi, for a phone whose owner typed Zawgyi (its font shows Unicode garbled)."""
    transform = _unicode_to_zawgyi_transform()
    with _transform_lock:
        return transform.transliterate(text)


def ascii_digits(text: str) -> str:
    """The text with every decimal digit, in whatever script it was typed, as 0-9; the rest unchanged."""
    return "".join(_ascii_digit(c) for c in text or "")


def _ascii_digit(character: str) -> str:
    value = unicodedata.decimal(character, None)
    return character if value is None else str(value)


@functools.cache
def _detector():
    from myanmartools import ZawgyiDetector

    with warnings.catch_warnings():
        # myanmartools 1.2 reads its model with importlib.resources.open_binary, deprecated since 3.11.
        warnings.simplefilter("ignore", DeprecationWarning)
        return ZawgyiDetector()


@functools.cache
def _zawgyi_transform():
    import icu

    return icu.Transliterator.createInstance("Zawgyi-my")


@functools.cache
def _unicode_to_zawgyi_transform():
    import icu

    return icu.Transliterator.createInstance("my-Zawgyi")
