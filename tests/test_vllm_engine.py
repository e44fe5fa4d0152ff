"""The vLLM backend against a scripted HTTP server (httpx.MockTransport): requests, streams, errors.

The same backend against a real vLLM server is tested in tests_vllm/.
"""

from __future__ import annotations

import base64
import io
import json
import threading

import httpx
import numpy as np
import pytest
from PIL import Image

from model.chat.conversation import Conversation, MediaItem, Turn
from model.chat.limits import ChatLimits, MediaSupport, UserInputError, validate_message
from model.engines.base import EngineError, Finished, GenerationParams
from model.engines.families import LLAVA_NEXT_VIDEO
from model.engines.gpu import generate_for, generate_remote, generate_stream
from model.engines.vllm_engine import ServerConfig, VLLMEngine, chat_messages, check_media, request_body, sse_events
from model.media.clip import VideoClip
from model.settings import parse_settings

URL = "http://vllm.test/v1"
COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]


def clip(colours=COLOURS) -> VideoClip:
    frames = np.stack([np.full((48, 64, 3), c, dtype=np.uint8) for c in colours])
    return VideoClip(
        frames=frames, timestamps=[0.5 * i for i in range(len(colours))], duration=2.0, fps=25.0, source_size=(64, 48)
    )


def video_conversation(*follow_ups: str) -> Conversation:
    """A video question already answered, then follow-ups (the last one pending)."""
    first = Turn(
        text="What happens?",
        media=[MediaItem(path="/up/clip.mp4", kind="video", clip=clip())],
        answer="Colours change.",
        status="done",
    )
    return Conversation(turns=[first, *(Turn(text=t) for t in follow_ups)])


