"""PyKEEN training of entity embeddings, their on-disk cache, and the link-prediction sanity check."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import random
import time
import zipfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import torch

from avrec.errors import ConfigError, DataError
from avrec.io import verify_checksum, write_with_checksum
from avrec_kg.configs import KGEncoderConfig

_logger = logging.getLogger(__name__)

CACHE_SUBDIR = "kg"
# Settings that change the trained embeddings; the output projection and fine-tuning do not.
TRAINING_FIELDS = (
    "model", "model_kwargs", "embedding_dim", "epochs", "batch_size", "lr", "num_negatives",
    "negative_sampler", "optimizer", "seed", "holdout_fraction", "holdout_max_triples", "eval_candidates",
)


@dataclass
class EntityEmbeddings:
    """Real-valued embeddings ``[n_entities, d]`` in the order of ``labels``, with training figures."""

    labels: np.ndarray
    vectors: np.ndarray
    metrics: dict[str, Any]

    def rows(self, entities: list[str | None]) -> tuple[np.ndarray, np.ndarray]:
        """Return the vectors of ``entities`` (zeros for None or unknown) and a mask of those found."""
        index = {label: row for row, label in enumerate(self.labels.tolist())}
        found = np.array([entity is not None and entity in index for entity in entities], dtype=bool)
        output = np.zeros((len(entities), self.vectors.shape[1]), dtype=np.float32)
        rows = [index[entity] for entity, ok in zip(entities, found) if ok]
        output[found] = self.vectors[rows]
        return output, found


def cache_key(triples: np.ndarray, config: KGEncoderConfig) -> str:
    """Return the SHA-256 of the sorted triples, the training settings and the PyKEEN version."""
    digest = hashlib.sha256()
    settings = {name: asdict(config)[name] for name in TRAINING_FIELDS}
    settings["pykeen"] = version("pykeen")
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode("utf-8"))
    for head, relation, tail in triples.tolist():
        digest.update(f"\n{head}\t{relation}\t{tail}".encode("utf-8", errors="surrogatepass"))
    return digest.hexdigest()


def cache_path(cache_root: Path, key: str) -> Path:
    return Path(cache_root) / CACHE_SUBDIR / f"{key[:32]}.npz"


def load_cached(path: Path) -> EntityEmbeddings | None:
    """Return the cached embeddings at ``path``, None when absent; a corrupt file is logged and deleted."""
    if not path.exists():
        return None
    try:
        data = verify_checksum(path)
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            labels = archive["labels"]
            vectors = np.asarray(archive["vectors"], dtype=np.float32)
            metrics = json.loads(str(archive["metrics"]))
    except (DataError, ValueError, KeyError, OSError, zipfile.BadZipFile) as error:
        _logger.warning("Deleting unreadable KG embedding cache %s, it will be rebuilt: %s", path, error)
        path.unlink(missing_ok=True)
        path.with_name(path.name + ".sha256").unlink(missing_ok=True)
        return None
    if vectors.shape[0] != len(labels) or not np.isfinite(vectors).all():
        _logger.warning("Deleting KG embedding cache %s with inconsistent content; it will be rebuilt.", path)
        path.unlink(missing_ok=True)
        return None
    return EntityEmbeddings(labels, vectors, metrics)


def save_cached(path: Path, embeddings: EntityEmbeddings) -> None:
    buffer = io.BytesIO()
    np.savez(
        buffer,
        labels=embeddings.labels.astype(str),
        vectors=np.ascontiguousarray(embeddings.vectors, dtype=np.float32),
        metrics=np.array(json.dumps(embeddings.metrics)),
    )
    write_with_checksum(path, buffer.getvalue())


def load_or_train(
    triples: np.ndarray, config: KGEncoderConfig, cache_root: Path, device: torch.device
) -> tuple[EntityEmbeddings, bool]:
    """Return entity embeddings from the cache, or train and cache them, plus True when this call trained."""
    key = cache_key(triples, config)
    path = cache_path(cache_root, key)
    cached = load_cached(path)
    if cached is not None:
        _logger.info("KG embeddings loaded from cache %s; no KG model trained.", path)
        return cached, False
    embeddings = train_embeddings(triples, config, device)
    save_cached(path, embeddings)
    _logger.info("KG embeddings cached at %s.", path)
    return embeddings, True


@contextmanager
def _isolated_rng():
    """Restore Python, NumPy and torch random states afterwards.

    PyKEEN seeds the global generators, and the recommender built next must
    get the same initial weights whether or not the KG embeddings came from
    the cache.
    """
    python_state = random.getstate()
    numpy_state = np.random.get_state()
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        try:
            yield
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)


def train_embeddings(triples: np.ndarray, config: KGEncoderConfig, device: torch.device) -> EntityEmbeddings:
    """Train ``config.model`` on ``triples`` with PyKEEN's sLCWA loop and run the sanity check."""
    _check_training_config(config)
    from pykeen.triples import TriplesFactory
    from pykeen.utils import set_random_seed

    with _isolated_rng():
        set_random_seed(config.seed)
        factory = TriplesFactory.from_labeled_triples(triples)
        training, held_out = _split(factory, config)
        model = _make_model(config, training, device)
        start = time.perf_counter()
        losses = _train(model, training, config)
        train_seconds = time.perf_counter() - start
        check = sanity_check(model, training, held_out, factory, config)
        vectors = entity_vectors(model)
    labels = np.array(sorted(factory.entity_to_id, key=factory.entity_to_id.get), dtype=str)
    metrics = {
        "model": type(model).__name__,
        "train_seconds": round(train_seconds, 2),
        "epochs": config.epochs,
        "final_loss": float(losses[-1]) if losses else None,
        "triples": int(factory.num_triples),
        "entities": int(factory.num_entities),
        "relations": int(factory.num_relations),
        **check,
    }
    _logger.info(
        "Trained KG model %s in %.1f s: %d epochs, final loss %s; link prediction on %d held-out triples: "
        "MRR %.3f, Hits@10 %.3f (among %d sampled candidates, filtered).",
        metrics["model"], train_seconds, config.epochs, metrics["final_loss"], check.get("eval_triples", 0),
        check.get("mrr", float("nan")), check.get("hits@10", float("nan")), check.get("eval_candidates", 0),
    )
    return EntityEmbeddings(labels, vectors, metrics)


