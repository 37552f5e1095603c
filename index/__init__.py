"""The Whoosh search index over transcripts. See DESIGN.md."""
