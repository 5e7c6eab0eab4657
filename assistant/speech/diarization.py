"""Who spoke when in a one-channel recording, and which voice is the agent.

A mono call recorder mixes agent and caller into one channel. This module finds the speech (the
Silero VAD that faster-whisper ships, `speech_spans`), describes each stretch of 1.5 s with a
speaker embedding (the voice encoder whose weights ship inside the `resemblyzer` wheel: a 3-layer
LSTM on 40 mel bands, 256-d output, no model hub), groups the embeddings into voices (agglomerative
clustering on cosine distance, then refined on the voice centroids) and labels every 10 ms of
speech with its voice. Roles come from what each voice says (`assign_roles`): the agent greets,
names the agency and asks for data; the caller asks for help and reads numbers. When the words
do not say which voice is the agent the voices stay "speaker 1" and "speaker 2".

Overlapping speech is given to one voice only (the stronger one by embedding); see
docs/diarization.md for measured figures and limits.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.speech.audio import SAMPLE_RATE

MEL_BANDS = 40
WINDOW_SECONDS = 1.5  # one embedding describes this much speech
HOP_SECONDS = 0.5  # and the next starts this much later
WHOLE_SPAN_SECONDS = 1.5  # a speech span up to this long is one window
FRAME_SECONDS = 0.01  # labels are given per 10 ms frame
SMOOTH_SECONDS = 0.5  # a voice change shorter than this inside speech is ignored
SAME_VOICE_SIMILARITY = (
    0.97  # voice centroids this alike (cosine) are one voice; a lone speaker measured 0.91
)
MIN_VOICE_SHARE = 0.07  # a "voice" with less of the speech than this is folded into the other
ROLE_MARGIN = 2  # role cues one voice must lead the other by before roles are named

_encoder_lock = threading.Lock()
_encoder: Any = None


@dataclass(frozen=True)
class Turn:
    """A stretch of one voice: start and end in seconds, speaker label ("speaker 1", ...)."""

    start: float
    end: float
    speaker: str


def _voice_encoder() -> Any:
    """The voice encoder, loaded once per process from the weights file inside the resemblyzer
    wheel (`resemblyzer/pretrained.pt`, 17 MB).

    The network is built here (3-layer LSTM, 40 -> 256, then linear, ReLU and unit length, as the
    package defines it) rather than imported: the package's own modules import webrtcvad and
    librosa at load time for its file helpers, which this code does not use."""
    global _encoder
    with _encoder_lock:
        if _encoder is None:
            import importlib.util

            import torch
            from torch import nn

            spec = importlib.util.find_spec("resemblyzer")
            if spec is None or not spec.submodule_search_locations:
                raise RuntimeError(
                    "mono diarization needs the resemblyzer package's weights: run bash scripts/setup.sh "
                    "(it installs resemblyzer==0.1.4 --no-deps), or pass --no-diarize"
                )
            weights = Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"

            class VoiceEncoder(nn.Module):
                def __init__(self) -> None:
                    super().__init__()
                    self.lstm = nn.LSTM(MEL_BANDS, 256, 3, batch_first=True)
                    self.linear = nn.Linear(256, 256)
                    self.relu = nn.ReLU()

                def forward(self, mels: Any) -> Any:
                    _, (hidden, _) = self.lstm(mels)
                    raw = self.relu(self.linear(hidden[-1]))
                    return raw / torch.clamp(torch.norm(raw, dim=1, keepdim=True), min=1e-9)

            model = VoiceEncoder()
            state = torch.load(weights, map_location="cpu", weights_only=True)["model_state"]
            model.load_state_dict(state, strict=False)
            _encoder = model.eval()
        return _encoder


def _mel_frames(samples: np.ndarray) -> np.ndarray:
    """Mel frames (25 ms window, 10 ms hop, 40 bands; power, not log) of the whole recording as
    the encoder was trained on them, after raising quiet audio to -30 dBFS."""
    import librosa

    wav = samples.astype(np.float32)
    rms = float(np.sqrt(np.mean(wav**2))) if len(wav) else 0.0
    if 0 < rms < 10 ** (-30 / 20):
        wav = wav * (10 ** (-30 / 20) / rms)
    mel = librosa.feature.melspectrogram(
        y=wav, sr=SAMPLE_RATE, n_fft=SAMPLE_RATE * 25 // 1000, hop_length=SAMPLE_RATE // 100, n_mels=MEL_BANDS
    )
    return np.ascontiguousarray(mel.T, dtype=np.float32)


def window_starts(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Embedding windows (start, end seconds) covering each speech span; a span shorter than one
    window gets one window of its own length."""
    out: list[tuple[float, float]] = []
    for lo, hi in spans:
        if hi - lo <= max(WINDOW_SECONDS, WHOLE_SPAN_SECONDS):
            out.append((lo, hi))
            continue
        t = lo
        while t + WINDOW_SECONDS < hi:
            out.append((t, t + WINDOW_SECONDS))
            t += HOP_SECONDS
        out.append((hi - WINDOW_SECONDS, hi))
    return out


