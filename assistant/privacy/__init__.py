"""The one privacy gate (`gate`): what may be stored, logged or exported, with `redaction` (patterns,
context) and `numbers` (spoken numbers in several languages).

May import: the basics only. Imported by: storage, text and everything above them.
"""
