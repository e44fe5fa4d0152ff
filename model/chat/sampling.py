"""How a video's frames were asked for, so that a follow-up with other settings samples it again
and says what changed."""

from __future__ import annotations

from dataclasses import dataclass, replace

from model.media.clip import format_timestamp


@dataclass(frozen=True)
class Sampling:
    """The settings that decide which frames of a video the model sees."""

    frames: int = 16
    every_s: float | None = None  # one frame every so many seconds, instead of spread by count
    start: float | None = None
    end: float | None = None
    exact: bool = False
    stamp: bool = False  # the time written on each frame

    @property
    def range(self) -> tuple[float | None, float | None]:
        return self.start, self.end

    def with_range(self, clip_range: tuple[float | None, float | None]) -> Sampling:
        return replace(self, start=clip_range[0], end=clip_range[1])

    def changes_from(self, old: Sampling) -> list[str]:
        """What differs from `old`, in words ('4 frames instead of 16', 'from 00:02.0 to the end')."""
        said = []
        if self.frames != old.frames:
            said.append(f"{self.frames} frames instead of {old.frames}")
        if self.every_s != old.every_s:
            said.append(f"one every {self.every_s:g} s" if self.every_s else "spread over the video")
        if self.range != old.range:
            said.append(span_words(self.start, self.end))
        if self.exact != old.exact:
            said.append("at exact times" if self.exact else "at nearby keyframes")
        if self.stamp != old.stamp:
            said.append("the time written on each frame" if self.stamp else "no time written on the frames")
        return said


def span_words(start: float | None, end: float | None) -> str:
    """'the whole video', 'from 00:02.0 to the end', 'from 00:00.0 to 00:07.5'."""
    if start is None and end is None:
        return "the whole video"
    return f"from {format_timestamp(start or 0)} to {format_timestamp(end) if end is not None else 'the end'}"