def embed_windows(samples: np.ndarray, windows: list[tuple[float, float]]) -> np.ndarray:
    """One unit-length embedding per window, shape (windows, 256)."""
    import torch

    encoder = _voice_encoder()
    mels = _mel_frames(samples)
    frames_per_s = round(1 / FRAME_SECONDS)
    full = round(max(WINDOW_SECONDS, WHOLE_SPAN_SECONDS) * frames_per_s)
    by_length: dict[int, list[int]] = {}
    cuts: list[np.ndarray] = []
    for i, (lo, hi) in enumerate(windows):
        a = min(int(lo * frames_per_s), max(len(mels) - 1, 0))
        cut = mels[a : max(a + 1, min(int(hi * frames_per_s), len(mels)))]
        cuts.append(cut)
        by_length.setdefault(min(len(cut), full), []).append(i)
    out = np.zeros((len(windows), 256), dtype=np.float32)
    with torch.no_grad():
        for length, idx in by_length.items():
            for b in range(0, len(idx), 256):
                chunk = idx[b : b + 256]
                batch = torch.from_numpy(np.stack([cuts[i][:length] for i in chunk]))
                out[chunk] = encoder(batch).cpu().numpy()
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norms, 1e-9)


def cluster_voices(embeddings: np.ndarray, max_speakers: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Voice label per embedding and the voices' unit centroids.

    Agglomerative clustering (average linkage, cosine) into `max_speakers`, then two rounds of
    reassignment to the nearest centroid; voices whose centroids are more alike than
    `SAME_VOICE_SIMILARITY`, or that hold under `MIN_VOICE_SHARE` of the windows, are merged."""
    if len(embeddings) < 2 or max_speakers < 2:
        one = np.zeros(len(embeddings), dtype=int)
        return one, _centroids(embeddings, one, 1)
    from sklearn.cluster import AgglomerativeClustering

    # The encoder's outputs are all positive (a ReLU before the norm), so every pair is alike;
    # taking away the call's mean voice leaves what tells the voices apart.
    centred = _centre(embeddings)
    k = min(max_speakers, len(embeddings))
    labels = AgglomerativeClustering(n_clusters=k, metric="cosine", linkage="average").fit_predict(centred)
    for _ in range(2):
        cents = _centroids(centred, labels, k)
        labels = np.argmax(centred @ cents.T, axis=1)
    while k > 1:
        # alike-ness of voices is judged on the raw embeddings (centred centroids always differ)
        cents = _centroids(embeddings, labels, k)
        shares = np.bincount(labels, minlength=k) / len(labels)
        sims = cents @ cents.T - 2 * np.eye(k)
        small = int(np.argmin(shares))
        if shares[small] < MIN_VOICE_SHARE:
            drop = small
        elif sims.max() > SAME_VOICE_SIMILARITY:
            drop = int(np.unravel_index(np.argmax(sims), sims.shape)[1])
        else:
            break
        keep = [j for j in range(k) if j != drop]
        labels = np.argmax(centred @ _centroids(centred, labels, k)[keep].T, axis=1)
        k -= 1
    return labels, _centroids(centred, labels, k)


def _centre(embeddings: np.ndarray) -> np.ndarray:
    centred = embeddings - embeddings.mean(axis=0)
    return centred / np.maximum(np.linalg.norm(centred, axis=1, keepdims=True), 1e-9)


def _centroids(embeddings: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    cents = np.stack(
        [
            embeddings[labels == j].mean(axis=0) if np.any(labels == j) else np.zeros(embeddings.shape[1])
            for j in range(k)
        ]
    )
    return cents / np.maximum(np.linalg.norm(cents, axis=1, keepdims=True), 1e-9)


def diarize(samples: np.ndarray, spans: list[tuple[float, float]], max_speakers: int = 2) -> list[Turn]:
    """Speech turns of a mono recording (16 kHz float32), labelled "speaker 1", "speaker 2"...
    in order of first speech. `spans` are the speech stretches (the caller's VAD, e.g.
    `assistant.speech.transcription.speech_spans`)."""
    spans = [(lo, hi) for lo, hi in spans if hi > lo]
    if not spans:
        return []
    windows = window_starts(spans)
    embeddings = embed_windows(samples, windows)
    labels, cents = cluster_voices(embeddings, max_speakers)
    k = len(cents)
    n_frames = int(max(hi for _, hi in spans) / FRAME_SECONDS) + 1
    score = np.zeros((n_frames, k), dtype=np.float32)
    count = np.zeros(n_frames, dtype=np.float32)
    sims = (_centre(embeddings) if k > 1 else embeddings) @ cents.T
    for (lo, hi), s in zip(windows, sims, strict=True):
        a, b = int(lo / FRAME_SECONDS), int(hi / FRAME_SECONDS)
        score[a:b] += s
        count[a:b] += 1
    turns: list[tuple[float, float, int]] = []
    smooth = max(1, int(SMOOTH_SECONDS / FRAME_SECONDS))
    for lo, hi in spans:
        a, b = int(lo / FRAME_SECONDS), max(int(hi / FRAME_SECONDS), int(lo / FRAME_SECONDS) + 1)
        seg = score[a:b] / np.maximum(count[a:b, None], 1)
        if smooth > 1 and len(seg) > smooth:
            kernel = np.ones(smooth) / smooth
            seg = np.stack([np.convolve(seg[:, j], kernel, mode="same") for j in range(k)], axis=1)
        lab = np.argmax(seg, axis=1)
        runs = _runs(lab)
        runs = _absorb_short(runs, smooth)
        for r0, r1, v in runs:
            turns.append(((a + r0) * FRAME_SECONDS, (a + r1) * FRAME_SECONDS, v))
    order: dict[int, str] = {}
    for _, _, v in turns:
        order.setdefault(v, f"speaker {len(order) + 1}")
    out: list[Turn] = []
    for lo, hi, v in turns:
        if out and out[-1].speaker == order[v] and lo - out[-1].end < 1e-6:
            out[-1] = Turn(out[-1].start, hi, out[-1].speaker)
        else:
            out.append(Turn(round(lo, 2), round(hi, 2), order[v]))
    return out


def _runs(labels: np.ndarray) -> list[tuple[int, int, int]]:
    out: list[tuple[int, int, int]] = []
    start = 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            out.append((start, i, int(labels[start])))
            start = i
    return out


def _absorb_short(runs: list[tuple[int, int, int]], shortest: int) -> list[tuple[int, int, int]]:
    """Runs shorter than `shortest` frames join their longer neighbour."""
    runs = list(runs)
    while len(runs) > 1:
        lengths = [b - a for a, b, _ in runs]
        i = int(np.argmin(lengths))
        if lengths[i] >= shortest:
            break
        left = runs[i - 1] if i > 0 else None
        right = runs[i + 1] if i + 1 < len(runs) else None
        if right is None or (left is not None and left[1] - left[0] >= right[1] - right[0]):
            assert left is not None
            runs[i - 1 : i + 1] = [(left[0], runs[i][1], left[2])]
        else:
            runs[i : i + 2] = [(runs[i][0], right[1], right[2])]
        # neighbours with the same voice become one run
        merged: list[tuple[int, int, int]] = []
        for r in runs:
            if merged and merged[-1][2] == r[2]:
                merged[-1] = (merged[-1][0], r[1], r[2])
            else:
                merged.append(r)
        runs = merged
    return runs


# What an agent says (greets, names the agency, asks for data) and what a caller says (asks for
# help, gives their own details). English and Spanish, the sample calls' languages.
_AGENT_CUES = [
    r"\bthank(?:s| you) for (?:calling|holding|waiting)\b",
    r"\bhow (?:can|may) i (?:help|assist)\b",
    r"\bmy name is\b.*\b(?:how|help)\b",
    r"\b(?:department|office|agency|services|administration|county|city of|state of)\b",
    r"\b(?:can|could|may) i (?:have|get|ask for)\b",
    r"\b(?:can|could|would) you (?:please )?(?:give|provide|confirm|read|spell|tell|verify)\b",
    r"\bwhat(?:'s| is) your\b",
    r"\b(?:please|kindly) (?:provide|confirm|read|give|verify|hold)\b",
    r"\byour (?:card|social|ssn|date of birth|account|claim|case|full name|address|number)\b",
    r"\blet me (?:check|look|verify|see|pull)\b",
    r"\bis there anything else\b",
    r"\bgracias por (?:llamar|comunicarse|esperar)\b",
    r"\ben qu[eé] (?:le |te )?puedo (?:ayudar|servir)\b",
    r"\b(?:departamento|oficina|agencia|servicios)\b",
    r"\b(?:me puede|podr[ií]a) (?:dar|dec[ií]r|confirmar|proporcionar)\b",
    r"\bcu[aá]l es su\b",
    r"\bsu (?:n[uú]mero|tarjeta|nombre|direcci[oó]n|licencia|solicitud)\b",
]
_CALLER_CUES = [
    r"\bi (?:need|want|would like|'d like|am calling|'m calling|have a question|lost|filed|applied)\b",
    r"\bmy (?:card|social|ssn|payment|claim|license|licence|benefits|account|number|application)\b",
    r"\bhow (?:do|can) i\b",
    r"\b(?:necesito|quiero|quisiera|perd[ií]|solicit[eé])\b",
    r"\bmi (?:tarjeta|n[uú]mero|licencia|solicitud|pago|cuenta)\b",
    r"\bc[oó]mo (?:puedo|hago)\b",
    r"(?:\d[\s-]*){4,}",
]


def role_cues(text: str) -> tuple[int, int]:
    """(agent cues, caller cues) found in one voice's words."""
    low = text.lower()
    agent = sum(len(re.findall(p, low)) for p in _AGENT_CUES)
    caller = sum(len(re.findall(p, low)) for p in _CALLER_CUES)
    return agent, caller


def assign_roles(texts: dict[str, str], margin: int = ROLE_MARGIN) -> dict[str, str]:
    """Map voice labels to "agent" and "caller" from what each voice said.

    With two voices, the one whose words lead in agent cues over caller cues (compared to the
    other voice) by at least `margin` is the agent. Anything else (one voice, three voices, too
    few cues) keeps the voice labels: the roles are not guessed."""
    if len(texts) != 2:
        return {v: v for v in texts}
    (a, ta), (b, tb) = sorted(texts.items())
    ag_a, ca_a = role_cues(ta)
    ag_b, ca_b = role_cues(tb)
    lead = (ag_a - ca_a) - (ag_b - ca_b)
    if lead >= margin:
        return {a: "agent", b: "caller"}
    if -lead >= margin:
        return {a: "caller", b: "agent"}
    return {a: a, b: b}
