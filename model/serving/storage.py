"""Where a conversation's files live: one folder per conversation, named by a random id.

Frame images, exports and previews of a conversation go under `frames_root()/<conversation id>/`.
The ids are made here (32 hex digits, like `uuid4().hex`) and checked again before anything is
written or deleted; no path is ever built from a string a client sent (a session hash, a file
name), so a URL of the page reveals nothing about who the visitor is, and a delete can only reach
inside the frames root.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path

_ID = re.compile(r"[0-9a-f]{32}")


def frames_root() -> Path:
    """Folder holding every conversation's files.

    It lies inside gradio's upload folder (GRADIO_TEMP_DIR, else <tmp>/gradio, gradio's own rule),
    so the page serves the images as they are instead of copying each into its cache.
    """
    return upload_folder() / "llava-video-frames"


def upload_folder() -> Path:
    """gradio's upload folder (GRADIO_TEMP_DIR, else <tmp>/gradio: gradio's own rule)."""
    return Path(os.environ.get("GRADIO_TEMP_DIR") or str(Path(tempfile.gettempdir()) / "gradio")).resolve()


def new_id() -> str:
    """A fresh random id for a conversation or a media item."""
    return uuid.uuid4().hex


def is_id(text: object) -> bool:
    """True for an id made by `new_id` (and nothing else: no separators, no dots)."""
    return isinstance(text, str) and _ID.fullmatch(text) is not None


def conversation_dir(conv_id: str) -> Path:
    """The folder of one conversation's files; ValueError for anything but an id."""
    if not is_id(conv_id):
        raise ValueError("not a conversation id")
    return frames_root() / conv_id


def item_dir(conv_id: str, item_key: str, *more: str) -> Path:
    """A folder inside a conversation's: a media item's frames, or a named part ('export')."""
    if not is_id(item_key) and item_key not in _PARTS:
        raise ValueError("not a media key")
    folder = conversation_dir(conv_id) / item_key
    for part in more:
        if not (is_id(part) or part in _PARTS):
            raise ValueError("not a folder of this app")
        folder = folder / part
    return folder


_PARTS = {"export", "previews", "subtitles"}  # the named parts of a conversation's folder


def inside_root(target: Path) -> bool:
    """True when `target` (links resolved) lies strictly inside the frames root."""
    root = frames_root()
    try:
        real = Path(target).resolve()
    except (OSError, RuntimeError):
        return False
    return real != root and real.is_relative_to(root)


def remove_tree(target: Path) -> bool:
    """Delete a folder of this app's files, only when it lies inside the frames root; a link is
    unlinked, never followed. Returns whether anything was removed."""
    target = Path(target)
    if target.is_symlink():
        if target.parent.resolve().is_relative_to(frames_root()):
            target.unlink(missing_ok=True)
            return True
        return False
    if not target.exists() or not inside_root(target):
        return False
    shutil.rmtree(target, ignore_errors=True)
    return True


def remove_conversation(conv_id: str) -> bool:
    """Delete every file of one conversation (nothing when `conv_id` is not an id)."""
    return is_id(conv_id) and remove_tree(conversation_dir(conv_id))


def remove_item(conv_id: str, item_key: str) -> bool:
    """Delete one media item's frame images."""
    return is_id(conv_id) and is_id(item_key) and remove_tree(item_dir(conv_id, item_key))
