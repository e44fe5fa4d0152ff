"""Tests of model/media/decode.py against small videos and images generated here."""

from __future__ import annotations

import os
import pickle
import re
import struct
import time
import zlib

import av
import numpy as np
import pytest
from PIL import Image

from model.media import decode as media
from model.media import images
from model.media.clip import VideoClip, format_timestamp
from model.media.decode import media_kind, sample_video
from model.media.files import MediaError
from model.media.formats import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from model.media.images import load_image
from tests.support.videos import (
    decode_all,
    inflate_avi_frame_count,
    make_audio_only,
    make_video,
    marker_corner,
    read_index,
)


def has_encoder(name: str) -> bool:
    return name in av.codecs_available


def targets(duration: float, n: int, start: float = 0.0, end: float | None = None) -> list[float]:
    """Centres of n equal slices of [start, end], the documented sampling scheme."""
    end = duration if end is None else end
    step = (end - start) / n
    return [start + (i + 0.5) * step for i in range(n)]


def shown_at(reference: list[tuple[float, int]], t: float) -> tuple[float, int]:
    """(time, index) of the frame a player shows at t."""
    before = [r for r in reference if r[0] <= t + 1e-6]
    return before[-1] if before else reference[0]


def assert_one_sentence(err: MediaError) -> None:
    msg = str(err)
    assert msg and msg[0].isupper() and msg.endswith("."), msg
    assert "\n" not in msg and "Errno" not in msg and "Traceback" not in msg, msg
    assert not re.search(r"[.!?] [A-Z]", msg), msg  # one sentence


def check_exact(path, n: int, *, start=0.0, end=None, rel_origin: float = 0.0, **kw) -> VideoClip:
    """Sample exactly and compare every frame with a straight decode of the whole file."""
    ref = decode_all(path)
    origin = ref[0][0] if rel_origin is None else rel_origin
    rel = [(t - origin, i) for t, i in ref]
    clip = sample_video(path, n, start=start, end=end, exact=True, **kw)
    want = sorted({shown_at(rel, t) for t in targets(clip.duration, n, start or 0.0, end)})
    assert [round(t, 3) for t, _ in want] == [round(t, 3) for t in clip.timestamps]
    got_idx = [read_index(f if clip.frames.shape[2] >= clip.frames.shape[1] else np.rot90(f, 1)) for f in clip.frames]
    assert got_idx == [i for _, i in want]
    assert clip.frames.dtype == np.uint8 and clip.frames.ndim == 4 and clip.frames.shape[3] == 3
    return clip


# ---------------------------------------------------------------------------------------------
# Fixtures: each video is written once per session


@pytest.fixture(scope="session")
def vdir(tmp_path_factory):
    return tmp_path_factory.mktemp("videos")


@pytest.fixture(scope="session")
def h264(vdir):
    return make_video(vdir / "h264.mp4", seconds=4, fps=25, gop=25, bframes=2)


@pytest.fixture(scope="session")
def bframes(vdir):
    return make_video(vdir / "bframes.mp4", seconds=4, fps=30, gop=60, bframes=3)


@pytest.fixture(scope="session")
def mkv(vdir):
    return make_video(vdir / "clip.mkv", seconds=4, fps=25, gop=30, bframes=2)


# ---------------------------------------------------------------------------------------------
# Sampling correctness


def test_exact_matches_straight_decode(h264):
    clip = check_exact(h264, 8, size=None)
    assert clip.duration == pytest.approx(4.0, abs=0.05)
    assert clip.fps == pytest.approx(25)
    assert clip.source_size == (160, 96)
    assert clip.frames.shape == (8, 96, 160, 3)
    assert clip.timestamps[0] < 0.5
    # pixels equal a straight full-size decode of the same frame
    with av.open(str(h264)) as c:
        s = c.streams.video[0]
        ref = {round(float(f.pts * s.time_base), 3): f.to_ndarray(format="rgb24") for f in c.decode(s)}
    for ts, frame in zip(clip.timestamps, clip.frames):
        diff = np.abs(ref[round(ts, 3)].astype(int) - frame.astype(int)).mean()
        assert diff < 4, diff


