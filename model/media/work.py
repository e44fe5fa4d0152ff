"""Reading a message's files within bounds that no file can stretch: a decoder slot and a deadline.

Decoding is where a small file costs the most (a 76 KB PNG of 39 megapixels, a GIF of 5,000 frames
on a 6000x6000 canvas): its memory is bounded by the pixel limits of `decode.py`, and the number of
files decoded at once by `DecodeSlots`, so that the total is bounded too. One visitor's files wait
for each other, never the crowd for one visitor. Every file of one message shares one deadline.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from model.media.files import MediaError

T = TypeVar("T")
BUSY = "The demo is busy reading other visitors' files; please try again in a minute."


class MediaBusy(MediaError):
    """No decoder came free before the message's deadline."""


class DecodeSlots:
    """At most `slots` files decoded at once, and one at a time for each owner (a visitor's address)."""

    def __init__(self, slots: int) -> None:
        self.slots = max(1, slots)
        self._busy: Counter[str] = Counter()
        self._changed = threading.Condition()

    @contextmanager
    def held(self, owner: str, deadline: float) -> Iterator[None]:
        """Hold a slot for `owner` while the block runs; MediaBusy if none comes before `deadline`
        (a time.monotonic() value)."""
        with self._changed:
            while sum(self._busy.values()) >= self.slots or self._busy[owner]:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise MediaBusy(BUSY)
                self._changed.wait(left)
            self._busy[owner] += 1
        try:
            yield
        finally:
            with self._changed:
                self._busy[owner] -= 1
                if not self._busy[owner]:
                    del self._busy[owner]
                self._changed.notify_all()

    def in_use(self) -> int:
        with self._changed:
            return sum(self._busy.values())


@dataclass
class MediaWork:
    """The bounds of reading files, shared by every visitor (the app builds one from its flags)."""

    seconds: float = 60.0  # one message's files, waiting for a slot included
    slots: DecodeSlots = field(default_factory=lambda: DecodeSlots(2))

    def deadline(self) -> float:
        """The deadline of a message whose files start being read now."""
        return time.monotonic() + self.seconds

    def run(self, owner: str, deadline: float, read: Callable[..., T], *args, **kwargs) -> T:
        """`read(*args, deadline=deadline, **kwargs)` in a decoder slot of `owner`."""
        with self.slots.held(owner, deadline):
            if time.monotonic() >= deadline:
                raise MediaError(self.too_long())
            return read(*args, deadline=deadline, **kwargs)

    def too_long(self) -> str:
        return (
            f"Reading this message's files took longer than {self.seconds:g} s, so the rest were "
            "left out; please send shorter or smaller files."
        )
