"""Live camera frames: per visitor, a bounded ring of the last seconds, turned into a clip on demand.

The browser streams a few small frames a second; each session keeps only the last `seconds` of
them (and never more than `max_frames`), so memory per camera visitor is bounded whatever the
browser sends. A question asked while the camera runs is about that window: `clip` picks frames
spread over it, with their times counted from when the camera started.
"""

from __future__ import annotations

import base64
import binascii
import io
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from model.media.clip import VideoClip, format_duration

WINDOW_S = 8.0
KEPT_FPS = 4.0  # frames kept per second: more than the model needs, few enough to stay small
FRAME_HEIGHT = 336  # pixels; frames are stored at most this high
FRAME_WIDTH = 600  # and at most this wide (16:9 at 336 px high is 597)
STALE_S = 3.0  # a camera that sent nothing for this long has stopped (for questions)
MAX_FRAME_CHARS = 2_000_000  # a frame's data URL (base64 of a JPEG of at most 1.5 MB)
MAX_FRAME_PIXELS = 1920 * 1440  # refused before decoding: the page asks the browser for 448x336
TIME_LIMIT_S = 600.0  # one camera run, wall clock; Record starts another
IDLE_S = 10.0  # a camera run that sends no picture for this long is ended
JOIN_WAIT_S = 30.0  # gradio ends a stream that sends nothing for this long


JPEG_URL = "data:image/jpeg;base64,"


class FrameError(ValueError):
    """A camera frame that cannot be read; the text says so in one sentence."""


@dataclass
class FrameRing:
    """The last `seconds` of one camera: frames (RGB uint8) with their times in seconds."""

    seconds: float = WINDOW_S
    max_fps: float = KEPT_FPS
    started_at: float | None = None
    frames: deque = field(default_factory=deque)  # (time s since start, frame)

    @property
    def max_frames(self) -> int:
        return max(1, int(self.seconds * self.max_fps) + 1)

    @property
    def last_at(self) -> float | None:
        """When the newest frame came (time.monotonic() clock), None before any."""
        return self.started_at + self.frames[-1][0] if self.frames and self.started_at is not None else None

    def add(self, frame: np.ndarray, now: float | None = None) -> bool:
        """Keep a frame (downscaled) unless one came less than 1/max_fps ago; drop what is too old."""
        now = time.monotonic() if now is None else now
        if self.started_at is None:
            self.started_at = now
        t = now - self.started_at
        if self.frames and t - self.frames[-1][0] < 1.0 / self.max_fps - 1e-6:
            return False
        self.frames.append((t, downscale(frame)))
        while self.frames and (t - self.frames[0][0] > self.seconds or len(self.frames) > self.max_frames):
            self.frames.popleft()
        return True

    def clip(self, count: int) -> VideoClip | None:
        """Up to `count` frames spread over the window, oldest first; None before any frame came."""
        if not self.frames:
            return None
        kept = list(self.frames)
        picks = sorted({round(i) for i in np.linspace(0, len(kept) - 1, min(count, len(kept)))})
        frames = (
            np.stack([kept[i][1] for i in picks])
            if _same_size(kept, picks)
            else np.stack([_resize(kept[i][1], kept[picks[-1]][1].shape[:2]) for i in picks])
        )
        times = [kept[i][0] for i in picks]
        span = max(times[-1] - times[0], 1e-3)
        return VideoClip(
            frames=frames,
            timestamps=times,
            duration=times[-1],
            fps=len(times) / span,
            source_size=(frames.shape[2], frames.shape[1]),
        )

    def nbytes(self) -> int:
        return sum(frame.nbytes for _, frame in self.frames)


def downscale(frame: np.ndarray, height: int = FRAME_HEIGHT, width: int = FRAME_WIDTH) -> np.ndarray:
    """RGB uint8, at most `height` pixels high and `width` wide (aspect kept)."""
    frame = np.asarray(frame)
    if frame.ndim == 2:
        frame = np.repeat(frame[..., None], 3, axis=2)
    frame = frame[..., :3].astype(np.uint8, copy=False)
    scale = min(height / frame.shape[0], width / frame.shape[1])
    if scale >= 1:
        return np.ascontiguousarray(frame)
    return _resize(frame, (max(1, round(frame.shape[0] * scale)), max(1, round(frame.shape[1] * scale))))


def frame_bytes_bound(seconds: float = WINDOW_S, max_fps: float = KEPT_FPS) -> int:
    """The most one ring can hold, whatever a browser sends: max_frames frames of the largest size."""
    return FrameRing(seconds, max_fps).max_frames * FRAME_HEIGHT * FRAME_WIDTH * 3


