"""A call from audio or text to a stored record: `processor` runs the per-utterance steps (transcribe,
language, translate, redact, sentiment, search) and builds every call, utterance and suggestion shape.

May import: speech, language, knowledge, text, storage, privacy and the basics. Imported by: live,
digest, batch, service, commands.
"""
