"""Whole-video scans: a timeline of every part's description, and answers from it."""
