"""Per-session caches kept between turns: the KV cache of the ids fed so far and vision features.

Caches live on the model's device, so they are bounded: a byte budget per session and in total,
least recently used first out. A session's entry is taken out of the store while it generates
(no two generations share one), and put back after. A missing or evicted entry only costs time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import torch
from transformers import DynamicCache


@dataclass
class SessionCache:
    """What one conversation can reuse: the KV cache covering `ids`, and features by media key."""

    ids: list[int] = field(default_factory=list)
    kv: DynamicCache | None = None
    media_keys: list[str] = field(default_factory=list)  # media behind the placeholder runs in `ids`
    features: dict[str, object] = field(default_factory=dict)

    def kv_bytes(self) -> int:
        if self.kv is None:
            return 0
        return sum(
            _tensor_bytes(layer.keys) + _tensor_bytes(layer.values)
            for layer in self.kv.layers
            if getattr(layer, "keys", None) is not None
        )

    def feature_bytes(self) -> int:
        return sum(_tensor_bytes(f) for f in self.features.values())

    def nbytes(self) -> int:
        return self.kv_bytes() + self.feature_bytes()

    def fit(self, limit: int) -> None:
        """Shrink to at most `limit` bytes, keeping the longest KV prefix that fits beside the vision
        features (a follow-up then recomputes only the tail), or without them if they alone are too big."""
        if self.feature_bytes() > limit:
            self.features.clear()
        length = self.kv.get_seq_length() if self.kv is not None else 0
        if length and self.kv_bytes() > limit - self.feature_bytes():
            per_token = self.kv_bytes() / length
            self.crop(max(0, int((limit - self.feature_bytes()) // per_token)))
            for layer in self.kv.layers if self.kv is not None else ():
                if getattr(layer, "keys", None) is not None:  # a cropped layer is a view of the old memory
                    layer.keys, layer.values = layer.keys.clone(), layer.values.clone()

    def crop(self, length: int) -> None:
        """Keep the KV cache of the first `length` ids only."""
        if self.kv is None:
            return
        extra = self.kv.get_seq_length() - length
        if extra > 0:
            self.kv.crop(-extra)
        self.ids = self.ids[:length]
        if length == 0:
            self.kv, self.media_keys = None, []


def _tensor_bytes(value) -> int:
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, (list, tuple)):
        return sum(_tensor_bytes(v) for v in value)
    return 0


class CacheStore:
    """Session caches under a byte budget (per session and total), least recently used out first."""

    def __init__(self, total_bytes: int, session_bytes: int) -> None:
        self.total_bytes = total_bytes
        self.session_bytes = min(session_bytes, total_bytes)
        self._entries: OrderedDict[str, SessionCache] = OrderedDict()
        self._lock = threading.Lock()
        self.evictions = 0

    @property
    def enabled(self) -> bool:
        return self.total_bytes > 0

    def take(self, session_id: str) -> SessionCache:
        """The session's cache, removed from the store until `put` (an empty one if none)."""
        with self._lock:
            return self._entries.pop(session_id, None) or SessionCache()

    def put(self, session_id: str, entry: SessionCache) -> None:
        """Keep a session's cache as most recent, trimming it and evicting others to fit."""
        if not self.enabled or not session_id:
            return
        if entry.nbytes() > self.session_bytes:
            entry.fit(self.session_bytes)
        with self._lock:
            self._entries[session_id] = entry
            self._entries.move_to_end(session_id)
            while self._total() > self.total_bytes and len(self._entries) > 1:
                self._entries.popitem(last=False)
                self.evictions += 1

    def forget(self, prefix: str) -> int:
        """Drop the caches of every session id starting with `prefix`; returns how many."""
        if not prefix:
            return 0
        with self._lock:
            gone = [k for k in self._entries if k.startswith(prefix)]
            for key in gone:
                del self._entries[key]
        return len(gone)

    def nbytes(self) -> int:
        with self._lock:
            return self._total()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._entries

    def _total(self) -> int:
        return sum(e.nbytes() for e in self._entries.values())
