"""The page's CSS (passed to launch()), kept in ui/style.css."""

from pathlib import Path

CSS = (Path(__file__).parent / "style.css").read_text()
