"""Many visitors at once: isolation between sessions, a full queue, Stop and closed tabs under load."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
from gradio_client import Client

from model.engines.base import Finished
from model.settings import AppSettings
from tests.support.client import answers, bubbles, chat, instant, send, step, strips
from tests.support.serving import cached_engine, serve, serve_demo
from tests.support.videos import make_video

COLORS = [
    (200, 30, 30),
    (30, 200, 30),
    (30, 30, 200),
    (200, 200, 30),
    (200, 30, 200),
    (30, 200, 200),
    (120, 60, 0),
    (0, 60, 120),
    (60, 0, 120),
    (250, 140, 0),
    (140, 250, 0),
    (0, 140, 250),
    (90, 90, 90),
    (250, 250, 250),
    (10, 10, 10),
    (170, 110, 60),
]


@pytest.fixture(scope="module")
def colour_videos(media_dir):
    """One small video per visitor, each its own colour and name."""
    return [
        make_video(media_dir / f"visitor-{i:02d}.mp4", seconds=0.6, fps=10, size=(64, 48), color=c)
        for i, c in enumerate(COLORS)
    ]


def new_client(url: str) -> Client:
    return Client(url, verbose=False, download_files=False)


def visit(url: str, video, turns: int = 3):
    """One visitor: a question about its video, then follow-ups; returns the final chat."""
    client = new_client(url)
    history = None
    for turn in range(turns):
        history, _ = chat(client, f"Question {turn}?", [video] if turn == 0 else [], max_new_tokens=16)
    return history


def test_sixteen_visitors_at_once_keep_their_own_conversations(loaded_tiny, colour_videos, record_property):
    with serve(cached_engine(loaded_tiny), queue_size=64) as url, ThreadPoolExecutor(16) as pool:
        started = time.monotonic()
        futures = [pool.submit(visit, url, video) for video in colour_videos]
        histories = [f.result(timeout=240) for f in futures]
        elapsed = time.monotonic() - started
    record_property("elapsed_s", round(elapsed, 1))
    for video, history in zip(colour_videos, histories):
        files = [b for b in bubbles(history, "user") if b.endswith(".mp4") and not b.startswith("Attached: ")]
        assert [f.rsplit("/", 1)[-1] for f in files] == [video.name]
        assert [label.split(" · ")[0] for label, _ in strips(history)] == [video.name]
        said = answers(history)
        assert len(said) == 3 and all(a.strip() for a in said)
        assert [b for b in bubbles(history, "user") if b.startswith("Question")] == [
            "Question 0?",
            "Question 1?",
            "Question 2?",
        ]
    assert elapsed < 240


def test_a_full_queue_answers_queue_full_at_once(loaded_tiny, video_path):
    from gradio_client import handle_file

    settings = AppSettings(model="tiny", frames=4, max_new_tokens=2000)
    # /ask runs settings.at_model handlers at once (they wait for the model at the gate, visitors in
    # turn); past those, gradio's queue holds 2: the rest are refused at once
    count = settings.at_model + 2 + 4
    with serve_demo(cached_engine(loaded_tiny), settings, queue_size=2) as (url, ctx):
        clients = [new_client(url) for _ in range(count)]
        with ctx.gate.turn():  # the model is busy meanwhile: nothing that was let in ends
            jobs = [
                c.submit(files=[handle_file(str(video_path))], question="Long?", max_new_tokens=32, api_name="/ask")
                for c in clients
            ]
            # while the model is held, a job can only end by being refused: wait until no more are
            deadline, done, changed = time.monotonic() + 60, -1, time.monotonic()
            while time.monotonic() < deadline and not (done >= 4 and time.monotonic() - changed > 1.5):
                if sum(job.done() for job in jobs) != done:
                    done, changed = sum(job.done() for job in jobs), time.monotonic()
                time.sleep(0.1)
            refused = [job for job in jobs if job.done()]
        assert len(refused) >= 4, len(refused)  # at_model running and 2 waiting at most
        assert all("queue is full" in str(job.exception()).lower() for job in refused)
        answered = [job.result(timeout=120) for job in jobs if job not in refused]
        assert answered and all(answer.strip() for answer in answered)
        assert (
            new_client(url)
            .predict(files=[handle_file(str(video_path))], question="Still there?", max_new_tokens=4, api_name="/ask")
            .strip()
        )


@dataclass
class GenerateSpy:
    """What the engine's generate threads do: how many run now, and for each early close of an
    answer's stream (Stop, a closed tab), the seconds until its generate ended."""

    running: int = 0
    stop_latencies: list[float] = field(default_factory=list)


def spy_on_generate(engine) -> GenerateSpy:
    """Wrap the engine's stream and its generate thread, and report what they do."""
    spy, lock, closed = GenerateSpy(), threading.Lock(), {}
    stream, generate = engine.stream, engine._generate

    def spied_stream(conv, params, stop):
        finished, pieces = False, stream(conv, params, stop)
        try:
            for piece in pieces:
                finished = isinstance(piece, Finished)
                yield piece
        finally:
            if not finished:
                closed[id(conv)] = time.perf_counter()
            pieces.close()

    def spied_generate(run, streamer, conv, use_cache):
        with lock:
            spy.running += 1
        try:
            generate(run, streamer, conv, use_cache)
        finally:
            with lock:
                spy.running -= 1
            if id(conv) in closed:  # the stream was closed while generate still ran
                spy.stop_latencies.append(time.perf_counter() - closed.pop(id(conv)))

    engine.stream, engine._generate = spied_stream, spied_generate
    return spy


def test_stopping_half_of_eight_answers_frees_their_work_and_the_rest_finish(
    loaded_tiny, colour_videos, record_property
):
    engine = cached_engine(loaded_tiny)
    spy = spy_on_generate(engine)
    with serve(
        engine, AppSettings(model="tiny", frames=4, max_new_tokens=4000, concurrency=8), concurrency=8, queue_size=32
    ) as url:
        clients = [new_client(url) for _ in range(8)]
        for client, video in zip(clients, colour_videos):
            send(client, "Tell me everything.", [video])
        long_jobs = [step(c, "/answer", max_new_tokens=3000) for c in clients[:4]]
        short_jobs = [step(c, "/answer", max_new_tokens=300) for c in clients[4:]]
        deadline = time.monotonic() + 60
        while spy.running < 8 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert spy.running == 8
        stopped_at = time.monotonic()
        for client, job in zip(clients[:2], long_jobs[:2]):  # two press Stop
            job.cancel()
            instant(client, "/stop")
        for job in long_jobs[2:]:  # two close their tab
            job.cancel()
        while len(spy.stop_latencies) < 4 and time.monotonic() - stopped_at < 30:
            time.sleep(0.01)
        record_property("requests_and_freeing_s", round(time.monotonic() - stopped_at, 3))
        latencies = list(spy.stop_latencies)
        record_property("stop_to_end_s", " ".join(f"{x:.3f}" for x in latencies))
        # each stopped answer's generate ended within 0.5 s of the server learning of the stop
        assert len(latencies) == 4 and max(latencies) < 0.5, latencies
        for job in short_jobs:
            history = job.result(timeout=120)
            assert "tok/s" in answers(history)[-1]
    assert spy.running == 0
