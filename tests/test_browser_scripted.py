"""The page in Chromium against a scripted engine: what the chat shows is the answer the test chose,
rendered as written (the tiny model's random text would pass any "an answer came" check)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from model.settings import AppSettings
from tests.support.browser import ARTIFACTS, ask, axe_violations, wait_for_answer_end
from tests.support.scripted import ScriptedEngine

ANSWER = "A **red** ball rolls left at 0:01.5, then stops."


@pytest.fixture(scope="module")
def app_engine():
    """The launched app (conftest's `app_url`) answers from the script."""
    return ScriptedEngine(script=lambda question: ANSWER)


@pytest.fixture(scope="module")
def app_settings():
    return AppSettings(model="tiny", frames=4, max_new_tokens=400, concurrency=1)


def test_the_answer_shows_as_written_and_its_time_seeks_the_player(page, app_engine, video_path):
    ask(page, "What happens?", [video_path])
    text = wait_for_answer_end(page)
    assert "A red ball rolls left at 0:01.5, then stops." in text
    bot = page.locator('[data-testid="bot"]').last
    expect(bot.locator("strong", has_text="red")).to_be_visible()  # markdown as markdown
    assert [h.question for h in app_engine.heard] == ["What happens?"]
    expect(page.locator("#player video")).to_be_visible()
    page.locator("#player video").evaluate(
        "v => new Promise(r => v.readyState >= 1 ? r() : v.addEventListener('loadedmetadata', r))"
    )
    bot.locator('a[href^="#t="]', has_text="0:01.5").click()  # the time in the answer is a seek link
    page.wait_for_function("Math.abs(document.querySelector('#player video').currentTime - 1.5) < 0.3")
    page.screenshot(path=str(ARTIFACTS / "16-scripted-answer.png"))


def test_a_number_typed_past_a_sliders_end_is_brought_back_and_the_answer_comes(page, app_engine, video_path):
    """Before: 1024 typed into Max new tokens (its end: 400 here) was refused by gradio for the whole
    answer event, so the question was sent and its answer never started."""
    field = page.locator("#max-new-tokens input[type=number]")
    field.fill("1024")
    field.press("Enter")
    expect(field).to_have_value("400")
    ask(page, "What happens?", [video_path])
    assert "A red ball rolls left" in wait_for_answer_end(page)
    assert app_engine.heard[-1].params.max_new_tokens == 400


def test_a_file_attached_to_the_question_box_is_no_accessibility_violation(page, video_path):
    """gradio marks an attached file as a list item outside any list (axe: aria-required-parent)."""
    page.locator("#question input[type=file]").set_input_files([str(video_path)])
    expect(page.locator('#question [aria-label="File thumbnail"]')).to_have_count(1)
    assert axe_violations(page) == []
