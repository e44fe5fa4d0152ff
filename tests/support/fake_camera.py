"""A clip for Chromium's fake camera: one solid colour per second, written as y4m (4:2:0)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

PALETTE = [
    (220, 30, 30),
    (30, 200, 30),
    (30, 60, 220),
    (230, 220, 40),
    (200, 40, 200),
    (40, 210, 210),
    (250, 140, 20),
    (240, 240, 240),
    (100, 50, 10),
    (20, 20, 20),
]


def yuv(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """BT.601 studio-range Y, U, V of an RGB colour (what Chromium's fake camera decodes back)."""
    r, g, b = rgb
    values = (
        0.257 * r + 0.504 * g + 0.098 * b + 16,
        -0.148 * r - 0.291 * g + 0.439 * b + 128,
        0.439 * r - 0.368 * g - 0.071 * b + 128,
    )
    return tuple(int(round(min(255.0, max(0.0, v)))) for v in values)


def write_y4m(path: Path, size: tuple[int, int] = (160, 120), fps: int = 5) -> Path:
    """len(PALETTE) seconds, colour i during second i; Chromium loops it. The header says C420, not C420mpeg2."""
    w, h = size
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420\n".encode())
        for colour in PALETTE:
            y, u, v = yuv(colour)
            frame = b"FRAME\n" + bytes([y]) * (w * h) + bytes([u]) * (w * h // 4) + bytes([v]) * (w * h // 4)
            f.write(frame * fps)
    return path


def nearest_colour(rgb: np.ndarray) -> int:
    """Index in PALETTE of the colour closest to `rgb`."""
    distances = [float(np.sum((np.asarray(c, float) - rgb) ** 2)) for c in PALETTE]
    return int(np.argmin(distances))


def colours_fit_times(colours: list[int], times: list[float], slack_s: float = 0.5) -> bool:
    """True when one clock offset explains every frame's colour from its time (colour i = second i of
    the looping clip), allowing `slack_s` between when a frame was shown and when it arrived."""
    n = len(PALETTE)
    for offset in np.arange(0, n, 0.05):
        if all(
            c in {int(np.floor(t + offset + d)) % n for d in (-slack_s, 0.0, slack_s)} for c, t in zip(colours, times)
        ):
            return True
    return False
