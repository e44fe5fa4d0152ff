"""Video frames for the model: the frames at the times `frame_times` picks, and what kind a file is
(images are read by `model/media/images.py`).

Videos are read with PyAV packet by packet, seeking only where a keyframe lies between the
current decoding position and the next target, so the work grows with the number of frames
asked for and the keyframe interval, not with the video's length. Frames are converted to RGB
at full size and resized with the model's processor's own kernel (so the model sees what it would
see given full-size frames), bounded in pixels, and turned upright with the stream's display matrix.
Every failure a user can cause becomes a `MediaError` carrying one sentence fit for the chat.

Sampling scheme: `num_frames` targets at the centres of equal slices of [start, end]; the frame
returned for a target is the one a player shows at that time (the last frame whose presentation
time is <= the target). In the default fast mode a keyframe within a quarter of the sampling
interval of its target stands in for it.
"""

from __future__ import annotations

import bisect
import heapq
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter
from PIL import Image

from model.media.clip import VideoClip, format_timestamp
from model.media.files import MediaError, check_file, file_head, image_magic, looks_like_text
from model.media.formats import ACCEPTED
from model.media.frame_times import clip_window, frame_times
from model.media.images import MAX_ASPECT

MAX_VIDEO_PIXELS = 8192 * 4608  # a video's picture, checked before decoding (8K is 7680x4320)
MAX_GIF_PIXELS = 2048 * 2048  # a GIF's canvas: each of its frames is decoded at this size, in order
MAX_DECODED_FRAMES = 20_000  # per sample_video call
DEADLINE_S = 40.0  # wall-clock bound per sample_video call
MAX_SCANNED_PACKETS = 400_000  # bound for demux-only passes
REORDER_WINDOW = 3  # frames held to put out-of-order presentation times right (AVI packed B-frames)
NO_INDEX_SEEK_GAP_S = 4.0  # without keyframe positions, seek when the target is this far ahead
# FFmpeg decoder threading. Frame threads ("AUTO") pay only when cores are free: on a busy 2-core
# machine one thread per call ("SLICE" on single-slice H.264) measured 15-25% faster.
DECODER_THREADING = os.environ.get("MEDIA_DECODER_THREADING") or ("AUTO" if (os.cpu_count() or 1) >= 4 else "SLICE")
SKIP_MARGIN_FRAMES = 1.5  # non-reference frames further than this before a target are not decoded
_SKIPPABLE_CODECS = {"h264", "hevc", "mpeg4", "mpeg2video", "mpeg1video"}  # well-defined non-reference frames

# Demuxers accepted as video containers (FFmpeg format names).
_VIDEO_FORMATS = {
    "mov",
    "mp4",
    "m4a",
    "3gp",
    "3g2",
    "mj2",
    "matroska",
    "webm",
    "avi",
    "gif",
    "mpegts",
    "mpeg",
    "flv",
    "ogg",
    "asf",
    "ivf",
    "h264",
    "hevc",
    "m4v",
    "obu",
    "yuv4mpegpipe",
}
_AV_ERRORS = (av.FFmpegError, OSError, EOFError, ValueError, RuntimeError, IndexError, OverflowError, ZeroDivisionError)


# ----------------------------------------------------------------------------------------------
# File checks and kind detection


def media_kind(path: str | os.PathLike) -> str:
    """'image' or 'video', decided by the file's content (an animated GIF is a video)."""
    p = check_file(path)
    head = file_head(p)
    if head.startswith((b"GIF87a", b"GIF89a")):
        try:
            with Image.open(p) as im:
                return "video" if getattr(im, "n_frames", 1) > 1 else "image"
        except (OSError, ValueError, Image.DecompressionBombError) as e:
            raise MediaError("This GIF file is damaged and could not be read; please upload another file.") from e
    if image_magic(head):
        return "image"
    if looks_like_text(head):
        raise MediaError(f"This file is text, not an image or a video; please upload {ACCEPTED}.")
    container = _open_video(p)
    container.close()
    return "video"


# ----------------------------------------------------------------------------------------------
# Opening videos


