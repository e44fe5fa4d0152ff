"""The launched app driven through gradio_client, as a program or a second browser would."""

from __future__ import annotations

import httpx
import pytest
from gradio_client import Client, handle_file

from tests.support.client import answers, bubbles, chat, instant, send, step, strips


def test_the_ask_api_has_no_page_event(app_url):
    """/ask is an API endpoint only: run at page load, it would show every visitor an error."""
    config = httpx.get(f"{app_url}/config").json()
    ask = next(d for d in config["dependencies"] if d.get("api_name") == "ask")
    assert ask["targets"] == []  # no page load, no change of its hidden inputs


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
    assert client.predict(
        files=[handle_file(str(video_path))], question="And this?", max_new_tokens=8, api_name="/ask"
    ).strip()


def test_chat_video_then_follow_up_without_media(client, video_path):
    history, updates = chat(client, "What happens in the video?", [video_path])
    assert len(updates) >= 2
    said = answers(history)
    assert len(said) == 1 and said[0].strip()
    [(label, frames)] = strips(history)
    assert label.startswith("clip.mp4 · 4 frames") and len(frames) == 4
    assert [c for _, c in frames] == ["00:00.2", "00:00.7", "00:01.2", "00:01.7"]
    assert all(src.startswith("gradio_api/file=") and src.endswith(".jpg") for src, _ in frames)
    assert any(b.endswith("clip.mp4") for b in bubbles(history, "user"))
    history, _ = chat(client, "And what colour is it?")
    said = answers(history)
    assert len(said) == 2 and said[1].strip()
    assert "No video or image yet" not in said[1]
    assert len(strips(history)) == 1


def test_a_clip_range_on_a_follow_up_takes_new_frames_of_the_newest_video(client, video_path):
    chat(client, "What happens?", [video_path])
    history, _ = chat(client, "And in this part?", start="0.5", end="0:01.5")
    assert len(strips(history)) == 2
    label, frames = strips(history)[-1]
    assert label == "clip.mp4 · 4 frames the model saw (00:00.5 to 00:01.5)"
    assert all("00:00.5" <= caption <= "00:01.5" for _, caption in frames)
    assert "Frames of clip.mp4 taken again for this question: from 00:00.5 to 00:01.5." in answers(history)[-1]
    assert bubbles(history, "user").count("Attached: clip.mp4") == 1  # attached once, not again
    history, _ = chat(client, "And then?", start="0.5", end="0:01.5")  # the same range: nothing new
    assert len(strips(history)) == 2


def test_a_follow_up_samples_again_with_the_frames_and_the_picking_now_set(client, video_path):
    chat(client, "What happens?", [video_path], frames=4)
    history, _ = chat(client, "And with fewer frames?", frames=2)
    label, frames = strips(history)[-1]
    assert label == "clip.mp4 · 2 frames the model saw" and len(strips(history)) == 2
    assert "Frames of clip.mp4 taken again for this question: 2 frames instead of 4." in answers(history)[-1]
    assert answers(history)[-1].splitlines()[-1].startswith("6 frames in context")  # the 4 before stay
    history, _ = chat(client, "And now?", frames=2)  # nothing changed: the same frames, no note
    assert len(strips(history)) == 2 and "taken again" not in answers(history)[-1]


def test_a_follow_up_range_past_the_end_gets_one_note_that_agrees(client, video_path):
    chat(client, "What happens?", [video_path])
    history, _ = chat(client, "And later?", start="2:00", end="3:00")
    message = answers(history)[-1]
    assert "The clip start (02:00.0) is after the end of clip.mp4 (00:02.0 long), so it was not used." in message
    assert "taken again" not in message and "whole video was used" not in message
    assert len(strips(history)) == 1


def test_a_range_past_the_end_keeps_the_file_and_says_why(client, video_path):
    history, _ = chat(client, "What happens?", [video_path], start="0:30")
    message = answers(history)[-1]
    assert (
        "clip.mp4: The clip start (00:30.0) is after the end of the video (00:02.0 long); the whole video "
        "was used" in message
    )
    label, frames = strips(history)[-1]
    assert label == "clip.mp4 · 4 frames the model saw" and "tok/s" in message
    history, _ = chat(client, "Describe it.", [video_path], start="1", end="9")
    assert "clip.mp4: the video is 00:02.0 long, so the clip ends there" in answers(history)[-1]


def test_one_frame_every_n_seconds(client, video_path):
    message = {"text": "What happens?", "files": [handle_file(str(video_path))]}
    step(client, "/send", message=message, frames=16, pick="One every N seconds", every=0.5).result()
    history = step(client, "/answer", max_new_tokens=16).result()
    label, frames = strips(history)[-1]
    assert label == "clip.mp4 · 4 frames the model saw (one every 0.5 s)" and len(frames) == 4


@pytest.fixture(scope="module")
def long_video(media_dir):
    from tests.support.videos import make_video

    return make_video(media_dir / "twelve_seconds.mp4", seconds=12.0, fps=10, size=(96, 64))