def _check_training_config(config: KGEncoderConfig) -> None:
    positive = {"embedding_dim": config.embedding_dim, "batch_size": config.batch_size, "num_negatives": config.num_negatives}
    for name, value in positive.items():
        if value < 1:
            raise ConfigError(f"Invalid encoder.kg.{name} {value}; use an integer >= 1.")
    if config.epochs < 0:
        raise ConfigError(f"Invalid encoder.kg.epochs {config.epochs}; use 0 or more.")
    if config.lr <= 0:
        raise ConfigError(f"Invalid encoder.kg.lr {config.lr}; use a value > 0.")
    if not 0.0 <= config.holdout_fraction < 0.5:
        raise ConfigError(f"Invalid encoder.kg.holdout_fraction {config.holdout_fraction}; use a value in [0, 0.5).")
    if config.eval_candidates < 1:
        raise ConfigError(f"Invalid encoder.kg.eval_candidates {config.eval_candidates}; use an integer >= 1.")


def _split(factory: Any, config: KGEncoderConfig) -> tuple[Any, Any | None]:
    """Hold out a seeded sample of triples whose entities and relations all stay in training."""
    n_held_out = min(int(round(factory.num_triples * config.holdout_fraction)), config.holdout_max_triples)
    if n_held_out < 1:
        return factory, None
    ratio = n_held_out / factory.num_triples
    try:
        training, held_out = factory.split([1.0 - ratio, ratio], random_state=config.seed)
    except ValueError as error:
        _logger.warning("No triples held out for the KG sanity check: %s", error)
        return factory, None
    return training, held_out


def _make_model(config: KGEncoderConfig, training: Any, device: torch.device) -> Any:
    from pykeen.models import model_resolver

    kwargs = {"embedding_dim": config.embedding_dim, **config.model_kwargs}
    try:
        model_class = model_resolver.lookup(config.model)
    except (KeyError, ValueError) as error:
        names = ", ".join(sorted(model_resolver.lookup_dict))
        raise ConfigError(f"Unknown encoder.kg.model {config.model!r}. PyKEEN models: {names}.") from error
    try:
        model = model_class(triples_factory=training, random_seed=config.seed, **kwargs)
    except TypeError as error:
        raise ConfigError(
            f"PyKEEN model {model_class.__name__} rejected its arguments {sorted(kwargs)}: {error}. "
            f"Fix encoder.kg.model_kwargs."
        ) from error
    return model.to(device)