def _open_failure(p: Path) -> MediaError:
    """The sentence to show when a file cannot be opened as a video."""
    head = file_head(p)
    if head[4:8] == b"ftyp":
        return MediaError(
            "This MP4/MOV file is incomplete or damaged (its index could not be read, "
            "often because the upload was cut off); please upload the complete file."
        )
    if looks_like_text(head):
        return MediaError(f"This file is text, not a video; please upload {ACCEPTED}.")
    if image_magic(head):
        return MediaError("This file is a still image, not a video; please upload it as an image.")
    return MediaError(
        f"This file could not be read as a video (it may be damaged or in an unsupported format); "
        f"please upload {ACCEPTED}."
    )


def _open_video(p: Path) -> av.container.InputContainer:
    """Open a video container with at least one decodable video stream, or raise MediaError."""
    try:
        container = av.open(str(p), metadata_errors="ignore")
    except _AV_ERRORS as e:
        raise _open_failure(p) from e
    names = set(container.format.name.split(","))
    if not names & _VIDEO_FORMATS:
        container.close()
        raise _open_failure(p)
    if not container.streams.video:
        container.close()
        raise MediaError("This file has no video track (it may be audio only); please upload a video.")
    stream = container.streams.video[0]
    if stream.codec_context is None:
        container.close()
        raise MediaError("This video uses a codec this app cannot decode; please re-encode it as MP4 (H.264).")
    return container


# ----------------------------------------------------------------------------------------------
# Probing: origin, real end, keyframe positions


@dataclass
class _Probe:
    origin: int  # pts of the stream's first frame (the zero of returned timestamps)
    end: int  # pts just after the last readable frame
    frame_pts: float  # typical frame duration, pts units
    keyframes: list[int]  # presentation times of keyframes, sorted; may be empty
    claimed_end: int | None  # what the header says
    truncated: bool  # the index points past the end of the file


class _Bounds:
    """Decoded-frame budget and wall-clock deadline of one call (DEADLINE_S, or the caller's sooner one)."""

    def __init__(self, deadline: float | None = None) -> None:
        self.deadline = min(time.monotonic() + DEADLINE_S, deadline if deadline is not None else math.inf)
        self.frames_left = MAX_DECODED_FRAMES

    def expired(self) -> bool:
        return self.frames_left <= 0 or time.monotonic() > self.deadline


class _OutOfBounds(Exception):
    """The call used up its decoding budget or time."""


def _scan(
    container, stream, bounds: _Bounds, frame_pts: float, keyframes: list[int] | None
) -> tuple[int | None, tuple[int, int] | None]:
    """Demux (without decoding) from the current position to the end.

    Returns the end pts (or None) and (pts, dts) of the first keyframe packet seen.
    """
    end, first_key = None, None
    try:
        for i, pkt in enumerate(container.demux(stream)):
            if pkt.pts is None:
                continue
            stop = pkt.pts + (pkt.duration or frame_pts)
            end = stop if end is None else max(end, stop)
            if pkt.is_keyframe:
                if first_key is None and pkt.dts is not None:
                    first_key = (int(pkt.pts), int(pkt.dts))
                if keyframes is not None:
                    keyframes.append(int(pkt.pts))
            if i > MAX_SCANNED_PACKETS or (i % 256 == 0 and time.monotonic() > bounds.deadline):
                break
    except _AV_ERRORS:
        pass
    return (None if end is None else int(math.ceil(end))), first_key


def _probe(container, stream, path: Path, bounds: _Bounds) -> _Probe:
    """Find the origin, the real end and keyframe positions without decoding."""
    tb = stream.time_base
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    frame_pts = float(1 / (rate * tb)) if rate and rate > 0 else 1.0
    origin = stream.start_time if stream.start_time is not None else 0
    claimed = None
    if stream.duration:
        claimed = origin + stream.duration
    elif container.duration:
        claimed = origin + int(container.duration / 1_000_000 / tb)
    entries = stream.index_entries
    n = len(entries)
    delta = origin - entries[0].timestamp if n else 0  # MP4 index holds decode times; shift to presentation
    limit, truncated = claimed, False
    if n > 1:
        size = path.stat().st_size
        last = entries[n - 1]
        if last.pos > 0 and last.pos + last.size > size:
            lo, hi = 0, n - 1  # last entry that lies wholly in the file
            while lo < hi:
                mid = (lo + hi + 1) // 2
                e = entries[mid]
                if e.pos + e.size <= size:
                    lo = mid
                else:
                    hi = mid - 1
            truncated = True
            limit = entries[lo].timestamp + delta
    end = None
    if limit is not None and container.format.name != "gif":
        try:
            container.seek(int(limit), backward=True, any_frame=False, stream=stream)
            end, key = _scan(container, stream, bounds, frame_pts, None)
        except _AV_ERRORS:
            end, key = None, None
        entries = stream.index_entries  # Matroska loads its cues on the first seek
        n = len(entries)
        if key is not None and n:
            # index times may be decode times (MP4, AVI): measure the shift on the last keyframe
            at = entries.search_timestamp(max(key), backward=True)
            if at >= 0 and abs(key[0] - entries[at].timestamp) < 64 * frame_pts:
                delta = key[0] - entries[at].timestamp
    keyframes: list[int] = []
    if n > 1:
        keyframes = [e.timestamp + delta for e in entries if e.is_keyframe]
    if end is None or len(keyframes) < 2:
        keyframes = []
        try:
            container.seek(origin, backward=True, any_frame=False, stream=stream)
        except _AV_ERRORS:
            pass
        end = _scan(container, stream, bounds, frame_pts, keyframes)[0] or end
        keyframes.sort()
    if end is None:
        raise MediaError(
            "No video frames could be read from this file, which may be damaged; please upload another copy."
        )
    return _Probe(origin, end, frame_pts, keyframes, claimed, truncated)