def test_default_mode_near_targets(vdir):
    path = make_video(vdir / "longgop.mp4", seconds=8, fps=25, gop=50, bframes=2)
    ref = decode_all(path)
    clip = sample_video(path, 4)
    step = clip.duration / 4
    for ts, frame, t in zip(clip.timestamps, clip.frames, targets(clip.duration, 4)):
        assert abs(ts - t) <= step / 4 + 0.04
        assert read_index(frame) == shown_at(ref, ts)[1]  # the frame really is the one at ts
    assert len(clip.timestamps) == 4


def test_default_mode_mixes_keyframes_and_exact_frames(vdir):
    # keyframes every 2.4 s; targets 1, 3, 5, 7, 9, 11 s with a slack of 0.5 s: only 7 s may take
    # the keyframe at 7.2 s, the others (including 9 s, right after that drained decode) are exact
    path = make_video(vdir / "mixed.mp4", seconds=12, fps=25, gop=60, bframes=3)
    ref = decode_all(path)
    clip = sample_video(path, 6)
    want = [shown_at(ref, t) for t in targets(12.0, 6)]
    want[3] = (7.2, 180)
    assert [round(t, 3) for t in clip.timestamps] == [round(t, 3) for t, _ in want]
    assert [read_index(f) for f in clip.frames] == [i for _, i in want]


def test_bframes_and_window(bframes):
    check_exact(bframes, 6, start=1.0, end=3.5)
    clip = sample_video(bframes, 6, start=1.0, end=3.5)
    assert all(0.9 <= t <= 3.5 for t in clip.timestamps)


def test_mkv_without_frame_count(mkv):
    with av.open(str(mkv)) as c:
        assert c.streams.video[0].frames == 0  # the header says nothing
    clip = check_exact(mkv, 16)
    assert clip.duration == pytest.approx(4.0, abs=0.05)
    assert len(clip.frames) == 16


def test_lying_avi_header(vdir):
    path = inflate_avi_frame_count(make_video(vdir / "liar.avi", seconds=3, fps=25, gop=12, codec="mpeg4"))
    with av.open(str(path)) as c:
        assert c.streams.video[0].frames >= 700
    clip = sample_video(path, 8, size=64)
    assert clip.duration == pytest.approx(3.0, abs=0.1)
    assert len(clip.frames) == 8
    ref = decode_all(path)
    assert [read_index(f) for f in clip.frames] == [shown_at(ref, t)[1] for t in clip.timestamps]


@pytest.mark.parametrize("bf", [0, 3])
def test_variable_frame_rate(vdir, bf):
    times = (
        [i * 0.04 for i in range(25)] + [1.0 + i * 0.2 for i in range(1, 11)] + [3.0 + i * 0.04 for i in range(1, 25)]
    )
    path = make_video(vdir / f"vfr{bf}.mp4", times=times, gop=20, bframes=bf)
    clip = check_exact(path, 10)
    check_exact(path, 23)
    # the slow middle section is sampled by time, not by frame index
    assert any(1.0 < t < 3.0 for t in clip.timestamps)


@pytest.mark.parametrize("name", ["offset.mp4", "offset.mkv"])
def test_nonzero_start_time(vdir, name):
    path = make_video(vdir / name, seconds=2, fps=25, gop=25, start_pts=50)
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        first = next(c.decode(s))
        offset = float(first.pts * s.time_base)
    assert offset > 0.5  # the stream really starts late
    clip = check_exact(path, 5, rel_origin=offset)
    assert clip.timestamps[0] < 0.5
    assert clip.duration == pytest.approx(2.0, abs=0.1)


def test_rotated_phone_video(vdir):
    path = make_video(vdir / "rotated.mp4", seconds=1, fps=25, size=(160, 96), rotate=90, marker=True)
    clip = sample_video(path, 4, size=48)
    assert clip.source_size == (96, 160)
    assert clip.frames.shape == (4, 80, 48, 3)  # portrait, shortest edge 48
    # stored lower-left corner is the displayed top-left after a clockwise turn
    assert all(marker_corner(f) == "top-left" for f in clip.frames)
    assert [read_index(np.rot90(f, 1)) for f in clip.frames] == [
        shown_at(decode_all(path), t)[1] for t in clip.timestamps
    ]


