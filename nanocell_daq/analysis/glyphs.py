"""Text a report draws, in glyphs its fonts have: a character the font lacks (an emoji, or CJK in DejaVu
Sans) is drawn as "?" instead of matplotlib warning "Glyph ... missing from font(s)" (a Unicode protocol,
device or step name must not leak that warning, nor an empty box, into a report)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

REPLACEMENT = "?"


@lru_cache(maxsize=16)
def _codepoints(font_path: str) -> frozenset[int]:
    from matplotlib.ft2font import FT2Font

    return frozenset(FT2Font(font_path).get_charmap())


def drawable(text: str, font_path: str) -> str:
    """``text`` with every character the font at ``font_path`` has no glyph for replaced by "?"."""
    have = _codepoints(font_path)
    return "".join(c if ord(c) in have or c in "\n\r\t" else REPLACEMENT for c in text)


def substitute_missing_glyphs(fig: Any) -> None:
    """Replace, in every text of ``fig``, the characters its font cannot draw (mathtext is left alone)."""
    from matplotlib.font_manager import findfont
    from matplotlib.text import Text

    for artist in fig.findobj(Text):
        text = artist.get_text()
        if not text or text.isascii() or "$" in text:
            continue
        shown = drawable(text, findfont(artist.get_fontproperties()))
        if shown != text:
            artist.set_text(shown)
