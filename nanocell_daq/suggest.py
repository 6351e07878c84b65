"""Did-you-mean for names a user types (protocol names, step kinds, fields of a protocol step or a station
file): the closest known name, and the "unknown field 'cyles' (did you mean 'cycles'?)" wording."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: object, choices: Iterable[object], substring: bool = False) -> str | None:
    """The known name ``word`` most likely meant: the same name in another case, a name containing it
    (``substring``: "hold" -> "potentiostatic_hold"), else the nearest spelling; None if none is close."""
    text, names = str(word), sorted({str(c) for c in choices})
    same_case = [n for n in names if n.lower() == text.lower()]
    if same_case:
        return same_case[0]
    if substring and text:
        containing = [n for n in names if text in n]
        if containing:
            return containing[0]
    close = difflib.get_close_matches(text, names, n=1, cutoff=0.6)
    return close[0] if close else None


def unknown_field(name: object, fields: Iterable[object]) -> str:
    """``unknown field 'cyles' (did you mean 'cycles'?)``, or ``unknown field 'x'`` when nothing is close."""
    hint = closest(name, fields)
    return f"unknown field {str(name)!r}" + (f" (did you mean {hint!r}?)" if hint else "")