@pytest.mark.parametrize("size", [(161, 97), (97, 161)])
def test_odd_sizes_keep_aspect(vdir, size):
    path = make_video(vdir / f"odd{size[0]}.mkv", seconds=1, fps=10, size=size, codec="mpeg4", gop=5)
    clip = sample_video(path, 3, size=48)
    h, w = clip.frames.shape[1:3]
    assert min(h, w) == 48
    assert max(h, w) == int(161 * 48 / 97)  # the processor's own rounding (transformers truncates)
    assert clip.source_size == size
    clip = sample_video(path, 3, size=None)
    assert clip.frames.shape[1:3] == (size[1], size[0])


CODECS = [
    ("hevc.mp4", "libx265"),
    ("vp8.webm", "libvpx"),
    ("vp9.webm", "libvpx-vp9"),
    ("av1.webm", "libsvtav1"),
    ("av1.mp4", "libsvtav1"),
    ("mpeg4.avi", "mpeg4"),
    ("mjpeg.avi", "mjpeg"),
    ("h264.mov", "libx264"),
]


@pytest.mark.parametrize("name,codec", CODECS)
def test_codecs_and_containers(vdir, name, codec):
    if not has_encoder(codec):
        pytest.skip(f"{codec} encoder missing")
    path = make_video(vdir / name, seconds=2, fps=15, codec=codec, gop=15)
    check_exact(path, 6, rel_origin=None)
    clip = sample_video(path, 6, size=64)
    assert len(clip.frames) == 6 and clip.frames.shape[1] == 64
    assert media_kind(path) == "video"


def test_avi_packed_bframes_order(vdir):
    path = make_video(vdir / "bf.avi", seconds=2, fps=25, codec="mpeg4", gop=12, bframes=2)
    check_exact(path, 10, rel_origin=0.0)


def test_animated_gif(vdir):
    path = make_video(vdir / "anim.gif", seconds=1, fps=10, codec="gif")
    assert media_kind(path) == "video"
    clip = check_exact(path, 5)
    assert clip.duration == pytest.approx(1.0, abs=0.11)
    assert sample_video(path, 5).timestamps == clip.timestamps


def test_fewer_frames_than_asked(vdir):
    path = make_video(vdir / "five.mp4", seconds=0.2, fps=25, gop=25)
    clip = sample_video(path, 8)
    assert len(clip.frames) == 5
    assert len(set(clip.timestamps)) == 5
    assert [read_index(f) for f in clip.frames] == [0, 1, 2, 3, 4]
    assert any("only 5 frames" in n for n in clip.notes)


def test_zero_length_window(h264):
    clip = sample_video(h264, 8, start=1.5, end=1.5, exact=True)
    assert len(clip.frames) == 1
    t, index = shown_at(decode_all(h264), 1.5)
    assert clip.timestamps == [pytest.approx(t)] and read_index(clip.frames[0]) == index
    assert len(sample_video(h264, 8, start=1.5, end=1.5).frames) == 1


@pytest.mark.parametrize("start,end", [(5.0, None), (3.0, 1.0), (-1.0, 2.0), (4.5, 6.0)])
def test_window_outside_video(h264, start, end):
    from model.media.frame_times import RangeError

    with pytest.raises(RangeError) as e:  # the range is wrong, not the file
        sample_video(h264, 4, start=start, end=end)
    assert_one_sentence(e.value)


def test_an_end_past_the_video_ends_with_it(h264):
    clip = sample_video(h264, 4, start=1.0, end=9.0)
    assert len(clip.timestamps) == 4 and clip.timestamps[0] >= 1.0 and clip.timestamps[-1] <= clip.duration
    assert any("so the clip ends there" in note for note in clip.notes)


def test_picklable(h264):
    clip = sample_video(h264, 3, size=32)
    back = pickle.loads(pickle.dumps(clip))
    assert np.array_equal(back.frames, clip.frames) and back.timestamps == clip.timestamps
    assert back.notes == clip.notes and back.source_size == clip.source_size


# ---------------------------------------------------------------------------------------------
# Bad files


