"""Tests for the tiny offline LLaVA-NeXT-Video checkpoint (model/engines/tiny.py)."""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from safetensors.torch import load_file  # noqa: E402
from transformers import AutoProcessor, LlavaNextVideoForConditionalGeneration  # noqa: E402

from model.engines.tiny import (  # noqa: E402
    HUB_PREFIXES,
    MARKER,
    TINY,
    build_tiny_checkpoint,
    tensor_digest,
    tiny_checkpoint_dir,
)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint built directly with build_tiny_checkpoint."""
    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "a")


@pytest.fixture(scope="module")
def cached_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second, independent build through the cache helper."""
    return tiny_checkpoint_dir(tmp_path_factory.mktemp("cache") / "tiny-v1")


@pytest.fixture(scope="module")
def processor(ckpt: Path):
    """The processor loaded back from disk."""
    return AutoProcessor.from_pretrained(ckpt)


@pytest.fixture(scope="module")
def model(ckpt: Path) -> LlavaNextVideoForConditionalGeneration:
    """The model loaded back from disk in fp32."""
    return LlavaNextVideoForConditionalGeneration.from_pretrained(ckpt, dtype=torch.float32).eval()


def _video() -> np.ndarray:
    """A deterministic random 4-frame uint8 video."""
    return np.random.default_rng(0).integers(0, 256, (4, 40, 48, 3), dtype=np.uint8)


def _image() -> Image.Image:
    """A deterministic random 50x70 RGB image."""
    return Image.fromarray(np.random.default_rng(1).integers(0, 256, (70, 50, 3), dtype=np.uint8))


def _prompt(processor, *parts: str, text: str = "What happens?") -> str:
    """Render one user turn with the given media parts through the chat template."""
    content = [{"type": p} for p in parts] + [{"type": "text", "text": text}]
    return processor.apply_chat_template([{"role": "user", "content": content}], add_generation_prompt=True)


def _greedy(model, processor, n: int = 12) -> list[int]:
    """Greedily generate n tokens for a fixed video prompt."""
    inputs = processor(text=_prompt(processor, "video"), videos=_video(), return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=n, do_sample=False)
    return out[0, inputs["input_ids"].shape[1] :].tolist()


def test_round_trip_and_hub_layout(ckpt: Path) -> None:
    tensors = load_file(ckpt / "model.safetensors")
    assert all(k.startswith(HUB_PREFIXES) for k in tensors), sorted(tensors)
    for prefix in HUB_PREFIXES:
        assert any(k.startswith(prefix) for k in tensors), prefix
    assert not any(k.startswith("vision_tower.embeddings") or k.startswith("model.") for k in tensors)
    model, info = LlavaNextVideoForConditionalGeneration.from_pretrained(
        ckpt, dtype=torch.float32, output_loading_info=True
    )
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    params = model.state_dict()
    assert len(params) == len(tensors)
    assert torch.equal(params["lm_head.weight"], tensors["language_model.lm_head.weight"])
    assert torch.equal(
        params["model.vision_tower.embeddings.patch_embedding.weight"],
        tensors["vision_tower.vision_model.embeddings.patch_embedding.weight"],
    )
    assert model.dtype == torch.float32
    assert model.config.text_config.max_position_embeddings == 4096
    assert not model.config.tie_word_embeddings


def test_processor_files_and_tokenizer(ckpt: Path, processor) -> None:
    assert (ckpt / "chat_template.jinja").is_file()
    assert type(processor).__name__ == "LlavaNextVideoProcessor"
    assert type(processor.image_processor).__name__ == "LlavaNextImageProcessor"
    assert type(processor.video_processor).__name__ == "LlavaNextVideoVideoProcessor"
    tok = processor.tokenizer
    assert tok.padding_side == "left"
    assert tok.convert_ids_to_tokens([tok.image_token_id, tok.video_token_id]) == ["<image>", "<video>"]
    ids = tok("the video shows a dog").input_ids
    assert ids[0] == tok.bos_token_id
    assert tok.decode(ids, skip_special_tokens=True) == "the video shows a dog"
    normal = [i for i in range(len(tok)) if i not in tok.all_special_ids]
    text = "".join(tok.decode([i]) for i in normal)
    assert all(c.isprintable() or c in "\n\t" for c in text)  # no stray bytes in streamed text


