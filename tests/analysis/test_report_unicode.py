"""A Unicode protocol name reaches the report without matplotlib's "Glyph ... missing from font" warning
(pytest turns warnings into errors): what the font cannot draw is drawn as "?", the rest as written."""

from __future__ import annotations

import shutil
import sqlite3

from matplotlib.font_manager import FontProperties, findfont

from nanocell_daq.analysis.glyphs import drawable
from nanocell_daq.analysis.report import write_report
from nanocell_daq.storage import Store

NAME = "Siliciüm – Zoë 🔋 硅线"


def test_a_unicode_protocol_name_draws_without_a_glyph_warning(si_run_db, tmp_path):
    path, run = si_run_db
    db = tmp_path / "unicode.db"
    shutil.copy(path, db)
    with sqlite3.connect(db) as con:
        con.execute("UPDATE runs SET protocol_name = ? WHERE id = ?", (NAME, run))
    with Store.open(db, create=False) as store:
        out = write_report(store, run, tmp_path / "report.png")
    assert out.read_bytes().startswith(b"\x89PNG")


def test_what_the_font_lacks_becomes_a_question_mark():
    font = findfont(FontProperties(family="DejaVu Sans"))
    assert drawable(NAME, font) == "Siliciüm – Zoë ? ??"
    assert drawable("µm, Å, ±, °C\nline 2", font) == "µm, Å, ±, °C\nline 2"
