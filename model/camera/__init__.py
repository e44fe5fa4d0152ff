"""The live camera: the last seconds of each tab's frames, and commentary turns."""
