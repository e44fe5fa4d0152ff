"""The real checkpoint's shapes and file layout: a random-weight 7B stand-in (2+2 layers) written as
transformers 4.x wrote llava-hf/LLaVA-NeXT-Video-7B-hf, loaded through the app's own loader."""

from __future__ import annotations

import json
import logging
import threading
import warnings

import numpy as np
import pytest
from PIL import Image

from model.chat.conversation import Conversation
from model.chat.options import MediaOptions
from model.chat.reading import add_turn
from model.chat.turns import start_session
from model.engines.answering import stream_answer
from model.engines.base import GenerationParams
from model.engines.kv_cache import CacheStore
from model.engines.transformers_engine import TransformersEngine

GREEDY = GenerationParams(max_new_tokens=8)
FRAMES = MediaOptions(frames=2)


@pytest.fixture(scope="module")
def standin(loaded_standin):
    return loaded_standin


def test_the_folder_has_the_hubs_4x_layout(standin_dir):
    names = {p.name for p in standin_dir.iterdir()}
    assert "video_preprocessor_config.json" not in names and "processor_config.json" in names
    assert {
        "preprocessor_config.json",
        "chat_template.json",
        "tokenizer_config.json",
        "added_tokens.json",
        "special_tokens_map.json",
        "model.safetensors.index.json",
    } <= names
    config = json.loads((standin_dir / "config.json").read_text())
    assert config["text_config"]["rope_scaling"] == {"factor": 2.0, "type": "linear"}
    assert (
        json.loads((standin_dir / "preprocessor_config.json").read_text())["processor_class"]
        == "LlavaNextVideoProcessor"
    )
    weights = json.loads((standin_dir / "model.safetensors.index.json").read_text())["weight_map"]
    assert all(
        k.startswith(("language_model.", "vision_tower.vision_model.", "multi_modal_projector.", "image_newline"))
        for k in weights
    )


def test_it_loads_through_load_model_with_the_real_shapes(standin):
    config = standin.model.config
    assert config.text_config.hidden_size == 4096 and config.text_config.intermediate_size == 11008
    assert config.text_config.num_attention_heads == 32 and config.vision_config.hidden_size == 1024
    assert config.vision_config.hidden_act == "quick_gelu" and config.text_config.vocab_size == 32064
    assert standin.context_length == 8192
    assert standin.processor.tokenizer.model_max_length == 8192  # no "sequence length is longer" warning
    assert standin.notice is None


def test_tokenizer_ids_as_the_hubs(standin):
    tok = standin.processor.tokenizer
    assert tok.convert_tokens_to_ids(["<unk>", "<s>", "</s>", "<video>", "<image>"]) == [0, 1, 2, 32000, 32001]
    ids = tok("USER: <video>\nWhat happens?")["input_ids"]
    at = ids.index(32000)
    assert ids[0] == 1 and tok.convert_ids_to_tokens(ids[at - 1]) == "▁" and ids[at + 1] == 13  # <0x0A>


def test_token_counts_of_frames_and_images(standin):
    processor = standin.processor
    video = np.zeros((16, 480, 640, 3), np.uint8)
    out = processor(text="USER: <video>\nHi ASSISTANT:", videos=[video], return_tensors=None)
    assert list(out["input_ids"][0]).count(32000) == 2304  # 144 per frame
    out = processor(text="USER: <image>\nHi ASSISTANT:", images=[Image.new("RGB", (1000, 600))], return_tensors=None)
    assert list(out["input_ids"][0]).count(32001) == 1948  # anyres: base 576 + tiles + newlines


def _script(engine: TransformersEngine, video_path, image_path):
    """Three turns (video, image, text) answered greedily; returns each turn's ids and pieces."""
    conv = Conversation()
    start_session(conv, "standin")
    out = []
    for text, files in (("What happens?", [video_path]), ("And here?", [image_path]), ("Why?", [])):
        add_turn(conv, text, [str(f) for f in files], FRAMES)
        pieces = []
        generate = lambda c, p: _collect(engine.stream(c, p, threading.Event()), pieces)  # noqa: E731, B023 - called within this iteration
        for _ in stream_answer(conv, GREEDY, engine, generate, render_every_s=0):
            pass
        assert conv.last.status == "done", conv.last.notes
        out.append((conv.last.answer_ids, "".join(pieces), conv.last.stats))
    return out


def _collect(stream, pieces):
    for item in stream:
        if isinstance(item, str):
            pieces.append(item)
        yield item


def test_three_turns_same_greedy_ids_with_and_without_the_cache(standin, video_path, image_path, monkeypatch):
    cached = TransformersEngine(standin, CacheStore(1 << 32, 1 << 31))
    logged = []
    monkeypatch.setattr(logging.Logger, "warning_once", lambda self, msg, *a, **k: logged.append(msg), raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # no deprecation warning per answer
        with_cache = _script(cached, video_path, image_path)
    assert not [m for m in logged if "deprecated" in str(m)]
    without = _script(TransformersEngine(standin), video_path, image_path)
    assert [ids for ids, _, _ in with_cache] == [ids for ids, _, _ in without]
    assert "cached" in with_cache[2][2] and "cached" not in without[2][2]
    tok = standin.processor.tokenizer
    for ids, streamed, _ in with_cache:
        assert ids and not {32000, 32001} & set(ids)
        assert streamed == tok.decode(ids, skip_special_tokens=True)  # SentencePiece spacing kept
