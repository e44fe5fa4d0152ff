"""Taking a conversation home: a self-contained HTML page and JSON data, everything escaped."""

from __future__ import annotations

import json
import re
import shutil

from model.chat.conversation import Conversation
from model.chat.options import MediaOptions
from model.chat.reading import add_turn
from model.export import ExportInfo, conversation_data, conversation_html, conversation_json

HOSTILE = "<img src=x onerror=alert(1)>.mp4"
INFO = ExportInfo(model="tiny · cpu · float32", settings={"frames": 4}, date="2026-11-30 12:00 UTC")


def two_turns(video, image) -> Conversation:
    conv = Conversation()
    add_turn(conv, "What happens <b>here</b>?", [str(video)], MediaOptions(frames=4, thumbnails=False))
    conv.last.answer, conv.last.status, conv.last.stats = (
        "A <script>alert(2)</script> ball.",
        "done",
        "4 frames · 9 new",
    )
    add_turn(conv, "And in this picture?", [str(image)], MediaOptions(frames=4, thumbnails=False))
    conv.last.answer, conv.last.status = "Colours & shapes", "stopped"
    conv.last.notes.append("⚠️ something to say")
    return conv


def test_html_holds_questions_answers_and_one_image_per_frame(video_path, image_path, tmp_path):
    hostile = tmp_path / HOSTILE
    shutil.copy(video_path, hostile)
    conv = two_turns(hostile, image_path)
    page = conversation_html(conv, INFO)
    assert "What happens &lt;b&gt;here&lt;/b&gt;?" in page and "And in this picture?" in page
    assert "A &lt;script&gt;alert(2)&lt;/script&gt; ball." in page and "Colours &amp; shapes" in page
    assert "&lt;img src=x onerror=alert(1)&gt;.mp4" in page
    assert "<script" not in page.lower() and "onerror=alert" not in page.replace(
        "&lt;img src=x onerror=alert(1)&gt;", ""
    )
    assert "default-src 'none'" in page  # no script may run, whatever slips through
    frames = re.findall(r'<img alt="frame at (\d\d:\d\d\.\d)" src="data:image/jpeg;base64,', page)
    assert frames == _times(conv)
    assert page.count('class="picture"') == 1 and "⏹ stopped" in page and "something to say" in page
    assert "4 frames · 9 new" in page and "tiny · cpu · float32" in page and "2026-11-30" in page
    assert str(tmp_path) not in page and str(image_path.parent) not in page  # no server paths


def test_json_holds_the_same_with_frame_times_and_no_paths(video_path, image_path):
    conv = two_turns(video_path, image_path)
    data = json.loads(conversation_json(conv, INFO))
    assert data == conversation_data(conv, INFO)
    first, second = data["turns"]
    assert first["question"] == "What happens <b>here</b>?" and first["status"] == "done"
    assert [f["time"] for f in first["media"][0]["frames"]] == _times(conv)
    assert first["media"][0]["name"] == "clip.mp4" and first["media"][0]["kind"] == "video"
    assert second["media"][0] == {
        "name": "picture.png",
        "kind": "image",
        "left_out_of_context": False,
        "width": 50,
        "height": 70,
    }
    assert second["status"] == "stopped" and second["notes"] == ["something to say"]
    assert str(video_path.parent) not in json.dumps(data)


def _times(conv: Conversation) -> list[str]:
    from model.media.clip import format_timestamp

    return [format_timestamp(t) for t in conv.turns[0].media[0].clip.timestamps]


def test_files_are_written_under_dated_names(video_path, image_path, tmp_path):
    from model.export import write_exports

    page, data = write_exports(two_turns(video_path, image_path), INFO, tmp_path / "export")
    assert page.name.startswith("llava-chat-") and page.suffix == ".html" and data.suffix == ".json"
    assert json.loads(data.read_text())["turns"][1]["answer"] == "Colours & shapes"
    assert page.read_text().startswith("<!doctype html>")


def test_a_scanned_video_takes_its_timeline_along(video_path, image_path):
    from model.media.clip import Segment

    conv = two_turns(video_path, image_path)
    conv.turns[0].media[0].timeline = [Segment(0, 1, "A <b>ball</b> rolls."), Segment(1, 2, "It stops.")]
    page = conversation_html(conv, INFO)
    assert "<b>00:00.0-00:01.0</b> A &lt;b&gt;ball&lt;/b&gt; rolls." in page
    assert conversation_data(conv, INFO)["turns"][0]["media"][0]["timeline"][1] == {
        "start": 1,
        "end": 2,
        "text": "It stops.",
    }


def test_a_picture_no_jpeg_could_hold_is_exported_all_the_same(tmp_path):
    """Before: a 1,000,000x1 image (JPEG takes at most 65,500 px a side) broke the export for the
    rest of the conversation, with the buttons disabled and no message. (A picture is now kept as its
    middle 4:1 part, as the model sees it, and refused past 32,768 px; the export shows what was kept.)"""
    from PIL import Image

    Image.new("RGB", (30_000, 1), (10, 20, 30)).save(tmp_path / "line.png")
    conv = Conversation()
    add_turn(conv, "What is this?", [str(tmp_path / "line.png")], MediaOptions(thumbnails=False))
    conv.last.answer, conv.last.status = "A line.", "done"
    page = conversation_html(conv, INFO)
    assert page.count('class="picture"') == 1 and "4x1" in page


def test_a_clip_range_and_the_picking_are_kept(video_path):
    conv = Conversation()
    add_turn(conv, "And here?", [str(video_path)], MediaOptions(frames=2, start=0.5, end=1.5, thumbnails=False))
    conv.last.answer, conv.last.status = "A ball.", "done"
    media = conversation_data(conv, INFO)["turns"][0]["media"][0]
    assert media["clip_range_s"] == [0.5, 1.5] and "sampling" not in media
    assert "2 frames the model saw (from 00:00.5 to 00:01.5)" in conversation_html(conv, INFO)
