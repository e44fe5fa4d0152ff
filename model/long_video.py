"""A long video through its scan: the timeline of a file, and a question answered from it.

`scan_file` describes every segment of an uploaded video (or finds the timeline of the same
content scanned before); `timeline_question` turns a question into the text the model reads (the
timeline, with times) and the frames of the segments that matter for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from model.backend import GenerationParams
from model.clip import VideoClip
from model.media import sample_video
from model.scan import (FRAMES_PER_SEGMENT, SCAN_NEW_TOKENS, SCAN_QUESTION, SEGMENT_S, ScanProgress, Segment,
                        TimelineStore, content_key, relevant_segments, scan, segment_bounds, timeline_text)

Describer = Callable[[list[VideoClip], str, GenerationParams, threading.Event], list[str]]
FRAMES_PER_RELEVANT = 4  # frames of each relevant segment shown to the model with the timeline


@dataclass(frozen=True)
class ScanOptions:
    """How a video is scanned."""

    segment_s: float = SEGMENT_S
    frames_per_segment: int = FRAMES_PER_SEGMENT
    max_new_tokens: int = SCAN_NEW_TOKENS


def scan_file(path: str, describe: Describer, store: TimelineStore, model: str, options: ScanOptions,
              batch_size: int, stop: threading.Event | None = None) -> Iterator[ScanProgress]:
    """Progress of scanning the video at `path`; a finished timeline is kept in `store` by content."""
    stop = stop or threading.Event()
    key = store.key(content_key(path), options.segment_s, options.frames_per_segment, model)
    kept = store.get(key)
    if kept is not None:
        duration, segments = kept
        yield ScanProgress(total=len(segments), segments=list(segments), duration=duration, cached=True)
        return
    duration = sample_video(path, 1, size=32).duration
    params = GenerationParams(max_new_tokens=options.max_new_tokens)
    progress = None
    for progress in scan(segment_bounds(duration, options.segment_s),
                         lambda start, end, frames: sample_video(path, frames, start=start, end=end),
                         lambda clips: describe(clips, SCAN_QUESTION, params, stop),
                         frames_per_segment=options.frames_per_segment, batch_size=batch_size, stop=stop):
        yield progress
    if progress is not None and progress.done:
        store.put(key, duration, progress.segments)


def timeline_question(path: str, name: str, question: str, duration: float, segments: list[Segment],
                      max_frames: int) -> tuple[str, VideoClip]:
    """(the text the model reads: the timeline and the question; the frames of the most relevant segments)."""
    count = max(1, max_frames // FRAMES_PER_RELEVANT)
    clips = [sample_video(path, FRAMES_PER_RELEVANT, start=s.start, end=s.end)
             for s in relevant_segments(question, segments, count)]
    clip = VideoClip(frames=np.concatenate([c.frames for c in clips]),
                     timestamps=[t for c in clips for t in c.timestamps], duration=duration,
                     fps=clips[0].fps, source_size=clips[0].source_size)
    return f"{timeline_text(name, duration, segments)}\n{question}", clip
