"""pymeasure's Parameter errors ("FloatParameter value is above the maximum", "IntegerParameter given
non-integer value of type ...") said in our words, with the allowed range and the unit."""

from __future__ import annotations

from typing import Any


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else repr(value)


def _with_unit(value: Any, units: str | None) -> str:
    return f"{_num(value)} {units}" if units else _num(value)


def allowed(param: Any) -> str:
    """'from 1 to 10000', 'one of charge, discharge', or '' when the parameter states no range."""
    lo, hi = getattr(param, "minimum", None), getattr(param, "maximum", None)
    units = getattr(param, "units", None)
    if lo is not None and hi is not None:
        return f"from {_num(lo)} to {_with_unit(hi, units)}"
    choices = getattr(param, "choices", None)
    if choices:
        return "one of " + ", ".join(map(str, choices))
    return ""


def in_our_words(param: Any, exc: Exception, value: Any) -> str:
    """One message for a value ``param`` refused with ``exc`` (ValueError from pymeasure's convert)."""
    text = str(exc)
    units = getattr(param, "units", None)
    shown = repr(value) if isinstance(value, str) else _num(value)
    if "above the maximum" in text:
        return f"{shown} is above the maximum {_with_unit(param.maximum, units)}"
    if "below the minimum" in text:
        return f"{shown} is below the minimum {_with_unit(param.minimum, units)}"
    range_text = allowed(param)
    suffix = f" ({range_text})" if range_text else ""
    if "non-integer" in text:
        return f"must be a whole number{suffix}, got {shown}"
    if "non-float" in text:
        return f"must be a number{suffix}, got {shown}"
    if "non-boolean" in text or "BooleanParameter" in text:
        return f"must be true or false, got {shown}"
    if "Invalid choice" in text:
        return f"must be {range_text or 'one of the allowed values'}, got {shown}"
    if "Units included" in text:
        return f"unit does not match {units!r}, got {shown} (give the number alone, in {units})"
    return f"{text} (got {shown})"
