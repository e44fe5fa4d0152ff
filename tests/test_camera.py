"""The camera's ring of recent frames: bounded, spread, freed."""

from __future__ import annotations

import numpy as np

from model.camera.frames import CameraStore, FrameRing


def frame(value: int, size=(480, 640)) -> np.ndarray:
    return np.full((*size, 3), value, np.uint8)


def test_the_ring_keeps_only_the_last_seconds_at_a_bounded_rate():
    ring = FrameRing(seconds=8, max_fps=4)
    kept = [ring.add(frame(i % 250), now=100 + i * 0.1) for i in range(200)]  # 10 frames a second for 20 s
    assert sum(kept) == 67  # frames 0.1 s apart, at least 0.25 s between kept ones: every third
    times = [t for t, _ in ring.frames]
    assert times[-1] - times[0] <= 8 and len(ring.frames) <= ring.max_frames == 33
    assert ring.frames[0][1].shape == (336, 448, 3)  # downscaled
    assert ring.nbytes() == len(ring.frames) * 336 * 448 * 3


def test_a_question_gets_frames_spread_over_the_window_with_their_times():
    ring = FrameRing(seconds=8, max_fps=2)
    for second in range(20):
        ring.add(frame(second * 10, (100, 120)), now=second)
    clip = ring.clip(4)
    assert clip.timestamps == [11, 14, 16, 19]  # the last 8 s, spread
    assert [int(f[0, 0, 0]) for f in clip.frames] == [int(t) * 10 for t in clip.timestamps]
    assert FrameRing().clip(4) is None


def test_sessions_are_separate_and_freed():
    store = CameraStore(seconds=2, max_fps=2)
    store.add("tab-a/1", frame(1, (10, 10)), now=0)
    store.add("tab-b/1", frame(2, (10, 10)), now=0)
    assert int(store.clip("tab-a/1", 4).frames[0, 0, 0, 0]) == 1 and store.clip("tab-c/1", 4) is None
    assert store.forget("tab-a/") == 1 and len(store) == 1 and store.nbytes() == 300
