"""How plain the English of the reporter's pages is: Flesch Reading Ease and sentence lengths,
with textstat, over translations/reporter_strings.py's set.

Each msgid is read as the worker reads it: placeholders become a short word, a string
without an end mark (a label, a button) is one sentence of its own.
"""


import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

import textstat

_spec = importlib.util.spec_from_file_location("reporter_strings", Path(__file__).with_name("reporter_strings.py"))
reporter_strings = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(reporter_strings)

# The targets (tests/portal/test_plain_words.py holds the source to them).
FLESCH_AT_LEAST = 80.0
LONGEST_SENTENCE_AT_MOST = 25
MEAN_SENTENCE_AT_MOST = 10.0

_PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")
_SENTENCE_END = re.compile(r"(?<=[.!?:;])\s+")
_WORD = re.compile(r"[\w'’-]+")


@dataclass(frozen=True)
class Figures:
    strings: int
    sentences: int
    flesch: float
    mean_sentence_words: float
    longest: list[tuple[int, str]]


def plain(msgid: str) -> str:
    text = _PLACEHOLDER.sub("it", msgid).replace("%%", "%")
    text = re.sub(r"\s+", " ", text).strip()
    return text if text[-1:] in ".!?:;" else text + "."


def sentences(msgid: str) -> list[str]:
    return [part for part in _SENTENCE_END.split(plain(msgid)) if _WORD.search(part)]


def figures(msgids=None, worst: int = 10) -> Figures:
    msgids = sorted(msgids if msgids is not None else reporter_strings.reporter_msgids())
    found = [sentence for msgid in msgids for sentence in sentences(msgid)]
    lengths = sorted(((len(_WORD.findall(sentence)), sentence) for sentence in found), reverse=True)
    text = " ".join(found)
    return Figures(len(msgids), len(found), textstat.flesch_reading_ease(text),
                   sum(length for length, _ in lengths) / max(len(lengths), 1), lengths[:worst])

