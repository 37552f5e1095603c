"""Supervision warnings: rules over sessions, transcripts and recordings."""
