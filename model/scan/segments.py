"""Scanning a whole long video: a timeline of what happens in each segment, then answers from it.

The 7B sees at most 32 frames: one every 19 s of a 10-minute video. A scan cuts the video into
segments of about `segment_s` seconds that cover it with no gaps, samples `frames_per_segment`
frames from each, and has the model describe several segments per call (`describe`: a batch on
the transformers backend, requests in flight on vLLM). Frames are sampled one batch at a time, so
memory stays bounded whatever the video's length. Timelines are kept per video content, so the
same video scanned again (or by another visitor) costs nothing.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from model.media.clip import Segment, VideoClip, format_timestamp

SEGMENT_S = 45.0  # default segment length, seconds
MIN_SEGMENT_S = 2.0  # shorter parts describe little and cost a call each
MAX_SEGMENT_S = 600.0  # longer parts are described from too few frames
FRAMES_PER_SEGMENT = 8
SCAN_NEW_TOKENS = 64
MAX_SEGMENTS = 400  # an hour in 9-second segments; longer scans get longer segments

Describe = Callable[[list[VideoClip]], list[str] | None]  # one description per clip, same order; None: stopped
Sampler = Callable[[float, float, int], VideoClip]  # (start s, end s, frames) -> frames of that window


@dataclass
class ScanProgress:
    """Where a scan is: parts described so far out of all, and the time it expects to need."""

    total: int
    segments: list[Segment] = field(default_factory=list)
    eta_s: float | None = None
    stopped: bool = False
    duration: float = 0.0  # of the whole video, seconds
    cached: bool = False  # the timeline was already there: nothing was computed

    @property
    def done(self) -> bool:
        return len(self.segments) == self.total

    def snapshot(self) -> ScanProgress:
        return replace(self, segments=list(self.segments))

    def line(self) -> str:
        """'Scanning: 6 of 14 parts described, about 40 s left…', 'Stopped at 4 of 13 parts (…)'."""
        if self.done:
            return f"Scanned: {self.total} parts{' (kept from an earlier scan)' if self.cached else ''}."
        if self.stopped:
            return (
                f"Stopped at {len(self.segments)} of {self.total} parts ({covered(self.segments)}). "
                "Scan again to go on from there."
            )
        eta = f", about {math.ceil(self.eta_s)} s left" if self.eta_s is not None else ""
        return f"Scanning: {len(self.segments)} of {self.total} parts described{eta}…"


def covered(segments: list[Segment]) -> str:
    """What a timeline covers, from its first part's start to its last part's end: '00:00.0–03:00.0
    covered' (parts are described in order, so this is all of it), or 'nothing covered yet'."""
    if not segments:
        return "nothing covered yet"
    return f"{format_timestamp(segments[0].start)}–{format_timestamp(segments[-1].end)} covered"


def segment_bounds(duration: float, segment_s: float = SEGMENT_S) -> list[tuple[float, float]]:
    """Equal segments of about `segment_s` covering [0, duration] with no gaps (at most MAX_SEGMENTS)."""
    if duration <= 0:
        return [(0.0, 0.0)]
    count = min(MAX_SEGMENTS, max(1, round(duration / max(segment_s, 1e-3))))
    step = duration / count
    return [(i * step, duration if i == count - 1 else (i + 1) * step) for i in range(count)]


def split_clip(clip: VideoClip, parts: int) -> list[VideoClip]:
    """A clip sampled uniformly over `parts` equal segments, cut into one clip per segment."""
    per = len(clip.timestamps) // parts
    return [
        replace(
            clip,
            frames=clip.frames[i * per : (i + 1) * per],
            timestamps=clip.timestamps[i * per : (i + 1) * per],
            notes=[],
        )
        for i in range(parts)
    ]


