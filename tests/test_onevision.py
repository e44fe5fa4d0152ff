"""LLaVA-OneVision, the second family, through the same seam: its tiny offline checkpoint
(model/engines/tiny_onevision.py) loaded as `python app.py --model DIR` loads it, answering videos,
images and several of each, follow-ups from the cache, a scan's batch, the camera, and the page."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from model.camera.live import add_camera_turn
from model.chat.budget import thin_clip
from model.chat.conversation import Conversation
from model.chat.options import MediaOptions
from model.chat.reading import add_turn
from model.engines.answering import stream_answer
from model.engines.base import GenerationParams
from model.engines.families import LLAVA_ONEVISION
from model.media.clip import VideoClip
from tests.support.client import answers, chat

GREEDY = GenerationParams(max_new_tokens=10, temperature=0.0)


@pytest.fixture(scope="module")
def app_engine(loaded_onevision):
    from tests.support.serving import cached_engine

    return cached_engine(loaded_onevision)


def ask(engine, conv: Conversation, text: str, files=(), frames: int = 4):
    """Add a turn and answer it as the page does; returns the turn."""
    add_turn(conv, text, [str(f) for f in files], MediaOptions(frames=frames, thumbnails=False))
    for _ in stream_answer(conv, GREEDY, engine, lambda c, p: engine.stream(c, p, threading.Event())):
        pass
    return conv.last


def test_it_is_its_own_family_with_chatml_stops_and_pooled_frames(app_engine):
    loaded = app_engine.loaded
    assert loaded.family is LLAVA_ONEVISION and loaded.member.prompt_format == "chatml"
    assert loaded.dtype == torch.float32  # a checkpoint of its own width: no 0.5B's bf16 on a CPU
    widths = SimpleNamespace(text_config=SimpleNamespace(hidden_size=896, max_position_embeddings=32768))
    assert LLAVA_ONEVISION.member("./my-copy", widths, None).hub_id.endswith("0.5b-ov-hf")
    assert app_engine.tokens_per_frame == 16  # 8x8 patches pooled to 4x4 (the 0.5B's 27x27: 196)
    vocab = app_engine.tokenizer.get_vocab()
    assert app_engine.stop_ids == sorted([vocab["<|im_end|>"], vocab["<|endoftext|>"]])
    assert app_engine.media_support.images and app_engine.media_support.max_videos is None


def test_videos_images_and_several_of_each_with_follow_ups_from_the_cache(
    app_engine, video_path, image_path, media_dir
):
    from tests.support.videos import make_video

    other = make_video(media_dir / "onevision-other.mp4", seconds=1.0, fps=25, size=(96, 64))
    conv = Conversation()
    conv.ensure_id()
    first = ask(app_engine, conv, "What happens?", [video_path])
    assert first.status == "done" and first.answer.strip() and "4 frames in context" in first.stats
    both = ask(app_engine, conv, "And in this picture and that video?", [image_path, other])
    assert both.status == "done" and "8 frames in context" in both.stats and "cached" in both.stats
    ids = app_engine.tokenize(conv)
    video_id, image_id = app_engine.media_token_ids["video"], app_engine.media_token_ids["image"]
    assert ids.count(video_id) == 2 * (4 * 16 + 1) and ids.count(image_id) > 16  # a newline per video
    follow_up = ask(app_engine, conv, "Compare them all.")
    assert follow_up.status == "done" and "8 frames in context" in follow_up.stats
    cached = int(follow_up.stats.split("(")[1].split(" cached")[0].replace(",", ""))
    assert cached > len(ids) - 10  # the whole conversation so far came from the cache
    assert app_engine.render_prompt(conv).count("<|im_end|>") == 6  # ChatML closes each of the six messages


def test_a_scan_batch_describes_each_clip(app_engine, video_path):
    conv = Conversation()
    add_turn(conv, "x", [str(video_path)], MediaOptions(frames=8, thumbnails=False))
    clip = conv.videos()[0]
    halves = [thin_clip(clip, [0, 1, 2, 3]), thin_clip(clip, [4, 5, 6, 7])]
    texts = app_engine.describe(halves, "Describe this part.", GREEDY)
    assert len(texts) == 2 and all(t.strip() for t in texts)


def test_the_camera_s_clip_is_answered(app_engine):
    conv = Conversation()
    conv.ensure_id()
    frames = np.stack([np.full((48, 64, 3), 40 * i, np.uint8) for i in range(4)])
    clip = VideoClip(frames=frames, timestamps=[0.0, 0.5, 1.0, 1.5], duration=2.0, fps=2.0, source_size=(64, 48))
    add_camera_turn(conv, "What is in front of the camera?", clip, one_video=False)
    for _ in stream_answer(conv, GREEDY, app_engine, lambda c, p: app_engine.stream(c, p, threading.Event())):
        pass
    assert conv.last.status == "done" and "4 frames in context" in conv.last.stats


def test_the_page_answers_through_onevision(app_url, client, video_path, image_path):
    import httpx

    config = httpx.get(f"{app_url}/config").json()
    texts = " ".join(str(c["props"].get("value")) for c in config["components"])
    assert "Chat with videos and images · LLaVA-OneVision" in texts
    history, _ = chat(client, "What happens?", [video_path], max_new_tokens=16)
    assert "4 frames in context" in answers(history)[-1] and "tok/s" in answers(history)[-1]
    history, _ = chat(client, "And in this picture?", [image_path], max_new_tokens=16)
    last = answers(history)[-1]
    assert "tok/s" in last and "cached" in last and len(answers(history)) == 2