def sse(*events: dict | str) -> bytes:
    lines = [f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n" for e in events]
    return "".join(lines).encode()


def chunk(text: str) -> dict:
    return {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": text}}]}


USAGE = {"choices": [], "usage": {"prompt_tokens": 90, "completion_tokens": 3, "total_tokens": 93}}


def engine_with(handler, **config) -> VLLMEngine:
    return VLLMEngine(
        ServerConfig(url=URL, model=config.pop("model", "llava"), **config), transport=httpx.MockTransport(handler)
    )


def run(engine: VLLMEngine, conv: Conversation, **params) -> list:
    return list(engine.stream(conv, GenerationParams(**params), threading.Event()))


def test_video_goes_as_one_jpeg_data_url_with_its_frames_in_order():
    messages = chat_messages(video_conversation("And then?"))
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    video, text = messages[0]["content"]
    assert text == {"type": "text", "text": "What happens?"}
    url = video["video_url"]["url"]
    assert video["type"] == "video_url" and url.startswith("data:video/jpeg;base64,")
    frames = [Image.open(io.BytesIO(base64.b64decode(part))) for part in url.split(",")[1:]]
    assert [f.format for f in frames] == ["JPEG"] * 4 and frames[0].size == (64, 48)
    for frame, colour in zip(frames, COLOURS):
        assert np.abs(np.asarray(frame)[24, 32].astype(int) - colour).max() < 12
    assert messages[1]["content"] == [{"type": "text", "text": "Colours change."}]
    assert messages[2]["content"] == [{"type": "text", "text": "And then?"}]


def test_request_asks_for_a_streamed_greedy_answer_with_usage():
    body = request_body(video_conversation("And then?"), GenerationParams(max_new_tokens=64), "llava")
    assert body["model"] == "llava" and body["stream"] is True and body["max_tokens"] == 64
    assert body["temperature"] == 0.0 and "top_p" not in body
    assert body["stream_options"] == {"include_usage": True}
    sampled = request_body(video_conversation("x"), GenerationParams(temperature=0.7, top_p=0.8), "llava")
    assert sampled["temperature"] == 0.7 and sampled["top_p"] == 0.8


def test_sse_events_skip_comments_blanks_and_bad_lines_and_end_at_done():
    lines = [
        ": ping",
        "",
        'data: {"a": 1}',
        "event: x",
        "data: not json",
        'data:{"b": 2}',
        "data: [DONE]",
        'data: {"c": 3}',
    ]
    assert list(sse_events(lines)) == [{"a": 1}, {"b": 2}]


def test_stream_yields_pieces_then_stats_from_the_usage_chunk():
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["url"], seen["body"] = str(request.url), json.loads(request.content)
        seen["auth"] = request.headers.get("authorization")
        return httpx.Response(
            200,
            content=sse(chunk("A red"), chunk(""), chunk(" square."), USAGE, "[DONE]"),
            headers={"content-type": "text/event-stream"},
        )

    out = run(engine_with(handler, api_key="k3y"), video_conversation("And then?"))
    assert out[:2] == ["A red", " square."] and isinstance(out[2], Finished) and len(out) == 3
    stats = out[2].stats
    assert (stats.frames, stats.prompt_tokens, stats.new_tokens) == (4, 90, 3)
    assert out[2].answer_ids is None
    assert seen["url"] == f"{URL}/chat/completions" and seen["auth"] == "Bearer k3y"
    assert seen["body"]["messages"][-1]["content"][-1]["text"] == "And then?"


def test_the_served_model_name_is_asked_of_the_server_when_not_given():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json={"data": [{"id": "llava-hf/LLaVA-NeXT-Video-7B-hf"}]})
        assert json.loads(request.content)["model"] == "llava-hf/LLaVA-NeXT-Video-7B-hf"
        return httpx.Response(200, content=sse(chunk("ok"), "[DONE]"))

    engine = engine_with(handler, model=None)
    run(engine, video_conversation("Again?"))
    run(engine, video_conversation("Again?"))
    assert calls == ["/v1/models", "/v1/chat/completions", "/v1/chat/completions"]
    assert "LLaVA-NeXT-Video-7B-hf on the vLLM server" in engine.description


def test_a_server_with_several_models_needs_a_name():
    engine = engine_with(lambda r: httpx.Response(200, json={"data": [{"id": "a"}, {"id": "b"}]}), model=None)
    with pytest.raises(EngineError, match="--served-model-name"):
        run(engine, video_conversation("x"))


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        (
            400,
            "At most 0 image(s) may be provided in one prompt. (parameter=image)",
            "The model server refused the question: At most 0 image(s)",
        ),
        (
            400,
            "This model's maximum context length is 2048 tokens. However, your prompt contains at least 2049",
            "This conversation is too long for the model server: press Clear",
        ),
        (404, "The model `nope` does not exist. Valid aliases: tiny.", "does not serve this model: The model `nope`"),
        (401, "Unauthorized", "refused the demo's key"),
        (503, "overloaded", "busy; please try again"),
        (500, "boom", "failed (HTTP 500)"),
    ],
)
def test_refusals_and_failures_become_sentences_for_the_chat(status, message, expected):
    engine = engine_with(lambda r: httpx.Response(status, json={"error": {"message": message, "code": status}}))
    with pytest.raises(EngineError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        run(engine, video_conversation("x"))


def test_a_body_that_is_not_json_still_gives_a_sentence():
    engine = engine_with(lambda r: httpx.Response(502, text="<html>Bad gateway</html>"))
    with pytest.raises(EngineError, match=r"failed \(HTTP 502\)"):
        run(engine, video_conversation("x"))


def test_an_error_event_inside_the_stream_ends_the_answer_with_its_message():
    body = sse(chunk("Half"), {"error": {"message": "engine died", "code": 500}})
    engine = engine_with(lambda r: httpx.Response(200, content=body))
    pieces = []
    with pytest.raises(EngineError, match="stopped while answering; the answer so far is kept"):
        for item in engine.stream(video_conversation("x"), GenerationParams(), threading.Event()):
            pieces.append(item)
    assert pieces == ["Half"]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (httpx.ConnectError("refused"), "is not reachable"),
        (httpx.ReadTimeout("slow"), "stopped while answering"),  # and /health does not answer
        (httpx.RemoteProtocolError("peer closed connection"), "stopped while answering"),
    ],
)
def test_a_server_that_is_down_slow_or_gone_becomes_a_sentence(error, expected):
    def handler(request):
        raise error

    with pytest.raises(EngineError, match=expected):
        run(engine_with(handler), video_conversation("x"))


def test_a_connection_the_server_closed_while_idle_is_retried_once():
    calls = []

    def handler(request):
        calls.append(request.url.path)
        if len(calls) == 1:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return httpx.Response(200, content=sse(chunk("fine"), "[DONE]"))

    out = run(engine_with(handler), video_conversation("x"))
    assert out[0] == "fine" and len(calls) == 2