def scan(
    bounds: list[tuple[float, float]],
    sample: Sampler,
    describe: Describe,
    *,
    frames_per_segment: int,
    batch_size: int,
    stop: threading.Event | None = None,
    done: list[Segment] | None = None,
) -> Iterator[ScanProgress]:
    """Describe every part after those `done` already, `batch_size` at a time; yields progress after
    each batch. A set `stop` ends the scan within a step of the model: the batch it cuts short is
    left out (its texts would be cut too), the parts done before it are kept."""
    progress = ScanProgress(total=len(bounds), duration=bounds[-1][1], segments=list(done or ()))
    started, resumed = time.perf_counter(), len(progress.segments)
    yield progress.snapshot()
    step = max(1, batch_size)
    for first in range(resumed, len(bounds), step):
        if stop is not None and stop.is_set():
            break
        batch = bounds[first : first + step]
        # Equal segments: frames sampled uniformly over the batch's window fall frames_per_segment per segment.
        clip = sample(batch[0][0], batch[-1][1], frames_per_segment * len(batch))
        texts = describe(split_clip(clip, len(batch))) if not (stop is not None and stop.is_set()) else None
        if texts is None or (stop is not None and stop.is_set()):  # stopped while sampling or describing
            break
        progress.segments += [Segment(start, end, text.strip()) for (start, end), text in zip(batch, texts)]
        elapsed = time.perf_counter() - started
        progress.eta_s = elapsed / (len(progress.segments) - resumed) * (progress.total - len(progress.segments))
        yield progress.snapshot()
    if not progress.done:
        progress.stopped = True
        yield progress.snapshot()


def timeline_text(name: str, duration: float, segments: list[Segment], parts: int = 0) -> str:
    """The timeline as the model reads it before a question (of a stopped scan: what it covers)."""
    lines = "\n".join(f"[{s.span}] {s.text}" for s in segments)
    partial = (
        f" The scan was stopped: this covers {format_timestamp(segments[0].start)} to "
        f"{format_timestamp(segments[-1].end)} only; say so when asked about the rest."
        if segments and len(segments) < parts
        else ""
    )
    return (
        f"A timeline of {name} ({format_timestamp(duration)} long), one line per part:\n{lines}\n"
        f"Answer from the timeline and the frames, and give times as mm:ss.{partial}"
    )


_WORD = re.compile(r"[a-z0-9]+")
_COMMON = frozenset(
    "a an and are at be by did do does for from he her his how in is it its of "
    "on or she that the their them then there they this to was what when where which who why with you".split()
)


def relevant_segments(question: str, segments: list[Segment], count: int) -> list[Segment]:
    """The `count` segments whose descriptions share the most words with the question, in time order
    (with no shared words, segments spread over the whole video)."""
    if count >= len(segments):
        return list(segments)
    words = set(_WORD.findall(question.lower())) - _COMMON
    scores = [len(words & set(_WORD.findall(s.text.lower()))) for s in segments]
    if not any(scores):
        step = len(segments) / count
        return [segments[int(i * step + step / 2)] for i in range(count)]
    ranked = sorted(range(len(segments)), key=lambda i: (-scores[i], i))[:count]
    return [segments[i] for i in sorted(ranked)]


def content_key(path: str | Path, chunk: int = 1 << 20) -> str:
    """A hash of the file's bytes (the same video uploaded twice has the same key)."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


class TimelineStore:
    """Timelines by video content and scan settings, least recently used out first; a stopped scan's
    parts are kept too, so that scanning again goes on from them."""

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, tuple[float, list[Segment]]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(content: str, model: str, **settings: float) -> str:
        """By everything that shaped a timeline: the video's content, the model and every scan setting
        (a timeline scanned with 1 token a part is never handed to a scan asking for 64)."""
        return "|".join([content, model, *(f"{name}={value:g}" for name, value in sorted(settings.items()))])

    def get(self, key: str) -> tuple[float, list[Segment]] | None:
        """(duration, segments) of a scan, finished or stopped, or None."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key: str, duration: float, segments: list[Segment]) -> None:
        with self._lock:
            self._items[key] = (duration, list(segments))
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
