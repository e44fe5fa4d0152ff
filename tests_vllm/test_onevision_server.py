"""The second family through vLLM: a real vLLM server on the tiny LLaVA-OneVision checkpoint, the app
in front of it. The app learns the family from vLLM's model list (the checkpoint folder's
config.json) and sends images as images and several videos, which this server takes."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.engines.vllm_engine import ServerConfig, VLLMEngine
from model.settings import AppSettings
from tests.support.client import answers, chat
from tests.support.vllm_server import vllm_python, vllm_server

MEDIA_LIMITS = '{"image": 4, "video": 4}'
LOG = Path(__file__).resolve().parent.parent / "test-artifacts" / "vllm-onevision-server.log"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from model.engines.tiny_onevision import build_tiny_onevision

    checkpoint = build_tiny_onevision(tmp_path_factory.mktemp("onevision") / "tiny-onevision")
    extra = ("--limit-mm-per-prompt", MEDIA_LIMITS)
    with vllm_server(
        checkpoint, LOG, name="tiny-onevision", max_model_len=4096, python=vllm_python(), extra=extra
    ) as up:
        yield up


@pytest.fixture(scope="module")
def app_engine(server):
    engine = VLLMEngine(ServerConfig(url=server.url, timeout_s=30))
    assert engine.check_server() is None
    return engine


@pytest.fixture(scope="module")
def app_settings(server):
    return AppSettings(model="tiny", backend="vllm", server_url=server.url, frames=4, max_new_tokens=64, concurrency=4)


def prompt_tokens(answer: str) -> int:
    return int(answer.split(" prompt tokens")[0].split("· ")[-1].replace(",", ""))


def test_the_app_knows_the_family_and_sends_images_and_several_videos(
    app_engine, client, server, video_path, second_video_path, image_path
):
    assert app_engine.family.name == "LLaVA-OneVision" and app_engine.media_support.max_videos is None
    history, _ = chat(client, "What happens?", [video_path], max_new_tokens=16)
    first = answers(history)[-1]
    assert "4 frames in context" in first and "tok/s" in first
    before = server.metric("vllm:prompt_tokens_total")
    history, _ = chat(client, "And this picture and that video?", [image_path, second_video_path], max_new_tokens=16)
    both = answers(history)[-1]
    assert "8 frames in context" in both and "tok/s" in both
    history, _ = chat(client, "Compare them all.", max_new_tokens=16)
    last = answers(history)[-1]
    assert "8 frames in context" in last and "tok/s" in last and len(answers(history)) == 3
    assert not any("left the model's context" in a for a in answers(history))
    assert prompt_tokens(last) > prompt_tokens(first) + 2 * 16  # both videos and the image in the prompt
    assert server.metric("vllm:prompt_tokens_total") > before
