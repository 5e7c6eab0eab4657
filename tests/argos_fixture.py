"""Build a tiny, random-weight argos package (.argosmodel) so translation tests need no download.

The package is real in every way argostranslate checks: a CTranslate2 transformer converted from a
one-layer Marian model, a SentencePiece model, and metadata.json, zipped under one top folder. Its
weights are random, so its output is nonsense; tests use it for plumbing, labels and error paths.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

# Enough text for SentencePiece to learn a small vocabulary in a few languages' scripts.
_TRAINING_LINES = (
    "Hello, I am calling about my benefits claim.",
    "Hola, llamo por mi solicitud de beneficios.",
    "Bonjour, j'appelle au sujet de ma demande.",
    "My licence expired last month and I need to renew it.",
    "Mi licencia venció el mes pasado y necesito renovarla.",
    "Where can I pay my property tax bill?",
    "¿Dónde puedo pagar el impuesto sobre la propiedad?",
    "The payment did not arrive this week.",
    "El pago no llegó esta semana.",
    "Thank you very much, have a good day.",
    "Muchas gracias, que tenga un buen día.",
)


def build_argos_package(
    out_dir: Path,
    from_code: str = "es",
    to_code: str = "en",
    from_name: str = "Spanish",
    to_name: str = "English",
    vocab_size: int = 96,
    eos_bias: float = 1.0,
) -> Path:
    """Write `translate-<from>_<to>.argosmodel` into `out_dir` and return its path (takes seconds).

    `eos_bias` is added to the end-of-sentence logit so the random model stops after a few
    tokens rather than running to the 256-token decoding limit (faster tests, and a pivoted
    translation's input stays within the position table).
    """
    import ctranslate2
    import sentencepiece as spm
    import torch
    import transformers

    out_dir = Path(out_dir)
    work = out_dir / f"build-{from_code}_{to_code}"
    pkg_name = f"translate-{from_code}_{to_code}-tiny"
    pkg_dir = work / pkg_name
    hf_dir = work / "hf"
    pkg_dir.mkdir(parents=True, exist_ok=True)
    hf_dir.mkdir(parents=True, exist_ok=True)

    corpus = work / "corpus.txt"
    corpus.write_text("\n".join(_TRAINING_LINES * 3) + "\n", encoding="utf-8")
    sp_prefix = work / "sp"
    # Marian vocabularies put <unk> and </s> first and have no <s>; pad is appended below.
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(sp_prefix),
        vocab_size=vocab_size,
        model_type="unigram",
        character_coverage=1.0,
        hard_vocab_limit=False,
        unk_id=0,
        eos_id=1,
        bos_id=-1,
        pad_id=-1,
        minloglevel=2,
        num_threads=1,
    )
    sp = spm.SentencePieceProcessor(model_file=str(sp_prefix) + ".model")
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    vocab = {piece: i for i, piece in enumerate(pieces)}
    pad_id = len(vocab)
    vocab["<pad>"] = pad_id

    sp_bytes = Path(str(sp_prefix) + ".model").read_bytes()
    for name in ("source.spm", "target.spm"):
        (hf_dir / name).write_bytes(sp_bytes)
    (hf_dir / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")

    config = transformers.MarianConfig(
        vocab_size=len(vocab),
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=512,
        pad_token_id=pad_id,
        eos_token_id=1,
        decoder_start_token_id=pad_id,
        forced_eos_token_id=1,
        scale_embedding=True,
        share_encoder_decoder_embeddings=True,
    )
    torch.manual_seed(0)
    model = transformers.MarianMTModel(config)
    with torch.no_grad():
        model.final_logits_bias[0, 1] = eos_bias
    model.save_pretrained(hf_dir)
    tokenizer = transformers.MarianTokenizer(
        source_spm=str(hf_dir / "source.spm"),
        target_spm=str(hf_dir / "target.spm"),
        vocab=str(hf_dir / "vocab.json"),
        source_lang=from_code,
        target_lang=to_code,
        unk_token="<unk>",
        eos_token="</s>",
        pad_token="<pad>",
    )
    tokenizer.save_pretrained(hf_dir)

    ctranslate2.converters.TransformersConverter(str(hf_dir)).convert(str(pkg_dir / "model"), force=True)
    (pkg_dir / "sentencepiece.model").write_bytes(sp_bytes)
    metadata = {
        "package_version": "0.0.1",
        "argos_version": "1.9",
        "from_code": from_code,
        "from_name": from_name,
        "to_code": to_code,
        "to_name": to_name,
        "type": "translate",
        "links": [],
    }
    (pkg_dir / "metadata.json").write_text(json.dumps(metadata, indent=2), encoding="utf-8")
    (pkg_dir / "README.md").write_text("Random-weight test package; its output is nonsense.\n")

    archive = out_dir / f"translate-{from_code}_{to_code}.argosmodel"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for root, _dirs, files in os.walk(pkg_dir):
            for name in files:
                path = Path(root) / name
                zf.write(path, path.relative_to(work).as_posix())
    return archive


if __name__ == "__main__":
    import sys
    import time

    start = time.perf_counter()
    target = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    target.mkdir(parents=True, exist_ok=True)
    print(build_argos_package(target), f"{time.perf_counter() - start:.1f}s")
