"""The conversation: its turns and media, the prompt, the context budget, and a turn's steps."""
