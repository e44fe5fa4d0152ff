"""What the page asks of the model layer, taken down once: a message becomes a turn ready for its answer."""