def test_a_silent_stream_from_a_healthy_server_is_a_timeout():
    def handler(request):
        if request.url.path == "/health":
            return httpx.Response(200)
        raise httpx.ReadTimeout("slow")

    with pytest.raises(EngineError, match="sent nothing for 60 s; please try again"):
        run(engine_with(handler), video_conversation("x"))


def test_a_connection_that_breaks_mid_answer_keeps_the_pieces_already_sent():
    class Broken(httpx.SyncByteStream):
        def __iter__(self):
            yield sse(chunk("Half an"))
            raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")

    engine = engine_with(lambda r: httpx.Response(200, stream=Broken()))
    pieces = []
    with pytest.raises(EngineError, match="stopped while answering; the answer so far is kept"):
        for item in engine.stream(video_conversation("x"), GenerationParams(), threading.Event()):
            pieces.append(item)
    assert pieces == ["Half an"]


def test_closing_the_stream_closes_the_response():
    closed = threading.Event()

    class Endless(httpx.SyncByteStream):
        def __iter__(self):
            while True:
                yield sse(chunk("word "))

        def close(self):
            closed.set()

    engine = engine_with(lambda r: httpx.Response(200, stream=Endless()))
    stream = engine.stream(video_conversation("x"), GenerationParams(), threading.Event())
    assert next(stream) == "word "
    stream.close()
    assert closed.is_set()


def test_the_engine_refuses_what_the_server_would_before_sending():
    support = MediaSupport(images=False, max_videos=1, max_frames=4)
    with_image = video_conversation("x")
    with_image.turns[-1].media.append(MediaItem(path="/up/p.png", kind="image", image=Image.new("RGB", (8, 8))))
    with pytest.raises(EngineError, match="text and video only"):
        check_media(with_image, support)
    two = video_conversation("x")
    two.turns[-1].media.append(MediaItem(path="/up/b.mp4", kind="video", clip=clip()))
    with pytest.raises(EngineError, match="one video per conversation"):
        check_media(two, support)
    with pytest.raises(EngineError, match="at most 3 frames"):
        check_media(video_conversation("x"), MediaSupport(images=False, max_videos=1, max_frames=3))
    check_media(video_conversation("x"), support)


def test_the_page_limits_take_one_video_or_image_a_message_and_say_what_the_server_takes():
    support = LLAVA_NEXT_VIDEO.server_media(32, 144)
    limits = ChatLimits.for_backend(support, 64, ())
    assert limits.max_frames == 32 and limits.images and limits.images_as_videos
    empty = Conversation()
    with pytest.raises(UserInputError, match="takes one video or image at a time: attach one per message"):
        validate_message("Compare", ["/up/a.mp4", "/up/photo.PNG"], empty, limits)
    assert validate_message("What is it?", ["/up/photo.PNG"], empty, limits) == ("What is it?", ["/up/photo.PNG"])
    assert validate_message("And this one?", ["/up/b.mp4"], video_conversation(), limits)[1] == ["/up/b.mp4"]
    assert support.summary(frames_asked=64) == (
        "an image as one video frame (144 tokens, without high-resolution tiles); one video or image at a time "
        "(a new one takes the place of the one before); at most 32 frames per video"
    )
    assert "frames per video" not in support.summary(frames_asked=32)  # the slider says it already
    text_only = ChatLimits.for_backend(MediaSupport(images=False, max_videos=1, max_frames=32), 64, ())
    with pytest.raises(UserInputError, match="is an image; this demo's model server takes text and video only"):
        validate_message("What is it?", ["/up/photo.PNG"], empty, text_only)
    assert MediaSupport().summary() == ""


