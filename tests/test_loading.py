"""Model loading choices and failures: fallback to the tiny model, clear errors, flags."""

from __future__ import annotations

import pytest
import torch

from model.loading import LoadError, load_model, pick_attention, pick_dtype, quantization_config
from model.settings import DEFAULT_MODEL, AppSettings, parse_settings


def test_default_model_unavailable_falls_back_to_tiny_with_a_notice(tiny_dir):
    loaded = load_model(AppSettings())  # the hub is offline in tests: the 7B cannot be had
    assert loaded.name == "tiny" and loaded.dtype == torch.float32 and loaded.device == "cpu"
    assert loaded.notice.startswith("Answers are random: the real model")
    assert DEFAULT_MODEL in loaded.notice


def test_an_explicit_model_that_fails_is_an_error(tmp_path):
    with pytest.raises(LoadError, match="Could not load the model"):
        load_model(AppSettings(model=str(tmp_path / "nowhere"), model_explicit=True))


def test_app_exits_with_a_message_for_a_bad_model(tmp_path):
    import app

    with pytest.raises(SystemExit, match="error: Could not load the model"):
        app.main(["--model", str(tmp_path / "missing")])


def test_quantization_needs_cuda():
    with pytest.raises(LoadError, match="needs a CUDA GPU"):
        quantization_config(AppSettings(load_in_4bit=True), "cpu", torch.float32)
    assert quantization_config(AppSettings(), "cpu", torch.float32) is None


def test_quantization_config_on_cuda_uses_bitsandbytes_config():
    pytest.importorskip("bitsandbytes")
    config = quantization_config(AppSettings(load_in_4bit=True), "cuda", torch.bfloat16)
    assert config.load_in_4bit and config.bnb_4bit_quant_type == "nf4"
    assert config.bnb_4bit_compute_dtype == torch.bfloat16
    assert quantization_config(AppSettings(load_in_8bit=True), "cuda", torch.float16).load_in_8bit


def test_dtype_and_attention_choices():
    assert pick_dtype("cpu") == torch.float32
    assert pick_attention("auto", "cpu") == "sdpa"
    assert pick_attention("eager", "cpu") == "eager"


def test_flags_and_environment(monkeypatch):
    monkeypatch.setenv("LLAVA_FRAMES", "8")
    monkeypatch.setenv("LLAVA_LOAD_IN_4BIT", "1")
    settings = parse_settings(["--model", "tiny", "--port", "7000"])
    assert settings.frames == 8 and settings.load_in_4bit and settings.port == 7000
    assert settings.is_tiny and settings.model_explicit
    assert not parse_settings([]).model_explicit
    with pytest.raises(SystemExit):
        parse_settings(["--load-in-4bit", "--load-in-8bit"])
