"""Shared fixtures: offline environment, the tiny checkpoint, an engine, small media files, a launched
app and its client, the browser."""

from __future__ import annotations

import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from tests.support.videos import make_video  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    """The tiny random-weight checkpoint, built once for the test session."""
    from model.engines.tiny import tiny_checkpoint_dir

    path = tiny_checkpoint_dir(tmp_path_factory.mktemp("tiny") / "tiny")
    os.environ["LLAVA_TINY_DIR"] = str(path)
    return path


@pytest.fixture(scope="session")
def loaded_tiny(tiny_dir):
    from model.engines.loading import load_tiny
    from model.settings import AppSettings

    return load_tiny(AppSettings(model="tiny"))


@pytest.fixture(scope="session")
def engine(loaded_tiny):
    from model.engines.transformers_engine import TransformersEngine

    return TransformersEngine(loaded_tiny)


@pytest.fixture(scope="session")
def loaded_onevision(tmp_path_factory):
    """The second family's tiny checkpoint (LLaVA-OneVision), loaded as `python app.py --model DIR` loads it."""
    from model.engines.loading import load_model
    from model.engines.tiny_onevision import tiny_onevision_dir
    from model.settings import AppSettings

    folder = tiny_onevision_dir(tmp_path_factory.mktemp("onevision") / "tiny-onevision")
    return load_model(AppSettings(model=str(folder), model_explicit=True, device="cpu"))


@pytest.fixture(scope="session")
def standin_dir() -> Path:
    """The 7B-width stand-in (2+2 layers, hub 4.x layout), built once per machine (about 20 s, 1.4 GB)."""
    from model.dev.standin import standin_checkpoint_dir

    return standin_checkpoint_dir()


@pytest.fixture(scope="session")
def loaded_standin(standin_dir):
    """The stand-in loaded through the app's own loader, as `python app.py --model DIR` loads it."""
    from model.engines.loading import load_model
    from model.settings import AppSettings

    return load_model(AppSettings(model=str(standin_dir), model_explicit=True, device="cpu"))


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def video_path(media_dir) -> Path:
    """A 2-second, 25 fps H.264 clip."""
    return make_video(media_dir / "clip.mp4", seconds=2.0, fps=25, size=(160, 96))


@pytest.fixture(scope="session")
def short_video_path(media_dir) -> Path:
    """A clip of only 3 frames."""
    return make_video(media_dir / "three.mp4", seconds=0.12, fps=25, size=(64, 48))


@pytest.fixture(scope="session")
def image_path(media_dir) -> Path:
    rng = np.random.default_rng(0)
    path = media_dir / "picture.png"
    Image.fromarray(rng.integers(0, 255, (70, 50, 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture(scope="session")
def broken_video_path(media_dir) -> Path:
    path = media_dir / "broken.mp4"
    path.write_bytes(b"this is not a video at all, just text renamed to .mp4\n" * 20)
    return path


def _wait_until(condition, timeout_s: float) -> bool:
    """True as soon as `condition()` is, polling every 0.2 s; its last value after `timeout_s`."""
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return bool(condition())


@pytest.fixture()
def wait_until():
    """`wait_until(condition, timeout_s)`: poll a condition with a bound."""
    return _wait_until


@pytest.fixture(scope="module")
def app_settings():
    """The settings of a module's launched app (a module overrides this fixture to change them)."""
    from model.settings import AppSettings

    return AppSettings(model="tiny", frames=4, max_new_tokens=2000, concurrency=1)


@pytest.fixture(scope="module")
def app_engine(loaded_tiny):
    """The engine of a module's launched app: the tiny model with per-session caches, as `python app.py`
    runs it (a module overrides this fixture to serve another engine)."""
    from tests.support.serving import cached_engine

    return cached_engine(loaded_tiny)


@pytest.fixture(scope="module")
def app_url(app_engine, app_settings):
    """The app launched on 127.0.0.1 for a module's tests, with its engine and settings; closed after."""
    from tests.support.serving import serve

    with serve(app_engine, app_settings, concurrency=app_settings.concurrency) as url:
        yield url


@pytest.fixture()
def client(app_url):
    """A gradio client of the launched app: a session of its own, as a new browser tab."""
    from gradio_client import Client

    return Client(app_url, verbose=False, download_files=False)


@pytest.fixture(scope="module")
def browser():
    """One Chromium for a module's tests."""
    from tests.support.browser import chromium

    with chromium() as browser:
        yield browser


@pytest.fixture()
def page(browser, app_url):
    """The launched app open in a desktop-sized Chromium tab, its question box ready."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(app_url)
    page.locator("#question textarea").wait_for()
    yield page
    context.close()


# Markers by module (pyproject.toml declares them): the fast inner loop is
# `python -m pytest -q tests -m "not slow and not browser"`.
BROWSER_MODULES = {"test_browser", "test_camera_page"}
SLOW_MODULES = {"test_security", "test_gpu_proof", "test_load", "test_uptime", "test_hostile", "test_crowd"}
REAL_SIZE_MODULES = {"test_standin", "test_real_size"}  # the 7B's widths: slow too


def pytest_collection_modifyitems(items):
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1]
        if module in REAL_SIZE_MODULES or "loaded_standin" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.realsize)
            item.add_marker(pytest.mark.slow)
        if module in BROWSER_MODULES or "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
        if module in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
