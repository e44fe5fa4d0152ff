"""Conversation bookkeeping and prompt rendering through the checkpoint's own chat template."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model.chat.conversation import Conversation, MediaItem, Turn, template_messages
from model.chat.editing import mark_stopped, retry_last, undo_last
from model.chat.limits import ChatLimits, MediaSupport, UserInputError, validate_message
from model.chat.options import MediaOptions, clip_range, parse_clip_time
from model.chat.reading import add_turn
from model.chat.turns import release_media
from model.engines.answering import stream_answer
from model.engines.base import EngineError, Finished, GenerationParams, GenerationStats
from model.media.clip import VideoClip, format_timestamp
from ui.messages import FrameStrip, chatbot_messages


def clip(n: int = 4) -> VideoClip:
    return VideoClip(
        frames=np.zeros((n, 32, 32, 3), np.uint8),
        timestamps=[i * 0.5 for i in range(n)],
        duration=n * 0.5,
        fps=2.0,
        source_size=(32, 32),
        notes=[],
    )


def video(name: str = "a.mp4", n: int = 4) -> MediaItem:
    return MediaItem(path=f"/tmp/{name}", kind="video", clip=clip(n))


def test_template_messages_keep_media_of_earlier_turns_and_answers():
    conv = Conversation(
        turns=[
            Turn(text="What happens?", media=[video()], answer="A ball bounces.", status="done"),
            Turn(text="And then?"),
        ]
    )
    msgs = template_messages(conv)
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
    assert msgs[0]["content"] == [{"type": "video"}, {"type": "text", "text": "What happens?"}]
    assert msgs[1]["content"] == [{"type": "text", "text": "A ball bounces."}]
    assert msgs[2]["content"] == [{"type": "text", "text": "And then?"}]
    assert len(conv.videos()) == 1


def test_images_come_before_videos_within_a_message_as_templates_render_them():
    image = MediaItem(path="/tmp/p.png", kind="image")
    conv = Conversation(turns=[Turn(text="Compare", media=[video(), image])])
    assert [m.kind for m in conv.media()] == ["image", "video"]
    assert template_messages(conv)[0]["content"][:2] == [{"type": "image"}, {"type": "video"}]


def test_failed_turns_are_left_out_of_the_model_context():
    conv = Conversation(turns=[Turn(text="x", status="error", notes=["⚠️ bad"]), Turn(text="y")])
    msgs = template_messages(conv)
    assert len(msgs) == 1 and msgs[0]["content"][-1]["text"] == "y"
    assert "⚠️ bad" in chatbot_messages(conv)[1]["content"]


def test_prompt_renders_in_the_7b_format(engine):
    conv = Conversation(
        turns=[Turn(text="What happens?", media=[video()], answer="It rolls.", status="done"), Turn(text="Why?")]
    )
    prompt = engine.render_prompt(conv)
    assert prompt == "USER: <video>\nWhat happens? ASSISTANT: It rolls. USER: Why? ASSISTANT:"


def test_system_prompt_is_rendered_raw(engine):
    conv = Conversation(turns=[Turn(text="Hi")], system_prompt="Be brief.")
    assert engine.render_prompt(conv) == "Be brief. USER: Hi ASSISTANT:"


def test_chatbot_shows_files_text_answer_and_stopped_marker():
    conv = Conversation(turns=[Turn(text="Q", media=[video("clip.mp4")], answer="partial", status="stopped")])
    shown = chatbot_messages(conv)
    assert shown[0] == {"role": "user", "content": {"path": "/tmp/clip.mp4"}}
    assert shown[1] == {"role": "user", "content": "Q"}
    assert shown[2]["role"] == "assistant"
    assert "partial" in shown[2]["content"] and "stopped" in shown[2]["content"]


@pytest.mark.parametrize(
    "text, files, message",
    [
        ("", [], "Type a question"),
        ("x" * 5000, [], "characters long"),
        ("q", ["a", "b", "c", "d", "e"], "at most 4 files"),
    ],
)
def test_validate_message_rejects_with_a_readable_reason(text, files, message):
    with pytest.raises(UserInputError, match=message):
        validate_message(text, files, Conversation(), ChatLimits())


def test_validate_message_caps_media_per_conversation():
    conv = Conversation(turns=[Turn(text="q", media=[video(str(i)) for i in range(8)], status="done")])
    with pytest.raises(UserInputError, match="at most 8 files"):
        validate_message("q", ["x.mp4"], conv, ChatLimits())
    assert validate_message("  follow-up  ", [], conv, ChatLimits()) == ("follow-up", [])


def test_add_turn_samples_video_and_defaults_the_question(video_path):
    conv = Conversation()
    turn = add_turn(conv, "", [str(video_path)], MediaOptions(frames=6))
    assert turn.status == "pending" and turn.text.startswith("Describe this video")
    assert turn.media[0].kind == "video" and turn.media[0].clip.frames.shape[0] == 6


def test_add_turn_turns_a_broken_file_into_a_clear_note(broken_video_path):
    conv = Conversation()
    turn = add_turn(conv, "what is it?", [str(broken_video_path)], MediaOptions())
    assert turn.status == "error" and turn.rejected == ["broken.mp4"]
    assert turn.notes and "broken.mp4" in turn.notes[0] and "Errno" not in turn.notes[0]
    assert not retry_last(conv)


class NoPrep:
    """An engine whose CPU preparation has nothing to do."""

    media_support = MediaSupport()

    def prepare_turn(self, conv, params):
        return []


def fake_generate(pieces, error=None):
    def generate(conv, params):
        yield from pieces
        if error:
            raise error
        yield Finished(
            GenerationStats(frames=4, prompt_tokens=10, new_tokens=len(pieces), ttft_s=0.1, tokens_per_s=5.0),
            answer_ids=[7, 8],
        )

    return generate


def test_stream_answer_fills_the_last_turn_and_records_stats():
    conv = Conversation(turns=[Turn(text="q", media=[video()])])
    seen = [c.last.answer for c in stream_answer(conv, GenerationParams(), NoPrep(), fake_generate(["A ", "ball"]))]
    assert seen[1:3] == ["A ", "A ball"]
    assert conv.last.status == "done" and conv.last.answer == "A ball" and conv.last.answer_ids == [7, 8]
    assert "4 frames" in conv.last.stats


def test_stream_answer_shows_engine_errors_in_the_chat():
    conv = Conversation(turns=[Turn(text="q", media=[video()])])
    list(stream_answer(conv, GenerationParams(), NoPrep(), fake_generate(["x"], EngineError("too long"))))
    assert conv.last.status == "error" and "⚠️ too long" in conv.last.notes


def test_closing_the_stream_marks_the_answer_stopped_and_closes_generation():
    closed = []

    def generate(conv, params):
        try:
            for i in range(100):
                yield f"{i} "
        finally:
            closed.append(True)

    conv = Conversation(turns=[Turn(text="q", media=[video()])])
    stream = stream_answer(conv, GenerationParams(), NoPrep(), generate, render_every_s=0)
    next(stream), next(stream), next(stream)
    stream.close()
    assert conv.last.status == "stopped" and conv.last.answer == "0 1 " and closed == [True]


def test_a_stop_after_the_last_piece_keeps_its_mark():
    conv = Conversation(turns=[Turn(text="q", media=[video()])])

    def generate(conv, params):
        yield "all of it"
        mark_stopped(conv)  # the Stop handler, in its own thread, between the last piece and the end

    list(stream_answer(conv, GenerationParams(), NoPrep(), generate))
    assert conv.last.status == "stopped" and conv.last.answer == "all of it"


def test_pieces_faster_than_the_render_interval_go_out_together():
    conv = Conversation(turns=[Turn(text="q", media=[video()])])
    pieces = [f"{i} " for i in range(50)]
    shown = [
        c.last.answer
        for c in stream_answer(conv, GenerationParams(), NoPrep(), fake_generate(pieces), render_every_s=60)
    ]
    assert shown == ["", "0 ", "".join(pieces)]  # before, first piece, the rest at the end
    assert conv.last.status == "done"


def test_retry_undo_and_stop_bookkeeping():
    conv = Conversation(turns=[Turn(text="q", media=[video()], answer="a", status="done", stats="s")])
    assert retry_last(conv) and conv.last.answer == "" and conv.last.status == "pending"
    mark_stopped(conv)
    assert conv.last.status == "stopped"
    turn = undo_last(conv)
    assert turn.text == "q" and conv.turns == []
    assert undo_last(conv) is None and not retry_last(conv)


@pytest.mark.parametrize(
    "text, seconds", [("83.5", 83.5), ("1:23.5", 83.5), ("0:01:23", 83.0), ("", None), (None, None), (" 2 ", 2.0)]
)
def test_clip_times_parse_seconds_and_mm_ss(text, seconds):
    assert parse_clip_time(text, "start") == seconds


@pytest.mark.parametrize(
    "start, end, message",
    [("abc", "", "is not a time"), ("-1", "", "from 0 on"), ("5", "2", "end comes before its start")],
)
def test_bad_clip_ranges_are_refused(start, end, message):
    with pytest.raises(UserInputError, match=message):
        clip_range(start, end)


def test_files_of_other_types_are_refused_before_loading():
    with pytest.raises(UserInputError, match="notes.txt is not a video or an image"):
        validate_message("q", ["/tmp/notes.txt"], Conversation(), ChatLimits())


def test_clip_range_and_frame_times_reach_the_prompt(video_path):
    conv = Conversation()
    turn = add_turn(
        conv, "What happens?", [str(video_path)], MediaOptions(frames=4, start=1.0, end=2.0, frame_times=True)
    )
    times = turn.media[0].clip.timestamps
    assert len(times) == 4 and all(1.0 <= t <= 2.0 for t in times)
    text = template_messages(conv)[0]["content"][-1]["text"]
    assert text.startswith("Frames of clip.mp4 (2.0 s long) were taken at 1.1 s,") and text.endswith("\nWhat happens?")
    assert len(turn.media[0].thumbnails) == 4
    [strip] = [m["content"] for m in chatbot_messages(conv) if isinstance(m["content"], FrameStrip)]
    assert [c for _, c in strip.frames] == [format_timestamp(t) for t in times]
    release_media(conv)
    assert not any(Path(p).exists() for p in turn.media[0].thumbnails)


def test_a_full_disk_is_named_as_such(video_path, monkeypatch):
    """Before: a full disk read 'This file could not be read; please try another file'."""
    import errno

    from model.chat import reading
    from model.chat.turns import start_turn

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(reading, "load_media", full)
    conv = Conversation()
    turn = start_turn(conv, "What happens?", [str(video_path)], MediaOptions(frames=2))
    list(reading.read_files(conv, turn, MediaOptions(frames=2)))
    assert turn.status == "error" and any("disk is full" in note for note in turn.notes), turn.notes


def test_plain_text_breaks_every_marker_and_leaves_other_text_alone():
    from model.chat.plain import ZERO_WIDTH_SPACE as Z
    from model.chat.plain import plain_text
    from model.chat.prompt import SENTINEL

    assert plain_text("What is 3 < 4 > 2? a<b, <3") == "What is 3 < 4 > 2? a<b, <3"
    assert plain_text("<video><image></s><|im_end|>") == f"<{Z}video><{Z}image><{Z}/s><{Z}|im_end|>"
    assert SENTINEL not in plain_text(f"a{SENTINEL}b") and "ANSWER" in plain_text(f"a{SENTINEL}b")
    assert plain_text(plain_text("<video>")) == plain_text("<video>")  # once is enough
