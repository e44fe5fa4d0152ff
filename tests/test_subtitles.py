"""A scanned timeline as subtitles: SRT and WebVTT, one cue per part, nothing that breaks a cue."""

from __future__ import annotations

from model.media.clip import Segment
from model.scan.subtitles import srt, webvtt, write_subtitles

PARTS = [Segment(0, 45, "A dog runs."), Segment(45, 3725.5, "A man --> opens\n\nthe door.")]


def test_srt_numbers_its_cues_with_comma_times():
    assert srt(PARTS) == (
        "1\n00:00:00,000 --> 00:00:45,000\nA dog runs.\n\n"
        "2\n00:00:45,000 --> 01:02:05,500\nA man -> opens the door.\n\n"
    )


def test_webvtt_has_its_header_and_dot_times():
    text = webvtt(PARTS)
    assert text.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:45.000\nA dog runs.\n\n")
    assert "01:02:05.500" in text and text.count("-->") == 2  # a part's own arrow cannot end its cue


def test_files_have_fixed_names(tmp_path):
    srt_path, vtt_path = write_subtitles(PARTS, tmp_path / "t")
    assert (srt_path.name, vtt_path.name) == ("timeline.srt", "timeline.vtt")
    named, _ = write_subtitles(PARTS, tmp_path / "n", "My holiday (1)/../../ä.mp4")
    assert named.name == "timeline.srt" and named.parent == tmp_path / "n"
    named, _ = write_subtitles(PARTS, tmp_path / "n", "beach day 2.mp4")
    assert named.name == "beach_day_2.timeline.srt"
    named, _ = write_subtitles(PARTS, tmp_path / "n", "../.hidden")
    assert named.name == "hidden.timeline.srt"
    assert vtt_path.read_text().startswith("WEBVTT")
