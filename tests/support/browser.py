"""Debian's Chromium through Playwright, and what a visitor does on the page."""

from __future__ import annotations

import os
import re
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import expect

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
TIME = re.compile(r"^\d\d:\d\d\.\d$")


@contextmanager
def chromium(extra_args=()):
    """Debian's Chromium driven by Playwright (skipped here without it; CI must have it)."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs Debian's chromium package")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[*FLAGS, *extra_args])
        try:
            yield browser
        finally:
            browser.close()


def ask(page, text: str, files=()) -> None:
    """Attach files and send a question as a user would."""
    if files:
        page.locator("#question input[type=file]").set_input_files([str(f) for f in files])
        # its thumbnail shows once the upload is done, as a user would wait for it
        expect(page.locator('#question [aria-label="File thumbnail"]')).to_have_count(len(files))
    box = page.locator("#question textarea")
    box.fill(text)
    box.press("Enter")


def set_max_new_tokens(page, value: int) -> None:
    field = page.locator("#max-new-tokens input[type=number]")
    field.fill(str(value))
    field.press("Enter")


def last_answer(page) -> str:
    """The text of the last assistant message, frame strips left out."""
    return page.evaluate("""() => {
        const bots = document.querySelectorAll('[data-testid="bot"]');
        if (!bots.length) return "";
        const copy = bots[bots.length - 1].cloneNode(true);
        copy.querySelectorAll('.frame-strip').forEach(s => s.remove());
        document.body.appendChild(copy);  // innerText needs a rendered node
        const text = copy.innerText;
        copy.remove();
        return text;
    }""")


def wait_for_answer_end(page, timeout_s: float = 30) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = last_answer(page)
        if "tok/s" in text or "⚠️" in text:
            return text
        page.wait_for_timeout(100)
    raise AssertionError(f"no finished answer after {timeout_s} s: {last_answer(page)!r}")


def stop_mid_answer(page, failure_png: str) -> str:
    """Wait for some streamed words, press Stop, wait for the stated final state; returns the answer.

    The final state is one render: the answer marked "⏹ stopped", and then the question box open
    again with no Stop button (it opens only after the answer's stream has sent its last update).
    """
    deadline = time.monotonic() + 30
    while len(last_answer(page)) < 80 and time.monotonic() < deadline:  # streamed words
        page.wait_for_timeout(50)
    before = last_answer(page)
    try:
        assert len(before) >= 80 and "tok/s" not in before, "the answer was not streaming when Stop was due"
        page.get_by_role("button", name="Stop").click()
        expect(page.locator("#question textarea")).to_be_enabled(timeout=10_000)
        expect(page.get_by_role("button", name="Stop")).to_have_count(0)
    except Exception as exc:
        page.screenshot(path=str(ARTIFACTS / failure_png), full_page=True)
        raise AssertionError(f"{exc}\nanswer at Stop: {before!r}\nanswer now: {last_answer(page)!r}") from exc
    stopped = last_answer(page)
    assert stopped.rstrip().endswith("⏹ stopped"), stopped
    assert stopped.startswith(before.rstrip()[:40]), (before, stopped)
    assert "tok/s" not in stopped
    return stopped


AXE_RULES = {"label-content-name-mismatch": {"enabled": True}}  # experimental in axe: asked for here


def axe_violations(page, impacts=("critical", "serious")) -> list[str]:
    """axe-core's violations of `impacts` on the page as it stands, one 'rule: target' line per node
    (axe-core's own script, from the axe-playwright-python package)."""
    import axe_playwright_python

    script = Path(axe_playwright_python.__file__).parent / "axe.min.js"
    page.add_script_tag(path=str(script))
    # colours are judged once transitions end (a button fading in reads as low contrast mid-way)
    page.evaluate(
        "() => Promise.race([new Promise(r => setTimeout(r, 3000)), Promise.all(document.getAnimations()"
        ".filter(a => isFinite(a.effect?.getComputedTiming().endTime)).map(a => a.finished.catch(() => null)))])"
    )
    found = page.evaluate(
        "async rules => (await axe.run(document, {rules})).violations"
        ".map(v => ({id: v.id, impact: v.impact, targets: v.nodes.map(n => n.target.join(' '))}))",
        AXE_RULES,
    )
    return [f"{v['id']}: {target}" for v in found if v["impact"] in impacts for target in v["targets"]]