@pytest.fixture(scope="session")
def bad_files(vdir):
    rng = np.random.default_rng(0)
    files = {}
    (vdir / "empty.mp4").write_bytes(b"")
    files["empty"] = vdir / "empty.mp4"
    (vdir / "random.mp4").write_bytes(rng.integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    files["random"] = vdir / "random.mp4"
    (vdir / "text.mp4").write_text("<html><body>Not found</body></html>\n" * 50)
    files["text"] = vdir / "text.mp4"
    files["audio"] = make_audio_only(vdir / "audio.mp4")
    return files


@pytest.mark.parametrize("kind", ["empty", "random", "text", "audio"])
def test_bad_files_raise_media_error(bad_files, kind):
    for call in (lambda p: sample_video(p, 4), media_kind):
        with pytest.raises(MediaError) as e:
            call(bad_files[kind])
        assert_one_sentence(e.value)
    if kind == "audio":
        assert "no video track" in str(e.value)


def test_missing_file(vdir):
    with pytest.raises(MediaError) as e:
        sample_video(vdir / "nope.mp4", 4)
    assert_one_sentence(e.value)


def test_truncated_faststart_mp4(vdir):
    full = make_video(vdir / "fs_full.mp4", seconds=6, fps=25, size=(192, 112), gop=25, faststart=True)
    cut = vdir / "fs_cut.mp4"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    t0 = time.monotonic()
    clip = sample_video(cut, 8, exact=True)
    assert time.monotonic() - t0 < 10
    assert any("cut off" in n for n in clip.notes), clip.notes
    assert 1.0 < clip.duration < 5.0
    assert len(clip.frames) == 8
    ref = decode_all(full)
    assert [read_index(f) for f in clip.frames] == [shown_at(ref, t)[1] for t in clip.timestamps]


def test_truncated_regular_mp4(vdir):
    full = make_video(vdir / "reg_full.mp4", seconds=4, fps=25, gop=25)
    cut = vdir / "reg_cut.mp4"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError) as e:
        sample_video(cut, 8)
    assert_one_sentence(e.value)
    assert "incomplete" in str(e.value)


@pytest.mark.parametrize("name", ["corrupt.mp4", "corrupt.mkv", "corrupt.webm"])
def test_corrupt_in_the_middle(vdir, name):
    codec = "libvpx" if name.endswith("webm") else "libx264"
    path = make_video(vdir / name, seconds=6, fps=25, size=(192, 112), gop=25, codec=codec)
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 4000] = np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    for exact in (False, True):
        t0 = time.monotonic()
        try:
            clip = sample_video(path, 8, exact=exact)
        except MediaError as e:
            assert_one_sentence(e)
        else:
            assert 1 <= len(clip.frames) <= 8
            assert clip.frames.shape[1] == 336 and clip.frames.shape[2] == 576
        assert time.monotonic() - t0 < 10