def test_an_image_goes_as_a_one_frame_video_and_takes_the_earlier_video_s_place():
    sent = []

    def handler(request):
        sent.append(json.loads(request.content))
        return httpx.Response(200, content=sse(chunk("A red square."), USAGE, "[DONE]"))

    engine = engine_with(handler)
    conv = video_conversation("And this?")
    photo = MediaItem(path="/up/photo.png", kind="image", image=Image.new("RGB", (40, 30), (255, 0, 0)))
    conv.last.media.append(photo)
    notes = engine.prepare_turn(conv, GenerationParams())
    assert notes == [
        "clip.mp4 left the model's context: the model server takes one video or image at a time, so this answer "
        "is about the newest (earlier answers stay in the chat).",
        "photo.png goes to the model server as one video frame (144 tokens).",
    ]
    assert conv.turns[0].media[0].dropped and not photo.dropped
    run(engine, conv)
    first, _answer, last = sent[0]["messages"]
    assert first["content"] == [{"type": "text", "text": "What happens?"}]  # the earlier turn as text
    video = last["content"][0]
    url = video["video_url"]["url"]
    frames = [Image.open(io.BytesIO(base64.b64decode(part))) for part in url.split(",")[1:]]
    assert video["type"] == "video_url" and len(frames) == 1 and frames[0].size == (40, 30)
    assert np.abs(np.asarray(frames[0])[15, 20].astype(int) - (255, 0, 0)).max() < 12
    assert engine.prepare_turn(conv, GenerationParams()) == [
        "photo.png goes to the model server as one video frame (144 tokens)."
    ]


def test_the_vllm_backend_claims_no_gpu(engine):
    assert generate_for(engine).func is generate_stream
    assert generate_for(engine_with(lambda r: httpx.Response(500))).func is generate_remote


def test_backend_flags_and_environment(monkeypatch):
    with pytest.raises(SystemExit, match="needs --server-url"):
        parse_settings(["--backend", "vllm"])
    settings = parse_settings(
        [
            "--backend",
            "vllm",
            "--server-url",
            "http://10.0.0.5:8000/v1",
            "--served-model-name",
            "llava",
            "--server-frames",
            "16",
        ]
    )
    assert (settings.backend, settings.served_model_name, settings.server_frames) == ("vllm", "llava", 16)
    assert settings.concurrency == 16 and parse_settings([]).concurrency == 1
    monkeypatch.setenv("LLAVA_BACKEND", "vllm")
    monkeypatch.setenv("LLAVA_SERVER_URL", "http://127.0.0.1:8000/v1")
    monkeypatch.setenv("LLAVA_SERVER_API_KEY", "secret")
    monkeypatch.setenv("LLAVA_CONCURRENCY", "4")
    settings = parse_settings([])
    assert (settings.backend, settings.server_url, settings.server_api_key) == (
        "vllm",
        "http://127.0.0.1:8000/v1",
        "secret",
    )
    assert settings.concurrency == 4 and settings.served_model_name is None


def recording_engine(seen: list) -> VLLMEngine:
    """An engine whose server keeps each request (headers and body) and answers one word."""

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.headers, json.loads(request.content)))
        return httpx.Response(200, content=sse(chunk("Red."), USAGE, "[DONE]"))

    return engine_with(handler)


def test_each_conversation_carries_its_own_stable_routing_key():
    seen = []
    engine = recording_engine(seen)
    a, b = video_conversation("And then?"), video_conversation("And then?")
    a.session_id, b.session_id = "a" * 32, "b" * 32
    run(engine, a)
    a.turns.append(Turn(text="And after?"))
    run(engine, a)
    run(engine, b)
    keys = [(headers.get("x-session-id"), body.get("user")) for headers, body in seen]
    assert keys[0] == keys[1] and keys[0][0] == keys[0][1] and keys[2][0] != keys[0][0]
    assert all(key and "a" * 32 not in key and "b" * 32 not in key for key, _ in keys)  # not the folder's id
    run(engine, video_conversation("x"))  # a one-off (no id): nothing to route on
    assert "x-session-id" not in seen[-1][0] and "user" not in seen[-1][1]


def video_of(body: dict) -> dict:
    return body["messages"][0]["content"][0]


