"""The page's CSS (passed to launch())."""

CSS = """
#notice { border-left: 4px solid #f59e0b; padding-left: 8px; }
.frame-strip { max-width: 100%; }
.frame-strip .strip-label { font-size: 0.85em; opacity: 0.8; margin-bottom: 4px; }
.frame-strip .strip-row { display: flex; gap: 6px; overflow-x: auto; padding-bottom: 4px; }
.frame-strip figure { margin: 0; flex: 0 0 auto; cursor: pointer; outline: none; }
.frame-strip img { height: 72px; width: auto; display: block; border-radius: 4px; }
.frame-strip figcaption { text-align: center; font-size: 0.75em; font-variant-numeric: tabular-nums; }
.frame-strip figure:focus-visible { position: fixed; inset: 5vh 5vw; z-index: 1000; display: flex;
  flex-direction: column; align-items: center; justify-content: center; gap: 8px; cursor: zoom-out;
  background: rgba(0, 0, 0, 0.85); border-radius: 8px; }
.frame-strip figure:focus-visible img { height: auto; max-height: 80vh; max-width: 88vw; }
.frame-strip figure:focus-visible figcaption { color: #fff; font-size: 1em; }
"""

CSS += """
#chat video { max-height: 240px; max-width: min(100%, 420px); width: auto; height: auto; }
#chat .message-row img:not(.frame-strip img) { max-height: 240px; width: auto; }
#upload-limits { margin-top: -6px; opacity: 0.85; }
@media (max-width: 640px) { h2 { font-size: 1.15em; } #notice { font-size: 0.85em; } }
"""

CSS += """
#timeline .timeline-status { font-size: 0.85em; margin-bottom: 4px; }
#timeline ol { list-style: none; padding: 0; margin: 0; max-height: 320px; overflow-y: auto; font-size: 0.85em; }
#timeline li { padding: 3px 0; border-top: 1px solid rgba(128, 128, 128, 0.2); }
#timeline .span { font-variant-numeric: tabular-nums; font-weight: 600; margin-right: 4px; white-space: nowrap; }
#timeline .timeline-empty { font-size: 0.85em; opacity: 0.8; }
"""

CSS += """
#player video { max-height: 260px; background: #000; }
#timeline a.span { text-decoration: none; color: inherit; }
#chat a[href^="#t="], #timeline a[href^="#t="] { cursor: pointer; }
"""
