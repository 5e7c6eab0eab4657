"""Caller languages: `detect` (text and audio language decisions) and `translation` (argos packs, with
Whisper's own translation as the fallback for speech).

May import: protocols and the basics. Imported by: calls, live, service, commands.
"""
