"""Model loading choices and failures: fallback to the tiny model, clear errors, flags."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from huggingface_hub import errors

from model.engines import loading
from model.engines.loading import LoadError, load_model, pick_attention, pick_dtype, quantization_config
from model.settings import DEFAULT_MODEL, AppSettings, parse_settings

REAL_FROM_PRETRAINED = loading._from_pretrained


def _response(status: int) -> httpx.Response:
    return httpx.Response(status, request=httpx.Request("GET", "https://hub.invalid/api/models/x"))


def test_default_model_unavailable_falls_back_to_tiny_with_a_notice(tiny_dir):
    started = time.monotonic()
    loaded = load_model(AppSettings(device="cpu"))  # the hub is offline in tests: the 7B cannot be had
    assert time.monotonic() - started < 30  # no minutes of hub retries
    assert loaded.name == "tiny" and loaded.dtype == torch.float32 and loaded.device == "cpu"
    assert loaded.notice.startswith("Answers are random text: the real model")
    assert DEFAULT_MODEL in loaded.notice and "not in the local cache" in loaded.notice


def test_without_a_gpu_the_default_starts_tiny_at_once_and_says_how_to_run_the_7b(tiny_dir, monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("nothing may be downloaded or loaded for the 7B on a CPU by default")

    monkeypatch.setattr(
        loading,
        "_from_pretrained",
        lambda source, *a, **k: no_download() if source == DEFAULT_MODEL else REAL_FROM_PRETRAINED(source, *a, **k),
    )
    monkeypatch.setattr(loading, "hub_reachable", no_download)
    loaded = load_model(AppSettings())
    assert loaded.name == "tiny" and loaded.notice.startswith("Answers are random text: no GPU here")
    assert "--device cpu" in loaded.notice and "GiB of memory" in loaded.notice and "tokens/s" in loaded.notice


def test_a_default_model_that_is_broken_stops_the_app(tmp_path, monkeypatch, tiny_dir):
    """Only 'the weights cannot be had' falls back; a broken checkpoint is an error, default or not."""
    broken = tmp_path / "broken"
    shutil.copytree(tiny_dir, broken)
    (broken / "config.json").write_text("{ not json")
    with pytest.raises(LoadError, match="Could not load the model"):
        load_model(AppSettings(model=str(broken), device="cpu"))  # model_explicit=False: as the default


@pytest.mark.parametrize(
    "error, says",
    [
        (lambda: errors.GatedRepoError("gated", response=_response(403)), "gated"),
        (lambda: errors.RepositoryNotFoundError("no repo", response=_response(401)), "needs a token"),
        (lambda: errors.HfHubHTTPError("denied", response=_response(401)), "refused access"),
        (lambda: errors.LocalEntryNotFoundError("not cached"), "not in the local cache"),
        (
            lambda: OSError("We couldn't connect to 'https://huggingface.co' to load the files"),
            "not in the local cache",
        ),
    ],
)
def test_weights_that_cannot_be_had_are_told_apart(error, says):
    wrapped = OSError("loading failed")
    wrapped.__cause__ = error()
    assert says in loading.weights_unavailable(wrapped)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("shapes differ"),
        RecursionError("maximum recursion depth"),
        KeyError("text_config"),
        OSError("Unable to load weights: bad header"),
    ],
)
def test_other_failures_are_not_weights_that_cannot_be_had(error):
    assert loading.weights_unavailable(error) is None


def test_an_unreachable_hub_is_known_within_seconds(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    with socket.socket() as closed:  # a local port nobody listens on: refused at once
        closed.bind(("127.0.0.1", 0))
        monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{closed.getsockname()[1]}")
    started = time.monotonic()
    assert loading.hub_reachable(timeout_s=2) is False
    assert time.monotonic() - started < 5
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert loading.hub_reachable() is False


def test_both_layouts_load(tiny_dir, tmp_path):
    """The tiny checkpoint has the 5.x layout (a video processor file); without that file it is the
    hub's 4.x layout, which is built from its parts with the same settings."""
    from transformers import LlavaNextVideoProcessor

    new = loading.load_processor(str(tiny_dir))
    old_layout = tmp_path / "old"
    shutil.copytree(tiny_dir, old_layout)
    (old_layout / "video_preprocessor_config.json").unlink()
    old = loading.load_processor(str(old_layout))
    assert isinstance(old, LlavaNextVideoProcessor)
    for key in ("size", "crop_size", "image_mean", "image_std", "resample"):
        assert getattr(old.video_processor, key) == getattr(new.video_processor, key), key
    assert (old.patch_size, old.num_additional_image_tokens, old.vision_feature_select_strategy) == (
        new.patch_size,
        new.num_additional_image_tokens,
        new.vision_feature_select_strategy,
    )
    assert old.chat_template == new.chat_template
    text = "USER: <video>\nHi ASSISTANT:"
    frames = np.zeros((3, 40, 50, 3), np.uint8)
    assert (
        old(text=text, videos=[frames])["input_ids"].tolist() == new(text=text, videos=[frames])["input_ids"].tolist()
    )


def test_app_serves_within_seconds_without_offline_variables(tiny_dir, tmp_path):
    """`python app.py` on a machine without a GPU, as a newcomer runs it: no HF_HUB_OFFLINE set."""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(LLAVA_TINY_DIR=str(tiny_dir), GRADIO_ANALYTICS_ENABLED="False", CUDA_VISIBLE_DEVICES="")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path / "app.log"
    root = Path(__file__).resolve().parents[1]
    started = time.monotonic()
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "app.py", "--port", str(port)], cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        while time.monotonic() - started < 120:
            assert process.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            raise AssertionError(f"not serving after 120 s:\n{log.read_text()[-3000:]}")
        text = log.read_text()
        assert "No CUDA GPU" in text and "Traceback" not in text and "couldn't connect" not in text
    finally:
        process.terminate()
        process.wait(timeout=30)


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


def test_the_cpu_advice_fits_this_machine():
    """Before: "needs about 28 GB of memory (fp32)" on a 24 GB machine, with nothing to say it would not fit."""
    from model.engines.loading import cpu_advice

    assert "this machine has 24 GiB, so it would not fit" in cpu_advice(24.0)
    assert "this machine has 64 GiB)" in cpu_advice(64.0) and "not fit" not in cpu_advice(64.0)
    assert "fp32" in cpu_advice(24.0) and "--device cpu" in cpu_advice(24.0)