def _train(model: Any, training: Any, config: KGEncoderConfig) -> list[float]:
    from pykeen.training import SLCWATrainingLoop

    loop = SLCWATrainingLoop(
        model=model,
        triples_factory=training,
        optimizer=config.optimizer,
        optimizer_kwargs={"lr": config.lr},
        negative_sampler=config.negative_sampler,
        negative_sampler_kwargs={"num_negs_per_pos": config.num_negatives},
        # The automatic batch-size search only probes GPU memory and costs seconds.
        automatic_memory_optimization=False,
    )
    if config.epochs == 0:
        return []
    return loop.train(
        triples_factory=training, num_epochs=config.epochs, batch_size=config.batch_size, use_tqdm=False
    )


def entity_vectors(model: Any) -> np.ndarray:
    """Return the model's first entity representation as a real matrix ``[n_entities, d]``.

    Complex-valued embeddings (ComplEx, RotatE) become their real view, real
    and imaginary parts side by side, so ``d`` is twice the complex width.
    """
    with torch.no_grad():
        vectors = model.entity_representations[0](indices=None).detach().cpu()
    if vectors.is_complex():
        vectors = torch.view_as_real(vectors)
    return vectors.reshape(vectors.shape[0], -1).float().numpy()


def sanity_check(model: Any, training: Any, held_out: Any | None, factory: Any, config: KGEncoderConfig) -> dict[str, Any]:
    """Return filtered MRR and Hits@10 of the held-out triples ranked among sampled candidate entities.

    Each held-out triple is scored twice, once with its tail and once with
    its head replaced. The true entity competes with ``eval_candidates``
    entities drawn uniformly without replacement (one draw shared by all
    queries). Candidates that form a known triple are filtered out, and ties
    count against the true entity. PyKEEN's own evaluators score every
    entity, which takes minutes on a CPU for a graph of tens of thousands of
    entities, so this check ranks a sample instead.
    NOTE: sampled ranks are smaller than full ranks, so this MRR is higher
    than a full-ranking MRR of the same model.
    """
    if held_out is None or held_out.num_triples == 0:
        return {}
    from pykeen.evaluation.ranks import Ranks

    model.eval()
    generator = torch.Generator().manual_seed(config.seed)
    n_candidates = min(config.eval_candidates, factory.num_entities)
    candidates = torch.randperm(factory.num_entities, generator=generator)[:n_candidates]
    known = _triple_keys(factory.mapped_triples, factory.num_entities, factory.num_relations)
    test = held_out.mapped_triples
    device = next(model.parameters()).device
    ranks = []
    with torch.no_grad():
        true_scores = model.score_hrt(test.to(device)).cpu()
        for side in ("tail", "head"):
            scores = _candidate_scores(model, test, candidates, side, device)
            scores[_known_mask(test, candidates, side, known, factory)] = float("-inf")
            all_scores = torch.cat([true_scores, scores], dim=1)
            ranks.append(Ranks.from_scores(true_scores, all_scores).pessimistic)
    rank = torch.cat(ranks).float()
    return {
        "mrr": float((1.0 / rank).mean()),
        "hits@10": float((rank <= 10).float().mean()),
        "eval_triples": int(test.shape[0]),
        "eval_candidates": int(n_candidates),
    }


def _candidate_scores(model: Any, test: torch.Tensor, candidates: torch.Tensor, side: str, device: torch.device) -> torch.Tensor:
    if side == "tail":
        return model.score_t(test[:, [0, 1]].to(device), tails=candidates.to(device)).cpu()
    return model.score_h(test[:, [1, 2]].to(device), heads=candidates.to(device)).cpu()


def _triple_keys(mapped: torch.Tensor, n_entities: int, n_relations: int) -> np.ndarray:
    mapped = mapped.numpy().astype(np.int64)
    return np.unique((mapped[:, 0] * n_relations + mapped[:, 1]) * n_entities + mapped[:, 2])


def _known_mask(test: torch.Tensor, candidates: torch.Tensor, side: str, known: np.ndarray, factory: Any) -> torch.Tensor:
    """Return a bool mask ``[n_test, n_candidates]`` of candidate triples that are in the graph."""
    n_entities, n_relations = factory.num_entities, factory.num_relations
    triples = test.numpy().astype(np.int64)
    cand = candidates.numpy().astype(np.int64)[None, :]
    if side == "tail":
        keys = (triples[:, 0:1] * n_relations + triples[:, 1:2]) * n_entities + cand
    else:
        keys = (cand * n_relations + triples[:, 1:2]) * n_entities + triples[:, 2:3]
    return torch.from_numpy(np.isin(keys, known))
