"""Fixtures of the vLLM end-to-end suite: a real vLLM server on a checkpoint of the tiny family,
and the app launched in front of it. Needs VLLM_PYTHON (see tests/vllm_server.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.videos import make_video
from tests.support.vllm_server import LONG_ANSWER, vllm_python, vllm_server

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

pytest_plugins = ["tests.conftest"]  # the main suite's offline environment, media files and browser


@pytest.fixture(scope="session")
def checkpoint_dir(tmp_path_factory) -> Path:
    """A random-weight checkpoint of the tiny family that vLLM runs at about 15 tokens/s here."""
    from model.engines.tiny import PACED, build_tiny_checkpoint

    return build_tiny_checkpoint(tmp_path_factory.mktemp("paced") / "paced", PACED)


@pytest.fixture(scope="module")
def server(checkpoint_dir):
    """A vLLM server of its own for each test module (one module stops its server on purpose), with
    room for a long answer (LONG_ANSWER) to stop."""
    log_path = ARTIFACTS / "vllm-server.log"
    with vllm_server(checkpoint_dir, log_path, max_model_len=LONG_ANSWER + 96, python=vllm_python()) as running:
        yield running


@pytest.fixture(scope="session")
def second_video_path(media_dir) -> Path:
    return make_video(media_dir / "other.mp4", seconds=1.0, fps=25, size=(96, 64))


def pytest_collection_modifyitems(items):
    for item in items:  # every test here needs a real vLLM server (the `vllm` marker, pyproject.toml)
        item.add_marker(pytest.mark.vllm)