def test_scan_api_streams_a_timeline_that_covers_the_video_and_is_kept(client, long_video):
    job = client.submit(handle_file(str(long_video)), 3, 2, 8, api_name="/scan")
    updates = list(job)
    timeline = job.result()
    assert len(timeline) == 4 and timeline[0]["start"] == 0 and timeline[-1]["end"] == pytest.approx(12, abs=0.2)
    assert all(a["end"] == b["start"] for a, b in zip(timeline, timeline[1:])) and all(s["text"] for s in timeline)
    assert len(updates) >= 2  # the timeline grows as batches come
    again = client.submit(handle_file(str(long_video)), 3, 2, 8, api_name="/scan")
    assert again.result() == timeline  # the same content: kept, not scanned again


def test_scan_api_refuses_what_is_not_a_video(client, image_path):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="picture.png is not a video"):
        client.predict(handle_file(str(image_path)), 3, 2, 8, api_name="/scan")


def test_ask_can_answer_from_the_scan(client, long_video):
    answer = client.predict(
        files=[handle_file(str(long_video))],
        question="When does it change?",
        frames=8,
        max_new_tokens=16,
        scan=True,
        api_name="/ask",
    )
    assert answer.strip()


def test_chat_image(client, image_path):
    history, _ = chat(client, "What is in the picture?", [image_path])
    answer = answers(history)[-1]
    assert "prompt tokens" in answer and "⚠️" not in answer, answer  # an answer, not an error bubble


def test_broken_file_gets_a_clear_message_and_the_server_keeps_serving(client, broken_video_path, video_path):
    history, _ = chat(client, "What is this?", [broken_video_path])
    message = answers(history)[-1]
    assert "broken.mp4" in message and "Traceback" not in message and "Errno" not in message
    history, _ = chat(client, "Describe it.", [video_path])
    assert answers(history)[-1].strip()


def test_sessions_do_not_share_conversations(app_url, video_path):
    first = Client(app_url, verbose=False, download_files=False)
    second = Client(app_url, verbose=False, download_files=False)
    chat(first, "One?", [video_path])
    history, _ = chat(second, "Two?")
    assert len(answers(history)) == 1
    assert "No video or image yet" in answers(history)[0]


