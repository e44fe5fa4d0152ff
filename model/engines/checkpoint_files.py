"""Reading single files of a checkpoint, a local folder or a hub id, in either file layout."""

from __future__ import annotations

import json
from pathlib import Path


def checkpoint_file(source: str, name: str, local_only: bool) -> str | None:
    """Local path of one file of the checkpoint, or None when the checkpoint has no such file."""
    folder = Path(source)
    if folder.is_dir():
        return str(folder / name) if (folder / name).is_file() else None
    from transformers.utils import cached_file

    return cached_file(
        source,
        name,
        local_files_only=local_only,
        _raise_exceptions_for_missing_entries=False,
        _raise_exceptions_for_connection_errors=False,
    )


def read_json(source: str, name: str, local_only: bool) -> dict:
    path = checkpoint_file(source, name, local_only)
    return json.loads(Path(path).read_text(encoding="utf-8")) if path else {}


def chat_template(source: str, local_only: bool) -> str | None:
    """The chat template from `chat_template.jinja` (5.x) or `chat_template.json` (4.x)."""
    path = checkpoint_file(source, "chat_template.jinja", local_only)
    if path:
        return Path(path).read_text(encoding="utf-8")
    return read_json(source, "chat_template.json", local_only).get("chat_template")
