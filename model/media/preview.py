"""A browser-playable preview of a video the browser cannot play (AVI, MKV with HEVC, MPEG-2, ...).

Browsers play H.264, VP8/VP9 and AV1 in MP4 or WebM. Anything else is re-encoded once per file to
a small H.264 MP4 (at most 360 px high, 15 fps, no sound), bounded in length and in time: the
player then shows what the model was given. PyAV's wheels carry libx264.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

log = logging.getLogger(__name__)

PLAYABLE_CODECS = {"mp4": {"h264", "av1", "vp9"}, "webm": {"vp8", "vp9", "av1"}}
MAX_HEIGHT = 360
PREVIEW_FPS = 15
MAX_SECONDS = 20 * 60.0  # of video: a longer one is previewed up to there
MAX_WORK_S = 60.0  # of encoding: past it, the preview ends where the encoder got to


@dataclass(frozen=True)
class Preview:
    """The file the player shows."""

    path: str


def browser_playable(path: str) -> bool:
    """Whether Chromium, Firefox and Safari play the file as it is (container and video codec)."""
    try:
        with av.open(path) as container:
            names = set(container.format.name.split(","))
            streams = container.streams.video
            codec = streams[0].codec_context.name if streams else ""
    except (av.FFmpegError, OSError, IndexError):
        return False
    kind = "mp4" if names & {"mp4", "mov"} else "webm" if "webm" in names else ""
    return codec in PLAYABLE_CODECS.get(kind, set())


def make_preview(path: str, out: Path) -> Preview:
    """Re-encode `path` to an H.264 MP4 at `out` (small, silent, bounded); raises av.FFmpegError."""
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with av.open(path) as source, av.open(str(out), "w", format="mp4", options={"movflags": "+faststart"}) as sink:
        video = source.streams.video[0]
        video.thread_type = "AUTO"
        scale = min(1.0, MAX_HEIGHT / max(1, video.codec_context.height))
        width = max(2, int(video.codec_context.width * scale) // 2 * 2)
        height = max(2, int(video.codec_context.height * scale) // 2 * 2)
        stream = sink.add_stream("libx264", rate=PREVIEW_FPS, options={"preset": "ultrafast", "crf": "28"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        base = video.start_time or 0
        tb = float(video.time_base or 0)
        rate = float(video.average_rate or 25)
        last = -1
        for n, frame in enumerate(source.decode(video)):
            t = (frame.pts - base) * tb if frame.pts is not None and tb else n / rate
            if t > MAX_SECONDS or time.monotonic() - started > MAX_WORK_S:
                break  # bounded: the player shows the first part
            pts = int(max(t, 0.0) * PREVIEW_FPS)
            if pts <= last:
                continue  # at most PREVIEW_FPS frames a second: enough to follow the model's frames
            last = pts
            picture = frame.reformat(width=width, height=height, format="yuv420p")
            picture.pts, picture.time_base = pts, Fraction(1, PREVIEW_FPS)
            for packet in stream.encode(picture):
                sink.mux(packet)
        for packet in stream.encode(None):
            sink.mux(packet)
    return Preview(str(out))
