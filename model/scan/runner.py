"""A long video through its scan: the timeline of a file, and a question answered from it.

`scan_file` describes every segment of an uploaded video (or finds the timeline of the same
content scanned before); `timeline_question` turns a question into the text the model reads (the
timeline, with times) and the frames of the segments that matter for it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace

import numpy as np

from model.chat.conversation import SCAN_QUESTION, Conversation, MediaItem, Turn, latest_video
from model.engines.base import Describer, GenerationParams
from model.engines.zerogpu import request_seconds
from model.media.clip import VideoClip, format_timestamp
from model.media.decode import sample_video
from model.scan.segments import (
    FRAMES_PER_SEGMENT,
    MAX_SEGMENT_S,
    MIN_SEGMENT_S,
    SCAN_NEW_TOKENS,
    SEGMENT_S,
    ScanProgress,
    Segment,
    TimelineStore,
    content_key,
    covered,
    relevant_segments,
    scan,
    segment_bounds,
    timeline_text,
)

FRAMES_PER_RELEVANT = 4  # frames of each relevant segment shown to the model with the timeline


@dataclass(frozen=True)
class ScanOptions:
    """How a video is scanned."""

    segment_s: float = SEGMENT_S
    frames_per_segment: int = FRAMES_PER_SEGMENT
    max_new_tokens: int = SCAN_NEW_TOKENS

    def bounded(self, max_frames: int, max_new_tokens: int) -> ScanOptions:
        """These options within the operator's limits (at least 1 frame and 1 token a part)."""
        seconds = self.segment_s if math.isfinite(self.segment_s) else SEGMENT_S
        return replace(
            self,
            segment_s=min(max(MIN_SEGMENT_S, seconds), MAX_SEGMENT_S),
            frames_per_segment=max(1, min(self.frames_per_segment, max_frames)),
            max_new_tokens=max(1, min(self.max_new_tokens, max_new_tokens)),
        )


def scan_file(
    path: str,
    describe: Describer,
    store: TimelineStore,
    model: str,
    options: ScanOptions,
    batch_size: int,
    stop: threading.Event | None = None,
) -> Iterator[ScanProgress]:
    """Progress of scanning the video at `path`. Its timeline is kept in `store` by content: a
    finished one is used as it is, a stopped one is gone on with from its last part."""
    stop = stop or threading.Event()
    key = store.key(content_key(path), model, **asdict(options))
    kept = store.get(key)
    duration = kept[0] if kept is not None else sample_video(path, 1, size=32).duration
    bounds = segment_bounds(duration, options.segment_s)
    done = list(kept[1]) if kept is not None else []
    if len(done) == len(bounds):
        yield ScanProgress(total=len(bounds), segments=done, duration=duration, cached=True)
        return
    params = GenerationParams(max_new_tokens=options.max_new_tokens)
    progress = None
    for progress in scan(
        bounds,
        lambda start, end, frames: sample_video(path, frames, start=start, end=end),
        lambda clips: describe(clips, SCAN_QUESTION, params, stop),
        frames_per_segment=options.frames_per_segment,
        batch_size=batch_size,
        stop=stop,
        done=done,
    ):
        yield progress
    if progress is not None and len(progress.segments) > len(done):
        store.put(key, duration, progress.segments)


def timeline_question(
    path: str, name: str, question: str, duration: float, segments: list[Segment], max_frames: int, parts: int = 0
) -> tuple[str, VideoClip]:
    """(the timeline as the model reads it before the question; the frames of the segments that
    matter most for the question, FRAMES_PER_RELEVANT each, `max_frames` in all)."""
    count = max(1, max_frames // FRAMES_PER_RELEVANT)
    clips = [
        sample_video(path, FRAMES_PER_RELEVANT, start=s.start, end=s.end)
        for s in relevant_segments(question, segments, count)
    ]
    clip = VideoClip(
        frames=np.concatenate([c.frames for c in clips]),
        timestamps=[t for c in clips for t in c.timestamps],
        duration=duration,
        fps=clips[0].fps,
        source_size=clips[0].source_size,
    )
    return timeline_text(name, duration, segments, parts), clip


def answer_from_timeline(conv: Conversation, turn: Turn, max_frames: int, with_frames: bool = True) -> bool:
    """Give a follow-up about a scanned video the timeline to read and (`with_frames`; a backend that
    takes one video per conversation gets the timeline alone) the frames of the segments that matter
    for its question. False when the newest video has no timeline."""
    video = latest_video(conv)
    if video is None or not video.timeline or video.clip is None:
        return False
    parts = scanned_parts(video)
    if not with_frames:
        turn.preamble = timeline_text(video.name, video.clip.duration, video.timeline, parts)
        turn.notes.append(f"Answered from the scan of {video.name} ({parts_words(video.timeline, parts)}).")
        return True
    turn.preamble, clip = timeline_question(
        video.path, video.name, turn.text, video.clip.duration, video.timeline, max_frames, parts
    )
    item = MediaItem(
        path=video.path,
        kind="video",
        clip=clip,
        sampling="the scan's parts that fit the question",
        timeline=video.timeline,
        timeline_parts=video.timeline_parts,
    )
    conv.write_frames(item)
    turn.media.append(item)
    shown = len(clip.timestamps) // FRAMES_PER_RELEVANT
    turn.notes.append(
        f"Answered from the scan of {video.name} ({parts_words(video.timeline, parts)}, "
        f"{format_timestamp(video.clip.duration)} long) and the frames of the {shown} "
        f"part{'s' if shown != 1 else ''} that fit the question best."
    )
    return True


def scanned_parts(video: MediaItem) -> int:
    """How many parts the scan of `video` has in all (more than its timeline holds when stopped)."""
    return max(video.timeline_parts, len(video.timeline))


def parts_words(segments: list[Segment], parts: int) -> str:
    """'13 parts', or for a stopped scan '4 of 13 parts, 00:00.0–03:00.0 covered'."""
    if len(segments) >= parts:
        return f"{parts} parts"
    return f"{len(segments)} of {parts} parts, {covered(segments)}"


_scans: dict[str, threading.Event] = {}  # conversation -> the Stop of its running scan
_scans_lock = threading.Lock()


def run_scan(
    conv: Conversation, describe: Describer, store: TimelineStore, model: str, options: ScanOptions, batch: int
) -> Iterator[tuple[MediaItem, ScanProgress]]:
    """Scan the conversation's newest video, yielding progress; the video keeps its timeline (the
    part done, when stopped). Nothing when the conversation has no video."""
    video = latest_video(conv)
    if video is None:
        return
    stop = threading.Event()
    with _scans_lock:
        _scans[conv.session_id] = stop
    try:
        for progress in scan_file(video.path, describe, store, model, options, batch, stop):
            video.timeline, video.timeline_parts = list(progress.segments), progress.total
            yield video, progress
    finally:
        with _scans_lock:
            _scans.pop(conv.session_id, None)


def stop_scan(conv: Conversation) -> bool:
    """Ask the conversation's running scan to end after its current batch; False when none runs."""
    with _scans_lock:
        stop = _scans.get(conv.session_id)
    if stop is not None:
        stop.set()
    return stop is not None


def scan_gpu_cost(duration: float, options: ScanOptions, batch: int) -> str:
    """What a scan asks of ZeroGPU, said before it starts: calls and their requested seconds."""
    calls = -(-len(segment_bounds(duration, options.segment_s)) // batch)
    seconds = calls * request_seconds(batch * options.frames_per_segment, options.max_new_tokens)
    return f"On ZeroGPU this takes {calls} GPU call{'s' if calls != 1 else ''}, up to {seconds} s of GPU time."
