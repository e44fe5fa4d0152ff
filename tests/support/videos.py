"""Small synthetic test videos written with PyAV.

Every frame carries its own index as a row of black/white cells across the top quarter
(bit 0 on the left), so a test can read back which frame it got with `read_index`.
A block moves across the lower part so encoders produce real P/B frames.
"""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

BITS = 12  # frame indices up to 4095


def frame_image(
    index: int, size: tuple[int, int], color: tuple[int, int, int] = (40, 90, 160), marker: bool = False
) -> np.ndarray:
    """RGB frame (h, w, 3) whose top band encodes `index` in binary and whose block moves with it."""
    w, h = size
    img = np.empty((h, w, 3), np.uint8)
    img[:] = color
    band = max(h // 4, 2)
    for bit in range(BITS):
        x0, x1 = bit * w // BITS, (bit + 1) * w // BITS
        img[:band, x0:x1] = 255 if (index >> bit) & 1 else 0
    bw = max(w // 8, 2)
    x = (index * 7) % max(w - bw, 1)
    img[band + (h - band) // 3 : band + 2 * (h - band) // 3, x : x + bw] = (230, 200, 40)
    if marker:  # red square in the lower-left corner, below the index band
        m = max(min(w, h) // 6, 2)
        img[h - m :, :m] = (255, 0, 0)
    return img


def read_index(img: np.ndarray) -> int:
    """Index encoded by `frame_image` in an RGB image (any size with the same aspect)."""
    h, w = img.shape[:2]
    band = max(h // 4, 2)
    y = band // 2
    value = 0
    for bit in range(BITS):
        x = int((bit + 0.5) * w / BITS)
        if img[y, x].mean() > 128:
            value |= 1 << bit
    return value


def marker_corner(img: np.ndarray) -> str | None:
    """Corner ("top-left", "top-right", "bottom-left", "bottom-right") holding the red marker."""
    h, w = img.shape[:2]
    m = max(min(w, h) // 8, 2)
    corners = {
        "top-left": img[:m, :m],
        "top-right": img[:m, w - m :],
        "bottom-left": img[h - m :, :m],
        "bottom-right": img[h - m :, w - m :],
    }
    for name, patch in corners.items():
        p = patch.astype(int)
        if p[..., 0].mean() > 170 and p[..., 1].mean() < 90 and p[..., 2].mean() < 90:
            return name
    return None


def make_video(
    path: str | Path,
    *,
    seconds: float = 2.0,
    fps: float = 25,
    size: tuple[int, int] = (160, 96),
    codec: str = "libx264",
    gop: int = 250,
    rotate: int | None = None,
    start_pts: int = 0,
    bframes: int = 0,
    color: tuple[int, int, int] = (40, 90, 160),
    times: list[float] | None = None,
    faststart: bool = False,
    marker: bool = False,
    pix_fmt: str | None = None,
) -> Path:
    """Write a test video; frame i shows index i. `times` (seconds) makes a variable frame rate.

    `start_pts` shifts all timestamps (in units of 1/1000 s for VFR/ms time bases, else frames).
    `rotate=90` tags an MP4/MOV the way phones do (display = stored frame turned 90 deg clockwise).
    """
    path = Path(path)
    if times is None:
        n = max(int(round(seconds * fps)), 1)
    else:
        n = len(times)
    w, h = size
    opts = {}
    if codec == "libx264":
        opts = {"preset": "ultrafast", "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes={bframes}"}
    elif codec == "libx265":
        opts = {
            "preset": "ultrafast",
            "x265-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes={bframes}:log-level=error",
        }
    elif codec in ("libvpx", "libvpx-vp9"):
        opts = {"deadline": "realtime", "cpu-used": "8", "g": str(gop)}
    elif codec == "libsvtav1":
        opts = {"preset": "12", "g": str(gop)}
    if faststart:
        container_opts = {"movflags": "faststart"}
    else:
        container_opts = {}
    with av.open(str(path), "w", options=container_opts) as out:
        rate = Fraction(fps).limit_denominator(1001)
        if codec == "gif":
            stream = out.add_stream("gif", rate=rate)
            stream.pix_fmt = "rgb8"
        else:
            stream = out.add_stream(codec, rate=rate, options=opts)
            stream.pix_fmt = pix_fmt or {"mjpeg": "yuvj420p", "libsvtav1": "yuv420p"}.get(codec, "yuv420p")
        stream.width, stream.height = w, h
        if codec in ("mpeg4", "mjpeg"):
            stream.codec_context.gop_size = gop
            if codec == "mpeg4" and bframes:
                stream.codec_context.max_b_frames = bframes
        if times is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(frame_image(i, size, color, marker), format="rgb24")
            if times is not None:
                frame.pts = start_pts + int(round(times[i] * 1000))
                frame.time_base = Fraction(1, 1000)
            else:
                frame.pts = start_pts + i
                frame.time_base = 1 / rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    if rotate:
        tag_rotation(path, rotate)
    return path


def tag_rotation(path: Path, degrees_clockwise: int) -> None:
    """Write a display matrix into the MP4/MOV track header (tkhd), as a phone does."""
    data = bytearray(path.read_bytes())
    at = data.find(b"tkhd")
    assert at > 0, "no tkhd box"
    version = data[at + 4]
    matrix_at = at + 4 + 4 + (32 if version == 1 else 20) + 8 + 8
    one, minus_one, w_one = 0x00010000, 0xFFFF0000, 0x40000000
    if degrees_clockwise % 360 == 90:
        m = (0, one, 0, minus_one, 0, 0, 0, 0, w_one)
    elif degrees_clockwise % 360 == 270:
        m = (0, minus_one, 0, one, 0, 0, 0, 0, w_one)
    elif degrees_clockwise % 360 == 180:
        m = (minus_one, 0, 0, 0, minus_one, 0, 0, 0, w_one)
    else:
        m = (one, 0, 0, 0, one, 0, 0, 0, w_one)
    data[matrix_at : matrix_at + 36] = struct.pack(">9I", *m)
    path.write_bytes(bytes(data))


def inflate_avi_frame_count(path: Path, factor: int = 10) -> Path:
    """Make an AVI's headers (avih, strh) claim `factor` times the frames it holds."""
    data = bytearray(path.read_bytes())
    for tag, off in ((b"avih", 8 + 16), (b"strh", 8 + 32)):
        at = data.find(tag) + off
        (count,) = struct.unpack_from("<I", data, at)
        struct.pack_into("<I", data, at, count * factor)
    path.write_bytes(bytes(data))
    return path


def make_audio_only(path: str | Path, seconds: float = 1.0) -> Path:
    """Write an audio-only MP4 (AAC)."""
    path = Path(path)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=44100)
        samples = int(44100 * seconds)
        pts = 0
        for start in range(0, samples, 1024):
            n = min(1024, samples - start)
            t = (np.arange(start, start + n) / 44100.0).astype(np.float32)
            wave = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
            frame = av.AudioFrame.from_ndarray(wave, format="fltp", layout="mono")
            frame.sample_rate = 44100
            frame.pts = pts
            pts += n
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def decode_all(path: str | Path) -> list[tuple[float, int]]:
    """(time in seconds, encoded index) of every frame in presentation order, by a straight decode."""
    out = []
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        for f in c.decode(s):
            out.append((float(f.pts * s.time_base), read_index(f.to_ndarray(format="rgb24"))))
    out.sort()
    return out
