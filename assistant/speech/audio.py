"""Decode call audio to what Whisper wants: 16 kHz float32, one array per speaker track.

Handles ordinary files (wav, flac, mp3, ogg, m4a, webm ... anything PyAV/FFmpeg decodes), telephony
WAV (8 kHz mu-law / A-law), raw G.711 frames as they arrive from a media stream, and stereo call
recordings where one channel is the agent and the other the caller.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from assistant.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Sequence

SAMPLE_RATE = 16_000
SPEAKERS = ("agent", "caller", "unknown")


@dataclass(frozen=True)
class Track:
    """One speaker's audio.

    Attributes:
        speaker: `agent`, `caller`, or `unknown` for a mono recording.
        samples: float32 mono samples at 16 kHz in [-1, 1].
    """

    speaker: str
    samples: np.ndarray

    @property
    def duration(self) -> float:
        return len(self.samples) / SAMPLE_RATE


@dataclass(frozen=True)
class AudioOptions:
    """How to turn a recording into tracks.

    Attributes:
        split_stereo: treat a 2-channel file as agent and caller channels (else mix to mono).
        agent_channel: `left` or `right`; the caller is the other channel.
    """

    split_stereo: bool = True
    agent_channel: str = "left"

    def __post_init__(self) -> None:
        if self.agent_channel not in ("left", "right"):
            raise InputError(f"agent_channel must be 'left' or 'right', not {self.agent_channel!r}")


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError(f"no such file: {path}")
    if path.is_dir():
        raise InputError(f"{path} is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty (0 bytes)")


def decode_file(path: str | Path, *, keep_channels: bool = False) -> np.ndarray:
    """Decode a file to float32 at 16 kHz, shape (channels, samples).

    With `keep_channels` a stereo file keeps both channels; anything else is mixed to one. A file
    that is cut short keeps what decoded before the damage.
    """
    import av

    path = Path(path)
    _check_file(path)
    try:
        container = av.open(str(path), mode="r", metadata_errors="ignore")
    except (av.error.InvalidDataError, av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not an audio file FFmpeg can read ({type(exc).__name__})") from None
    with container:
        if not container.streams.audio:
            raise InputError(f"{path} has no audio stream")
        stream = container.streams.audio[0]
        channels = stream.codec_context.channels or 1
        stereo = keep_channels and channels == 2
        resampler = av.AudioResampler(format="fltp", layout="stereo" if stereo else "mono", rate=SAMPLE_RATE)
        chunks: list[np.ndarray] = []
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray())
        except (av.error.InvalidDataError, av.error.EOFError, av.error.FFmpegError):
            # Truncated or damaged tail: keep what decoded; fail below only if nothing did.
            pass
        try:
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray())
        except (av.error.FFmpegError, ValueError):
            pass
    if not chunks:
        raise InputError(f"{path} contains no decodable audio")
    data = np.concatenate(chunks, axis=1).astype(np.float32, copy=False)
    return np.clip(data, -1.0, 1.0)


def load_tracks(path: str | Path, options: AudioOptions | None = None) -> list[Track]:
    """A recording as speaker tracks: `[agent, caller]` for stereo, `[unknown]` for mono."""
    options = options or AudioOptions()
    data = decode_file(path, keep_channels=options.split_stereo)
    if data.shape[0] == 2 and not _same_signal(data[0], data[1]):
        left, right = data[0], data[1]
        agent, caller = (left, right) if options.agent_channel == "left" else (right, left)
        return [Track("agent", np.ascontiguousarray(agent)), Track("caller", np.ascontiguousarray(caller))]
    return [Track("unknown", np.ascontiguousarray(data.mean(axis=0, dtype=np.float32)))]


def _same_signal(a: np.ndarray, b: np.ndarray) -> bool:
    """True when both channels carry the same sound (a mono recording saved as stereo)."""
    energy = float(np.sqrt(np.mean(a * a) + np.mean(b * b)) + 1e-9)
    return float(np.sqrt(np.mean((a - b) ** 2))) < 0.05 * energy


def resample(samples: np.ndarray, from_rate: int, to_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Polyphase resampling (band-limited) of mono float32 samples."""
    if from_rate == to_rate:
        return samples.astype(np.float32, copy=False)
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(from_rate, to_rate)
    up, down = to_rate // g, from_rate // g
    fir = _lowpass(up, down)
    if np.issubdtype(samples.dtype, np.floating):
        fir = fir.astype(samples.dtype)  # as resample_poly casts its own filter
    return resample_poly(samples, up, down, window=fir).astype(np.float32)


