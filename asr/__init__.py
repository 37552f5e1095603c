"""Speech recognition: decoding, VAD, channel separation, transcription, guards and exports."""
