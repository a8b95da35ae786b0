"""Matching a host's value against a flavor extra spec's requirement, with the operators
Nova documents for capabilities and aggregate metadata:

``= N`` (at least N), ``== N``, ``!= N``, ``>= N``, ``<= N`` (numbers);
``s== x``, ``s!= x``, ``s>= x``, ``s> x``, ``s<= x``, ``s< x`` (strings);
``<in> x`` (x is a substring); ``<all-in> a b`` (the host's list holds them all);
``<or> a <or> b`` (one of them); anything else must equal the value as a string.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

_NUMERIC: dict[str, Callable[[float, float], bool]] = {
    "=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    "<=": operator.le,
}
_STRING: dict[str, Callable[[str, str], bool]] = {
    "s==": operator.eq,
    "s!=": operator.ne,
    "s>=": operator.ge,
    "s>": operator.gt,
    "s<=": operator.le,
    "s<": operator.lt,
}


def matches(value: Any, requirement: str) -> bool:
    words = requirement.split()
    if not words:
        return str(value) == requirement
    op, args = words[0], words[1:]
    if op == "<or>":
        return str(value) in [alt.strip() for alt in requirement.split("<or>")[1:]]
    if op == "<in>":
        return bool(args) and " ".join(args) in str(value)
    if op == "<all-in>":
        held = value if isinstance(value, list | tuple | set) else str(value).split()
        return bool(args) and all(arg in [str(v) for v in held] for arg in args)
    if op in _NUMERIC and len(args) == 1:
        try:
            return _NUMERIC[op](float(value), float(args[0]))
        except (TypeError, ValueError):
            return False
    if op in _STRING and len(args) == 1:
        return _STRING[op](str(value), args[0])
    return str(value) == requirement


def lookup(data: dict[str, Any], path: str) -> Any:
    """The value at a ``:``-separated path in nested dicts (None when absent)."""
    current: Any = data
    for part in path.split(":"):
        if not isinstance(current, dict) or part not in current:
            return None
        current = current[part]
    return current
