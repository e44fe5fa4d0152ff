"""Camera turns, frames from the browser, and the camera's settings: pure logic, no server."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from model.camera.frames import (
    FRAME_HEIGHT,
    FRAME_WIDTH,
    CameraLimits,
    CameraStore,
    FrameError,
    FrameRing,
    decode_frame,
    downscale,
    frame_bytes_bound,
)
from model.camera.live import COMMENTARY_QUESTION, add_camera_turn, attach_camera, is_camera, span, trim_commentary
from model.chat.conversation import Conversation, MediaItem, Turn, template_messages
from model.engines.base import GenerationStats
from model.media.clip import VideoClip
from model.serving.storage import frames_root, new_id
from model.settings import parse_settings
from ui.chat_view import render_chat
from ui.messages import chatbot_messages


def clip(start: float, count: int = 4, step: float = 1.0, size=(24, 32)) -> VideoClip:
    times = [start + i * step for i in range(count)]
    return VideoClip(
        frames=np.full((count, *size, 3), 100, np.uint8),
        timestamps=times,
        duration=times[-1],
        fps=1 / step,
        source_size=(size[1], size[0]),
    )


def data_url(image: Image.Image, kind: str = "JPEG") -> str:
    buffer = io.BytesIO()
    image.save(buffer, format=kind)
    return f"data:image/{kind.lower()};base64," + base64.b64encode(buffer.getvalue()).decode()


def test_a_span_reads_like_a_clock():
    assert span(clip(12.4, count=3, step=4)) == "0:12-0:20"
    assert span(clip(59.0, count=2, step=62)) == "0:59-2:01"


def test_a_camera_question_keeps_only_the_newest_clip_in_context_and_in_memory(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    conv = Conversation(session_id=new_id())
    upload = MediaItem(path="/uploads/a.mp4", kind="video", clip=clip(0))
    conv.turns.append(Turn(text="an upload", media=[upload], status="done", answer="ok", prompt_ids=[1]))
    first = add_camera_turn(conv, "what now?", clip(3), one_video=False)
    first.status, first.answer = "done", "a red card"
    second = Turn(text="and now?")
    conv.turns.append(second)
    attach_camera(conv, second, clip(9), one_video=False)
    old, new = first.media[0], second.media[0]
    assert is_camera(old) and is_camera(new) and not is_camera(upload)
    assert old.dropped and old.clip.frames.shape[0] == 0 and old.clip.timestamps == [3, 4, 5, 6]
    assert not upload.dropped and not new.dropped and new.clip.frames.shape[0] == 4
    assert [m.path for m in conv.media()] == ["/uploads/a.mp4", "camera 0:09-0:12"]
    assert len(new.thumbnails) == 4 and all(p.startswith(str(frames_root() / conv.session_id)) for p in new.thumbnails)
    # the older camera turn still shows its strip; no camera file bubble exists to show
    strips = [
        m["content"] for m in chatbot_messages(conv) if m["role"] == "assistant" and not isinstance(m["content"], str)
    ]
    assert [s.name for s in strips] == ["camera 0:03-0:06", "camera 0:09-0:12"]  # the upload has no images here


def test_with_one_video_per_conversation_earlier_turns_go_as_text():
    conv = Conversation()
    upload = MediaItem(path="/uploads/a.mp4", kind="video", clip=clip(0))
    conv.turns.append(Turn(text="an upload", media=[upload], status="done", answer="a ball", prompt_ids=[1]))
    add_camera_turn(conv, "and the camera?", clip(5), one_video=True)
    assert upload.dropped and conv.turns[0].prompt_ids is None
    messages = template_messages(conv, media_part=lambda item: {"type": "video_url", "name": item.name})
    videos = [p for m in messages for p in m["content"] if p["type"] == "video_url"]
    assert videos == [{"type": "video_url", "name": "camera 0:05-0:08"}]
    assert messages[0]["content"] == [{"type": "text", "text": "an upload"}]
    assert messages[1]["content"][0]["text"] == "a ball"


def test_a_commentary_shows_its_time_range_and_asks_without_a_bubble():
    conv = Conversation()
    turn = add_camera_turn(conv, "", clip(12, count=3, step=4), one_video=False, commentary=True)
    assert turn.label == "0:12-0:20" and turn.text == "" and turn.preamble == COMMENTARY_QUESTION
    assert template_messages(conv)[-1]["content"][-1]["text"] == COMMENTARY_QUESTION
    shown = [m["content"] for m in chatbot_messages(conv)]
    assert shown[-1] == "**0:12-0:20:** …" and not any(m["role"] == "user" for m in render_chat(conv))
    turn.answer, turn.status = "a hand waves", "done"
    assert chatbot_messages(conv)[-1]["content"] == "**0:12-0:20:** a hand waves"


def test_commentary_is_bounded():
    conv = Conversation()
    conv.turns.append(Turn(text="a question", status="done"))
    for i in range(14):
        add_camera_turn(conv, "", clip(4 * i), one_video=False, commentary=True).status = "done"
    assert trim_commentary(conv, keep=10) == 4
    assert len(conv.turns) == 11 and conv.turns[0].text == "a question" and conv.turns[1].label == "0:16-0:19"
    assert sum(m.clip.frames.shape[0] for t in conv.turns for m in t.media) == 4  # one clip holds pixels


def test_browser_frames_are_decoded_small_and_bad_ones_refused():
    frame = decode_frame(data_url(Image.new("RGB", (1920, 1080), (10, 200, 30))))
    assert frame.shape == (FRAME_HEIGHT, 597, 3) and tuple(frame[5, 5]) == pytest.approx((10, 200, 30), abs=3)
    assert decode_frame(data_url(Image.new("RGB", (64, 48)))).shape == (48, 64, 3)
    png = data_url(Image.new("RGB", (64, 48)), "PNG")  # gradio's webcam streams JPEGs: a PNG is costly to decode
    for bad in (
        None,
        42,
        "hello",
        "data:text/plain;base64,aGk=",
        "data:image/jpeg;base64,!!!!",
        "data:image/jpeg;base64," + base64.b64encode(b"not a jpeg").decode(),
        "data:image/jpeg;base64," + "A" * 4_000_001,
        png,
        png.replace("image/png", "image/jpeg"),
    ):
        with pytest.raises(FrameError):
            decode_frame(bad)
    huge = data_url(Image.new("L", (4000, 4000)))  # 16 megapixels, refused before decoding
    with pytest.raises(FrameError, match="too large"):
        decode_frame(huge)


def test_cameras_are_bounded_in_time_and_silence():
    store = CameraStore(seconds=4, max_fps=2, limits=CameraLimits(time_limit_s=60, idle_s=5))
    frame = np.zeros((10, 10, 3), np.uint8)
    for key in ("a/camera", "b/camera"):
        assert store.admit(key, now=0.0)
        store.add(key, frame, now=0.0)
    assert not store.admit("a/camera", now=0.2)  # sooner than the ring keeps frames: not decoded
    for t in range(1, 60):
        store.add("a/camera", frame, now=float(t))
    with pytest.raises(FrameError, match="sent no picture for 5 s"):
        store.admit("b/camera", now=6.0)  # silent since 0 s: ended, its place freed
    assert store.admit("c/camera", now=6.0)
    with pytest.raises(FrameError, match="ran for its 60 s"):
        store.admit("a/camera", now=60.5)
    assert "a/camera" not in store
    assert store.claim("c/camera", now=61.0) and not store.claim("c/camera", now=62.0)  # one camera a tab
    assert not store.claim("c/camera", now=61.0 + 5 + 29)  # joined, not yet heard of: gradio waits 30 s
    store.forget("c/")  # its stream ended
    assert store.claim("c/camera", now=63.0)


def test_frames_fit_a_box_so_a_ring_is_bounded():
    assert downscale(np.zeros((100, 5000, 3), np.uint8)).shape == (12, FRAME_WIDTH, 3)
    assert downscale(np.zeros((2000, 100, 3), np.uint8)).shape == (FRAME_HEIGHT, 17, 3)
    ring = FrameRing(seconds=8, max_fps=4)
    for i in range(100):
        ring.add(np.zeros((1080, 1920, 3), np.uint8), now=i * 0.25)
    assert ring.nbytes() <= frame_bytes_bound(8, 4) == 33 * FRAME_HEIGHT * FRAME_WIDTH * 3


def test_a_silent_camera_counts_as_stopped_and_is_freed():
    store = CameraStore(seconds=4, max_fps=2)
    assert store.live_clip("tab/camera", 8) is None
    store.add("tab/camera", np.zeros((10, 10, 3), np.uint8), now=100.0)
    assert store.live_clip("tab/camera", 8, now=101.0).timestamps == [0.0]
    assert "tab/camera" in store
    assert store.live_clip("tab/camera", 8, now=104.5) is None and len(store) == 0


def test_one_frame_is_one_frame():
    stats = GenerationStats(frames=1, prompt_tokens=27, new_tokens=4, ttft_s=0.1, tokens_per_s=10)
    assert stats.line().startswith("1 frame in context · 27 prompt tokens")


def test_camera_settings_and_tls_flags(tmp_path, monkeypatch):
    monkeypatch.setenv("LLAVA_CAMERA_SECONDS", "6")
    monkeypatch.setenv("LLAVA_COMMENTARY_EVERY", "12")
    settings = parse_settings([])
    assert (settings.camera_seconds, settings.commentary_every, settings.ssl_certfile) == (6.0, 12.0, None)
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("x")
    key.write_text("y")
    settings = parse_settings(["--ssl-certfile", str(cert), "--ssl-keyfile", str(key), "--commentary-every", "4"])
    assert (settings.ssl_certfile, settings.ssl_keyfile, settings.commentary_every) == (str(cert), str(key), 4.0)
    for argv, message in (
        (["--ssl-certfile", str(cert)], "go together"),
        (["--ssl-certfile", str(cert), "--ssl-keyfile", str(tmp_path / "none.pem")], "no such file"),
        (["--camera-seconds", "0.5"], "--camera-seconds must be 1-60"),
        (["--commentary-every", "1"], "--commentary-every 2-600"),
    ):
        with pytest.raises(SystemExit, match=message):
            parse_settings(argv)
