"""The live camera in a real browser: Chromium's fake camera plays a clip whose colour changes every
second; questions, live commentary and freeing the ring are checked against the launched app."""

from __future__ import annotations

import io
import re
import time

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from model.settings import AppSettings
from tests.support.browser import ARTIFACTS, chromium, last_answer, wait_for_answer_end
from tests.support.fake_camera import PALETTE, colours_fit_times, nearest_colour, write_y4m
from tests.support.serving import cached_engine, serve_demo

WINDOW_S = 4.0  # --camera-seconds in these tests
EVERY_S = 3.0  # --commentary-every
SETTINGS = AppSettings(model="tiny", frames=8, max_new_tokens=64, camera_seconds=WINDOW_S, commentary_every=EVERY_S)
LABEL = re.compile(r"\b\d+:\d\d-\d+:\d\d:")  # a commentary's time range, '0:12-0:15:'


@pytest.fixture(scope="module")
def camera_browser(tmp_path_factory):
    clip = write_y4m(tmp_path_factory.mktemp("camera") / "colours.y4m")
    with chromium(
        [
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={clip}",
        ]
    ) as browser:
        yield browser


@pytest.fixture()
def served(loaded_tiny):
    """A fresh app per test, so its camera store holds this test's tab only."""
    with serve_demo(cached_engine(loaded_tiny), SETTINGS) as (url, ctx):
        yield url, ctx.cameras


