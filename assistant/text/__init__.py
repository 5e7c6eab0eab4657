"""Text steps: `sentiment`, `readability` and `summary` (the end-of-call summary).

May import: privacy and the basics. Imported by: knowledge, calls, live, service.
"""