def test_chat_template_matches_7b(processor) -> None:
    assert _prompt(processor, "video", text="hi") == "USER: <video>\nhi ASSISTANT:"
    conversation = [
        {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is it?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "A cat."}]},
        {"role": "user", "content": [{"type": "text", "text": "Sure?"}]},
    ]
    rendered = processor.apply_chat_template(conversation, add_generation_prompt=True)
    assert rendered == "Be brief. USER: <image>\nWhat is it? ASSISTANT: A cat. USER: Sure? ASSISTANT:"


def test_video_image_and_both(model, processor) -> None:
    cfg = model.config
    video = processor(text=_prompt(processor, "video"), videos=_video(), return_tensors="pt")
    assert video["pixel_values_videos"].shape == (1, 4, 3, 32, 32)
    assert video["pixel_values_videos"].dtype == torch.float32
    assert int((video["input_ids"] == cfg.video_token_index).sum()) == 4 * 16

    image = processor(text=_prompt(processor, "image"), images=_image(), return_tensors="pt")
    assert int((image["input_ids"] == cfg.image_token_index).sum()) > 64
    both = processor(text=_prompt(processor, "image", "video"), images=_image(), videos=_video(), return_tensors="pt")
    for inputs in (image, both):
        with torch.no_grad():
            out = model.generate(**inputs, max_new_tokens=3, do_sample=False)
        assert out.shape[1] == inputs["input_ids"].shape[1] + 3


def test_generate_varied_and_deterministic(model, processor, cached_ckpt: Path) -> None:
    tokens = _greedy(model, processor)
    assert len(tokens) == 12
    assert len(set(tokens)) > 3, tokens
    tok = processor.tokenizer
    media = {tok.image_token_id, tok.video_token_id, tok.pad_token_id, tok.bos_token_id, tok.unk_token_id}
    assert not media & set(tokens)
    assert tok.decode(tokens, skip_special_tokens=True).strip()
    other = LlavaNextVideoForConditionalGeneration.from_pretrained(cached_ckpt, dtype=torch.float32).eval()
    assert _greedy(other, AutoProcessor.from_pretrained(cached_ckpt)) == tokens


def test_a_checkpoint_that_never_ends_answers_runs_to_the_token_limit(tmp_path: Path) -> None:
    endless = build_tiny_checkpoint(tmp_path / "endless", dataclasses.replace(TINY, ends_answers=False))
    processor = AutoProcessor.from_pretrained(endless)
    model = LlavaNextVideoForConditionalGeneration.from_pretrained(endless, dtype=torch.float32).eval()
    inputs = processor(text=_prompt(processor, "video", text="Why?"), videos=_video(), return_tensors="pt")
    with torch.no_grad():  # the default tiny checkpoint may end this answer within 300 tokens
        out = model.generate(
            **inputs, max_new_tokens=300, do_sample=False, output_logits=True, return_dict_in_generate=True
        )
    assert out.sequences.shape[1] - inputs["input_ids"].shape[1] == 300
    eos = processor.tokenizer.eos_token_id
    margins = [(step[0].max() - step[0, eos]).item() for step in out.logits]
    assert min(margins) > 20  # suppressed by a wide margin, not by chance


def test_build_twice_identical(ckpt: Path, cached_ckpt: Path) -> None:
    assert tensor_digest(ckpt) == tensor_digest(cached_ckpt)
    first, second = load_file(ckpt / "model.safetensors"), load_file(cached_ckpt / "model.safetensors")
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_cache_dir_reused(cached_ckpt: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert (cached_ckpt / MARKER).is_file()
    assert not [p for p in cached_ckpt.parent.iterdir() if p.name.startswith(".")]  # no temp leftovers
    stamp = (cached_ckpt / "model.safetensors").stat().st_mtime_ns
    assert tiny_checkpoint_dir(cached_ckpt) == cached_ckpt
    monkeypatch.setenv("LLAVA_TINY_DIR", str(cached_ckpt))
    assert tiny_checkpoint_dir() == cached_ckpt
    assert (cached_ckpt / "model.safetensors").stat().st_mtime_ns == stamp
