"""KG training time on ml-100k against a text-encoding reference, the sanity-check MRR, and the cached rerun.

Usage: python benchmarks/kg_training.py [--threads 2] [--json FILE] [encoder.kg overrides as key=value ...]

In one process and an empty temporary cache, the script first encodes the
1,682 ml-100k item texts with the default text encoder. That is the
reference, because the machine is shared and absolute seconds vary with its
load. It then builds the default item graph, trains the KG model, and
repeats the KG step to show that the cached rerun trains nothing. It prints
a Markdown table.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path

import torch

from avrec.data.fetch import ML_100K, fetch_dataset
from avrec.data.load import load_directory
from avrec_kg.configs import KGEncoderConfig
from avrec_kg.embedding import load_or_train
from avrec_kg.graph import build_item_graph


def text_reference(dataset, cache_root: Path) -> float:
    """Return the seconds to encode every item text with the default text encoder into an empty cache."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from avrec_text.configs import TextEncoderConfig
    from avrec_text.encoder import embed_texts
    from avrec_text.item_text import item_texts
    from avrec_text.language_model import LanguageModel

    config = TextEncoderConfig()
    model = LanguageModel(config.model_name_or_path, config.pooling, config.max_length, config.batch_size, torch.device("cpu"))
    texts = item_texts(dataset.item_features, dataset.n_items, config.fields, config.template)
    start = time.perf_counter()
    embed_texts(model, texts, cache_root)
    return time.perf_counter() - start


def parse_overrides(pairs: list[str]) -> dict:
    types = {field.name: field.type for field in dataclasses.fields(KGEncoderConfig)}
    values = {}
    for pair in pairs:
        key, _, raw = pair.partition("=")
        kind = types[key]
        if kind == "bool":
            values[key] = raw == "true"
        elif kind == "int":
            values[key] = int(raw)
        elif kind == "float":
            values[key] = float(raw)
        else:
            values[key] = raw
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = KGEncoderConfig(**parse_overrides(args.overrides))
    dataset = load_directory(fetch_dataset(ML_100K))

    with tempfile.TemporaryDirectory() as cache:
        cache_root = Path(cache)
        text_seconds = text_reference(dataset, cache_root)
        start = time.perf_counter()
        graph = build_item_graph(dataset, config)
        graph_seconds = time.perf_counter() - start
        start = time.perf_counter()
        embeddings, trained = load_or_train(graph.triples, config, cache_root, torch.device("cpu"))
        kg_seconds = time.perf_counter() - start
        start = time.perf_counter()
        _, trained_again = load_or_train(graph.triples, config, cache_root, torch.device("cpu"))
        rerun_seconds = time.perf_counter() - start

    metrics = embeddings.metrics
    result = {
        "config": dataclasses.asdict(config),
        "load_average": os.getloadavg(),
        "text_seconds": text_seconds,
        "graph_seconds": graph_seconds,
        "kg_seconds": kg_seconds,
        "kg_train_seconds": metrics["train_seconds"],
        "kg_over_text": kg_seconds / text_seconds,
        "mrr": metrics["mrr"],
        "hits@10": metrics["hits@10"],
        "triples": metrics["triples"],
        "entities": metrics["entities"],
        "trained_first": trained,
        "trained_rerun": trained_again,
        "rerun_seconds": rerun_seconds,
    }

    print(f"load average (1, 5, 15 min) after the run: {', '.join(f'{x:.1f}' for x in result['load_average'])}")
    print("| step | seconds | ratio to text |")
    print("|---|---|---|")
    print(f"| text reference: encode {dataset.n_items} item texts, empty cache | {text_seconds:.1f} | 1.00 |")
    print(f"| build item graph ({metrics['triples']} triples, {metrics['entities']} entities) | {graph_seconds:.1f} | {graph_seconds / text_seconds:.2f} |")
    print(
        f"| train {metrics['model']}, {config.epochs} epochs, and check (fit {metrics['train_seconds']} s) "
        f"| {kg_seconds:.1f} | {kg_seconds / text_seconds:.2f} |"
    )
    print(f"| identical rerun (trained: {trained_again}) | {rerun_seconds:.2f} | {rerun_seconds / text_seconds:.3f} |")
    print(f"\nsanity check: MRR {metrics['mrr']:.3f}, Hits@10 {metrics['hits@10']:.3f} "
          f"({metrics['eval_triples']} held-out triples, {metrics['eval_candidates']} sampled candidates, filtered)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