def test_readme_api_example_runs_against_the_app(app_url):
    """The README's gradio_client example, run as written against the launched app."""
    import re
    from pathlib import Path

    readme = Path(__file__).resolve().parents[1] / "README.md"
    section = readme.read_text().split("## Calling the API from Python", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    code = code.replace('"http://127.0.0.1:7860"', repr(app_url))
    code = code.replace("print(job.result())", "result = job.result()")
    namespace: dict = {}
    cwd = Path.cwd()
    try:
        import os

        os.chdir(readme.parent)
        exec(compile(code, "README.md", "exec"), namespace)
    finally:
        os.chdir(cwd)
    assert isinstance(namespace["result"], str) and namespace["result"].strip()


def test_readme_scan_example_runs_against_the_app(app_url, capsys):
    """The README's /scan example, run as written against the launched app."""
    import os
    import re
    from pathlib import Path

    readme = Path(__file__).resolve().parents[1] / "README.md"
    section = readme.read_text().split("## Calling the API from Python", 1)[1].split("\n## ", 1)[0]
    code = re.findall(r"```python\n(.*?)```", section, re.S)[1].replace('"http://127.0.0.1:7860"', repr(app_url))
    cwd = Path.cwd()
    try:
        os.chdir(readme.parent)
        exec(compile(code, "README.md", "exec"), {})
    finally:
        os.chdir(cwd)
    parts = re.findall(r"^([\d.]+)-([\d.]+) s: ", capsys.readouterr().out, re.M)
    assert len(parts) >= 2 and parts[0][0] == "0.0" and all(a[1] == b[0] for a, b in zip(parts, parts[1:]))


def test_stop_ends_generation_keeps_the_partial_answer_and_the_next_question_works(client, app_engine, video_path):
    import time

    send(client, "Tell me everything.", [video_path])
    steps = []
    hook = app_engine.model.register_forward_hook(lambda *a: steps.append(time.monotonic()))
    try:
        job = step(client, "/answer", max_new_tokens=2000)
        deadline = time.monotonic() + 60
        while len(steps) < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(steps) >= 20, "the answer never started generating"
        instant(client, "/stop")  # marks the answer; its stream ends itself with the final state
        stopped_at = time.monotonic()
        history = job.result(timeout=30)
        time.sleep(1.0)
    finally:
        hook.remove()
    late = [t for t in steps if t > stopped_at + 0.5]
    assert not late, f"{len(late)} forward steps ran more than 0.5 s after Stop"
    assert len(steps) < 2000
    last = answers(history)[-1]
    assert "stopped" in last and len(last) > len("*⏹ stopped*")
    history, _ = chat(client, "A short follow-up?")
    assert answers(history)[-1].strip()
    assert "cached" in answers(history)[-1]


def test_closing_the_tab_mid_answer_stops_generation(client, app_url, app_engine, video_path):
    """A browser that goes away mid-answer (its event stream closes) ends generate too."""
    import json
    import time

    import httpx

    send(client, "Tell me everything.", [video_path])
    fn_index = client._infer_fn_index("/answer", None)
    app_url = app_url.rstrip("/")
    steps = []
    hook = app_engine.model.register_forward_hook(lambda *a: steps.append(time.monotonic()))
    try:
        body = {
            "data": [None, 2000, 0.0, 0.9],
            "fn_index": fn_index,
            "session_hash": client.session_hash,
            "event_data": None,
            "trigger_id": None,
        }
        httpx.post(f"{app_url}/gradio_api/queue/join", json=body).raise_for_status()
        with httpx.stream(
            "GET", f"{app_url}/gradio_api/queue/data", params={"session_hash": client.session_hash}, timeout=30
        ) as sse:
            for line in sse.iter_lines():
                if (
                    line.startswith("data:")
                    and json.loads(line[5:]).get("msg") == "process_generating"
                    and len(steps) > 20
                ):
                    break
        closed_at = time.monotonic()
        time.sleep(1.5)
    finally:
        hook.remove()
    assert len(steps) < 2000
    late = [t for t in steps if t > closed_at + 0.5]
    assert not late, f"{len(late)} forward steps ran more than 0.5 s after the tab closed"


def raw_call(base: str, api_name: str, data: list) -> str:
    """Call an endpoint over plain HTTP (no client-side upload); returns the event stream's text."""
    import httpx

    event = httpx.post(f"{base}/gradio_api/call/{api_name}", json={"data": data}).json()["event_id"]
    return httpx.get(f"{base}/gradio_api/call/{api_name}/{event}", timeout=30).text


def send_data(message: dict) -> list:
    """/send's values as a plain HTTP call sends them, in the order of the event's inputs: the message, the
    conversation's state (None), then the video settings as the page starts (4 frames)."""
    return [message, None, 4, False, "", "", False, "Spread over the video", 2.0, True, False]


def test_files_outside_the_uploads_cannot_be_read(app_url, tmp_path_factory, video_path):
    """A crafted request naming a server path is refused; the file server refuses app code too."""
    import shutil

    import httpx

    secret = tmp_path_factory.mktemp("private") / "private.mp4"
    shutil.copy(video_path, secret)
    crafted = {"path": str(secret), "meta": {"_type": "gradio.FileData"}}
    base = app_url.rstrip("/")
    reply = raw_call(base, "ask", ["What is in it?", [crafted], 4, 8, 0.0, 0.9])
    assert "event: error" in reply and "event: complete" not in reply
    reply = raw_call(base, "send", send_data({"text": "What is in it?", "files": [crafted]}))
    assert "event: error" in reply and "was not uploaded" in reply
    assert "private.mp4" not in reply.split("event: error")[0]
    for path in ["/etc/passwd", "app.py", str(secret), "../../etc/passwd", "/work/../etc/passwd"]:
        assert httpx.get(f"{base}/gradio_api/file={path}").status_code in (403, 404), path


def test_the_page_inputs_take_no_url(app_url):
    """The page uploads its files: a program naming one by URL in the page's own step is refused, no fetch."""
    url = "https://example.com/clip.mp4"  # would be fetched, unbounded, by gradio's own rule
    named = {"path": url, "url": url, "meta": {"_type": "gradio.FileData"}}
    reply = raw_call(app_url, "send", send_data({"text": "What is in it?", "files": [named]}))
    assert "event: error" in reply and "Upload the file instead of naming it by URL." in reply


def test_frame_strips_are_sent_once_and_only_the_answer_streams(client, app_url, video_path):
    """While an answer streams, updates carry the new words only, not the strips or earlier turns."""
    import json

    chat(client, "First?", [video_path])
    send(client, "Second?", [video_path])
    fn_index = client._infer_fn_index("/answer", None)
    body = {
        "data": [None, 64, 0.0, 0.9],
        "fn_index": fn_index,
        "session_hash": client.session_hash,
        "event_data": None,
        "trigger_id": None,
    }
    httpx.post(f"{app_url}/gradio_api/queue/join", json=body).raise_for_status()
    updates = []
    with httpx.stream(
        "GET", f"{app_url}/gradio_api/queue/data", params={"session_hash": client.session_hash}, timeout=60
    ) as sse:
        for line in sse.iter_lines():
            if line.startswith("data:"):
                msg = json.loads(line[5:])
                if msg.get("msg") in ("process_generating", "process_completed"):
                    updates.append(json.dumps(msg["output"].get("data", [None])[0]))
                if msg.get("msg") == "process_completed":
                    break
    assert len(updates) >= 3
    first, streamed = updates[0], updates[1:-1]
    assert first.count("frame-strip") == 2  # the first update holds the whole chat once
    assert not any("frame-strip" in u or "clip.mp4" in u for u in streamed)
    # each streamed update is a small diff: appended words, then the stats line, never the whole chat
    assert max(len(u) for u in streamed) < len(first) / 4


def test_frame_strip_images_are_served(client, app_url, video_path):
    history, _ = chat(client, "What happens?", [video_path])
    [(_, frames)] = strips(history)[-1:]
    for src, _ in frames:
        reply = httpx.get(f"{app_url}/{src}")
        assert reply.status_code == 200 and reply.headers["content-type"] == "image/jpeg"
