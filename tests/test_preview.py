"""Videos the browser cannot play get a small H.264 preview, made once."""

from __future__ import annotations

import av
import pytest

from model.media.preview import browser_playable, make_preview
from tests.support.videos import make_video


def test_playable_formats_are_told_apart(media_dir, video_path):
    assert browser_playable(str(video_path))  # H.264 in MP4
    assert browser_playable(str(make_video(media_dir / "vp9.webm", seconds=0.5, codec="libvpx-vp9", size=(64, 48))))
    assert not browser_playable(str(make_video(media_dir / "old.avi", seconds=0.5, codec="mpeg4", size=(64, 48))))
    assert not browser_playable(str(make_video(media_dir / "h264.mkv", seconds=0.5, size=(64, 48))))
    assert not browser_playable(str(media_dir / "missing.mp4"))


def test_an_avi_becomes_a_small_playable_mp4(media_dir, tmp_path):
    avi = make_video(media_dir / "preview.avi", seconds=3.0, fps=25, codec="mpeg4", size=(640, 480))
    preview = make_preview(str(avi), tmp_path / "preview.mp4")
    assert browser_playable(preview.path)
    with av.open(preview.path) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        assert (stream.codec_context.width, stream.codec_context.height) == (480, 360)
        assert 40 <= frames <= 46  # 3 s at 15 fps
        assert float(stream.duration * stream.time_base) == pytest.approx(3.0, abs=0.2)