def open_page(browser, url: str, viewport=(1280, 1000), **options):
    context = browser.new_context(
        viewport={"width": viewport[0], "height": viewport[1]}, permissions=["camera"], **options
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(url)
    page.locator("#question textarea").wait_for()
    return context, page


def start_camera(page, store) -> None:
    """Open the panel, allow the camera, press Record; returns once the server holds frames."""
    open_panel(page)
    page.get_by_text("Click to Access Webcam").click()
    page.locator("#camera").get_by_role("button", name="capture photo").click()  # gradio's Record
    wait_until(lambda: len(store) == 1 and store.nbytes() > 0, 15, "no camera frame reached the server")


def open_panel(page) -> None:
    """Open the Live camera accordion (closed when the page loads)."""
    if not page.locator("#commentary").is_visible():
        page.get_by_text("Live camera", exact=True).click()
    expect(page.locator("#commentary")).to_be_visible()


def stop_camera(page) -> None:
    page.locator("#camera").get_by_role("button", name="capture photo").click()  # the same button, now Stop


def wait_until(condition, timeout_s: float, message: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.1)


def strip_frames(page, strip) -> tuple[list[float], list[int]]:
    """Each frame's time (seconds since the camera started) and palette colour, as the page shows them."""
    captions = [t.strip() for t in strip.locator("figcaption").all_inner_texts()]
    times = [int(c[:2]) * 60 + float(c[3:]) for c in captions]
    colours = []
    for src in strip.locator("img").evaluate_all("imgs => imgs.map(i => i.src)"):
        pixels = np.asarray(Image.open(io.BytesIO(page.request.get(src).body())).convert("RGB"), float)
        colours.append(nearest_colour(pixels.reshape(-1, 3).mean(axis=0)))
    return times, colours


def commentaries(page) -> int:
    return len(LABEL.findall(page.locator("#chat").inner_text()))


def test_a_question_is_about_the_last_seconds_and_a_follow_up_works(camera_browser, served):
    url, store = served
    context, page = open_page(camera_browser, url)
    try:
        start_camera(page, store)
        page.wait_for_timeout(int((WINDOW_S + 2) * 1000))  # the ring holds a full window, and more has passed
        page.locator("#question textarea").fill("What colour is it?")
        page.locator("#question textarea").press("Enter")
        answer = wait_for_answer_end(page)
        assert "8 frames" in answer and "⚠️" not in answer, answer
        strip = page.locator("#chat .frame-strip")
        expect(strip).to_have_count(1)
        expect(strip.locator(".strip-label")).to_have_text(
            re.compile(r"^camera \d:\d\d-\d:\d\d · 8 frames the model saw$")
        )
        times, colours = strip_frames(page, strip)
        assert len(times) == 8 and times == sorted(times), times
        assert WINDOW_S - 1.0 <= times[-1] - times[0] <= WINDOW_S + 0.01, times  # the last N seconds, spread
        assert times[0] >= 1.0, times  # not the camera's first seconds: those left the ring
        assert len(set(colours)) >= WINDOW_S - 1, colours  # a new colour every second
        assert colours_fit_times(colours, times), (colours, times)
        assert "Attached: camera" not in page.locator("#chat").inner_text()
        page.screenshot(path=str(ARTIFACTS / "camera-01-question.png"))

        stop_camera(page)
        wait_until(lambda: len(store) == 0, 10, "the ring was not freed when the camera stopped")
        page.locator("#question textarea").fill("And what came before?")
        page.locator("#question textarea").press("Enter")
        page.wait_for_function(
            "() => (document.querySelector('#chat').innerText.match(/tok\\/s/g) || []).length >= 2", timeout=30_000
        )
        assert "cached" in last_answer(page)  # a follow-up about the same clip, from the session's cache
        expect(page.locator("#chat .frame-strip")).to_have_count(1)  # no camera ran: no new clip
    finally:
        context.close()


def test_live_commentary_comes_every_few_seconds_and_stops_with_the_camera(camera_browser, served):
    url, store = served
    context, page = open_page(camera_browser, url)
    try:
        open_panel(page)
        page.locator("#commentary input[type=checkbox]").check()
        start_camera(page, store)
        # two answers within 20 s of the camera's first frame
        page.wait_for_function(
            "n => (document.querySelector('#chat').innerText.match(/\\b\\d+:\\d\\d-\\d+:\\d\\d:/g) || []).length >= n",
            arg=2,
            timeout=20_000,
        )
        page.screenshot(path=str(ARTIFACTS / "camera-02-commentary.png"))
        stop_camera(page)
        at_stop = commentaries(page)
        wait_until(lambda: len(store) == 0, 10, "the ring was not freed when the camera stopped")
        page.wait_for_timeout(int(EVERY_S * 1000) + 1500)  # one commentary may have been under way
        settled = commentaries(page)
        assert settled <= at_stop + 1, (at_stop, settled)
        page.wait_for_timeout(int(2 * EVERY_S * 1000) + 500)
        assert commentaries(page) == settled, "commentary went on after the camera stopped"
        expect(page.locator("#question textarea")).to_be_enabled()
        spans = LABEL.findall(page.locator("#chat").inner_text())
        assert all(a <= b for a, b in zip(spans, spans[1:])), spans  # in time order
    finally:
        context.close()


def test_a_closed_tab_frees_its_camera_at_once(camera_browser, served):
    url, store = served
    context, page = open_page(camera_browser, url)
    start_camera(page, store)
    page.wait_for_timeout(1500)
    assert store.nbytes() > 0
    context.close()
    wait_until(lambda: len(store) == 0, 20, "a closed tab's ring was kept")


def test_the_camera_panel_on_a_phone(camera_browser, served):
    url, store = served
    context, page = open_page(camera_browser, url, viewport=(390, 844), is_mobile=True, has_touch=True)
    try:
        start_camera(page, store)
        page.locator("#question textarea").fill("What is it?")
        page.locator("#question textarea").press("Enter")
        wait_for_answer_end(page)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"the page is {overflow}px wider than the phone screen"
        page.locator("#camera").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "camera-03-phone.png"))
        page.screenshot(path=str(ARTIFACTS / "camera-04-phone-full.png"), full_page=True)
    finally:
        context.close()


def test_the_palette_is_told_apart():
    assert [nearest_colour(np.asarray(c, float)) for c in PALETTE] == list(range(len(PALETTE)))