def test_truncated_mkv_reads_the_readable_part(mkv, vdir):
    cut = vdir / "cut.mkv"
    data = mkv.read_bytes()
    cut.write_bytes(data[: len(data) * 6 // 10])
    clip = sample_video(cut, 8)
    assert 1.0 < clip.duration < 3.5
    assert len(clip.frames) >= 4


def test_work_is_bounded(h264, monkeypatch):
    monkeypatch.setattr(media, "MAX_DECODED_FRAMES", 40)
    clip = sample_video(h264, 8, exact=True)
    assert 1 <= len(clip.frames) < 8
    assert any("stopped" in n for n in clip.notes)
    monkeypatch.setattr(media, "MAX_DECODED_FRAMES", 0)
    with pytest.raises(MediaError):
        sample_video(h264, 8, exact=True)


def test_memory_holds_only_output_and_window(vdir, monkeypatch):
    path = make_video(vdir / "long.mp4", seconds=40, fps=25, size=(320, 192), gop=250, bframes=3)
    peak = {"held": 0, "decoded": 0}
    feed = media._Cursor._feed

    def watched(self):
        feed(self)
        held = len(self.heap) + (self.cur is not None) + (self.peek is not None)
        peak["held"] = max(peak["held"], held)
        peak["decoded"] = media.MAX_DECODED_FRAMES - self.bounds.frames_left

    monkeypatch.setattr(media._Cursor, "_feed", watched)
    clip = sample_video(path, 16, size=64, exact=True)
    assert len(clip.frames) == 16
    assert clip.frames.nbytes == 16 * 64 * int(320 * 64 / 192) * 3
    assert peak["held"] <= media.REORDER_WINDOW + 8  # a small reorder window, never the whole video
    assert peak["decoded"] > 300  # the check above did see a long decode
    fast = sample_video(path, 8, size=64)
    assert len(fast.frames) == 8


# ---------------------------------------------------------------------------------------------
# The model's pixels: as the processor makes them from full-size frames, and bounded


def hub_video_processor():
    """LLaVA-NeXT-Video-7B-hf's video processor (its sizes, mean/std and bicubic; built offline)."""
    from transformers import LlavaNextVideoVideoProcessor

    return LlavaNextVideoVideoProcessor(size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336})


@pytest.mark.parametrize(
    "size,rotate,exact",
    [((1280, 720), None, False), ((1280, 720), None, True), ((722, 406), 90, False), ((340, 600), None, True)],
)
def test_the_model_sees_the_pixels_of_full_size_frames(vdir, size, rotate, exact):
    """The processor given our frames gives the pixel values it gives for the full-size frames of
    the same instants (the model card's recipe hands it full-size frames)."""
    suffix = "mov" if rotate else "mp4"
    path = make_video(
        vdir / f"parity{size[0]}x{size[1]}.{suffix}", seconds=3, fps=25, size=size, gop=25, bframes=2, rotate=rotate
    )
    ours, full = sample_video(path, 8, exact=exact), sample_video(path, 8, exact=exact, size=None)
    assert ours.timestamps == full.timestamps and min(ours.frames.shape[1:3]) == 336
    processor = hub_video_processor()
    mine = processor(videos=[ours.frames], return_tensors="pt")["pixel_values_videos"]
    recipe = processor(videos=[full.frames], return_tensors="pt")["pixel_values_videos"]
    assert mine.shape == recipe.shape == (1, 8, 3, 336, 336)
    assert float((mine - recipe).abs().mean()) < 0.005


def test_a_needle_thin_video_is_bounded_by_pixels(vdir):
    """A 16x16000 picture scaled by its short edge to 336 became 336x336000 (323 MiB a frame)."""
    path = make_video(vdir / "needle.avi", seconds=1, fps=8, size=(16, 16000), codec="mjpeg", gop=1)
    clip = sample_video(path, 8)
    assert clip.frames.shape[1:] == (336 * media.MAX_ASPECT, 336, 3) and clip.frames.nbytes < 16 << 20
    assert any("taller than wide" in note for note in clip.notes), clip.notes
    assert clip.source_size == (16, 16000)


def test_a_picture_over_8k_is_refused_before_decoding(vdir):
    path = make_video(vdir / "huge.avi", seconds=0.2, fps=5, size=(9000, 6000), codec="mjpeg", gop=1)
    with pytest.raises(MediaError, match=r"too large \(9000x6000 pixels\)"):
        sample_video(path, 1)


# ---------------------------------------------------------------------------------------------
# Images


def write_png_size(path, width: int, height: int) -> None:
    """A tiny PNG whose header claims width x height (with a valid CRC)."""
    Image.new("L", (8, 8)).save(path)
    data = bytearray(path.read_bytes())
    struct.pack_into(">II", data, 16, width, height)
    struct.pack_into(">I", data, 29, zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    path.write_bytes(bytes(data))


def test_load_image_exif_rotation(tmp_path):
    img = Image.new("RGB", (60, 30), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 10, 10))  # red in the stored top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # display = stored rotated 90 degrees clockwise
    img.save(tmp_path / "rot.jpg", exif=exif.tobytes(), quality=95)
    out = load_image(tmp_path / "rot.jpg")
    assert out.mode == "RGB" and out.size == (30, 60)
    assert marker_corner(np.asarray(out)) == "top-right"
    assert media_kind(tmp_path / "rot.jpg") == "image"


@pytest.mark.parametrize(
    "size,kept",
    [
        ((8000, 5000), (1075, 672)),
        ((1200, 900), (1008, 756)),
        ((1000, 600), (1000, 600)),
        ((20000, 1000), (2688, 672)),  # its middle 4:1 part
        ((30000, 10), (40, 10)),
        ((1, 32768), (1, 4)),
    ],
)
def test_an_image_is_kept_at_the_size_the_model_needs(tmp_path, size, kept):
    """Before, four 40-megapixel PNGs held +886 MB for an hour: a loaded image is now at most what
    the processor uses (its tiling choice unchanged) and never over 4 megapixels. Past 4:1 only the
    middle part is kept (the processor's tiling takes the middle anyway)."""
    Image.new("RGB", size, (20, 120, 200)).save(tmp_path / "big.png")
    out = load_image(tmp_path / "big.png")
    assert out.size == kept and out.width * out.height <= images.MAX_KEPT_IMAGE_PIXELS


def test_an_image_longer_than_32768_pixels_is_refused_before_decoding(tmp_path):
    """Before: a 76 KB PNG of 1 x 39,000,000 pixels (under the 40-megapixel guard) took 9.5 s and
    2.8 GB to decode and was kept at 1 x 12,489,996."""
    Image.new("L", (1, 2_000_000), 0).save(tmp_path / "needle.png", optimize=True)
    began = time.monotonic()
    with pytest.raises(MediaError, match="too long and thin to read"):
        load_image(tmp_path / "needle.png")
    assert time.monotonic() - began < 1


def test_load_image_modes(tmp_path):
    pal = Image.new("P", (10, 10), 3)
    pal.putpalette([0, 0, 0, 10, 10, 10, 20, 20, 20, 200, 100, 50] + [0] * 756)
    pal.save(tmp_path / "pal.png")
    assert load_image(tmp_path / "pal.png").getpixel((0, 0)) == (200, 100, 50)

    rgba = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    rgba.save(tmp_path / "rgba.png")
    assert load_image(tmp_path / "rgba.png").getpixel((0, 0)) == (255, 255, 255)

    arr = np.array([[0, 32896, 65535]], dtype=np.uint16)
    Image.fromarray(arr).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    got = load_image(tmp_path / "g16.png")
    assert [got.getpixel((x, 0)) for x in range(3)] == [(0, 0, 0), (128, 128, 128), (255, 255, 255)]

    Image.new("L", (5, 5), 77).save(tmp_path / "gray.png")
    assert load_image(tmp_path / "gray.png").getpixel((2, 2)) == (77, 77, 77)

    Image.new("LA", (5, 5), (0, 0)).save(tmp_path / "la.png")
    assert load_image(tmp_path / "la.png").getpixel((2, 2)) == (255, 255, 255)

    Image.new("RGB", (4, 4), (1, 2, 3)).save(tmp_path / "x.webp", lossless=True)
    assert load_image(tmp_path / "x.webp").getpixel((0, 0)) == (1, 2, 3)


def test_load_image_bomb_and_fakes(tmp_path):
    write_png_size(tmp_path / "bomb.png", 20000, 20000)
    t0 = time.monotonic()
    with pytest.raises(MediaError) as e:
        load_image(tmp_path / "bomb.png")
    assert time.monotonic() - t0 < 1
    assert_one_sentence(e.value)
    assert "megapixels" in str(e.value)

    (tmp_path / "page.png").write_text("<!DOCTYPE html><html><body>404</body></html>")
    for p in (tmp_path / "page.png",):
        with pytest.raises(MediaError) as e:
            load_image(p)
        assert_one_sentence(e.value)
        with pytest.raises(MediaError):
            media_kind(p)
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(MediaError):
        load_image(tmp_path / "empty.png")
    good = tmp_path / "good.png"
    Image.new("RGB", (64, 64), (9, 9, 9)).save(good)
    (tmp_path / "trunc.png").write_bytes(good.read_bytes()[:40])
    with pytest.raises(MediaError) as e:
        load_image(tmp_path / "trunc.png")
    assert_one_sentence(e.value)


def test_load_image_pil_bomb_check_becomes_media_error(tmp_path, monkeypatch):
    Image.new("RGB", (100, 100)).save(tmp_path / "small.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(MediaError):
        load_image(tmp_path / "small.png")


def test_media_kind(tmp_path, h264):
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    Image.new("RGB", (8, 8)).save(tmp_path / "a.jpg")
    Image.new("RGB", (8, 8)).save(tmp_path / "a.bmp")
    Image.new("RGB", (8, 8)).save(tmp_path / "a.tiff")
    Image.new("RGB", (8, 8)).save(tmp_path / "still.gif")
    for name in ("a.png", "a.jpg", "a.bmp", "a.tiff", "still.gif"):
        assert media_kind(tmp_path / name) == "image", name
    os.link(tmp_path / "a.png", tmp_path / "misnamed.mp4")
    assert media_kind(tmp_path / "misnamed.mp4") == "image"  # content decides, not the name
    assert media_kind(h264) == "video"
    with pytest.raises(MediaError) as e:
        sample_video(tmp_path / "a.png", 4)
    assert "image" in str(e.value)
    assert all(x.startswith(".") and x == x.lower() for x in VIDEO_EXTENSIONS + IMAGE_EXTENSIONS)
    assert ".mp4" in VIDEO_EXTENSIONS and ".gif" in VIDEO_EXTENSIONS and ".png" in IMAGE_EXTENSIONS


def test_format_timestamp():
    assert format_timestamp(83.25) == "01:23.2"
    assert format_timestamp(0) == "00:00.0"
    assert format_timestamp(59.99) == "00:59.9"
    assert format_timestamp(3723.5) == "1:02:03.5"
    assert format_timestamp(0.3) == "00:00.3"


def test_media_module_stays_light():
    import subprocess
    import sys

    code = "import sys, model.media.decode; print(any(m in sys.modules for m in ('torch', 'gradio', 'cv2')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("name,codec", [("trunc.avi", "mpeg4"), ("trunc.webm", "libvpx"), ("trunc.gif", "gif")])
def test_truncated_anywhere_never_crashes(vdir, name, codec):
    # regression: a cut AVI once made the decoder reopen the file and touch the closed container
    path = make_video(vdir / name, seconds=2, fps=12, codec=codec, gop=6, bframes=2 if codec == "mpeg4" else 0)
    data = path.read_bytes()
    for fraction in (0.05, 0.3, 0.55, 0.8, 0.97):
        cut = vdir / f"cut{int(fraction * 100)}{name}"
        cut.write_bytes(data[: int(len(data) * fraction)])
        for exact in (False, True):
            try:
                clip = sample_video(cut, 8, exact=exact)
            except MediaError as e:
                assert_one_sentence(e)
            else:
                assert len(clip.frames) == len(clip.timestamps) >= 1


def test_one_frame_every_n_seconds_with_a_cap(media_dir):
    from tests.support.videos import make_video

    path = make_video(media_dir / "ten_seconds.mp4", seconds=10.0, fps=10, size=(64, 48))
    clip = sample_video(str(path), 32, every_s=2.0, size=32)
    assert len(clip.timestamps) == 5 and clip.timestamps[0] == pytest.approx(1.0, abs=0.1)
    assert len(sample_video(str(path), 3, every_s=0.5, size=32).timestamps) == 3  # the cap wins
    assert len(sample_video(str(path), 32, every_s=1.0, start=2, end=5, size=32).timestamps) == 3
    assert len(sample_video(str(path), 32, every_s=60, size=32).timestamps) == 1
    with pytest.raises(MediaError, match="more than 0 seconds"):
        sample_video(str(path), 4, every_s=0)


def test_times_written_into_the_frames(h264):
    from model.media.stamp import stamp_times

    clip = sample_video(h264, 3, size=96)
    stamped = stamp_times(clip)
    corner = (slice(-12, None), slice(0, 40))
    assert stamped.frames.shape == clip.frames.shape and stamped.timestamps == clip.timestamps
    assert (stamped.frames[0][corner] != clip.frames[0][corner]).any()  # the time is drawn there
    assert (stamped.frames[0][:40] == clip.frames[0][:40]).all()  # the rest is untouched
    assert not (stamped.frames[0][corner] == stamped.frames[2][corner]).all()  # each frame its own time


def test_frame_times_are_a_pure_choice_of_times():
    """Which times frames are taken at: evenly (slice centres), by interval (the count at most), or the
    start of an empty range."""
    from model.media.frame_times import frame_times

    assert frame_times(0, 8, 4) == [1, 3, 5, 7]
    assert frame_times(2, 4, 1) == [3]
    assert frame_times(0, 10, 16, every_s=2.5) == [1.25, 3.75, 6.25, 8.75]
    assert frame_times(0, 10, 2, every_s=1) == [2.5, 7.5]
    assert frame_times(5, 5, 8) == [5]
