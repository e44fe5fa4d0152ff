"""The page's theme and CSS (passed to launch()); the CSS is kept in ui/style.css."""

from pathlib import Path

import gradio as gr

CSS = (Path(__file__).parent / "style.css").read_text()
# gradio's Share button (on a video or picture in the chat) posts to a Space's discussions: off a
# Space it can only answer "Must be on Spaces to share", so it is not shown there.
NO_SHARE = '#chat button[aria-label="Share"], #player button[aria-label="Share"] { display: none !important; }\n'


def page_css(on_spaces: bool) -> str:
    """The page's CSS; off a Space without the Share buttons that only error there."""
    return CSS if on_spaces else CSS + NO_SHARE


def theme() -> gr.themes.Base:
    """gradio's Soft theme with text dark enough for WCAG AA (4.5:1) on its own backgrounds: its
    labels (#6366f1 on #e0e7ff, 3.6:1) and its info text (#9ca3af on white, 2.5:1) are too light."""
    return gr.themes.Soft().set(
        block_label_text_color="*primary_700",
        block_title_text_color="*primary_700",
        block_info_text_color="*neutral_600",
        body_text_color_subdued="*neutral_600",
        checkbox_label_background_fill_selected="*primary_600",
        color_accent="*primary_600",
        color_accent_soft="*primary_100",
    )