def decode_frame(url: object) -> np.ndarray:
    """A browser's frame (a `data:image/jpeg;base64,` URL, as gradio's webcam streams them) as RGB
    uint8, decoded at a reduced scale and downscaled; FrameError for anything else or too large."""
    if not isinstance(url, str) or not url.startswith("data:image/"):
        raise FrameError("The camera sent something that is not an image.")
    if not url.startswith(JPEG_URL):
        raise FrameError("The camera sent a picture that is not a JPEG.")
    if len(url) > MAX_FRAME_CHARS:
        raise FrameError("The camera sent a frame that is too large.")
    try:
        data = base64.b64decode(url[len(JPEG_URL) :], validate=True)
        if not data.startswith(b"\xff\xd8\xff"):
            raise FrameError("The camera sent a picture that is not a JPEG.")
        image = Image.open(io.BytesIO(data), formats=["JPEG"])
        if image.width * image.height > MAX_FRAME_PIXELS:
            raise FrameError("The camera sent a frame that is too large.")
        image.draft("RGB", (FRAME_WIDTH, FRAME_HEIGHT))  # JPEG: decode at a reduced scale, much faster
        return downscale(np.asarray(image.convert("RGB")))
    except FrameError:
        raise
    except (OSError, ValueError, binascii.Error, Image.DecompressionBombError):
        raise FrameError("The camera sent a frame that could not be read.") from None


def _resize(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if frame.shape[:2] == tuple(size):
        return frame
    return np.asarray(Image.fromarray(frame).resize((size[1], size[0]), Image.Resampling.BILINEAR))


def _same_size(kept: list, picks: list[int]) -> bool:
    return len({kept[i][1].shape for i in picks}) == 1


@dataclass(frozen=True)
class CameraLimits:
    """How long one camera may run, and how long it may be silent."""

    time_limit_s: float = TIME_LIMIT_S
    idle_s: float = IDLE_S


class CameraStore:
    """Every session's ring, created on its first frame and freed when its camera stops or tab closes."""

    def __init__(
        self, seconds: float = WINDOW_S, max_fps: float = KEPT_FPS, limits: CameraLimits = CameraLimits()
    ) -> None:
        self.seconds, self.max_fps, self.limits = seconds, max_fps, limits
        self._rings: dict[str, FrameRing] = {}
        self._claims: dict[str, float] = {}  # sessions whose camera joined, and when
        self._lock = threading.Lock()

    def admit(self, session: str, now: float | None = None) -> bool:
        """Whether a frame from `session` is worth decoding (False: it comes sooner after the last
        than the ring keeps frames). Raises FrameError, freeing the ring, when the camera must end:
        its time is up, or it sent nothing for too long."""
        now = time.monotonic() if now is None else now
        limits = self.limits
        with self._lock:
            ring = self._rings.get(session)
            if ring is not None and ring.last_at is not None:
                if now - ring.last_at > limits.idle_s:
                    del self._rings[session]
                    raise FrameError(f"The camera sent no picture for {limits.idle_s:g} s.")
                if now - ring.started_at > limits.time_limit_s:
                    del self._rings[session]
                    raise FrameError(f"The camera ran for its {format_duration(limits.time_limit_s)}.")
                return now - ring.last_at >= 1.0 / self.max_fps - 1e-6
            return True

    def add(self, session: str, frame: np.ndarray, now: float | None = None) -> bool:
        with self._lock:
            ring = self._rings.setdefault(session, FrameRing(self.seconds, self.max_fps))
            return ring.add(frame, now)

    def clip(self, session: str, count: int) -> VideoClip | None:
        with self._lock:
            ring = self._rings.get(session)
            return ring.clip(count) if ring is not None else None

    def live_clip(
        self, session: str, count: int, now: float | None = None, stale_s: float = STALE_S
    ) -> VideoClip | None:
        """The clip of a running camera; None when none runs (a camera silent for `stale_s` is freed)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            ring = self._rings.get(session)
            if ring is None or ring.last_at is None:
                return None
            if now - ring.last_at > stale_s:
                del self._rings[session]
                return None
            return ring.clip(count)

    def claim(self, session: str, now: float | None = None) -> bool:
        """Note a camera join of `session`; False when its camera already runs (one a visitor): it
        sent a picture within the idle limit, or joined lately and has not stopped."""
        now = time.monotonic() if now is None else now
        with self._lock:
            ring = self._rings.get(session)
            if ring is not None and ring.last_at is not None and now - ring.last_at <= self.limits.idle_s:
                return False
            since = self._claims.get(session)
            if since is not None and now - since <= self.limits.idle_s + JOIN_WAIT_S:
                return False
            self._claims[session] = now
            return True

    def __contains__(self, session: str) -> bool:
        with self._lock:
            return session in self._rings

    def forget(self, prefix: str) -> int:
        """Free the rings of every session starting with `prefix`; returns how many."""
        with self._lock:
            gone = [key for key in self._rings if prefix and key.startswith(prefix)]
            for key in gone:
                del self._rings[key]
            for key in [key for key in self._claims if prefix and key.startswith(prefix)]:
                del self._claims[key]
        return len(gone)

    def nbytes(self) -> int:
        with self._lock:
            return sum(ring.nbytes() for ring in self._rings.values())

    def __len__(self) -> int:
        return len(self._rings)