# ----------------------------------------------------------------------------------------------
# Decoding


class _Cursor:
    """Decodes forward from a seek point, yielding frames in presentation order."""

    def __init__(self, path: Path, container, stream, probe: _Probe, bounds: _Bounds) -> None:
        self.path, self.container, self.stream, self.probe, self.bounds = path, container, stream, probe, bounds
        self.opened_with = container
        self.packets = None
        self.heap: list[tuple[int, int, av.VideoFrame]] = []
        self.seq = 0
        self.cur: tuple[int, av.VideoFrame] | None = None  # last frame with pts <= the last target
        self.peek: tuple[int, av.VideoFrame] | None = None  # first frame after it
        self.eof = False
        self.last_pts = probe.origin - probe.frame_pts
        self.target = -math.inf  # the presentation time being decoded towards
        self.allow_skip = stream.codec_context.name in _SKIPPABLE_CODECS
        self.skipping = False  # the decoder currently drops non-reference frames
        self.skipped = False  # some packet since the last seek was decoded while dropping them

    def seek(self, pts: float) -> None:
        """Position on the keyframe at or before `pts` (restarting from the top if seeking fails)."""
        try:
            self.container.seek(int(pts), backward=True, any_frame=False, stream=self.stream)
        except _AV_ERRORS:
            self.restart()
            return
        self._reset()

    def restart(self) -> None:
        """Reopen the file and decode from its start (the caller closes the container it passed in)."""
        if self.container is not self.opened_with:
            self.container.close()
        self.container = av.open(str(self.path), metadata_errors="ignore")
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = DECODER_THREADING
        self.skipping = False
        self._reset()

    def _reset(self) -> None:
        self.packets = self.container.demux(self.stream)
        self.heap.clear()
        self.cur = self.peek = None
        self.eof = False
        self.skipped = False

    def position(self) -> float:
        """Presentation time the decoder has reached."""
        if self.peek is not None:
            return self.peek[0]
        if self.cur is not None:
            return self.cur[0]
        return -math.inf

    def _feed(self) -> None:
        """Demux and decode one packet into the reorder window."""
        if self.bounds.expired():
            raise _OutOfBounds
        try:
            pkt = next(self.packets)
        except StopIteration:
            self.eof = True
            return
        except _AV_ERRORS:
            self.eof = True  # the rest of the file cannot be demuxed
            return
        if pkt.pts is not None:
            self._set_skipping(self.allow_skip and pkt.pts < self.target - SKIP_MARGIN_FRAMES * self.probe.frame_pts)
        try:
            frames = self.stream.codec_context.decode(pkt)
        except _AV_ERRORS:  # a damaged packet: its frames are skipped
            return
        for f in frames:
            self.bounds.frames_left -= 1
            pts = f.pts if f.pts is not None else f.dts
            if pts is None:
                pts = self.last_pts + self.probe.frame_pts
            self.last_pts = pts
            self.seq += 1
            heapq.heappush(self.heap, (int(pts), self.seq, f))

    def _set_skipping(self, skip: bool) -> None:
        """Drop (or stop dropping) non-reference frames: nobody looks at them far before a target."""
        if skip != self.skipping:
            self.stream.codec_context.skip_frame = "NONREF" if skip else "DEFAULT"
            self.skipping = skip
        self.skipped |= skip

    def _pull(self) -> tuple[int, av.VideoFrame] | None:
        """Next frame in presentation order, or None at the end."""
        while True:
            while len(self.heap) <= REORDER_WINDOW and not self.eof:
                self._feed()
            if not self.heap:
                return None
            pts, _, frame = heapq.heappop(self.heap)
            floor = self.cur[0] if self.cur is not None else -math.inf
            if pts > floor:  # drop late frames that break presentation order
                return pts, frame

    def frame_at(self, t: float) -> tuple[int, av.VideoFrame] | None:
        """The frame shown at presentation time `t` (the first frame if `t` precedes it)."""
        self.target = t
        while True:
            if self.peek is None:
                self.peek = self._pull()
                if self.peek is None:
                    return self.cur
            if self.peek[0] <= t:
                self.cur, self.peek = self.peek, None
                continue
            return self.cur if self.cur is not None else self.peek

    def keyframe(self, pts: int) -> tuple[int, av.VideoFrame] | None:
        """Decode only the keyframe at `pts` (the cursor must seek again before decoding on)."""
        self.seek(pts + self.probe.frame_pts / 2)
        self._set_skipping(False)
        for _ in range(64):
            if self.bounds.expired():
                raise _OutOfBounds
            try:
                pkt = next(self.packets)
            except (StopIteration, *_AV_ERRORS):
                break
            if pkt.size == 0 or not pkt.is_keyframe:
                continue
            try:
                frames = list(self.stream.codec_context.decode(pkt)) + list(self.stream.codec_context.decode(None))
            except _AV_ERRORS:  # a damaged packet: its frames are skipped
                continue
            self.packets = None  # drained decoder: seek before decoding again
            self.bounds.frames_left -= max(len(frames), 1)
            if not frames:
                return None
            f = frames[0]
            return (f.pts if f.pts is not None else pkt.pts), f
        self.packets = None
        return None

    def needs_seek(self, t: float) -> bool:
        """Seek when a keyframe lies between the decoder's position and `t` (or when it must)."""
        if self.packets is None:
            return True
        pos = self.position()
        if t < pos:
            return True
        if pos == -math.inf:
            return False
        kf = self.probe.keyframes
        if kf:
            i = bisect.bisect_right(kf, t) - 1
            return i >= 0 and kf[i] > pos
        return (t - pos) * float(self.stream.time_base) > NO_INDEX_SEEK_GAP_S


