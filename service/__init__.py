"""The use cases: live sessions and their finish, imports and jobs, re-transcription, indexing, exports,
search with the caller's visibility, warnings. Called by the CLI, the HTTP routes and bench alike."""
