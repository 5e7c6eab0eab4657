"""Decoding, resampling, telephony codecs and channel splitting (no models)."""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # reference G.711 implementation, for this test only (stdlib until 3.13)

import numpy as np
import pytest
from audio_util import encode, tone

from assistant.errors import InputError
from assistant.speech import audio


@pytest.mark.parametrize(
    ("suffix", "codec"),
    [
        ("wav", "pcm_s16le"),
        ("flac", "flac"),
        ("mp3", "libmp3lame"),
        ("ogg", "libopus"),
        ("m4a", "aac"),
        ("webm", "libopus"),
        ("wav", "pcm_mulaw"),
        ("wav", "pcm_alaw"),
    ],
)
def test_decodes_common_formats_to_16k_mono(tmp_path, suffix, codec):
    rate = 8000 if codec in {"pcm_mulaw", "pcm_alaw"} else 48000 if codec == "libopus" else 22050
    path = encode(tmp_path / f"a-{codec}.{suffix}", tone(1.0, rate), rate, codec)
    data = audio.decode_file(path)
    assert data.shape[0] == 1
    assert data.dtype == np.float32
    assert abs(data.shape[1] / audio.SAMPLE_RATE - 1.0) < 0.1
    # The 440 Hz tone survives: the strongest frequency is within a few Hz.
    spectrum = np.abs(np.fft.rfft(data[0]))
    peak = np.argmax(spectrum) * audio.SAMPLE_RATE / len(data[0])
    assert abs(peak - 440) < 5


def test_stereo_is_split_into_agent_and_caller(tmp_path):
    left, right = tone(1.0, 16000, 300), tone(1.0, 16000, 1200)
    path = tmp_path / "call.wav"
    audio.write_wav(path, [left, right])
    tracks = audio.load_tracks(path)
    assert [t.speaker for t in tracks] == ["agent", "caller"]

    def peak(x):
        return np.argmax(np.abs(np.fft.rfft(x))) * 16000 / len(x)

    assert abs(peak(tracks[0].samples) - 300) < 5
    assert abs(peak(tracks[1].samples) - 1200) < 5
    swapped = audio.load_tracks(path, audio.AudioOptions(agent_channel="right"))
    assert abs(peak(swapped[0].samples) - 1200) < 5 and swapped[0].speaker == "agent"


def test_mono_and_duplicated_stereo_are_one_unknown_track(tmp_path):
    mono = tmp_path / "mono.wav"
    audio.write_wav(mono, [tone(0.5)])
    assert [t.speaker for t in audio.load_tracks(mono)] == ["unknown"]
    dup = tmp_path / "dup.wav"
    audio.write_wav(dup, [tone(0.5), tone(0.5)])
    assert [t.speaker for t in audio.load_tracks(dup)] == ["unknown"]
    mixed = audio.load_tracks(dup, audio.AudioOptions(split_stereo=False))
    assert [t.speaker for t in mixed] == ["unknown"]


def test_bad_agent_channel_is_rejected():
    with pytest.raises(InputError, match="agent_channel"):
        audio.AudioOptions(agent_channel="middle")


def test_g711_tables_match_the_reference():
    codes = bytes(range(256))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ulaw = np.frombuffer(audioop.ulaw2lin(codes, 2), dtype="<i2") / 32768.0
        alaw = np.frombuffer(audioop.alaw2lin(codes, 2), dtype="<i2") / 32768.0
    assert np.array_equal(audio.decode_g711(codes, "mulaw"), ulaw.astype(np.float32))
    assert np.array_equal(audio.decode_g711(codes, "alaw"), alaw.astype(np.float32))


def test_mulaw_round_trip_and_resample():
    x = tone(0.5, 8000, 300, 0.3)
    back = audio.decode_g711(audio.encode_mulaw(x))
    assert np.max(np.abs(back - x)) < 0.02
    up = audio.g711_to_whisper(audio.encode_mulaw(x))
    assert len(up) == 2 * len(x)
    with pytest.raises(InputError, match="codec"):
        audio.decode_g711(b"\x00", "g722")


def test_a_stream_upsampled_frame_by_frame_is_the_whole_signal_resampled():
    """Live media arrives in 20 ms frames; upsampled one at a time they must join up: the output is
    the whole track resampled, 20 samples (the filter's half length) later, where resampling each
    frame alone leaves a dip at every frame edge."""
    rng = np.random.default_rng(7)
    x = (0.3 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000) + 0.05 * rng.standard_normal(8000)).astype(
        np.float32
    )
    codes = audio.encode_mulaw(x)
    whole = audio.g711_to_whisper(codes)
    up = audio.Upsampler()
    stream = np.concatenate([up(codes[i : i + 160]) for i in range(0, len(codes), 160)])
    assert len(stream) == len(whole)

    def snr(a: np.ndarray, b: np.ndarray) -> float:
        return float(10 * np.log10(np.sum(b * b) / np.sum((a - b) ** 2)))

    assert snr(stream[20:], whole[: len(whole) - 20]) > 100  # the same signal, to float rounding
    framewise = np.concatenate([audio.g711_to_whisper(codes[i : i + 160]) for i in range(0, len(codes), 160)])
    assert snr(framewise, whole) < 40  # what the live path used to do
    assert np.allclose(audio.Upsampler("alaw")(b"\xd5" * 160), 0.0, atol=1e-3)  # a-law silence
    with pytest.raises(InputError, match="codec"):
        audio.Upsampler("g722")


def test_missing_empty_and_non_audio_files(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        audio.decode_file(tmp_path / "nope.wav")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        audio.decode_file(empty)
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio at all\n" * 50)
    with pytest.raises(InputError, match="not an audio file|no decodable audio|no audio stream"):
        audio.decode_file(text)
    with pytest.raises(InputError, match="folder"):
        audio.decode_file(tmp_path)


def test_truncated_file_keeps_what_decodes(tmp_path):
    path = encode(tmp_path / "long.mp3", tone(4.0, 22050), 22050, "libmp3lame")
    data = path.read_bytes()
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(data[: len(data) // 2])
    samples = audio.decode_file(cut)
    assert 1.0 < samples.shape[1] / audio.SAMPLE_RATE < 3.5