class _Converter:
    """RGB at full size, then resized exactly as the model's processor resizes (bicubic with
    antialiasing to `size` pixels on the shortest edge, torchvision's kernel), and turned upright.

    The processor then finds frames already at the size it wants and leaves them as they are, so
    the model sees the pixels it would see given the full-size frames. A picture wider or taller
    than MAX_ASPECT:1 keeps its middle part first (the processor's centre crop takes the middle
    square anyway), which bounds every frame to size x size*MAX_ASPECT pixels.
    """

    def __init__(self, size: int | None) -> None:
        self.size = size
        self.reformatter = VideoReformatter()
        self.window: tuple[slice, slice] | None = None  # the part of the picture kept (rows, columns)
        self.shape: tuple[int, int] | None = None  # output (height, width) before rotation
        self.turns = 0
        self.cropped = False

    def _plan(self, frame: av.VideoFrame) -> None:
        w, h = frame.width, frame.height
        keep_w, keep_h = min(w, h * MAX_ASPECT), min(h, w * MAX_ASPECT)
        left, top = (w - keep_w) // 2, (h - keep_h) // 2
        self.window = (slice(top, top + keep_h), slice(left, left + keep_w))
        self.cropped = (keep_w, keep_h) != (w, h)
        if self.size:
            short, long = sorted((keep_w, keep_h))
            new_long = int(self.size * long / short)  # transformers' get_resize_output_image_size
            self.shape = (self.size, new_long) if keep_h <= keep_w else (new_long, self.size)
        else:
            self.shape = (keep_h, keep_w)
        self.turns = round((frame.rotation or 0) / 90) % 4

    def __call__(self, frame: av.VideoFrame) -> np.ndarray:
        if self.window is None:
            self._plan(frame)
        rows, cols = self.window
        rgb = self.reformatter.reformat(frame, format="rgb24").to_ndarray()[rows, cols]
        if rgb.shape[:2] != self.shape:
            rgb = _resize_like_processor(rgb, self.shape)
        return np.ascontiguousarray(np.rot90(rgb, self.turns)) if self.turns else np.ascontiguousarray(rgb)


