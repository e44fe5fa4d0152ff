"""What gradio copies of a page on every load: each component's and event's config, deep-copied per
request (`gradio/routes.py`, `get_page_config`). Anything reachable from there is copied too."""

from __future__ import annotations

import copy
import types

JSON = (str, int, float, bool, type(None))
# copy.deepcopy returns these as they are: a function or class costs nothing to "copy"
ATOMIC = (types.FunctionType, types.BuiltinFunctionType, type)


def foreign_values(config, path: str = "config") -> list[tuple[str, str]]:
    """(where, type name) of every value in `config` that is neither JSON nor atomic to deepcopy:
    the things a page load would copy that gradio did not put there itself."""
    if isinstance(config, JSON + ATOMIC):
        return []
    if isinstance(config, dict):
        return [hit for key, value in config.items() for hit in foreign_values(value, f"{path}.{key}")]
    if isinstance(config, (list, tuple)):
        return [hit for i, value in enumerate(config) for hit in foreign_values(value, f"{path}[{i}]")]
    return [(path, type(config).__name__)]


def copied_objects(config) -> list:
    """Every object `copy.deepcopy(config)` copies (the memo's originals, kept alive by it)."""
    memo: dict = {}
    copy.deepcopy(config, memo)
    return list(memo.get(id(memo), []))


def page_config(demo) -> dict:
    """The parts of a demo's config that gradio copies per page load."""
    config = demo.get_config_file()
    return {key: config[key] for key in ("components", "dependencies", "layout")}
