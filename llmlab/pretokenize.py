"""The GPT-2 pre-tokenization regex, rebuilt for Python's ``re``.

Before byte-pair encoding, text is split into *pre-tokens* ("Hello", " world", "!") so that merges
never cross a word boundary. GPT-2's pattern (:data:`GPT2_PATTERN`) is written for the third-party
``regex`` package: it uses ``\\p{L}`` (letter) and ``\\p{N}`` (number), which Python's ``re``
lacks. We build those character classes from :mod:`unicodedata`, and use Unicode's White_Space
property for ``\\s`` (Python's ``\\s`` also counts U+001C..U+001F). The result splits exactly
like HF's ``ByteLevel`` pre-tokenizer on every character that Python's Unicode database
(``unicodedata.unidata_version``) assigns; it differs only on characters added to Unicode later,
which Python sees as unassigned (category Cn) while ``tokenizers`` may know them as letters or
numbers.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import lru_cache

#: GPT-2's pre-tokenization pattern, verbatim. It is written for the third-party ``regex`` module.
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

# Unicode's White_Space characters: what \s means in HF tokenizers (Oniguruma) and in `regex`.
_WHITESPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_ABOVE_BMP = re.compile("[\U00010000-\U0010ffff]")


@lru_cache(maxsize=1)
def _gpt2_regexes() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """GPT2_PATTERN for ``re``: one version for text below U+10000, one for any text.

    ``\\p{L}`` and ``\\p{N}`` become classes listing every letter and number in ``unicodedata``
    (built once, in about 0.2 s). Two versions because ``re`` checks the part of a class above
    U+FFFF range by range: the full classes make every character test, even on ASCII text,
    about 3x slower, and most text never needs them.
    """
    majors = "".join(unicodedata.category(chr(c))[0] for c in range(sys.maxunicode + 1))

    def char_class(major: str, stop: int) -> str:
        return "".join(
            f"{re.escape(chr(m.start()))}-{re.escape(chr(m.end() - 1))}"
            for m in re.finditer(f"{major}+", majors[:stop])
        )

    def translate(letters: str, numbers: str) -> re.Pattern[str]:
        s = _WHITESPACE
        table = {
            r"[^\s\p{L}\p{N}]": f"[^{s}{letters}{numbers}]",
            r"\p{L}": f"[{letters}]",
            r"\p{N}": f"[{numbers}]",
            r"\s": f"[{s}]",
            r"\S": f"[^{s}]",
        }
        alternatives = "|".join(map(re.escape, table))
        return re.compile(re.sub(alternatives, lambda m: table[m[0]], GPT2_PATTERN))

    bmp = translate(char_class("L", 0x10000), char_class("N", 0x10000))
    full = translate(char_class("L", sys.maxunicode + 1), char_class("N", sys.maxunicode + 1))
    return bmp, full


def _pretokenize(text: str) -> list[str]:
    bmp, full = _gpt2_regexes()
    return (full if _ABOVE_BMP.search(text) else bmp).findall(text)


def pretokenize(text: str) -> list[str]:
    """Split text into pre-tokens as GPT-2 does; BPE merges never cross their boundaries.

    >>> pretokenize("I'll pay 1000 ducats!  Now.")
    ['I', "'ll", ' pay', ' 1000', ' ducats', '!', ' ', ' Now', '.']

    Letters, numbers and other symbols form separate pre-tokens, each taking the space before
    it: the word " ducats" is one pre-token, so BPE can learn it with its space. A run of spaces
    leaves its last space to the next word. Special tokens are not handled here.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return _pretokenize(text)