def _resize_like_processor(rgb: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(h, w, 3) uint8 resized to `shape` with the video processor's own kernel (torchvision,
    bicubic, antialiased, on uint8)."""
    import torch
    from torchvision.transforms.v2 import functional as tvF

    chw = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)
    out = tvF.resize(chw, list(shape), interpolation=tvF.InterpolationMode.BICUBIC, antialias=True)
    return out.permute(1, 2, 0).numpy()


# ----------------------------------------------------------------------------------------------
# Sampling


def sample_video(
    path: str | os.PathLike,
    num_frames: int,
    *,
    start: float | None = None,
    end: float | None = None,
    size: int | None = 336,
    exact: bool = False,
    every_s: float | None = None,
    deadline: float | None = None,
) -> VideoClip:
    """Sample `num_frames` frames uniformly by time over [start, end] (seconds; default whole video).

    With `every_s`, one frame every `every_s` seconds of the range instead, `num_frames` at most.
    Decoding stops at DEADLINE_S or at `deadline` (time.monotonic()), whichever comes first, and
    keeps the frames it has (with a note).
    """
    if int(num_frames) < 1:
        raise MediaError("At least one frame must be requested.")
    if every_s is not None and not every_s > 0:
        raise MediaError("The time between frames must be more than 0 seconds.")
    p = check_file(path)
    container = _open_video(p)
    try:
        return _sample(p, container, int(num_frames), start, end, size, exact, every_s, _Bounds(deadline))
    except MediaError:
        raise
    except _AV_ERRORS as e:
        raise MediaError(
            "This video could not be decoded (it may be damaged or use an unsupported codec); "
            "please re-encode it as MP4 (H.264) and try again."
        ) from e
    finally:
        container.close()


def _sample(
    p: Path,
    container,
    n: int,
    start: float | None,
    end: float | None,
    size: int | None,
    exact: bool,
    every_s: float | None,
    bounds: _Bounds,
) -> VideoClip:
    stream = container.streams.video[0]
    stream.thread_type = DECODER_THREADING
    probe = _probe(container, stream, p, bounds)
    tb = float(stream.time_base)
    duration = max((probe.end - probe.origin) * tb, 0.0)
    notes = _probe_notes(probe, tb, duration)
    s, e = clip_window(start, end, duration, probe.frame_pts * tb)
    if end is not None and end > duration + max(0.25, probe.frame_pts * tb):
        notes.append(f"the video is {format_timestamp(duration)} long, so the clip ends there")
    times = frame_times(s, e, n, every_s)
    if every_s is not None:
        n = len(times)  # the frames an interval gives are the frames asked for
    targets = [probe.origin + t / tb for t in times]
    step = (e - s) / len(times)
    slack = step / 4 / tb  # how far a stand-in keyframe may be from its target, pts units
    coded_size = _checked_size(stream)
    cursor = _Cursor(p, container, stream, probe, bounds)
    convert = _Converter(size)
    picked: dict[int, np.ndarray] = {}
    stopped = False
    try:
        for i, t in enumerate(targets):
            nxt = targets[i + 1] if i + 1 < len(targets) else None
            got = _frame_near(cursor, probe, t, nxt, slack if not exact else 0.0, tb)
            if got is not None and got[0] not in picked:
                picked[got[0]] = convert(got[1])
    except _OutOfBounds:
        stopped = True
    finally:
        cursor.heap.clear()
        if cursor.container is not container:
            cursor.container.close()
    if not picked and stopped:
        raise MediaError(
            "Decoding this video took longer than this demo allows before a frame was found; "
            "please upload a shorter or smaller video, or re-encode it as MP4 (H.264)."
        )
    if not picked:
        raise MediaError(
            "No video frames could be decoded from this file, which may be damaged; please upload another copy."
        )
    order = sorted(picked)
    notes.extend(_picking_notes(len(order), n, stopped, e - s > 0, convert.cropped, coded_size))
    rate = stream.average_rate or stream.guessed_rate
    fps = float(rate) if rate else (len(order) / duration if duration else 0.0)
    return VideoClip(
        frames=np.stack([picked[k] for k in order]),
        timestamps=[round((k - probe.origin) * tb, 6) for k in order],
        duration=round(duration, 6),
        fps=fps,
        source_size=coded_size[::-1] if convert.turns % 2 else coded_size,
        notes=notes,
    )


def _probe_notes(probe: _Probe, tb: float, duration: float) -> list[str]:
    """What the probe found wrong with the file, for the visitor."""
    if probe.truncated:
        return [f"the file is cut off after {duration:.1f} s; frames come from the readable part"]
    if probe.claimed_end is not None and (probe.claimed_end - probe.end) * tb > max(1.0, 0.05 * duration):
        return [
            f"the file's header claims {(probe.claimed_end - probe.origin) * tb:.1f} s but only "
            f"{duration:.1f} s could be read; frames come from the readable part"
        ]
    return []


def _checked_size(stream) -> tuple[int, int]:
    """The coded picture size, refused before decoding when it is over 8K (a GIF's canvas over
    MAX_GIF_PIXELS: every one of its frames is decoded onto the whole canvas)."""
    coded_size = (stream.codec_context.width, stream.codec_context.height)
    if stream.codec_context.name == "gif" and coded_size[0] * coded_size[1] > MAX_GIF_PIXELS:
        raise MediaError(
            f"This GIF's picture is too large ({coded_size[0]}x{coded_size[1]} pixels); please upload a "
            "GIF of at most 2048x2048, or the clip as an MP4."
        )
    if coded_size[0] * coded_size[1] > MAX_VIDEO_PIXELS:
        raise MediaError(
            f"This video's picture is too large ({coded_size[0]}x{coded_size[1]} pixels); "
            "please upload a video of at most 8K (7680x4320)."
        )
    return coded_size


def _frame_near(cursor: _Cursor, probe: _Probe, t: float, nxt: float | None, slack: float, tb: float):
    """The (pts, frame) for target `t`: a keyframe within `slack` when there is one (0: exact times),
    else the frame decoded at `t`; None when the file has none there."""
    got = None
    if probe.keyframes and slack > 0:
        key = _stand_in_keyframe(probe.keyframes, t, nxt, slack)
        if key is not None:
            got = cursor.keyframe(key)
            if got is not None and abs(got[0] - t) > slack:
                got = None
    if got is not None:
        return got
    if cursor.needs_seek(t):
        cursor.seek(t)
    got = cursor.frame_at(t)
    if got is not None and got[0] > t and cursor.cur is None and t > probe.origin + probe.frame_pts:
        cursor.seek(t - max(2 / tb, 4 * probe.frame_pts))  # the seek landed late: step back once
        got = cursor.frame_at(t) or got
    if got is not None and cursor.skipped and got[0] <= t - SKIP_MARGIN_FRAMES * probe.frame_pts:
        allow, cursor.allow_skip = cursor.allow_skip, False  # a dropped frame may be the one at t
        cursor.seek(t)
        got = cursor.frame_at(t) or got
        cursor.allow_skip = allow
    return got


def _picking_notes(
    got: int, asked: int, stopped: bool, has_span: bool, cropped: bool, coded_size: tuple[int, int]
) -> list[str]:
    """What the visitor should know of the frames picked: fewer than asked, or a cropped picture."""
    notes = []
    if stopped:
        notes.append(f"decoding was stopped to bound the work; {got} of {asked} frames returned")
    elif got < asked and has_span:
        notes.append(f"only {got} frame{'s' if got != 1 else ''} in this clip")
    if cropped:
        w, h = coded_size
        shape = "wider than tall" if w > h else "taller than wide"
        notes.append(
            f"its picture is {w}x{h} pixels, far {shape}, so the frames keep its middle part, "
            "which holds everything the model looks at"
        )
    return notes


def _stand_in_keyframe(keyframes: list[int], t: float, t_next: float | None, slack: float) -> int | None:
    """The keyframe to return for target `t` in fast mode, or None to decode `t` exactly.

    A keyframe within `slack` of the target stands in for it, unless it lies before the target
    and the next target would be decoded forward from the same keyframe anyway (then decoding
    on to `t` costs a few frames and keeps the decoder's position).
    """
    i = bisect.bisect_left(keyframes, t)
    best = min(keyframes[max(i - 1, 0) : i + 1], key=lambda k: abs(k - t), default=None)
    if best is None or abs(best - t) > slack:
        return None
    if best > t or t_next is None:
        return best
    j = bisect.bisect_right(keyframes, t_next) - 1
    return best if keyframes[j] > best else None
