"""The launched app driven through gradio_client, as a program or a second browser would."""

from __future__ import annotations

import pytest
from gradio_client import Client, handle_file

from model.settings import AppSettings


@pytest.fixture(scope="module")
def app_url(engine):
    import app

    demo = app.build_demo(engine, AppSettings(model="tiny", frames=4, max_new_tokens=64))
    demo.queue(default_concurrency_limit=1, max_size=16)
    demo.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True, ssr_mode=False,
                show_error=True, max_file_size="20mb")
    try:
        yield demo.local_url
    finally:
        demo.close()


@pytest.fixture()
def client(app_url):
    return Client(app_url, verbose=False, download_files=False)


def chat(client: Client, text: str, files=(), frames: int = 4, max_new_tokens: int = 24):
    """Send one chat message the way the page does (send, then answer); returns the chat and the updates."""
    message = {"text": text, "files": [handle_file(str(f)) for f in files]}
    client.predict(message, frames, False, api_name="/send")
    job = client.submit(max_new_tokens, 0.0, 0.9, api_name="/answer")
    updates = list(job)
    return job.result(), updates


def bubbles(history, role):
    """Text of each bubble of `role`; a file bubble reads as its path."""
    return [" ".join(part_text(p) for p in (m["content"] if isinstance(m["content"], list) else [m["content"]]))
            for m in history if m["role"] == role]


def part_text(part) -> str:
    if isinstance(part, str):
        return part
    if part.get("type") == "text":
        return part["text"]
    file = part.get("file", part)
    return str(file.get("path", ""))


def test_ask_api_streams_an_answer_about_a_video(client, video_path):
    job = client.submit(files=[handle_file(str(video_path))], question="What happens?", api_name="/ask")
    updates = list(job)
    final = job.result()
    assert isinstance(final, str) and final.strip()
    assert len(updates) >= 2 and all(final.startswith(u) for u in updates)


def test_ask_api_reports_a_broken_file_as_an_error(client, broken_video_path, video_path):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="broken.mp4"):
        client.predict(files=[handle_file(str(broken_video_path))], question="What is it?", api_name="/ask")
    assert client.predict(files=[handle_file(str(video_path))], question="And this?", max_new_tokens=8,
                          api_name="/ask").strip()


def test_chat_video_then_follow_up_without_media(client, video_path):
    history, updates = chat(client, "What happens in the video?", [video_path])
    assert len(updates) >= 2
    answers = bubbles(history, "assistant")
    assert len(answers) == 1 and answers[0].strip()
    assert any(b.endswith("clip.mp4") for b in bubbles(history, "user"))
    history, _ = chat(client, "And what colour is it?")
    answers = bubbles(history, "assistant")
    assert len(answers) == 2 and answers[1].strip()
    assert "No video or image yet" not in answers[1]


def test_chat_image(client, image_path):
    history, _ = chat(client, "What is in the picture?", [image_path])
    assert bubbles(history, "assistant")[-1].strip()


def test_broken_file_gets_a_clear_message_and_the_server_keeps_serving(client, broken_video_path, video_path):
    history, _ = chat(client, "What is this?", [broken_video_path])
    message = bubbles(history, "assistant")[-1]
    assert "broken.mp4" in message and "Traceback" not in message and "Errno" not in message
    history, _ = chat(client, "Describe it.", [video_path])
    assert bubbles(history, "assistant")[-1].strip()


def test_sessions_do_not_share_conversations(app_url, video_path):
    first = Client(app_url, verbose=False, download_files=False)
    second = Client(app_url, verbose=False, download_files=False)
    chat(first, "One?", [video_path])
    history, _ = chat(second, "Two?")
    assert len(bubbles(history, "assistant")) == 1
    assert "No video or image yet" in bubbles(history, "assistant")[0]


def test_readme_api_example_runs_against_the_app(app_url):
    """The README's gradio_client example, run as written against the launched app."""
    import re
    from pathlib import Path

    readme = Path(__file__).resolve().parents[1] / "README.md"
    section = readme.read_text().split("## Calling the API from Python", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    code = code.replace('"http://127.0.0.1:7860"', repr(app_url))
    code = code.replace('print(job.result())', 'result = job.result()')
    namespace: dict = {}
    cwd = Path.cwd()
    try:
        import os
        os.chdir(readme.parent)
        exec(compile(code, "README.md", "exec"), namespace)
    finally:
        os.chdir(cwd)
    assert isinstance(namespace["result"], str) and namespace["result"].strip()
