"""Decoded media of every conversation under one memory budget, like the caches.

Each conversation's frames and images stay in memory between turns so that follow-ups are quick.
Their total is counted here; past the budget, the conversations used longest ago (and not busy)
lose the pixels of their media: the items leave the model's context, their turns keep text,
answers and frame strips, and the next question in such a chat says so.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from dataclasses import replace

import numpy as np

from model.chat.conversation import Conversation, MediaItem

FREED = (
    "The frames and images of this chat were freed while it was idle, to make room for other "
    "visitors: attach a file again to ask about it."
)


def item_bytes(item: MediaItem) -> int:
    """Memory the item's decoded pixels take."""
    frames = item.clip.frames.nbytes if item.clip is not None else 0
    image = item.image.width * item.image.height * len(item.image.getbands()) if item.image is not None else 0
    return frames + image


def held_bytes(conv: Conversation) -> int:
    return sum(item_bytes(item) for turn in conv.turns for item in turn.media)


def free_pixels(conv: Conversation) -> int:
    """Leave every media item of the conversation out of its context and drop its pixels (the frame
    strips keep their images); returns the bytes freed."""
    freed = 0
    for turn in conv.turns:
        for item in turn.media:
            size = item_bytes(item)
            if not size:
                continue
            freed += size
            item.dropped = True
            turn.prompt_ids = None  # tokenized again without it
            if item.clip is not None:
                item.clip = replace(item.clip, frames=np.empty((0, *item.clip.frames.shape[1:]), np.uint8))
            item.image = None
    return freed


class MediaLedger:
    """The conversations holding decoded media, least recently used first."""

    def __init__(self, total_bytes: int) -> None:
        self.total_bytes = total_bytes
        self._convs: OrderedDict[str, weakref.ref[Conversation]] = OrderedDict()
        self._freed: set[str] = set()  # conversations to be told, at their next question
        self._lock = threading.Lock()
        self.evictions = 0

    def note(self, conv: Conversation) -> None:
        """`conv` was just used: count it as the newest, then free the oldest idle ones past the budget."""
        conv_id = conv.ensure_id()
        with self._lock:
            self._convs[conv_id] = weakref.ref(conv)
            self._convs.move_to_end(conv_id)
            total = 0
            held = []
            for key, ref in list(self._convs.items()):
                other = ref()
                if other is None:
                    del self._convs[key]
                    continue
                size = held_bytes(other)
                total += size
                held.append((key, other, size))
            for key, other, _size in held:  # oldest first
                if total <= self.total_bytes:
                    break
                if other is conv or other.running:
                    continue
                total -= free_pixels(other)
                del self._convs[key]
                self._freed.add(key)
                self.evictions += 1

    def take_notice(self, conv: Conversation) -> str | None:
        """What to tell a conversation whose media were freed (once), else None."""
        with self._lock:
            if conv.session_id in self._freed:
                self._freed.discard(conv.session_id)
                return FREED
        return None

    def forget(self, conv_id: str) -> None:
        with self._lock:
            self._convs.pop(conv_id, None)
            self._freed.discard(conv_id)

    def nbytes(self) -> int:
        with self._lock:
            refs = [ref() for ref in self._convs.values()]
        return sum(held_bytes(conv) for conv in refs if conv is not None)
