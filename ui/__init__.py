"""The page's pieces: how conversations are shown (chat, frame strips, side panel) and its style."""
