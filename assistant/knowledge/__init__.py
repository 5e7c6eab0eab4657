"""The knowledge base: `articles` (Markdown + front matter, validation), `search` (passages, vectors,
scoring, abstention), `index` (build, load, refresh the FAISS index), `lint` and `evaluation`.

May import: text (readability), models, protocols and the basics. Imported by: calls, live, digest,
service, commands.
"""
