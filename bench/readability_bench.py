"""How plain the reporter's English is: Flesch Reading Ease, mean and longest sentence.

    .venv/bin/python bench/readability_bench.py

Prints the figures of translations/readability.py (textstat over translations/reporter_strings.py's
set) against the targets tests/portal/test_plain_words.py holds, and the longest sentences:
the first to simplify. Each changed msgid needs a new translation in every locale.
"""

import importlib.util
from pathlib import Path

_path = Path(__file__).resolve().parent.parent / "translations" / "readability.py"
_spec = importlib.util.spec_from_file_location("readability", _path)
readability = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(readability)


def main():
    result = readability.figures()
    print(f"{result.strings} reporter strings, {result.sentences} sentences")
    print(f"Flesch Reading Ease {result.flesch:.1f} (target >= {readability.FLESCH_AT_LEAST})")
    print(f"mean sentence {result.mean_sentence_words:.1f} words (target <= {readability.MEAN_SENTENCE_AT_MOST}), "
          f"longest {result.longest[0][0]} (target <= {readability.LONGEST_SENTENCE_AT_MOST})")
    for length, sentence in result.longest:
        print(f"  {length:3d}  {sentence}")


if __name__ == "__main__":
    main()
