"""Field-path differences between two charters."""

from __future__ import annotations

from typing import Any

from mlsteward.charter._errors import format_path
from mlsteward.charter._records import CharterChange
from mlsteward.charter._schema import Charter

__all__ = ["diff_charters"]


def diff_charters(old: Charter, new: Charter) -> list[CharterChange]:
    """Every change from ``old`` to ``new``, in document order.

    Mappings are compared key by key and lists of sections item by item (so a changed
    threshold is ``success_metrics[0].threshold``); a list of plain values (canary steps,
    categories, tags) that changed is reported whole. A field that goes from unset (null)
    to a value is ``added``, the reverse ``removed``.
    """
    changes: list[CharterChange] = []
    _walk((), old.to_dict(), new.to_dict(), changes)
    return changes


def _is_plain_list(value: Any) -> bool:
    return isinstance(value, list) and not any(isinstance(v, dict | list) for v in value)


def _walk(loc: tuple[Any, ...], old: Any, new: Any, out: list[CharterChange]) -> None:
    if old == new and type(old) is type(new):
        return
    path = format_path(loc)
    if old is None:
        out.append(CharterChange(path, "added", None, new))
    elif new is None:
        out.append(CharterChange(path, "removed", old, None))
    elif isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            if key not in new:
                out.append(CharterChange(format_path((*loc, key)), "removed", old[key], None))
            elif key not in old:
                out.append(CharterChange(format_path((*loc, key)), "added", None, new[key]))
            else:
                _walk((*loc, key), old[key], new[key], out)
    elif (
        isinstance(old, list)
        and isinstance(new, list)
        and not (_is_plain_list(old) and _is_plain_list(new))
    ):
        for index in range(max(len(old), len(new))):
            if index >= len(new):
                out.append(CharterChange(format_path((*loc, index)), "removed", old[index], None))
            elif index >= len(old):
                out.append(CharterChange(format_path((*loc, index)), "added", None, new[index]))
            else:
                _walk((*loc, index), old[index], new[index], out)
    else:
        out.append(CharterChange(path, "changed", old, new))
