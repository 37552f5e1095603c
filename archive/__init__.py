"""The evidence store: sessions, media, transcript versions, hashes, audit chain. See DESIGN.md."""
