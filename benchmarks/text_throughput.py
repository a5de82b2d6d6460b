"""Items per second of the text embedding pipeline against a bare transformers forward pass, and a cached rerun.

Both sides embed the same ml-100k item texts (the text encoder's default
``fields``: title and genres) with the same all-MiniLM-L6-v2 model, already
loaded, in batches of the same size. The reference tokenizes each batch in
catalogue order, runs ``AutoModel`` and mean-pools over the attention mask.
The pipeline run is timed end to end through ``embed_texts``: cache keys,
cache lookup, tokenization, batching by token length, forward passes and the
atomic cache write, into an empty cache. A second pipeline run with the same
inputs must encode nothing. Passes alternate, and each side reports its best
of ``--repeats`` passes, because the machine is shared.

    python benchmarks/text_throughput.py --threads 2 --json text_throughput.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch

from avrec.cli.hydra_app import compose_config
from avrec.config import resolve
from avrec.plugins import get_registry
from avrec.run import load_data
from avrec_text.configs import TextEncoderConfig
from avrec_text.encoder import embed_texts
from avrec_text.item_text import item_texts
from avrec_text.language_model import LanguageModel, pool


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-items", type=int, default=0, help="embed the first N items; 0 embeds all")
    parser.add_argument("--batch-size", type=int, default=TextEncoderConfig.batch_size)
    parser.add_argument("--max-length", type=int, default=TextEncoderConfig.max_length, help="tokens")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--repeats", type=int, default=2, help="timed passes of each side")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    return parser.parse_args()


def catalogue_texts(n_items: int) -> list[str]:
    """Return the ml-100k item texts the text encoder builds with its default fields."""
    resolved = resolve(compose_config([]), get_registry())
    dataset, _ = load_data(resolved)
    config = TextEncoderConfig()
    texts = item_texts(dataset.item_features, dataset.n_items, config.fields, config.template)
    return texts[:n_items] if n_items > 0 else texts


def bare_forward(language_model: LanguageModel, texts: list[str], batch_size: int) -> np.ndarray:
    """Tokenize, run and mean-pool each batch in catalogue order, with transformers alone."""
    tokenizer, model = language_model.tokenizer, language_model.model
    parts = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(
                texts[start : start + batch_size], padding=True, truncation=True,
                max_length=language_model.max_length, return_tensors="pt",
            )
            hidden = model(**batch).last_hidden_state
            parts.append(pool(hidden, batch["attention_mask"], "mean").numpy())
    return np.concatenate(parts)


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    texts = catalogue_texts(args.n_items)
    language_model = LanguageModel("all-MiniLM-L6-v2", "mean", args.max_length, args.batch_size, torch.device("cpu"))
    bare_forward(language_model, texts[: args.batch_size], args.batch_size)
    _ = language_model.identity

    bare_seconds, pipeline_seconds = [], []
    with tempfile.TemporaryDirectory() as workdir:
        for repeat in range(args.repeats):
            reference, seconds = timed(bare_forward, language_model, texts, args.batch_size)
            bare_seconds.append(seconds)
            cache_root = Path(workdir) / f"cold-{repeat}"
            (embeddings, cold_stats), seconds = timed(embed_texts, language_model, texts, cache_root)
            pipeline_seconds.append(seconds)
        (_, warm_stats), warm_seconds = timed(embed_texts, language_model, texts, cache_root)

    figures = {
        "items": len(texts),
        "distinct_texts": len(set(texts)),
        "threads": args.threads,
        "batch_size": args.batch_size,
        "max_length": args.max_length,
        "bare_items_per_second": round(len(texts) / min(bare_seconds), 1),
        "pipeline_items_per_second": round(len(texts) / min(pipeline_seconds), 1),
        "ratio": round(min(bare_seconds) / min(pipeline_seconds), 3),
        "bare_seconds": [round(s, 2) for s in bare_seconds],
        "pipeline_seconds": [round(s, 2) for s in pipeline_seconds],
        "pipeline_encoded": cold_stats.encoded,
        "max_abs_difference": float(np.abs(embeddings - reference).max()),
        "rerun_encoded": warm_stats.encoded,
        "rerun_reused": warm_stats.reused,
        "rerun_seconds": round(warm_seconds, 3),
    }
    print(json.dumps(figures, indent=2))
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
