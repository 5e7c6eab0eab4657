"""The console. For now one page: transcribe a recording with the bundled models.

The live-call, calls, digest and knowledge pages come with the service (see README "Status").
Run: .venv/bin/streamlit run streamlit_app.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st


@st.cache_resource
def transcriber():
    from assistant.transcription import load_transcriber

    return load_transcriber()


def main() -> None:
    from assistant.audio import AudioOptions, load_tracks
    from assistant.errors import AssistantError
    from assistant.transcription import TranscriptionOptions, format_segment, transcribe_tracks

    st.set_page_config(page_title="Contact Assistant", layout="wide")
    st.title("Contact Assistant")
    st.caption("Transcribe a call recording offline. Stereo files: left channel agent, right channel caller.")
    upload = st.file_uploader("Recording", type=["wav", "flac", "mp3", "ogg", "m4a", "webm"])
    if upload is None:
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / upload.name
        path.write_bytes(upload.getvalue())
        try:
            tracks = load_tracks(path, AudioOptions())
            with st.spinner("Transcribing ..."):
                result = transcribe_tracks(tracks, transcriber(), TranscriptionOptions.from_config())
        except AssistantError as exc:
            st.error(str(exc))
            return
    info = result.info
    st.write(f"Caller language: **{info.language}** ({info.language_probability:.0%}), {info.duration:.1f} s")
    st.text("\n".join(format_segment(s) for s in result.segments) or "(no speech)")


main()
