"""Scanning a long video: segments that cover it, batched descriptions, timelines kept per content."""

from __future__ import annotations

import threading

import pytest

from model.chat.conversation import segment_conversation
from model.engines.base import GenerationParams
from model.media.decode import sample_video
from model.scan.segments import (
    Segment,
    TimelineStore,
    content_key,
    relevant_segments,
    scan,
    segment_bounds,
    split_clip,
    timeline_text,
)

PARAMS = GenerationParams(max_new_tokens=8)


@pytest.mark.parametrize("duration, segment_s, count", [(600, 45, 13), (30, 45, 1), (100, 30, 3), (0.5, 45, 1)])
def test_segments_cover_the_video_with_no_gaps(duration, segment_s, count):
    bounds = segment_bounds(duration, segment_s)
    assert len(bounds) == count and bounds[0][0] == 0 and bounds[-1][1] == duration
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))


def test_an_hour_in_short_segments_is_capped():
    assert len(segment_bounds(3600 * 10, 9)) == 400


def test_a_batch_window_sampled_uniformly_splits_into_its_segments(video_path):
    bounds = segment_bounds(2.0, 0.5)
    clip = sample_video(str(video_path), 3 * 4, start=bounds[0][0], end=bounds[3][1], size=32)
    parts = split_clip(clip, 4)
    for (start, end), part in zip(bounds, parts):
        assert len(part.timestamps) == 3 and all(start <= t <= end for t in part.timestamps)


def test_scan_describes_every_segment_in_batches_and_stops_between_them(video_path):
    calls = []

    def sample(start, end, frames):
        return sample_video(str(video_path), frames, start=start, end=end, size=32)

    def describe(clips):
        calls.append(len(clips))
        return [f"part {len(calls)}.{i}" for i in range(len(clips))]

    bounds = segment_bounds(2.0, 0.25)
    updates = list(scan(bounds, sample, describe, frames_per_segment=2, batch_size=3))
    final = updates[-1]
    assert calls == [3, 3, 2] and final.done and [s.text for s in final.segments][:2] == ["part 1.0", "part 1.1"]
    assert [(s.start, s.end) for s in final.segments] == bounds
    assert final.line() == "Scanned: 8 parts." and "Scanning: 3 of 8 parts described, about" in updates[1].line()
    stop = threading.Event()

    def stopped_in_the_second_batch(clips):
        if len(calls) == 4:  # Stop pressed while the model describes the second batch: it is cut short
            stop.set()
        return describe(clips)

    *_, partial = scan(bounds, sample, stopped_in_the_second_batch, frames_per_segment=2, batch_size=3, stop=stop)
    assert partial.stopped and [s.text for s in partial.segments] == ["part 4.0", "part 4.1", "part 4.2"]
    assert partial.line() == "Stopped at 3 of 8 parts (00:00.0–00:00.7 covered). Scan again to go on from there."
    calls.clear()
    resumed = list(scan(bounds, sample, describe, frames_per_segment=2, batch_size=3, done=partial.segments))
    assert calls == [3, 2] and resumed[-1].done and resumed[-1].segments[:3] == partial.segments
    assert resumed[0].line().startswith("Scanning: 3 of 8 parts described")


def test_batched_descriptions_match_one_at_a_time(engine, video_path):
    clip = sample_video(str(video_path), 8, size=32)
    clips = split_clip(clip, 4)
    together = engine.describe(clips, "What happens?", PARAMS)
    alone = [engine.describe([c], "What happens?", PARAMS)[0] for c in clips]
    assert together == alone and all(t.strip() for t in together)
    assert engine.scan_batch(8, 64) == 4  # on a CPU


def test_on_zero_gpu_a_scan_batch_is_fixed(engine, monkeypatch):
    """CUDA can only be asked about inside a GPU call there."""
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    monkeypatch.setattr(engine.loaded, "device", "cuda")
    assert engine.scan_batch(8, 64) == 8 and engine.scan_batch(16, 64) == 4


def test_timeline_prompt_and_relevant_segments():
    segments = [
        Segment(0, 45, "A dog runs in the park."),
        Segment(45, 90, "A man opens the red door."),
        Segment(90, 135, "Rain falls on the street."),
        Segment(135, 180, "The man closes the door."),
    ]
    text = timeline_text("walk.mp4", 180, segments)
    assert "[00:45.0-01:30.0] A man opens the red door." in text and "03:00.0 long" in text
    assert relevant_segments("When does the man open the door?", segments, 2) == [segments[1], segments[3]]
    assert relevant_segments("Summarise it", segments, 2) == [segments[1], segments[3]]  # spread
    assert Segment(1.23456, 2, "x").as_dict() == {"start": 1.235, "end": 2, "text": "x"}


def test_timelines_are_kept_by_content(video_path, tmp_path):
    copy = tmp_path / "renamed.mp4"
    copy.write_bytes(video_path.read_bytes())
    assert content_key(copy) == content_key(video_path)
    store = TimelineStore(capacity=2)
    key = store.key(content_key(video_path), "tiny", segment_s=45, frames_per_segment=8, max_new_tokens=64)
    assert store.get(key) is None
    store.put(key, 2.0, [Segment(0, 2, "x")])
    assert store.get(store.key(content_key(copy), "tiny", segment_s=45, frames_per_segment=8, max_new_tokens=64)) == (
        2.0,
        [Segment(0, 2, "x")],
    )
    for other in ({"segment_s": 30}, {"frames_per_segment": 4}, {"max_new_tokens": 1}):
        settings = {"segment_s": 45, "frames_per_segment": 8, "max_new_tokens": 64, **other}
        assert store.get(store.key(content_key(video_path), "tiny", **settings)) is None, other
    store.put("b", 1, [])
    store.put("c", 1, [])
    assert store.get(key) is None  # least recently used out


def test_a_segment_conversation_asks_about_its_frames(video_path):
    clip = sample_video(str(video_path), 2, size=32)
    conv = segment_conversation(clip)
    assert conv.videos() == [clip] and not conv.keep_cache and "Describe what happens" in conv.turns[0].text


def test_a_file_is_scanned_once_then_its_timeline_is_kept(engine, media_dir):
    from model.scan.runner import ScanOptions, scan_file, timeline_question
    from tests.support.videos import make_video

    path = str(make_video(media_dir / "long.mp4", seconds=12.0, fps=10, size=(96, 64)))
    calls = []

    def describe(clips, question, params, stop):
        calls.append(len(clips))
        return engine.describe(clips, question, params, stop)

    store = TimelineStore()
    options = ScanOptions(segment_s=2.0, frames_per_segment=2, max_new_tokens=6)
    final = list(scan_file(path, describe, store, "tiny", options, batch_size=4))[-1]
    assert final.done and not final.cached and calls == [4, 2] and len(final.segments) == 6
    assert final.duration == pytest.approx(12.0, abs=0.2) and all(s.text for s in final.segments)
    again = list(scan_file(path, describe, store, "tiny", options, batch_size=4))
    assert len(again) == 1 and again[0].cached and calls == [4, 2]  # nothing computed the second time
    text, clip = timeline_question(path, "long.mp4", "What happens?", final.duration, final.segments, max_frames=8)
    assert text.startswith("A timeline of long.mp4") and text.endswith("give times as mm:ss.")
    picked = relevant_segments("What happens?", final.segments, 2)
    assert len(clip.timestamps) == 8
    assert all(any(s.start <= t <= s.end for s in picked) for t in clip.timestamps)


def test_stop_ends_a_conversations_scan_and_keeps_the_parts_done(engine, media_dir):
    from model.chat.conversation import Conversation
    from model.chat.options import MediaOptions
    from model.chat.reading import add_turn
    from model.chat.turns import start_session
    from model.scan.runner import ScanOptions, run_scan, stop_scan
    from tests.support.videos import make_video

    path = make_video(media_dir / "stoppable.mp4", seconds=12.0, fps=10, size=(96, 64))
    conv = Conversation()
    start_session(conv, "tab")
    add_turn(conv, "What?", [str(path)], MediaOptions(frames=2, thumbnails=False))
    assert not stop_scan(conv)  # nothing runs yet

    calls, stops = [], [2]  # the call during which Stop is pressed

    def describe(clips, question, params, stop):
        calls.append(len(clips))
        if stops and len(calls) == stops[0]:
            stops.clear()
            assert stop_scan(conv)  # Stop pressed while the second batch is described
        return engine.describe(clips, question, params, stop)

    options = ScanOptions(segment_s=2.0, frames_per_segment=2, max_new_tokens=4)
    store = TimelineStore()
    updates = list(run_scan(conv, describe, store, "tiny", options, batch=2))
    video, final = updates[-1]
    assert final.stopped and len(final.segments) == 2 and video.timeline == final.segments
    assert video.timeline_parts == 6 and not stop_scan(conv)  # the scan is over
    from model.scan.runner import answer_from_timeline
    from ui.scan import timeline_for

    assert "Stopped at 2 of 6 parts (00:00.0–00:04.0 covered)" in timeline_for(conv)
    turn = add_turn(conv, "And then?", [], MediaOptions(frames=4, thumbnails=False))
    assert answer_from_timeline(conv, turn, 4)
    assert "(2 of 6 parts, 00:00.0–00:04.0 covered, 00:12.0 long)" in turn.notes[-1]
    assert "covers 00:00.0 to 00:04.0 only" in turn.preamble
    calls.clear()
    video, resumed = list(run_scan(conv, describe, store, "tiny", options, batch=2))[-1]
    assert calls == [2, 2] and resumed.done and resumed.segments[:2] == final.segments  # gone on from part 3
    assert "Scanned: 6 parts." in timeline_for(conv)


def test_the_panel_says_what_a_scan_costs_before_it_starts_and_links_each_part():
    from model.scan.runner import ScanOptions, scan_gpu_cost
    from model.scan.segments import ScanProgress
    from ui.scan import timeline_html

    cost = scan_gpu_cost(600, ScanOptions(), batch=8)
    assert cost == "On ZeroGPU this takes 2 GPU calls, up to 68 s of GPU time."
    start = timeline_html("walk.mp4", ScanProgress(total=13, duration=600), cost)
    assert "Scanning: 0 of 13 parts described… On ZeroGPU this takes 2 GPU calls" in start
    done = timeline_html("<b>.mp4", ScanProgress(total=1, segments=[Segment(0, 45, "A <i>dog</i>.")]), cost)
    assert '<a class="span" href="#t=0.00"' in done and "A &lt;i&gt;dog&lt;/i&gt;." in done
    assert "&lt;b&gt;.mp4" in done and "GPU calls" not in done  # the cost is said before, not after
