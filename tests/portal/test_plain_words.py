"""The English a worker reads is plain: short sentences, common words (Flesch Reading Ease with
textstat), so that it is easy to read and to translate. bench/readability_bench.py prints the figures."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("readability", ROOT / "translations" / "readability.py")
readability = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(readability)


def test_the_reporters_pages_speak_in_short_sentences_and_common_words():
    figures = readability.figures()
    assert figures.strings > 200, "the reporter's strings were not found"
    assert figures.flesch >= readability.FLESCH_AT_LEAST, f"Flesch Reading Ease {figures.flesch:.1f}"
    assert figures.mean_sentence_words <= readability.MEAN_SENTENCE_AT_MOST
    too_long = [sentence for length, sentence in figures.longest if length > readability.LONGEST_SENTENCE_AT_MOST]
    assert not too_long, "split these sentences:\n" + "\n".join(too_long)


def test_the_check_tells_a_long_hard_sentence_from_a_plain_one():
    hard = ("Notwithstanding the aforementioned contractual obligations, the organisation's investigative "
            "apparatus shall endeavour to substantiate allegations expeditiously, considering all circumstances "
            "and documentation provided.")
    plain = readability.figures(["Tell us what happened.", "We keep your name secret."])
    heavy = readability.figures([hard])
    assert plain.flesch >= readability.FLESCH_AT_LEAST > heavy.flesch
    assert heavy.longest[0][0] == 21 and plain.longest[0][0] == 5
