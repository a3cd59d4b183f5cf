"""Reading a run config's YAML with every key given once.

YAML itself lets a mapping name a key twice and keeps the last value, so a space that defines
``lr`` twice would silently search the second definition. ``load_yaml`` reads like
``yaml.safe_load`` but refuses a repeated key in any mapping, naming it (a dimension, a field of a
dimension, or a config key) and the two lines.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..errors import ConfigError

__all__ = ["load_yaml"]

_MERGE = "tag:yaml.org,2002:merge"


def load_yaml(text: str) -> Any:
    """``yaml.safe_load(text)``, with ``ConfigError`` for a key given twice in one mapping.

    Syntax errors are ``yaml.YAMLError`` as from ``safe_load``.
    """
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_keys(node, (), set())
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _check_keys(node: Node, path: tuple[str, ...], visited: set[int]) -> None:
    if id(node) in visited:  # an alias: its node was checked where the anchor stands
        return
    visited.add(id(node))
    if isinstance(node, SequenceNode):
        for item in node.value:
            _check_keys(item, path, visited)
    elif isinstance(node, MappingNode):
        seen: dict[tuple[str, str], int] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag != _MERGE:
                key = (key_node.tag, key_node.value)
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise ConfigError(_twice(path, key_node.value, seen[key], line))
                seen[key] = line
            _check_keys(value_node, (*path, str(key_node.value)), visited)


def _twice(path: tuple[str, ...], key: str, first: int, again: int) -> str:
    lines = f"lines {first} and {again}"
    if path == ("space",):
        return (
            f"space: dimension {key!r} is defined twice ({lines}); keep one definition (YAML would "
            "silently keep the last)"
        )
    if len(path) == 2 and path[0] == "space":
        return f"space: dimension {path[1]!r}: field {key!r} is given twice ({lines}); keep one"
    where = f"{'.'.join(path)}: " if path else ""
    return f"{where}key {key!r} is given twice ({lines}); keep one"
