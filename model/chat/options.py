"""How a message's media are turned into model input (`MediaOptions`), and the clip range a visitor
types, checked."""

from __future__ import annotations

from dataclasses import dataclass

from model.chat.limits import UserInputError
from model.chat.sampling import Sampling
from model.media.clip import parse_clock


@dataclass(frozen=True)
class MediaOptions:
    """How to turn uploads into model input."""

    frames: int = 16
    exact_frames: bool = False
    size: int = 336
    start: float | None = None  # clip range of videos, in seconds
    end: float | None = None
    frame_times: bool = False  # tell the model when each frame was taken
    thumbnails: bool = True  # write frame images for the page
    every_s: float | None = None  # one frame every so many seconds (`frames` at most) instead of a count
    stamp_times: bool = False  # write each frame's time into its corner

    @property
    def has_range(self) -> bool:
        return self.start is not None or self.end is not None

    @property
    def sampling(self) -> Sampling:
        return Sampling(self.frames, self.every_s, self.start, self.end, self.exact_frames, self.stamp_times)


def parse_clip_time(text: str | float | None, name: str) -> float | None:
    """Seconds from '83.5', '1:23.5' or '0:01:23'; None when empty."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    try:
        seconds = float(text) if isinstance(text, (int, float)) else parse_clock(text)
    except ValueError:
        raise UserInputError(
            f"The clip {name} '{text}' is not a time: write seconds (83.5) or mm:ss (1:23.5)."
        ) from None
    if seconds < 0 or seconds != seconds:
        raise UserInputError(f"The clip {name} must be a time from 0 on.")
    return seconds


def clip_range(start_text: str | None, end_text: str | None) -> tuple[float | None, float | None]:
    """The clip range typed by the user, checked for order."""
    start, end = parse_clip_time(start_text, "start"), parse_clip_time(end_text, "end")
    if start is not None and end is not None and end < start:
        raise UserInputError("The clip end comes before its start.")
    return start, end
