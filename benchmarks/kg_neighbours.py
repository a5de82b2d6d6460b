"""Do item vectors carry rating similarity? A nearest-neighbour check of KG, random and genre vectors.

Usage:

    python benchmarks/kg_neighbours.py --seed 1 --epochs 40
    python benchmarks/kg_neighbours.py --seed 1 --epochs 40 --interactions

For every item with at least 5 training ratings, take its 10 nearest items
by cosine of the vectors under test and average their co-rating cosine with
it (the cosine of the two items' columns in the binary training matrix).
Higher means the vectors put items together that the same users rate. The
KG vectors are trained by the `kg` encoder's own code on the ml-100k graph,
with the training interactions added under ``--interactions``.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch

from avrec.cli.hydra_app import compose_config
from avrec.config import resolve
from avrec.plugins import get_registry
from avrec.run import load_data
from avrec.sampling import train_matrix
from avrec_kg.configs import KGEncoderConfig
from avrec_kg.embedding import train_embeddings
from avrec_kg.encoder import neighbor_pairs
from avrec_kg.graph import build_item_graph

MIN_RATINGS = 5
NEIGHBOURS = 10


def co_rating_score(matrix, vectors: np.ndarray, has_vector: np.ndarray) -> float:
    """Mean co-rating cosine between each item and its nearest items by ``vectors``."""
    counts = np.asarray(matrix.sum(axis=0)).ravel()
    items = np.flatnonzero((counts >= MIN_RATINGS) & has_vector)
    unit = vectors[items] / np.maximum(np.linalg.norm(vectors[items], axis=1, keepdims=True), 1e-12)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    nearest = np.argsort(-similarity, axis=1)[:, :NEIGHBOURS]
    columns = matrix[:, items]
    norms = np.sqrt(counts[items])
    co_rating = (columns.T @ columns).toarray() / np.outer(norms, norms)
    return float(np.take_along_axis(co_rating, nearest, axis=1).mean())


def genre_vectors(dataset, rng: np.random.Generator) -> np.ndarray:
    genres = dataset.item_features["genres"]
    names = sorted({g for row in genres if isinstance(row, list) for g in row})
    multi_hot = np.array([[float(isinstance(row, list) and name in row) for name in names] for row in genres])
    # A tiny jitter breaks the ties between items with the same genres.
    return multi_hot + 1e-3 * rng.normal(size=multi_hot.shape)


def neighbour_means(graph, embeddings) -> tuple[np.ndarray, np.ndarray]:
    labels = [str(label) for label in embeddings.labels.tolist()]
    rows, columns = neighbor_pairs(graph, labels)
    unit = embeddings.vectors / np.maximum(np.linalg.norm(embeddings.vectors, axis=1, keepdims=True), 1e-12)
    sums = np.zeros((len(graph.item_entities), unit.shape[1]))
    np.add.at(sums, rows, unit[columns])
    counts = np.bincount(rows, minlength=len(graph.item_entities))
    return sums / np.maximum(counts, 1)[:, None], counts > 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1, help="split seed (random 8:1:1)")
    parser.add_argument("--epochs", type=int, default=10, help="KG training epochs")
    parser.add_argument("--interactions", action="store_true", help="add the training interactions to the graph")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cfg = compose_config([f"seed={args.seed}", "encoder=[kg]"])
    dataset, split = load_data(resolve(cfg, get_registry()))
    matrix = train_matrix(split.train, dataset.n_users, dataset.n_items).tocsc()
    settings = {key: value for key, value in cfg.encoder.kg.items() if key != "name"}
    config = KGEncoderConfig(**{**settings, "interaction_triples": args.interactions, "epochs": args.epochs})
    graph = build_item_graph(dataset, config, split.train)
    start = time.perf_counter()
    embeddings = train_embeddings(graph.triples, dataclasses.replace(config, holdout_fraction=0.0), torch.device("cpu"))
    print(f"graph: {len(graph.triples)} triples; KG training {time.perf_counter() - start:.1f} s")
    entity, found = embeddings.rows(graph.item_entities)
    means, has_neighbours = neighbour_means(graph, embeddings)
    rng = np.random.default_rng(0)
    rows = {
        "KG entity vectors": (entity, found),
        "KG neighbour means": (means, has_neighbours),
        "random vectors": (rng.normal(size=entity.shape), found),
        "genre multi-hot": (genre_vectors(dataset, rng), found),
    }
    print("| vectors | co-rating cosine of 10 nearest items |\n|---|---|")
    for name, (vectors, mask) in rows.items():
        print(f"| {name} | {co_rating_score(matrix, vectors, mask):.4f} |")


if __name__ == "__main__":
    main()
