"""A user's file before it is decoded: present and not empty, what its first bytes say, and the error
every media failure becomes (one sentence fit for the chat)."""

from __future__ import annotations

import os
from pathlib import Path


class MediaError(ValueError):
    """A problem with a user's file; the message is one sentence fit to show in the chat."""


def check_file(path: str | os.PathLike) -> Path:
    """The path as a Path, or MediaError when it is missing or empty."""
    p = Path(path)
    if not p.is_file():
        raise MediaError("The file could not be found; please upload it again.")
    if p.stat().st_size == 0:
        raise MediaError("The file is empty; please upload it again.")
    return p


def file_head(p: Path, n: int = 64) -> bytes:
    with open(p, "rb") as f:
        return f.read(n)


def looks_like_text(head: bytes) -> bool:
    """True for content that is printable text (HTML, JSON, an error page...)."""
    if not head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c in "\r\n\t" for c in text)


def image_magic(head: bytes) -> bool:
    return head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"BM", b"II*\x00", b"MM\x00*")) or (
        head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    )
