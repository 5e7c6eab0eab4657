"""Live calls: `session` (endpointing, per-call state, partial and final decodes) and `steps` (what runs on
each final: language, translation, redaction, search, suggestion; and call end).

May import: calls, speech, language, knowledge, text, storage, privacy and the basics. Imported by:
service.
"""
