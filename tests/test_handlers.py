"""The page's steps against a scripted engine: each answer is one the test chose, so every assertion
about what the chat shows, and about what the engine was given, checks that very thing."""

from __future__ import annotations

import threading

import pytest
from gradio_client.exceptions import AppError

from model.settings import AppSettings
from tests.support.client import answers, bubbles, chat, instant, send, step
from tests.support.scripted import ScriptedEngine

MOST_TOKENS = 200


@pytest.fixture(scope="module")
def app_engine():
    """The launched app (conftest's `app_url`) answers from the script."""
    return ScriptedEngine()


@pytest.fixture(scope="module")
def app_settings():
    return AppSettings(model="tiny", frames=4, max_new_tokens=MOST_TOKENS, concurrency=1)


@pytest.fixture()
def scripted(app_engine, client):
    """The app's engine, its script as it starts and nothing heard yet (`client`: a fresh session)."""
    app_engine.script, app_engine.hold = ScriptedEngine.script, None
    app_engine.heard.clear()
    app_engine.started.clear()
    return app_engine


def test_the_chat_shows_the_answer_the_engine_gave(client, scripted, video_path):
    scripted.script = lambda question: "A **red** ball rolls left, at 0:02."
    history, _ = chat(client, "What happens?", [video_path], max_new_tokens=64)
    assert answers(history)[-1].startswith("A **red** ball rolls left, at 0:02.")
    assert bubbles(history, "user")[-1] == "What happens?"
    assert [h.question for h in scripted.heard] == ["What happens?"]


def test_a_follow_up_is_asked_with_the_conversation_so_far(client, scripted, video_path):
    first, _ = chat(client, "What happens?", [video_path], frames=3, max_new_tokens=64)
    second, _ = chat(client, "And then?", frames=3, max_new_tokens=64)
    heard = scripted.heard[-1]
    assert heard.question == "And then?" and heard.questions == 2
    assert heard.earlier_answers == ("You asked: What happens?",)
    assert heard.frames == (3,)  # the video stays in the conversation, with the frames it was sent with
    assert answers(second)[-1].startswith("You asked: And then?")
    chat(client, "With more frames?", frames=6, max_new_tokens=64)
    assert scripted.heard[-1].frames == (3, 6)  # other settings: the newest video is taken again, as said


def test_the_settings_reach_the_engine_by_name(client, scripted, video_path):
    send(client, "Describe it.", [video_path], frames=5)
    step(client, "/answer", max_new_tokens=48, temperature=0.7, top_p=0.5).result()
    heard = scripted.heard[-1]
    assert heard.frames == (5,)
    assert (heard.params.max_new_tokens, heard.params.temperature, heard.params.top_p) == (48, 0.7, 0.5)
    send(client, "Again, at length.")
    with pytest.raises(AppError, match=f"greater than maximum value {MOST_TOKENS}"):
        step(client, "/answer", max_new_tokens=10**9).result()  # past the server's cap: refused, not run
    assert len(scripted.heard) == 1


def test_stop_mid_answer_keeps_the_words_so_far_and_says_it_stopped(client, scripted, video_path):
    scripted.script = lambda question: "one two three four five six"
    scripted.hold = threading.Event()
    send(client, "Count.", [video_path])
    job = step(client, "/answer", max_new_tokens=64)
    try:
        assert scripted.started.wait(30)  # the first word is out; the answer waits for the hold
        instant(client, "/stop")
    finally:
        scripted.hold.set()
    answer = answers(job.result(timeout=30))[-1]
    assert answer.startswith("one") and "two three" not in answer
    assert "stopped" in answer.lower()


def test_retry_asks_the_same_question_again_and_replaces_the_answer(client, scripted, video_path):
    replies = iter(["The first answer.", "The second answer."])
    scripted.script = lambda question: next(replies)
    chat(client, "Which answer?", [video_path], max_new_tokens=64)
    client.predict(api_name="/retry")
    history = step(client, "/answer", max_new_tokens=64).result()
    assert [h.question for h in scripted.heard] == ["Which answer?", "Which answer?"]
    assert [a for a in answers(history) if "answer." in a] == [answers(history)[-1]]
    assert answers(history)[-1].startswith("The second answer.")


def test_undo_takes_the_turn_back_into_the_box_and_clear_forgets_the_conversation(client, scripted, video_path):
    chat(client, "Kept?", [video_path], max_new_tokens=64)
    chat(client, "Taken back?", max_new_tokens=64)
    history, box, *_side = client.predict(api_name="/undo")  # (the conversation's state is the server's)
    assert bubbles(history, "user")[-1] == "Kept?"
    assert box["value"] == {"text": "Taken back?", "files": []} and box["interactive"]
    forgotten = len(scripted.forgotten)
    history, *_ = client.predict(api_name="/clear")
    assert history == [] and len(scripted.forgotten) == forgotten + 1