@functools.lru_cache(maxsize=16)
def _lowpass(up: int, down: int) -> np.ndarray:
    """The FIR filter `resample_poly` designs by default, designed once: the design took 1 ms of
    the 1.2 ms it cost to resample one 20 ms telephony frame, on the service's event loop (800
    frames a second at 8 calls)."""
    from scipy.signal import firwin

    rate = max(up, down)
    fir = firwin(2 * 10 * rate + 1, 1.0 / rate, window=("kaiser", 5.0))
    fir.flags.writeable = False
    return fir


def _mulaw_table() -> np.ndarray:
    codes = ~np.arange(256, dtype=np.uint8)
    sign = (codes & 0x80) != 0
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = (((mantissa.astype(np.int32) << 3) + 0x84) << exponent) - 0x84
    return np.where(sign, -magnitude, magnitude).astype(np.float32) / 32768.0


def _alaw_table() -> np.ndarray:
    codes = np.arange(256, dtype=np.uint8) ^ 0x55
    sign = (codes & 0x80) == 0
    exponent = (codes >> 4) & 0x07
    mantissa = (codes & 0x0F).astype(np.int32)
    magnitude = np.where(
        exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0)
    )
    return np.where(sign, -magnitude, magnitude).astype(np.float32) / 32768.0


_MULAW = _mulaw_table()
_ALAW = _alaw_table()


def _g711_table(codec: str) -> np.ndarray:
    """The 256 float32 samples a G.711 `codec` (mulaw, ulaw or alaw) decodes its bytes to."""
    table = {"mulaw": _MULAW, "ulaw": _MULAW, "alaw": _ALAW}.get(codec)
    if table is None:
        raise InputError(f"unknown G.711 codec {codec!r}: use mulaw or alaw")
    return table


def decode_g711(payload: bytes, codec: str = "mulaw") -> np.ndarray:
    """Raw G.711 bytes (8 kHz, as in telephony media streams) to float32 samples at 8 kHz."""
    return _g711_table(codec)[np.frombuffer(payload, dtype=np.uint8)]


def encode_mulaw(samples: np.ndarray) -> bytes:
    """float32 samples to 8-bit mu-law (for simulators and tests; input should be at 8 kHz)."""
    pcm = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0) * 32767.0
    pcm16 = pcm.astype(np.int32)
    sign = np.where(pcm16 < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(pcm16), 32635) + 0x84
    exponent = np.floor(np.log2(magnitude)).astype(np.int32) - 7
    exponent = np.clip(exponent, 0, 7)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()


def g711_to_whisper(payload: bytes, codec: str = "mulaw") -> np.ndarray:
    """Raw 8 kHz G.711 bytes of a whole clip straight to 16 kHz float32 (a stream: `Upsampler`)."""
    return resample(decode_g711(payload, codec), 8000, SAMPLE_RATE)


class Upsampler:
    """8 kHz telephony to 16 kHz, one 20 ms frame at a time, as one continuous signal.

    `resample` on each frame alone pads both of its ends with zeros: every 20 ms the signal dips
    (29.8 dB from resampling the whole track, on the payment sample's caller). This keeps the last
    input samples between frames and applies `resample`'s low-pass filter in polyphase form (even
    and odd output samples each a 21-tap filter of the input): the same output as resampling the
    whole track, delayed by the filter's half length (20 samples, 1.25 ms), and cheaper per frame
    than `resample` (`bench/live.py` sends 800 frames a second at 8 calls to the service's event
    loop).
    """

    def __init__(self, codec: str = "mulaw") -> None:
        self._table = _g711_table(codec)
        fir = 2.0 * _lowpass(2, 1)  # gain 2: half the samples before filtering are inserted zeros
        taps = (len(fir) + 1) // 2
        self._phases = [np.pad(fir[p::2], (0, taps - len(fir[p::2]))).astype(np.float32) for p in (0, 1)]
        self._history = np.zeros(taps - 1, dtype=np.float32)

    def __call__(self, payload: bytes) -> np.ndarray:
        """The next frame's G.711 bytes to 16 kHz float32 (twice as many samples)."""
        x = self._table[np.frombuffer(payload, dtype=np.uint8)]
        data = np.concatenate([self._history, x])
        out = np.empty(2 * len(x), dtype=np.float32)
        out[0::2] = np.convolve(data, self._phases[0], mode="valid")
        out[1::2] = np.convolve(data, self._phases[1], mode="valid")
        self._history = data[len(x) :]
        return out


def write_wav(path: str | Path, channels: Sequence[np.ndarray], rate: int = SAMPLE_RATE) -> None:
    """Write float32 channels as a 16-bit PCM WAV (samples, fixtures, exports)."""
    import wave

    length = max(len(c) for c in channels)
    stacked = np.zeros((length, len(channels)), dtype=np.float32)
    for i, c in enumerate(channels):
        stacked[: len(c), i] = c
    pcm = (np.clip(stacked, -1.0, 1.0) * 32767.0).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(len(channels))
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
