"""Write test audio in many containers and codecs with PyAV (tests only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def encode(path: Path, samples: np.ndarray, rate: int, codec: str, *, channels: int = 1) -> Path:
    """Encode float32 samples (shape (n,) or (channels, n)) to `path` with an FFmpeg codec."""
    import av

    data = np.atleast_2d(np.asarray(samples, dtype=np.float32))
    layout = "stereo" if channels == 2 else "mono"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        fmt = stream.codec_context.codec.audio_formats[0].name
        frame_size = stream.codec_context.frame_size or 1024
        pcm = data
        if fmt.startswith("s16"):
            pcm = (np.clip(data, -1, 1) * 32767).astype(np.int16)
        elif fmt.startswith("s32"):
            pcm = (np.clip(data, -1, 1) * 2147483647).astype(np.int32)
        elif fmt.startswith("u8"):
            pcm = ((np.clip(data, -1, 1) * 127) + 128).astype(np.uint8)
        planar = fmt.endswith("p")
        for start in range(0, data.shape[1], frame_size):
            chunk = pcm[:, start : start + frame_size]
            array = chunk if planar else chunk.T.reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(array), format=fmt, layout=layout)
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def tone(seconds: float, rate: int = 16000, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
