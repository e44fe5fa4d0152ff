"""Browser tabs and the conversations they opened.

A tab is known by gradio's session hash, which the client chooses itself: it is checked against a
strict pattern where it enters, used only as a key here, and never becomes part of a path or a
URL. When a tab closes, the conversations it opened are looked up here and freed.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict

_SESSION_HASH = re.compile(r"[A-Za-z0-9_-]{8,128}")  # gradio's page: 11 base-36 chars; gradio_client: a uuid4
MAX_TABS = 100_000  # past this, the tabs not heard of for longest are forgotten (their states expire anyway)


def tab_of(session_hash: object) -> str | None:
    """The session hash when it has the shape gradio gives it, else None (treated as no tab)."""
    if isinstance(session_hash, str) and _SESSION_HASH.fullmatch(session_hash):
        return session_hash
    return None


def request_tab(request: object) -> str | None:
    """The checked session hash of a gradio request (None without a request or with a crafted hash)."""
    return tab_of(getattr(request, "session_hash", None))


class Tabs:
    """Which conversation ids each tab opened, bounded in size."""

    def __init__(self, capacity: int = MAX_TABS) -> None:
        self.capacity = capacity
        self._tabs: OrderedDict[str, set[str]] = OrderedDict()
        self._owner: dict[str, str] = {}  # conversation id -> its tab
        self._lock = threading.Lock()

    def add(self, tab: str, conv_id: str) -> None:
        with self._lock:
            self._tabs.setdefault(tab, set()).add(conv_id)
            self._owner[conv_id] = tab
            self._tabs.move_to_end(tab)
            while len(self._tabs) > self.capacity:
                _, ids = self._tabs.popitem(last=False)
                for gone in ids:
                    self._owner.pop(gone, None)

    def discard(self, conv_id: str) -> None:
        """A conversation freed by other means (Clear, its state expired)."""
        with self._lock:
            tab = self._owner.pop(conv_id, None)
            ids = self._tabs.get(tab, set()) if tab is not None else set()
            ids.discard(conv_id)
            if tab is not None and not ids:
                self._tabs.pop(tab, None)

    def close(self, tab: str | None) -> list[str]:
        """The ids of the conversations a closing tab opened (forgotten here)."""
        if not tab:
            return []
        with self._lock:
            ids = self._tabs.pop(tab, set())
            for conv_id in ids:
                self._owner.pop(conv_id, None)
            return sorted(ids)

    def ids_of(self, tab: str) -> list[str]:
        """The ids of the conversations `tab` opened and that are still open."""
        with self._lock:
            return sorted(self._tabs.get(tab, ()))

    def __len__(self) -> int:
        return len(self._tabs)
