"""Regenerate the sample call recordings from their scripts with espeak-ng.

Run from the repo root: `python samples/make_samples.py` (needs the Debian package espeak-ng).
Each call is a 16 kHz stereo WAV, agent on the left channel and caller on the right, with the turns
placed one after another. The WAV files are committed so tests do not depend on the synthesizer's
version; the scripts below are the reference text.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.speech.audio import SAMPLE_RATE, decode_file, write_wav  # noqa: E402

HERE = Path(__file__).resolve().parent
GAP_SECONDS = 0.6

# (speaker, espeak voice, text). Sample content: no real person's details; the card number is a
# well-known test number and the SSN is of a kind never issued (area 9xx is not assigned).
CALLS: dict[str, dict] = {
    "call-en-benefits": {
        "language": "en",
        "description": "English caller: late unemployment payment, then a lost driver licence.",
        "turns": [
            (
                "agent",
                "en-us",
                "Thank you for calling State Services. My name is Dana. How can I help you today?",
            ),
            (
                "caller",
                "en-us+m3",
                "Hi. I filed for unemployment three weeks ago and I still have not received my payment.",
            ),
            ("agent", "en-us", "I am sorry about the wait. Let me check the status of your claim."),
            (
                "caller",
                "en-us+m3",
                "Thanks. Also, I lost my driver license last week. How do I get a new one?",
            ),
            (
                "agent",
                "en-us",
                "I can help with both. Your payment was sent yesterday, and you can order a replacement license online.",
            ),
            ("caller", "en-us+m3", "Great, that helps a lot. Thank you."),
        ],
    },
    "call-es-food": {
        "language": "es",
        "description": "Spanish caller asking about a food assistance card; Spanish-speaking agent.",
        "turns": [
            ("agent", "es", "Gracias por llamar a los Servicios del Estado. ¿En qué puedo ayudarle?"),
            ("caller", "es-419", "Hola. Perdí mi tarjeta de beneficios de alimentos y necesito una nueva."),
            ("agent", "es", "Claro que sí. Puedo pedir una tarjeta nueva para usted hoy mismo."),
            ("caller", "es-419", "Muchas gracias. ¿Cuánto tiempo tarda en llegar la tarjeta?"),
            ("agent", "es", "La tarjeta nueva llega por correo en siete a diez días."),
        ],
    },
    "call-es-license": {
        "language": "es",
        "speed": 125,
        "description": "Spanish caller who needs to renew a driver licence; Spanish-speaking agent.",
        "turns": [
            ("agent", "es", "Servicios del Estado, buenos días."),
            ("caller", "es+m3", "Necesito renovar mi licencia de conducir."),
            ("agent", "es", "Claro. Puede hacerlo en línea."),
        ],
    },
    "call-en-payment-pii": {
        "language": "en",
        "description": "English caller who reads out a card number and an SSN and asks two questions.",
        "turns": [
            ("agent", "en-us", "Thank you for calling State Services. How can I help you?"),
            (
                "caller",
                "en-us+m3",
                "I want to pay my property tax bill, but the website keeps giving me an error.",
            ),
            ("agent", "en-us", "I can take the payment by phone. What is the card number?"),
            (
                "caller",
                "en-us+m3",
                "It is four one one one, one one one one, one one one one, one one one one.",
            ),
            (
                "agent",
                "en-us",
                "Thank you. And to verify your identity, what is your social security number?",
            ),
            ("caller", "en-us+m3", "My social is nine eight seven, six five, four three two one."),
            ("agent", "en-us", "Thank you. The payment went through."),
            ("caller", "en-us+m3", "One more thing. How do I register to vote at my new address?"),
            ("agent", "en-us", "You can update your voter registration online or at any county office."),
            ("caller", "en-us+m3", "Perfect, thank you so much for your help."),
        ],
    },
}


def synthesize(text: str, voice: str, workdir: Path, speed: int = 150) -> np.ndarray:
    out = workdir / "turn.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(out), text], check=True)
    return decode_file(out)[0]


def build(name: str, spec: dict, workdir: Path) -> dict:
    agent: list[np.ndarray] = []
    caller: list[np.ndarray] = []
    cursor = 0.5
    script = []
    gap = np.zeros(int(GAP_SECONDS * SAMPLE_RATE), dtype=np.float32)
    lead = np.zeros(int(cursor * SAMPLE_RATE), dtype=np.float32)
    agent.append(lead)
    caller.append(lead)
    for speaker, voice, text in spec["turns"]:
        speech = synthesize(text, voice, workdir, spec.get("speed", 150)) * 0.8
        silence = np.zeros_like(speech)
        agent.append(speech if speaker == "agent" else silence)
        caller.append(speech if speaker == "caller" else silence)
        agent.append(gap)
        caller.append(gap)
        start = cursor
        cursor += (len(speech) + len(gap)) / SAMPLE_RATE
        script.append(
            {
                "speaker": speaker,
                "start": round(start, 2),
                "end": round(cursor - GAP_SECONDS, 2),
                "text": text,
            }
        )
    write_wav(HERE / f"{name}.wav", [np.concatenate(agent), np.concatenate(caller)])
    return {
        "file": f"{name}.wav",
        "language": spec["language"],
        "description": spec["description"],
        "duration": round(cursor, 2),
        "channels": {"left": "agent", "right": "caller"},
        "turns": script,
    }


def main() -> int:
    if shutil.which("espeak-ng") is None:
        print("error: espeak-ng is not installed (apt-get install espeak-ng)", file=sys.stderr)
        return 2
    manifest = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, spec in CALLS.items():
            entry = build(name, spec, Path(tmp))
            manifest.append(entry)
            print(f"{entry['file']}: {entry['duration']} s")
    (HERE / "calls.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
