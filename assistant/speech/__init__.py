"""Speech: `audio` (decode files, telephony codecs, resample), `transcription` (engines behind the
Transcriber protocol) and `whisper_short` (Whisper on short windows).

May import: models, protocols and the basics. Imported by: calls, live, service, commands.
"""
