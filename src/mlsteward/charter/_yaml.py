"""YAML for charters: YAML 1.2 scalars, duplicate keys refused, positions in errors.

PyYAML implements YAML 1.1, where an unquoted ``on``, ``yes`` or ``no`` is a boolean, ``010``
is octal and ``1e-3`` is text. A charter has a key called ``on`` and category codes such as
``NO``, so charters are read with the YAML 1.2 core schema instead: only ``true``/``false``
are booleans, only ``null``/``~``/empty are null, numbers are decimal unless ``0o``/``0x``,
and there are no implicit timestamps. Charters are written so that both a YAML 1.1 and a
YAML 1.2 reader read them back the same (ambiguous strings are quoted).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from mlsteward.core import InvalidInput

__all__ = ["dump_yaml", "load_yaml"]

_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?(?:\.inf|\.Inf|\.INF)|\.nan|\.NaN|\.NAN)$"
)
_CORE_RESOLVERS = [
    ("tag:yaml.org,2002:null", _NULL, ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:bool", _BOOL, list("tTfF")),
    ("tag:yaml.org,2002:int", _INT, list("-+0123456789")),
    ("tag:yaml.org,2002:float", _FLOAT, list("-+.0123456789")),
]
_KEEP_FROM_11 = {"tag:yaml.org,2002:merge"}


class _DuplicateKey(yaml.constructor.ConstructorError):
    """A mapping has the same key twice (PyYAML would silently keep the last)."""


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core-schema scalars and no duplicate keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:
                continue  # unhashable key: the constructor reports it
            if first is not None:
                raise _DuplicateKey(
                    "while reading a mapping",
                    node.start_mark,
                    f"found the key {key!r} twice (first on line {first.line + 1}); "
                    "keep one of them",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def _construct_bool(loader: _Loader, node: yaml.ScalarNode) -> bool:
    return str(loader.construct_scalar(node)).lower() == "true"


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text)


def _construct_float(loader: _Loader, node: yaml.ScalarNode) -> float:
    text = str(loader.construct_scalar(node)).lower()
    if text.endswith(".inf"):
        return float(text.replace(".inf", "inf"))
    if text == ".nan":
        return float("nan")
    return float(text)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag in _KEEP_FROM_11]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _tag, _regexp, _first in _CORE_RESOLVERS:
    _Loader.add_implicit_resolver(_tag, _regexp, _first)
_Loader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)
_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)


class _Dumper(yaml.SafeDumper):
    """SafeDumper that also quotes strings a YAML 1.2 reader would read as non-text."""


for _tag, _regexp, _first in _CORE_RESOLVERS:
    _Dumper.add_implicit_resolver(_tag, _regexp, _first)


def load_yaml(text: str, source: str = "<text>") -> Any:
    """Parse YAML text; InvalidInput naming ``source``, line and column on a syntax error.

    >>> load_yaml("on: test\\nthreshold: 1e-3\\ncode: NO")
    {'on': 'test', 'threshold': 0.001, 'code': 'NO'}
    """
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark is not None else ""
        problem = exc.problem or exc.context or "unreadable YAML"
        hint = (
            None
            if isinstance(exc, _DuplicateKey)
            else "Fix the YAML syntax (indentation, ':' after each key, quotes)."
        )
        raise InvalidInput(
            f"{source}:{where} could not read the YAML: {problem}.", hint=hint
        ) from exc
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{source}: could not read the YAML: {exc}.") from exc


def dump_yaml(data: Any) -> str:
    """YAML text in block style, keys in the given order, Unicode kept.

    >>> print(dump_yaml({"on": "test", "code": "NO", "x": "1e3"}), end="")
    'on': test
    code: 'NO'
    x: '1e3'
    """
    return yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )
