"""The page in a real browser: Debian's Chromium driven by Playwright, against the launched app."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from model.settings import AppSettings
from tests.support.browser import (
    ARTIFACTS,
    TIME,
    ask,
    axe_violations,
    last_answer,
    set_max_new_tokens,
    stop_mid_answer,
    wait_for_answer_end,
)
from tests.support.serving import cached_engine, serve


@pytest.fixture(scope="module")
def app_settings():
    """The launched app (conftest's `app_url`) writes long answers: there is always one to stop."""
    return AppSettings(model="tiny", frames=4, max_new_tokens=4000, concurrency=1)


def assert_frames_fully_visible(page, strip) -> None:
    """Every frame of a strip is loaded, and each caption sits below its picture, not over it."""
    boxes = strip.locator("figure").evaluate_all("""figs => figs.map(f => {
        const img = f.querySelector('img').getBoundingClientRect(), cap = f.querySelector('figcaption').getBoundingClientRect();
        return {loaded: f.querySelector('img').naturalWidth > 0, h: img.height, imgBottom: img.bottom, capTop: cap.top};
    })""")
    assert boxes and all(b["loaded"] and b["h"] >= 40 and b["capTop"] >= b["imgBottom"] - 1 for b in boxes), boxes
    rows = strip.locator(".strip-row, .strip-grid").evaluate(
        "r => [r.scrollWidth, r.clientWidth, getComputedStyle(r).overflowX]"
    )
    assert rows[0] <= rows[1] or rows[2] == "auto", rows  # a row: what does not fit scrolls


def test_page_loads_with_model_line_and_examples(page):
    expect(page.get_by_text("Chat with videos and images")).to_be_visible()
    expect(page.get_by_text("tiny · cpu · float32")).to_be_visible()
    expect(page.get_by_text("Answers are random text.")).to_be_visible()
    expect(page.get_by_text("What does the ball do?").first).to_be_visible()  # examples render after the textbox
    page.wait_for_timeout(1500)  # long enough for any event run at page load to answer
    expect(page.locator(".toast-body")).to_have_count(0)  # a fresh page greets nobody with an error
    page.screenshot(path=str(ARTIFACTS / "01-page.png"))


def test_upload_ask_stream_and_see_the_frames(page, video_path):
    set_max_new_tokens(page, 600)
    ask(page, "What happens in the video?", [video_path])
    lengths = set()
    deadline = time.monotonic() + 30
    while "tok/s" not in last_answer(page) and time.monotonic() < deadline:
        lengths.add(len(last_answer(page)))
        page.wait_for_timeout(50)
    answer = wait_for_answer_end(page)
    assert len([n for n in lengths if n > 0]) >= 2, "the answer did not stream in"
    assert "4 frames" in answer and "prompt tokens" in answer
    strip = page.locator("#chat .frame-strip")
    expect(strip.locator("img")).to_have_count(4)
    times = [t.strip() for t in strip.locator("figcaption").all_inner_texts()]
    assert all(TIME.match(t) for t in times) and times == sorted(times)
    expect(strip.get_by_text("clip.mp4 · 4 frames the model saw")).to_be_visible()
    assert_frames_fully_visible(page, strip)
    page.screenshot(path=str(ARTIFACTS / "02-answer-with-frames.png"))
    panel = page.locator("#frames")
    expect(panel.get_by_role("heading", name="Frames the model saw")).to_be_visible()
    expect(panel.get_by_text("clip.mp4 · 4 frames", exact=True)).to_be_visible()
    panel_frames = panel.get_by_role("button", name=re.compile(r"^\d\d:\d\d\.\d, frame \d of 4: play from here$"))
    assert panel_frames.count() == 4
    assert [t.strip() for t in panel.locator("figcaption").all_inner_texts()] == times
    assert_frames_fully_visible(page, panel.locator(".frame-strip"))


def test_stop_ends_the_answer_and_the_next_question_works(page, video_path):
    set_max_new_tokens(page, 4000)
    ask(page, "Tell me everything about it.", [video_path])
    stop_mid_answer(page, "stop-failure.png")
    page.screenshot(path=str(ARTIFACTS / "04-stopped.png"))
    set_max_new_tokens(page, 32)
    ask(page, "And in one word?")
    answer = wait_for_answer_end(page)
    assert "tok/s" in answer and "cached" in answer


def test_a_broken_file_gets_a_readable_message(page, broken_video_path):
    ask(page, "What is this?", [broken_video_path])
    page.get_by_text("broken.mp4:").wait_for()
    message = last_answer(page)
    assert "broken.mp4: This file is text, not an image or a video; please upload MP4" in message
    assert "Traceback" not in message and "Errno" not in message
    page.screenshot(path=str(ARTIFACTS / "05-broken-file.png"))


def test_phone_sized_screen(browser, app_url, image_path):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(app_url)
        page.locator("#question textarea").wait_for()
        ask(page, "What is in the picture?", [image_path])
        wait_for_answer_end(page)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"the page is {overflow}px wider than the phone screen"
        page.screenshot(path=str(ARTIFACTS / "06-phone.png"), full_page=True)
    finally:
        context.close()


def test_the_page_keeps_up_with_the_model(page, app_url, media_dir):
    """Three videos in one conversation: each answer shows in full about as fast as /ask gives it.

    A generous bound (5x /ask + 3 s), not a timing claim: frame strips that travelled and
    re-rendered with every token made the third answer 40x slower than /ask.
    """
    from gradio_client import Client, handle_file

    from tests.support.videos import make_video

    videos = [make_video(media_dir / f"turn{i}.mp4", seconds=2.0, color=(40 + 60 * i, 90, 160)) for i in range(3)]
    set_max_new_tokens(page, 128)
    frames = page.locator("#frames-per-video input[type=number]")
    frames.fill("16")
    frames.press("Enter")
    client = Client(app_url, verbose=False, download_files=False)
    for turn, video in enumerate(videos, start=1):
        page.locator("#question input[type=file]").set_input_files([str(video)])
        expect(page.locator('#question [aria-label="File thumbnail"]')).to_have_count(1)
        page.locator("#question textarea").fill("Describe this video in detail.")
        began = time.monotonic()
        page.locator("#question textarea").press("Enter")
        page.wait_for_function(
            "n => (document.querySelector('#chat').innerText.match(/tok\\/s/g) || []).length >= n",
            arg=turn,
            polling=50,
            timeout=60_000,
        )
        page_s = time.monotonic() - began
        expect(page.locator("#question textarea")).to_be_enabled()
        began = time.monotonic()
        client.predict(
            files=[handle_file(str(video))],
            question="Describe this video in detail.",
            frames=16,
            max_new_tokens=128,
            api_name="/ask",
        )
        ask_s = time.monotonic() - began
        assert page_s < 5 * ask_s + 3, f"turn {turn}: the page took {page_s:.1f} s, /ask {ask_s:.1f} s"
    expect(page.locator("#chat .frame-strip")).to_have_count(3)


def test_an_avi_shows_a_poster_and_every_attachment_its_name(page, media_dir, image_path):
    """A file the browser cannot play shows one of its sampled frames instead of a broken player."""
    from tests.support.videos import make_video

    avi = make_video(media_dir / "old.avi", seconds=1.0, codec="mpeg4")
    set_max_new_tokens(page, 16)
    ask(page, "What is in them?", [avi, image_path])
    wait_for_answer_end(page)
    chat = page.locator("#chat")
    expect(chat.get_by_text("Attached: old.avi")).to_be_visible()
    expect(chat.get_by_text("Attached: picture.png")).to_be_visible()
    assert chat.locator("video").count() == 0  # no grey "0:00 / NaN:NaN" player
    poster = chat.locator('[data-testid="user"] img[src*="llava-video-frames"]')
    expect(poster).to_have_count(1)
    assert poster.evaluate("img => img.naturalWidth") > 0
    assert "0 frames" not in last_answer(page)
    page.screenshot(path=str(ARTIFACTS / "07-avi-poster.png"))


def test_the_conversation_downloads_as_a_page_and_as_data(page, browser, video_path, image_path, tmp_path):
    """Two turns (a video with a hostile name, an image), downloaded; the page opens offline, shows
    everything as text and runs no script; the data's frame times are the strip's."""
    import json

    hostile = tmp_path / "<img src=x onerror=alert(1)>.mp4"
    shutil.copy(video_path, hostile)
    set_max_new_tokens(page, 32)
    ask(page, "What <b>happens</b>?", [hostile])
    first = wait_for_answer_end(page)
    ask(page, "And in this picture?", [image_path])
    second = wait_for_answer_end(page)
    captions = [c.strip() for c in page.locator("#chat .frame-strip figcaption").all_inner_texts()]
    assert len(captions) == 4
    downloads = {}
    for button, suffix in (("#export-html", "html"), ("#export-json", "json")):
        expect(page.locator(button)).to_have_text(re.compile(r"· 2 questions$"))  # the files of both turns
        expect(page.locator(button)).to_be_enabled()
        with page.expect_download() as info:
            page.locator(button).click()
        downloads[suffix] = tmp_path / f"chat.{suffix}"
        info.value.save_as(downloads[suffix])
    page.screenshot(path=str(ARTIFACTS / "08-export-buttons.png"))

    data = json.loads(downloads["json"].read_text())
    assert [t["question"] for t in data["turns"]] == ["What <b>happens</b>?", "And in this picture?"]
    assert [f["time"] for f in data["turns"][0]["media"][0]["frames"]] == captions
    name = data["turns"][0]["media"][0]["name"]  # gradio drops the brackets of an uploaded name
    assert name.endswith("onerror=alert(1).mp4") and "/tmp" not in downloads["json"].read_text()  # no server paths

    offline = browser.new_context(viewport={"width": 1000, "height": 900}, offline=True)
    try:
        viewer = offline.new_page()
        dialogs = []
        viewer.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        viewer.goto(downloads["html"].as_uri())
        body = viewer.locator("body").inner_text()
        assert "What <b>happens</b>?" in body and "And in this picture?" in body and name in body
        for answer in (first, second):  # each answer's own words, as the chat showed them
            words = [line for line in answer.splitlines() if line.strip() and "tok/s" not in line]
            assert words and all(line.strip() in body for line in words[-1:]), (words, body)
        assert viewer.locator(".strip figure img").count() == 4 and viewer.locator("img.picture").count() == 1
        assert viewer.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
        assert viewer.locator("script").count() == 0 and not dialogs
        viewer.screenshot(path=str(ARTIFACTS / "09-exported-page.png"), full_page=True)
    finally:
        offline.close()


def test_scan_the_newest_video_then_answer_from_its_timeline(page, media_dir):
    from tests.support.videos import make_video

    long = make_video(media_dir / "twelve.mp4", seconds=12.0, fps=10, size=(96, 64))
    set_max_new_tokens(page, 32)
    ask(page, "What happens?", [long])
    wait_for_answer_end(page)
    expect(page.locator("#timeline")).to_contain_text("Scan describes every part")
    seconds = page.locator("#segment-s input")
    seconds.fill("3")
    seconds.press("Enter")
    page.locator("#scan").click()
    expect(page.locator("#timeline li")).to_have_count(4)
    expect(page.locator("#timeline .timeline-status")).to_contain_text("Scanned: 4 parts")
    spans = [s.strip() for s in page.locator("#timeline .span").all_inner_texts()]
    assert spans[0].startswith("00:00.0-00:03.0") and spans[-1].endswith("00:12.0"), spans
    expect(page.locator("#question textarea")).to_be_enabled()
    # the parts are the player's subtitles, and download as SRT and WebVTT
    track = page.locator("#player video track")
    expect(track).to_have_count(1)
    page.wait_for_function(
        "() => { const t = document.querySelector('#player video').textTracks[0]; "
        "if (t) t.mode = 'hidden'; return t && t.cues && t.cues.length === 4; }"
    )
    expect(page.locator("#export-srt")).to_be_visible()
    with page.expect_download() as got:
        page.locator("#export-vtt").click()
    cues = Path(got.value.path()).read_text()
    assert cues.startswith("WEBVTT") and cues.count("-->") == 4 and "00:00:09.000 --> 00:00:12.000" in cues
    page.locator("#timeline a.span").nth(2).click()  # a part's time seeks the player
    page.wait_for_function("Math.abs(document.querySelector('#player video').currentTime - 6) < 0.5")
    page.screenshot(path=str(ARTIFACTS / "10-scanned-timeline.png"))
    ask(page, "When does it change?")
    expect(page.get_by_test_id("bot").last).to_contain_text(
        "Answered from the scan of twelve.mp4 (4 parts, 00:12.0 long)"
    )
    wait_for_answer_end(page)
    expect(page.locator("#chat .frame-strip .strip-label").last).to_contain_text(
        "the scan's parts that fit the question"
    )
    expect(page.locator("#chat").get_by_text("Attached: twelve.mp4")).to_have_count(1)  # not attached again
    expect(page.locator("#timeline li")).to_have_count(4)  # the panel keeps the timeline
    page.screenshot(path=str(ARTIFACTS / "11-answer-from-scan.png"), full_page=True)


def player_time(page) -> float:
    return page.locator("#player video").evaluate("v => v.currentTime")


def test_frames_and_times_seek_the_player(page, media_dir):
    from tests.support.videos import make_video

    video = make_video(media_dir / "ten.mp4", seconds=10.0, fps=10, size=(160, 96))
    frames = page.locator("#frames-per-video input[type=number]")
    frames.fill("8")
    frames.press("Enter")
    set_max_new_tokens(page, 32)
    ask(page, "What happens?", [video])
    wait_for_answer_end(page)
    expect(page.locator("#player video")).to_be_visible()
    page.locator("#player video").evaluate(
        "v => new Promise(r => v.readyState >= 1 ? r() : v.addEventListener('loadedmetadata', r))"
    )
    fifth = page.locator("#chat .frame-strip figure").nth(4)
    target = float(fifth.get_attribute("data-t"))
    fifth.click()
    page.wait_for_function(f"Math.abs(document.querySelector('#player video').currentTime - {target}) < 0.5")
    assert abs(player_time(page) - target) < 0.5 and target > 5
    second = page.locator("#frames figure").nth(1)
    seconds = float(second.get_attribute("data-t"))
    second.click()  # the side panel's frames seek too
    page.wait_for_function(f"Math.abs(document.querySelector('#player video').currentTime - {seconds}) < 0.5")
    page.locator("#clip-start input, #clip-start textarea").first.fill("2")
    page.locator("#clip-end input, #clip-end textarea").first.fill("0:07.5")
    ask(page, "And in this part?")
    link = page.locator('#chat a[href^="#t="]', has_text="00:07.5").last
    expect(link).to_be_visible()
    link.click()
    page.wait_for_function("Math.abs(document.querySelector('#player video').currentTime - 7.5) < 0.5")
    page.screenshot(path=str(ARTIFACTS / "12-player.png"))


def test_a_video_the_browser_cannot_play_gets_a_playable_preview(page, media_dir):
    from tests.support.videos import make_video

    avi = make_video(media_dir / "old.avi", seconds=2.0, fps=10, codec="mpeg4", size=(160, 96))
    set_max_new_tokens(page, 16)
    ask(page, "What is this?", [avi])
    wait_for_answer_end(page)
    player = page.locator("#player video")
    expect(player).to_be_visible()
    duration = player.evaluate(
        "v => new Promise(r => v.readyState >= 1 ? r(v.duration) : "
        "v.addEventListener('loadedmetadata', () => r(v.duration)))"
    )
    assert abs(duration - 2.0) < 0.3 and player.evaluate("v => v.currentSrc").endswith(".mp4")


def player_in_view(page) -> bool:
    return page.locator("#player").evaluate(
        "p => { const r = p.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight && r.width > 0; }"
    )


def test_a_strip_is_one_tab_stop_and_the_keyboard_seeks(page, media_dir):
    from tests.support.videos import make_video

    video = make_video(media_dir / "keys.mp4", seconds=8.0, fps=10, size=(160, 96))
    set_max_new_tokens(page, 16)
    ask(page, "What happens?", [video])
    wait_for_answer_end(page)
    page.locator("#player video").evaluate(
        "v => new Promise(r => v.readyState >= 1 ? r() : v.addEventListener('loadedmetadata', r))"
    )
    for strip in (page.locator("#chat .frame-strip"), page.locator("#frames .frame-strip")):
        tabbable = strip.locator("figure").evaluate_all("fs => fs.filter(f => f.tabIndex === 0).length")
        assert tabbable == 1  # one tab stop a strip; arrows move inside it
    first = page.locator("#chat .frame-strip figure").first
    first.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    fourth = page.locator("#chat .frame-strip figure").nth(3)
    expect(fourth).to_be_focused()
    assert fourth.get_attribute("tabindex") == "0" and first.get_attribute("tabindex") == "-1"
    page.keyboard.press("End")
    page.keyboard.press("ArrowLeft")
    target = float(page.evaluate("document.activeElement.dataset.t"))
    page.keyboard.press("Enter")
    page.wait_for_function(f"Math.abs(document.querySelector('#player video').currentTime - {target}) < 0.5")
    page.keyboard.press("Home")
    page.keyboard.press(" ")
    start = float(first.get_attribute("data-t"))
    page.wait_for_function(f"Math.abs(document.querySelector('#player video').currentTime - {start}) < 0.5")
    # nothing blows up on focus: the focused frame keeps its place in the strip
    assert page.evaluate("getComputedStyle(document.activeElement).position") != "fixed"


def test_seeking_on_a_phone_docks_the_player_instead_of_scrolling(browser, app_url, media_dir):
    from tests.support.videos import make_video

    video = make_video(media_dir / "phone.mp4", seconds=8.0, fps=10, size=(160, 96))
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(app_url)
        box = page.locator("#question textarea")
        box.wait_for()
        bottom = box.bounding_box()["y"] + box.bounding_box()["height"]
        assert bottom <= 740, f"the question box ends at {bottom} px: below a phone's first screen"
        page.screenshot(path=str(ARTIFACTS / "13-phone-first-screen.png"))
        set_max_new_tokens(page, 16)
        ask(page, "What happens?", [video])
        wait_for_answer_end(page)
        page.locator("#player video").evaluate(
            "v => new Promise(r => v.readyState >= 1 ? r() : v.addEventListener('loadedmetadata', r))"
        )
        box = page.locator("#question textarea").bounding_box()
        assert box["y"] + box["height"] <= 740, box  # still on the first screen with an answer above it
        assert not player_in_view(page)  # the player is far below the chat on a phone
        scrolled = page.evaluate("scrollY")
        frame = page.locator("#chat .frame-strip figure").nth(2)
        target = float(frame.get_attribute("data-t"))
        frame.tap()
        page.wait_for_function(f"Math.abs(document.querySelector('#player video').currentTime - {target}) < 0.5")
        assert page.evaluate("scrollY") == scrolled  # the visitor stays where they were reading
        expect(page.locator("#player.docked")).to_be_visible()
        assert player_in_view(page)
        page.screenshot(path=str(ARTIFACTS / "14-phone-docked-player.png"))
        page.keyboard.press("Escape")
        expect(page.locator("#player.docked")).to_have_count(0)
        frame.tap()
        page.get_by_role("button", name="Close the small player").tap()
        expect(page.locator("#player.docked")).to_have_count(0)
    finally:
        context.close()


@pytest.mark.parametrize("size", [(1280, 1000), (390, 844)], ids=["desktop", "phone"])
def test_no_serious_accessibility_violation_after_a_video_answer(browser, app_url, video_path, size):
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    try:
        page.goto(app_url)
        page.locator("#question textarea").wait_for()
        set_max_new_tokens(page, 16)
        ask(page, "What happens?", [video_path])
        wait_for_answer_end(page)
        expect(page.locator("#export-html")).to_be_enabled()  # the page as it settles after an answer
        assert page.locator("h1").count() == 1
        assert axe_violations(page) == []
    finally:
        context.close()


def test_the_box_has_focus_after_an_answer_and_a_frame_plays_from_its_time(page, video_path):
    """Before: when an answer ended the focus was on the page body, so a follow-up typed at once went
    nowhere; a frame said "play from here" but only moved the player, paused."""
    set_max_new_tokens(page, 16)
    ask(page, "What happens?", [video_path])
    wait_for_answer_end(page)
    page.wait_for_function("() => document.activeElement && document.activeElement.closest('#question')")
    page.keyboard.type("And then?")  # at once, without a click
    page.keyboard.press("Enter")
    page.wait_for_function("() => (document.querySelector('#chat').innerText.match(/tok\\/s/g) || []).length >= 2")
    frame = page.locator("#chat .frame-strip figure[data-t]").nth(2)
    target = float(frame.get_attribute("data-t"))
    frame.click()
    page.wait_for_function("() => !document.querySelector('#player video').paused")
    assert abs(player_time(page) - target) < 1.0
    frame.click()  # the same frame again, while it plays: paused
    page.wait_for_function("() => document.querySelector('#player video').paused")
    frame.focus()
    page.keyboard.press("Enter")  # the keyboard plays too
    page.wait_for_function("() => !document.querySelector('#player video').paused")
    expect(page.get_by_role("button", name="Share")).to_have_count(0)  # off a Space it could only fail


def test_a_video_being_made_playable_says_so(page, media_dir):
    """Before: an AVI's player arrived seconds after the question, silently."""
    from tests.support.videos import make_video

    avi = make_video(media_dir / "slow.avi", seconds=2.0, fps=10, codec="mpeg4", size=(160, 96))
    set_max_new_tokens(page, 16)
    page.evaluate("""() => { window.__notes = []; new MutationObserver(() => {
        const note = document.querySelector('#player-note'); if (note) window.__notes.push(note.innerText);
    }).observe(document.body, { childList: true, subtree: true, characterData: true }); }""")
    ask(page, "What is this?", [avi])
    wait_for_answer_end(page)
    expect(page.locator("#player video")).to_be_visible()
    notes = page.evaluate("() => window.__notes")
    assert any("Making a playable copy of slow.avi" in note for note in notes), notes[-5:]


def test_a_long_banner_keeps_the_question_box_on_a_phones_first_screen(browser, loaded_tiny):
    """Before: a plain start without a GPU showed a 293 px banner on a phone, and the question box ended
    at 739-826 px of 844. Now the banner shows its first sentence; the rest opens from it."""
    from model.engines.loading import cpu_advice

    engine = cached_engine(loaded_tiny)
    engine.notice = f"Answers are random text: no GPU here, so this demo runs a tiny model. {cpu_advice(24)}"
    with serve(engine, AppSettings(model="tiny", frames=4, max_new_tokens=64)) as url:
        context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
        page = context.new_page()
        try:
            page.goto(url)
            box = page.locator("#question textarea")
            box.wait_for()
            bottom = box.bounding_box()["y"] + box.bounding_box()["height"]
            assert bottom <= 740, f"the question box ends at {bottom} px"
            expect(page.get_by_text("Answers are random text.")).to_be_visible()
            expect(page.get_by_text("would not fit")).not_to_be_visible()
            page.get_by_text("Answers are random text.").tap()
            expect(page.get_by_text("would not fit")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "15-phone-banner-open.png"))
        finally:
            context.close()