def test_a_follow_up_names_the_video_the_server_holds_by_its_uuid(monkeypatch):
    import model.engines.vllm_engine as vllm_engine

    encoded = []
    original = vllm_engine.video_data_url
    monkeypatch.setattr(vllm_engine, "video_data_url", lambda frames: encoded.append(1) or original(frames))
    seen = []
    engine = recording_engine(seen)
    conv = video_conversation("And then?")
    conv.session_id = "c" * 32
    run(engine, conv)
    conv.turns.append(Turn(text="And after?"))
    run(engine, conv)
    first, follow_up = video_of(seen[0][1]), video_of(seen[1][1])
    assert first["video_url"]["url"].startswith("data:video/jpeg;base64,") and first["uuid"]
    assert follow_up == {"type": "video_url", "video_url": {"url": None}, "uuid": first["uuid"]}
    assert len(json.dumps(seen[1][1])) < len(json.dumps(seen[0][1])) / 5 and len(encoded) == 1
    assert conv.turns[0].media[0].key not in first["uuid"]  # a hash: the frames' folder is not named
    conv.turns[0].media[0].replace_clip(clip(COLOURS[::-1]), [])  # new frames of the video: a new uuid, sent
    run(engine, conv)
    again = video_of(seen[-1][1])
    assert again["uuid"] != first["uuid"] and again["video_url"]["url"] != first["video_url"]["url"]


def test_a_video_the_server_let_go_is_sent_again_with_its_frames():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(body)
        if video_of(body)["video_url"]["url"] is None and len(seen) == 2:  # evicted, or another replica
            message = "Cache miss for video at index 0 but data is not provided."
            return httpx.Response(400, json={"error": {"message": message, "code": 400}})
        return httpx.Response(200, content=sse(chunk("Red."), USAGE, "[DONE]"))

    engine = engine_with(handler)
    conv = video_conversation("And then?")
    conv.session_id = "d" * 32
    run(engine, conv)
    conv.turns.append(Turn(text="And after?"))
    pieces = run(engine, conv)
    assert pieces[0] == "Red." and len(seen) == 3  # the miss, then the same request with the frames
    assert video_of(seen[2])["video_url"]["url"].startswith("data:") and video_of(seen[2])["uuid"]
    conv.turns.append(Turn(text="And last?"))
    run(engine, conv)
    assert video_of(seen[3])["video_url"]["url"].startswith("data:")  # missed once: its frames go every time


def test_encoded_videos_are_kept_within_their_byte_budget():
    from model.engines.vllm_engine import VideoUrls

    items = [MediaItem(path=f"/up/{i}.mp4", kind="video", clip=clip()) for i in range(3)]
    one = len(VideoUrls().url(items[0]))
    urls = VideoUrls(max_bytes=2 * one)
    for item in items:
        urls.url(item)
    assert list(urls._urls) == [items[1].key, items[2].key] and urls._bytes == 2 * one  # the oldest left


def models_then(handler, root: str):
    """A scripted server that lists one model served from `root`, and answers chats with `handler`."""

    def route(request):
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json={"data": [{"id": "served", "root": root}]})
        return handler(request)

    return route


def test_a_onevision_server_gets_images_as_images_and_several_videos(tmp_path):
    sent = []

    def chat(request):
        sent.append(json.loads(request.content))
        return httpx.Response(200, content=sse(chunk("Two clips."), USAGE, "[DONE]"))

    engine = engine_with(models_then(chat, "llava-hf/llava-onevision-qwen2-0.5b-ov-hf"), model="served")
    assert engine.check_server() is None and engine.family.name == "LLaVA-OneVision"
    assert engine.media_support.images and engine.media_support.max_videos is None
    conv = video_conversation("And these?")
    picture = MediaItem(path="/up/p.png", kind="image", image=Image.new("RGB", (40, 30), (0, 0, 255)))
    conv.last.media += [picture, MediaItem(path="/up/b.mp4", kind="video", clip=clip())]
    assert engine.prepare_turn(conv, GenerationParams()) == []  # nothing leaves the context
    run(engine, conv)
    image, video, _text = sent[0]["messages"][2]["content"]
    assert image["type"] == "image_url" and image["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert video["type"] == "video_url" and sent[0]["messages"][0]["content"][0]["type"] == "video_url"
    conv.last.answer, conv.last.status = "Two clips.", "done"
    conv.turns.append(Turn(text="And now?"))
    encoded = engine.video_urls._bytes
    run(engine, conv)
    assert sent[1]["messages"][2]["content"][0] == image and engine.video_urls._bytes == encoded  # encoded once
    folder = tmp_path / "my-finetune"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "llava_onevision"}))
    local = engine_with(models_then(chat, str(folder)), model="served")
    assert local.check_server() is None and local.family.name == "LLaVA-OneVision"
    other = engine_with(models_then(chat, "/nowhere/a-model"), model="served")
    assert other.check_server() is None and other.family.name == "LLaVA-NeXT-Video"
