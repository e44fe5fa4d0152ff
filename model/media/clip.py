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


def format_clock(seconds: float) -> str:
    """'m:ss' in whole seconds, as a camera clip's label reads ('0:12')."""
    whole = int(max(seconds, 0.0))
    return f"{whole // 60}:{whole % 60:02d}"


def format_duration(seconds: float) -> str:
    """A length of time in words: '10 minutes', '90 s'."""
    return f"{seconds / 60:g} minutes" if seconds >= 120 else f"{seconds:g} s"


def parse_clock(text: str) -> float:
    """Seconds from '83.5', '1:23.5' or '0:01:23' (ValueError when it is none of these)."""
    seconds = 0.0
    for part in text.strip().split(":"):
        seconds = seconds * 60 + float(part)
    return seconds


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
