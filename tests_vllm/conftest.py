"""Fixtures of the vLLM end-to-end suite: a real vLLM server on the tiny checkpoint, and the app
launched in front of it. Needs VLLM_PYTHON (see tests/vllm_server.py)."""

from __future__ import annotations

import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from tests.videos import make_video  # noqa: E402
from tests.vllm_server import vllm_python, vllm_server  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="session")
def checkpoint_dir(tmp_path_factory) -> Path:
    """A random-weight checkpoint of the tiny family that vLLM runs at about 15 tokens/s here."""
    from model.tiny import PACED, build_tiny_checkpoint

    return build_tiny_checkpoint(tmp_path_factory.mktemp("paced") / "paced", PACED)


@pytest.fixture(scope="module")
def server(checkpoint_dir):
    """A vLLM server of its own for each test module (one module stops its server on purpose)."""
    with vllm_server(checkpoint_dir, ARTIFACTS / "vllm-server.log", python=vllm_python()) as running:
        yield running


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def video_path(media_dir) -> Path:
    return make_video(media_dir / "clip.mp4", seconds=2.0, fps=25, size=(160, 96))


@pytest.fixture(scope="session")
def second_video_path(media_dir) -> Path:
    return make_video(media_dir / "other.mp4", seconds=1.0, fps=25, size=(96, 64))


@pytest.fixture(scope="session")
def image_path(media_dir) -> Path:
    path = media_dir / "picture.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (70, 50, 3), dtype=np.uint8)).save(path)
    return path
