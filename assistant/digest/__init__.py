"""The daily pain-point digest: `model` (what a digest is), `need` (a caller's need in a turn),
`cluster` (grouping by meaning), `stats` (per-topic figures), `build` (compute and store), `render`
(text, Markdown, CSV, JSON).

May import: calls, knowledge, storage and the basics. Imported by: service, commands.
"""
