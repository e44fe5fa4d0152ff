"""Development-only checkpoints built offline (the tiny model and the 7B stand-in); never used to serve."""
