"""Which times of a video its frames are taken at: a pure function of the clip range and the settings,
so that a new way of picking frames is one more case here (and the decoder fetches whatever times
it is given)."""

from __future__ import annotations

import math

from model.media.clip import format_timestamp
from model.media.files import MediaError


class RangeError(MediaError):
    """The clip range asked for does not fit the video (the video itself is fine)."""


def clip_window(start: float | None, end: float | None, duration: float, frame_s: float) -> tuple[float, float]:
    """Validated [start, end] in seconds relative to the video's start; an end past the video's
    end is brought back to it (the caller says so)."""
    tol = max(0.25, frame_s)
    s = 0.0 if start is None else float(start)
    e = duration if end is None else float(end)
    if not (math.isfinite(s) and math.isfinite(e)):
        raise RangeError("The start and end times must be numbers of seconds.")
    if s < -1e-6:
        raise RangeError("The start time cannot be negative; please pick a start inside the video.")
    if s > duration + tol:
        raise RangeError(
            f"The clip start ({format_timestamp(s)}) is after the end of the video ({format_timestamp(duration)} long)."
        )
    if s > e:
        raise RangeError(
            f"The start time ({format_timestamp(s)}) is after the end time ({format_timestamp(e)}); please swap them."
        )
    return min(s, duration), min(e, duration)


def frame_times(start: float, end: float, count: int, every_s: float | None = None) -> list[float]:
    """Times in seconds over [start, end]: `count` at the centres of equal slices, or with `every_s`
    one every `every_s` seconds (`count` at most); one at `start` when the range is empty."""
    if end - start <= 0:
        return [start]
    if every_s is not None:
        count = max(1, min(count, math.ceil((end - start) / every_s - 1e-9)))
    step = (end - start) / count
    return [start + (i + 0.5) * step for i in range(count)]
