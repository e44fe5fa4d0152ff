"""Sampled video frames with their times, and described time spans: what the media layer and a scan
hand on (no decoder needed here)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass
class VideoClip:
    """Frames sampled from a video, upright RGB, with their presentation times in seconds."""

    frames: np.ndarray  # (n, H, W, 3) uint8
    timestamps: list[float]
    duration: float
    fps: float
    source_size: tuple[int, int]  # (width, height) as displayed
    notes: list[str] = field(default_factory=list)


def format_timestamp(seconds: float) -> str:
    """'mm:ss.s', or 'h:mm:ss.s' from one hour on (tenths are truncated, not rounded)."""
    tenths = int(math.floor(max(float(seconds), 0.0) * 10 + 1e-6))
    hours, rest = divmod(tenths, 36000)
    minutes, rest = divmod(rest, 600)
    secs = f"{rest // 10:02d}.{rest % 10}"
    return f"{hours}:{minutes:02d}:{secs}" if hours else f"{minutes:02d}:{secs}"


@dataclass(frozen=True)
class Segment:
    """What happens between `start` and `end` (seconds)."""

    start: float
    end: float
    text: str

    @property
    def span(self) -> str:
        return f"{format_timestamp(self.start)}-{format_timestamp(self.end)}"

    def as_dict(self) -> dict:
        return {"start": round(self.start, 3), "end": round(self.end, 3), "text": self.text}
