"""The documentation agrees with the code: every flag is documented (and nothing else), every
relative link leads somewhere, the README stays a front page, and CI runs the README's commands."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from model.settings import STATED_DEFAULT, build_parser

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "bench").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def _flags_of_parser() -> set[str]:
    return {flag for action in build_parser()._actions for flag in action.option_strings} - {"-h", "--help"}


def _flags_in_tables(text: str) -> set[str]:
    """Flags named in the first column of a markdown table."""
    rows = (line.split("|")[1] for line in text.splitlines() if line.startswith("| `--"))
    return {flag for cell in rows for flag in re.findall(r"`(--[a-z0-9-]+)`", cell)}


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text())
    return {_anchor(m) for m in re.findall(r"^#+ (.+)$", text, re.M)}


def test_every_flag_is_in_the_configuration_page_and_every_flag_there_exists():
    documented = _flags_in_tables((ROOT / "docs" / "configuration.md").read_text())
    flags = _flags_of_parser()
    assert flags - documented == set(), "flags missing from docs/configuration.md"
    assert documented - flags == set(), "docs/configuration.md names flags the parser does not have"


def test_the_readme_names_only_real_flags():
    assert _flags_in_tables((ROOT / "README.md").read_text()) <= _flags_of_parser()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_leads_to_a_file_and_a_heading(page):
    text = FENCE.sub("", page.read_text())
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.name} links to {target}, which does not exist"
        if anchor and linked.suffix == ".md":
            assert anchor in _anchors(linked), f"{page.name} links to {target}: no such heading"


def test_the_readme_is_a_space_front_page_of_at_most_250_lines():
    text = (ROOT / "README.md").read_text()
    assert text.startswith("---\n")
    front = text.split("---\n")[1]
    assert "app_file: app.py" in front and "sdk: gradio" in front
    assert len(text.splitlines()) <= 250


def test_ci_runs_the_readme_test_commands():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    first = next(line.strip() for line in readme.splitlines() if line.strip().startswith("python -m pytest"))
    assert first == "python -m pytest -q tests"
    assert first in ci.splitlines()
    assert "python -m pytest -q tests_vllm" in ci.splitlines()


def test_every_flag_has_help_that_says_its_default():
    """`python app.py --help` describes every flag and says what it is when not given."""
    parser = build_parser()
    for action in parser._actions:
        if not action.option_strings or action.dest == "help":
            continue
        text = parser._get_formatter()._get_help_string(action) % {"default": action.default}
        assert action.help and action.help.strip(), action.option_strings
        switch = action.default in (None, False) and action.nargs == 0
        assert switch or STATED_DEFAULT.search(text), (action.option_strings, text)


def architecture_modules(text: str) -> set[str]:
    """The modules a bullet of docs/architecture.md names (`- `a.py`, `b.py` — ...`), with their folder."""
    listed, folder = set(), None
    for line in text.splitlines():
        heading = re.match(r"^(?:## )?`((?:model|ui)/[a-z_/]*)` — ", line)
        if heading:
            folder = heading.group(1)
            continue
        if line.startswith("#"):
            folder = None
        bullet = re.match(r"^- (`.+?`) — ", line)
        for name in re.findall(r"`([a-z_/]+\.(?:py|js|css))`", bullet.group(1)) if bullet else []:
            if "/" in name:
                listed.add(name)
            elif folder:
                listed.add(folder + name)
    return listed


def test_the_architecture_page_lists_every_module_and_only_real_ones():
    """docs/architecture.md names each module of model/ and ui/ under its package, and every module
    and `file.py:name` it names exists (it had named `ChatHandlers.send` and left modules out)."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    listed = {name for name in architecture_modules(text) if name.startswith(("model/", "ui/"))}
    modules = {
        str(p.relative_to(ROOT))
        for folder in ("model", "ui")
        for p in (ROOT / folder).rglob("*")
        if p.suffix in (".py", ".js", ".css") and p.name != "__init__.py" and not p.name.endswith(".pyi")
    }
    assert modules - listed == set(), "modules the architecture page does not list"
    assert listed - modules == set(), "modules the architecture page lists that do not exist"
    for path, name in re.findall(r"`((?:model|ui)/[a-z_/]+\.py):([A-Za-z_.]+)`", text):
        source = (ROOT / path).read_text()
        assert re.search(rf"(def|class) {name.split('.')[-1]}\b", source), f"{path}:{name}"
