"""Contract test cases for avrec components, and a small catalogue to build them on.

A plugin author checks a component against its interface by subclassing the
contract case of its kind in a pytest module and naming the component::

    from avrec.testing import EncoderContract

    class TestMyEncoder(EncoderContract):
        component_class = MyEncoder        # or: name = "my_encoder" (looked up in the registry)
        config_class = MyEncoderConfig
        config_overrides = {"dim": 16}

The cases run with pytest: each ``test_*`` method takes pytest fixtures, and
a subclass can override the ``config`` and ``context`` fixtures (for
example to load a real dataset) or the ``make_*`` methods. Checks cover
output shapes, masks, determinism under a seed, the config round trip
through the dataclass and OmegaConf, and saving and loading ``state_dict``.

:func:`small_dataset`, :func:`small_split` and :func:`small_context` build a
12-item, 10-user catalogue with titles and genres in milliseconds, so a
component can be built without downloading data.
"""

from __future__ import annotations

import dataclasses
import io
import json
import random
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from avrec.config import validate_node
from avrec.data.dataset import Dataset, IdMap
from avrec.interfaces import BuildContext, Encoder, Fusion, Head, ModalityOutput, Policy, Slate, Split
from avrec.registry import ComponentSpec

__all__ = [
    "DatasetContract",
    "EncoderContract",
    "FusionContract",
    "HeadContract",
    "PolicyContract",
    "SplitContract",
    "build_recommender",
    "seed_all",
    "small_context",
    "small_dataset",
    "small_split",
]

# Title, genres and a one-line description per item. The last item has no
# text at all, so text encoders must mask it.
CATALOGUE = [
    ("Night Train to Lisbon (2013)", ["Drama", "Mystery"], "a teacher leaves everything behind on a night train"),
    ("The Silent Forest (2001)", ["Documentary", "Nature"], "a year of wildlife in an old forest"),
    ("Forest Radio Hour", ["Podcast", "Nature"], "weekly talk about forests, birds and rivers"),
    ("Space Station Diaries (2019)", ["Sci-Fi", "Drama"], "astronauts keep a video diary on a space station"),
    ("Deep Space Jazz", ["Music", "Podcast"], "jazz records chosen by an astronomer"),
    ("Kitchen Confidential Live", ["Comedy", "Food"], "stand-up comedy about restaurant kitchens"),
    ("The Night Kitchen (1998)", ["Comedy", "Drama"], "a chef runs a restaurant that opens only at night"),
    ("River Deep (2010)", ["Documentary", "Nature"], "following a river from the mountains to the sea"),
    ("Mystery on the Night Train (1975)", ["Mystery", "Crime"], "a detective solves a murder on a train"),
    ("Laugh Track Weekly", ["Comedy", "Podcast"], "two comedians review the week's sitcoms"),
    ("Orbit (2022)", ["Sci-Fi", "Thriller"], "a space station loses contact with earth"),
    ("", [], ""),
]

N_USERS = 10
INTERACTIONS_PER_USER = 6


def seed_all(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def small_dataset(n_users: int = N_USERS, per_user: int = INTERACTIONS_PER_USER, seed: int = 0) -> Dataset:
    """Return a 12-item catalogue with ``n_users`` users of ``per_user`` distinct items each.

    Ratings are 1 to 5 and timestamps grow by one per interaction. Item 11 has
    an empty title, no genres and no description.
    """
    rng = np.random.default_rng(seed)
    n_items = len(CATALOGUE)
    rows = []
    clock = 0.0
    for user in range(n_users):
        for item in rng.choice(n_items, size=per_user, replace=False):
            clock += 1.0
            rows.append((user, int(item), float(rng.integers(1, 6)), clock))
    interactions = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    interactions = interactions.astype({"user": "int64", "item": "int64", "rating": "float32", "timestamp": "float64"})
    features = pd.DataFrame(
        {
            "title": [title for title, _, _ in CATALOGUE],
            "genres": [list(genres) for _, genres, _ in CATALOGUE],
            "description": [text for _, _, text in CATALOGUE],
        }
    )
    features.index.name = "item"
    return Dataset(
        name="avrec-testing-catalogue",
        interactions=interactions,
        users=IdMap(f"u{user}" for user in range(n_users)),
        items=IdMap(f"i{item}" for item in range(n_items)),
        item_features=features,
    )


def small_split(dataset: Dataset) -> Split:
    """Split each user's interactions by time: the latest to test, the second latest to valid, the rest to train."""
    ordered = dataset.interactions.sort_values(["user", "timestamp"])
    rank_from_end = ordered.groupby("user").cumcount(ascending=False)
    return Split(
        train=ordered[rank_from_end >= 2].reset_index(drop=True),
        valid=ordered[rank_from_end == 1].reset_index(drop=True),
        test=ordered[rank_from_end == 0].reset_index(drop=True),
    )


def small_context(
    cache_dir: Path,
    *,
    dim: int = 8,
    seed: int = 0,
    dataset: Dataset | None = None,
    split: Split | None = None,
) -> BuildContext:
    """Return a CPU :class:`BuildContext` over ``dataset`` (default :func:`small_dataset`)."""
    from avrec.sampling import train_matrix

    dataset = dataset if dataset is not None else small_dataset(seed=seed)
    split = split if split is not None else small_split(dataset)
    return BuildContext(
        dataset=dataset,
        split=split,
        train_matrix=train_matrix(split.train, dataset.n_users, dataset.n_items),
        dim=dim,
        cache_dir=Path(cache_dir),
        device=torch.device("cpu"),
        seed=seed,
    )


def _state_bytes(module: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    return buffer.getvalue()


def _load_state(module: Any, data: bytes) -> None:
    module.load_state_dict(torch.load(io.BytesIO(data), map_location="cpu", weights_only=False))


def _assert_same_tensors(first: dict[str, Any], second: dict[str, Any]) -> None:
    assert first.keys() == second.keys(), f"state_dict keys differ: {sorted(first)} vs {sorted(second)}"
    for key, value in first.items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, second[key]), f"state_dict entry '{key}' differs between two builds"


class ComponentContract:
    """Checks shared by every component kind: config round trip and documentation.

    Set ``component_class`` and ``config_class``, or ``name`` to look both up
    in the registry of installed plugins. ``config_overrides`` are validated
    against the dataclass exactly as a Hydra override would be.
    """

    kind: ClassVar[str] = ""
    name: ClassVar[str] = ""
    component_class: ClassVar[type | None] = None
    config_class: ClassVar[type | None] = None
    config_overrides: ClassVar[dict[str, Any]] = {}
    seed: ClassVar[int] = 0

    def spec(self) -> ComponentSpec:
        from avrec.plugins import get_registry

        return get_registry().get(self.kind, self.name)

    def resolve_class(self) -> type:
        return self.component_class if self.component_class is not None else self.spec().load()

    def resolve_config_class(self) -> type:
        return self.config_class if self.config_class is not None else self.spec().config_class

    def make_config(self) -> Any:
        """Return the validated config instance the component is built with."""
        return self.make_config_with()

    def make_config_with(self, **overrides: Any) -> Any:
        """Validate ``config_overrides`` updated with ``overrides``, as Hydra overrides would be."""
        node = OmegaConf.create({**self.config_overrides, **overrides})
        return validate_node(node, self.resolve_config_class(), self.kind or "config")

    @pytest.fixture
    def config(self) -> Any:
        return self.make_config()

    def test_config_is_dataclass(self, config: Any) -> None:
        assert dataclasses.is_dataclass(config)
        assert not isinstance(config, type)

    def test_config_round_trip_omegaconf(self, config: Any) -> None:
        config_class = self.resolve_config_class()
        text = OmegaConf.to_yaml(OmegaConf.structured(config))
        restored = validate_node(OmegaConf.create(text), config_class, self.kind or "config")
        assert restored == config

    def test_config_round_trip_dataclass(self, config: Any) -> None:
        assert dataclasses.replace(config) == config

    def test_config_defaults_validate(self) -> None:
        config_class = self.resolve_config_class()
        assert validate_node(OmegaConf.create({}), config_class, self.kind or "config") == config_class()

    def test_config_documented(self) -> None:
        config_class = self.resolve_config_class()
        doc = (config_class.__doc__ or "").strip()
        # dataclass() fills a missing docstring with the signature "Name(field: type, ...)".
        assert doc and not doc.startswith(f"{config_class.__name__}("), (
            f"{config_class.__name__} has no docstring; describe the component's settings there."
        )


class _ModelComponentContract(ComponentContract):
    """Components built as ``Class(config, context)`` on a :class:`BuildContext`."""

    context_dim: ClassVar[int] = 8

    def make_context(self, cache_dir: Path) -> BuildContext:
        return small_context(cache_dir, dim=self.context_dim, seed=self.seed)

    @pytest.fixture
    def context(self, tmp_path: Path) -> BuildContext:
        return self.make_context(tmp_path / "cache")

    def build(self, config: Any, context: BuildContext, seed: int | None = None) -> Any:
        """Build the component after seeding every generator with ``seed`` (default ``self.seed``)."""
        seed_all(self.seed if seed is None else seed)
        component = self.resolve_class()(config, context)
        component.eval()
        return component


class EncoderContract(_ModelComponentContract):
    """Contract of :class:`avrec.interfaces.Encoder`.

    Override :meth:`expected_mask` to check which items the encoder marks as
    having its modality.
    """

    kind: ClassVar[str] = "encoder"

    def expected_mask(self, context: BuildContext) -> np.ndarray | None:
        """Return the bool mask ``[n_items]`` the encoder must produce, or None to skip the check."""
        return None

    @pytest.fixture
    def encoder(self, config: Any, context: BuildContext) -> Encoder:
        return self.build(config, context)

    def test_is_encoder(self, encoder: Encoder) -> None:
        assert isinstance(encoder, Encoder)

    def test_output_dim_positive(self, encoder: Encoder) -> None:
        assert isinstance(encoder.output_dim, int)
        assert encoder.output_dim > 0

    def test_embeddings_shape(self, encoder: Encoder, context: BuildContext) -> None:
        output = encoder()
        assert tuple(output.embeddings.shape) == (context.dataset.n_items, encoder.output_dim)

    def test_embeddings_floating_and_finite(self, encoder: Encoder) -> None:
        embeddings = encoder().embeddings
        assert embeddings.is_floating_point()
        assert torch.isfinite(embeddings).all()

    def test_mask_shape_and_dtype(self, encoder: Encoder, context: BuildContext) -> None:
        mask = encoder().mask
        assert mask.dtype == torch.bool
        assert tuple(mask.shape) == (context.dataset.n_items,)

    def test_mask_matches_expected(self, encoder: Encoder, context: BuildContext) -> None:
        expected = self.expected_mask(context)
        if expected is None:
            pytest.skip("expected_mask() is not defined for this encoder")
        assert encoder().mask.cpu().numpy().tolist() == np.asarray(expected, dtype=bool).tolist()

    def test_subset_matches_full(self, encoder: Encoder) -> None:
        items = torch.tensor([3, 0, 3, 7])
        with torch.no_grad():
            full, subset = encoder(), encoder(items)
        assert torch.allclose(subset.embeddings, full.embeddings[items], atol=1e-6)
        assert torch.equal(subset.mask, full.mask[items])

    def test_deterministic_under_seed(self, config: Any, context: BuildContext) -> None:
        first, second = self.build(config, context), self.build(config, context)
        _assert_same_tensors(first.state_dict(), second.state_dict())
        with torch.no_grad():
            assert torch.equal(first().embeddings, second().embeddings)

    def test_state_dict_save_load(self, config: Any, context: BuildContext) -> None:
        trained = self.build(config, context, seed=self.seed)
        fresh = self.build(config, context, seed=self.seed + 1)
        _load_state(fresh, _state_bytes(trained))
        with torch.no_grad():
            assert torch.allclose(fresh().embeddings, trained().embeddings)

    def test_gradient_reaches_parameters(self, encoder: Encoder) -> None:
        trainable = [p for p in encoder.parameters() if p.requires_grad]
        if not trainable:
            pytest.skip("the encoder has no trainable parameters")
        encoder.train()
        encoder().embeddings.pow(2).sum().backward()
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in trainable)

    def test_user_embeddings_shape(self, encoder: Encoder) -> None:
        users = torch.tensor([0, 2])
        vectors = encoder.user_embeddings(users)
        if vectors is None:
            pytest.skip("the encoder does not model users")
        assert vectors.shape[0] == 2

    def test_metrics_serialisable(self, encoder: Encoder) -> None:
        json.dumps(encoder.metrics())


def _random_outputs(input_dims: dict[str, int], n_items: int, seed: int) -> dict[str, ModalityOutput]:
    """Return random modality outputs; modality number m masks items i with (i + m) % 3 == 0."""
    generator = torch.Generator().manual_seed(seed)
    outputs = {}
    for position, (name, dim) in enumerate(input_dims.items()):
        embeddings = torch.randn(n_items, dim, generator=generator)
        mask = torch.tensor([(item + position) % 3 != 0 for item in range(n_items)])
        outputs[name] = ModalityOutput(embeddings, mask)
    return outputs


class FusionContract(ComponentContract):
    """Contract of :class:`avrec.interfaces.Fusion`, on random inputs with some rows masked.

    ``input_dims`` names the modalities and their widths. With more than one
    modality the case checks that changing a masked row changes nothing.
    """

    kind: ClassVar[str] = "fusion"
    input_dims: ClassVar[dict[str, int]] = {"id": 8, "text": 6}
    output_dim: ClassVar[int] = 8
    n_items: ClassVar[int] = 12

    def build(self, config: Any, seed: int | None = None) -> Fusion:
        seed_all(self.seed if seed is None else seed)
        fusion = self.resolve_class()(config, dict(self.input_dims), self.output_dim)
        fusion.eval()
        return fusion

    def make_outputs(self) -> dict[str, ModalityOutput]:
        return _random_outputs(self.input_dims, self.n_items, self.seed)

    @pytest.fixture
    def fusion(self, config: Any) -> Fusion:
        return self.build(config)

    def test_is_fusion(self, fusion: Fusion) -> None:
        assert isinstance(fusion, Fusion)

    def test_output_shape(self, fusion: Fusion) -> None:
        with torch.no_grad():
            fused = fusion(self.make_outputs())
        assert tuple(fused.shape) == (self.n_items, fusion.output_dim)

    def test_output_finite(self, fusion: Fusion) -> None:
        with torch.no_grad():
            assert torch.isfinite(fusion(self.make_outputs())).all()

    def test_masked_rows_ignored(self, fusion: Fusion) -> None:
        if len(self.input_dims) < 2:
            pytest.skip("a single-modality fusion has no other modality to fall back on")
        outputs = self.make_outputs()
        name = next(iter(outputs))
        changed = dict(outputs)
        masked = ~outputs[name].mask
        noise = torch.full_like(outputs[name].embeddings, 1000.0)
        changed[name] = ModalityOutput(torch.where(masked.unsqueeze(-1), noise, outputs[name].embeddings), outputs[name].mask)
        with torch.no_grad():
            assert torch.allclose(fusion(changed), fusion(outputs), atol=1e-5)

    def test_subset_matches_full(self, fusion: Fusion) -> None:
        outputs = self.make_outputs()
        rows = torch.tensor([5, 1, 1, 9])
        subset = {name: ModalityOutput(out.embeddings[rows], out.mask[rows]) for name, out in outputs.items()}
        with torch.no_grad():
            assert torch.allclose(fusion(subset), fusion(outputs)[rows], atol=1e-5)

    def test_deterministic_under_seed(self, config: Any) -> None:
        first, second = self.build(config), self.build(config)
        _assert_same_tensors(first.state_dict(), second.state_dict())

    def test_state_dict_save_load(self, config: Any) -> None:
        trained, fresh = self.build(config, seed=self.seed), self.build(config, seed=self.seed + 1)
        _load_state(fresh, _state_bytes(trained))
        outputs = self.make_outputs()
        with torch.no_grad():
            assert torch.allclose(fresh(outputs), trained(outputs))

    def test_gradient_reaches_inputs(self, fusion: Fusion) -> None:
        outputs = self.make_outputs()
        for output in outputs.values():
            output.embeddings.requires_grad_(True)
        fusion.train()
        fusion(outputs).pow(2).sum().backward()
        assert any(out.embeddings.grad is not None and out.embeddings.grad.abs().sum() > 0 for out in outputs.values())


class _TableEncoder(Encoder):
    """Trainable item table used by :func:`build_recommender`; every item has the modality."""

    def __init__(self, config: Any, context: BuildContext) -> None:
        super().__init__(config, context)
        self.embedding = nn.Embedding(context.dataset.n_items, context.dim)

    @property
    def output_dim(self) -> int:
        return self.embedding.embedding_dim

    def forward(self, items: torch.Tensor | None = None) -> ModalityOutput:
        weight = self.embedding.weight if items is None else self.embedding(items)
        return ModalityOutput(weight, torch.ones(weight.shape[0], dtype=torch.bool, device=weight.device))


class _IdentityFusion(Fusion):
    def forward(self, outputs: dict[str, ModalityOutput]) -> torch.Tensor:
        (output,) = outputs.values()
        return output.embeddings


def build_recommender(head: Head, context: BuildContext) -> Any:
    """Wrap ``head`` in a :class:`Recommender` with a trainable item table and an id user tower."""
    from avrec.config import UserTowerConfig
    from avrec.model import Recommender, UserTower

    encoder = _TableEncoder(None, context)
    fusion = _IdentityFusion(None, {"table": context.dim}, context.dim)
    tower = UserTower(UserTowerConfig(), context.dataset.n_users, context.dim, context.train_matrix)
    return Recommender({"table": encoder}, fusion, tower, head, context.dataset.n_items)


def _first_batch(head: Head, context: BuildContext, seed: int) -> dict[str, torch.Tensor]:
    from avrec.sampling import NegativeSampler, iterate_batches

    rng = np.random.default_rng(seed)
    sampler = NegativeSampler(context.train_matrix, np.random.default_rng(seed + 1))
    negatives = getattr(head.config, "negatives", 1)
    batches = iterate_batches(context.split.train, sampler, head.sampler, 16, rng, negatives=negatives)
    return next(iter(batches))


class HeadContract(_ModelComponentContract):
    """Contract of :class:`avrec.interfaces.Head`, inside a small :class:`Recommender`."""

    kind: ClassVar[str] = "head"

    def build_model(self, config: Any, context: BuildContext, seed: int | None = None) -> Any:
        head = self.build(config, context, seed)
        seed_all(self.seed if seed is None else seed)
        model = build_recommender(head, context)
        model.eval()
        return model

    @pytest.fixture
    def model(self, config: Any, context: BuildContext) -> Any:
        return self.build_model(config, context)

    def test_is_head(self, model: Any) -> None:
        assert isinstance(model.head, Head)

    def test_sampler_known(self, model: Any) -> None:
        assert model.head.sampler in ("pairwise", "pointwise", "rating", "none")

    def test_score_users_shape(self, model: Any, context: BuildContext) -> None:
        scores = model.score_users(torch.tensor([0, 1, 2]))
        assert tuple(scores.shape) == (3, context.dataset.n_items)

    def test_score_users_finite(self, model: Any) -> None:
        assert torch.isfinite(model.score_users(torch.tensor([0, 1, 2]))).all()

    def test_score_pairs_match_score(self, model: Any) -> None:
        users, items = torch.tensor([0, 4, 7]), torch.tensor([2, 9, 5])
        with torch.no_grad():
            user_vectors, item_vectors = model.user_vectors(users), model.item_vectors(items)
            pairs = model.head.score_pairs(user_vectors, item_vectors)
            full = model.head.score(user_vectors, item_vectors)
        assert torch.allclose(pairs, torch.diagonal(full), atol=1e-5)

    def test_loss_finite_scalar(self, model: Any, context: BuildContext) -> None:
        if model.head.sampler == "none":
            pytest.skip("the head is not trained with gradients")
        model.train()
        loss = model.loss(_first_batch(model.head, context, self.seed))
        assert loss.dim() == 0
        assert torch.isfinite(loss)

    def test_loss_gradient_reaches_model(self, model: Any, context: BuildContext) -> None:
        if model.head.sampler == "none":
            pytest.skip("the head is not trained with gradients")
        model.train()
        model.loss(_first_batch(model.head, context, self.seed)).backward()
        assert model.encoders["table"].embedding.weight.grad.abs().sum() > 0

    def test_deterministic_under_seed(self, config: Any, context: BuildContext) -> None:
        first, second = self.build_model(config, context), self.build_model(config, context)
        _assert_same_tensors(first.head.state_dict(), second.head.state_dict())

    def test_state_dict_save_load(self, config: Any, context: BuildContext) -> None:
        trained = self.build_model(config, context, seed=self.seed)
        fresh = self.build_model(config, context, seed=self.seed + 1)
        _load_state(fresh, _state_bytes(trained))
        users = torch.tensor([0, 1, 2])
        assert torch.allclose(fresh.score_users(users), trained.score_users(users))

    def test_metrics_serialisable(self, model: Any, context: BuildContext) -> None:
        json.dumps(model.head.metrics(model, context.split))


class DatasetContract(ComponentContract):
    """Contract of :class:`avrec.interfaces.DatasetSource`.

    Most sources read files: override the ``config`` fixture to point the
    source at test data, for example a fixture that returns a small real slice.
    """

    kind: ClassVar[str] = "dataset"

    @pytest.fixture
    def dataset(self, config: Any) -> Dataset:
        return self.resolve_class()(config).load()

    def test_returns_dataset(self, dataset: Dataset) -> None:
        assert isinstance(dataset, Dataset)

    def test_interaction_columns(self, dataset: Dataset) -> None:
        assert list(dataset.interactions.columns[:4]) == ["user", "item", "rating", "timestamp"]

    def test_interaction_dtypes(self, dataset: Dataset) -> None:
        dtypes = {column: str(dataset.interactions[column].dtype) for column in ("user", "item", "rating", "timestamp")}
        assert dtypes == {"user": "int64", "item": "int64", "rating": "float32", "timestamp": "float64"}

    def test_indices_in_range(self, dataset: Dataset) -> None:
        interactions = dataset.interactions
        assert interactions["user"].between(0, dataset.n_users - 1).all()
        assert interactions["item"].between(0, dataset.n_items - 1).all()

    def test_item_features_cover_items(self, dataset: Dataset) -> None:
        if dataset.item_features.empty:
            pytest.skip("the dataset has no item features")
        assert len(dataset.item_features) == dataset.n_items

    def test_load_deterministic(self, config: Any, dataset: Dataset) -> None:
        again = self.resolve_class()(config).load()
        pd.testing.assert_frame_equal(again.interactions, dataset.interactions)
        assert again.items == dataset.items


def _row_counts(frame: pd.DataFrame) -> pd.Series:
    keys = frame[["user", "item", "timestamp"]].astype(str).agg("|".join, axis=1)
    return keys.value_counts()


class SplitContract(ComponentContract):
    """Contract of :class:`avrec.interfaces.Splitter`: disjoint, complete, deterministic per seed.

    Set ``complete = False`` for splits that drop interactions on purpose.
    """

    kind: ClassVar[str] = "split"
    complete: ClassVar[bool] = True

    @pytest.fixture
    def dataset(self) -> Dataset:
        return small_dataset(n_users=20, per_user=8, seed=self.seed)

    def split(self, config: Any, dataset: Dataset, seed: int | None = None) -> Split:
        return self.resolve_class()(config).split(dataset, self.seed if seed is None else seed)

    def test_no_interaction_in_two_splits(self, config: Any, dataset: Dataset) -> None:
        split = self.split(config, dataset)
        union = _row_counts(pd.concat([split.train, split.valid, split.test]))
        original = _row_counts(dataset.interactions)
        assert (union <= original.reindex(union.index, fill_value=0)).all()

    def test_every_interaction_kept(self, config: Any, dataset: Dataset) -> None:
        if not self.complete:
            pytest.skip("the split drops interactions on purpose")
        split = self.split(config, dataset)
        assert len(split.train) + len(split.valid) + len(split.test) == len(dataset.interactions)

    def test_train_not_empty(self, config: Any, dataset: Dataset) -> None:
        assert len(self.split(config, dataset).train) > 0

    def test_deterministic_under_seed(self, config: Any, dataset: Dataset) -> None:
        first, second = self.split(config, dataset), self.split(config, dataset)
        for part in ("train", "valid", "test"):
            pd.testing.assert_frame_equal(getattr(first, part), getattr(second, part))


class PolicyContract(ComponentContract):
    """Contract of :class:`avrec.interfaces.Policy`.

    The policy is built on an :class:`avrec.simulation.PolicyContext` over
    random user and item vectors, and their dot products serve as the model
    scores. Override :meth:`make_context` to build it from other data.
    """

    kind: ClassVar[str] = "policy"
    n_items: ClassVar[int] = 20
    n_users: ClassVar[int] = 5
    slate_size: ClassVar[int] = 3

    def make_context(self) -> Any:
        from avrec.simulation import PolicyContext, score_matrix_fn

        rng = np.random.default_rng(self.seed)
        user_vectors = rng.normal(size=(self.n_users, 4)).astype(np.float32)
        item_vectors = rng.normal(size=(self.n_items, 4)).astype(np.float32)
        scores = user_vectors @ item_vectors.T
        return PolicyContext(user_vectors, item_vectors, score_matrix_fn(scores), seed=self.seed)

    def build(self, config: Any, seed: int | None = None) -> Policy:
        seed_all(self.seed if seed is None else seed)
        return self.resolve_class()(config, self.make_context())

    @pytest.fixture
    def policy(self, config: Any) -> Policy:
        return self.build(config)

    def _candidates(self) -> np.ndarray:
        return np.arange(2, self.n_items, 2)

    def test_slate_from_candidates(self, policy: Policy) -> None:
        slate = policy.select(1, self._candidates(), self.slate_size)
        assert isinstance(slate, Slate)
        assert set(np.asarray(slate.items).tolist()) <= set(self._candidates().tolist())

    def test_slate_size_and_distinct(self, policy: Policy) -> None:
        items = np.asarray(policy.select(1, self._candidates(), self.slate_size).items)
        assert len(items) == self.slate_size
        assert len(set(items.tolist())) == self.slate_size

    def test_propensities_valid(self, policy: Policy) -> None:
        slate = policy.select(1, self._candidates(), self.slate_size)
        if slate.propensities is None:
            pytest.skip("the policy defines no propensities")
        propensities = np.asarray(slate.propensities)
        assert propensities.shape == (self.slate_size,)
        assert ((propensities > 0) & (propensities <= 1)).all()

    def test_deterministic_under_seed(self, config: Any) -> None:
        first, second = self.build(config), self.build(config)
        candidates = self._candidates()
        for user in range(self.n_users):
            chosen = first.select(user, candidates, self.slate_size).items
            assert np.array_equal(chosen, second.select(user, candidates, self.slate_size).items)
            rewards = np.ones(len(chosen), dtype=np.float32)
            first.update(user, chosen, rewards)
            second.update(user, chosen, rewards)

    def test_state_dict_save_load(self, config: Any) -> None:
        trained = self.build(config)
        for user in range(self.n_users):
            items = trained.select(user, self._candidates(), self.slate_size).items
            trained.update(user, items, np.arange(len(items), dtype=np.float32) % 2)
        restored = self.build(config, seed=self.seed + 1)
        restored.load_state_dict(torch.load(io.BytesIO(_state_bytes(trained)), weights_only=False))
        seed_all(self.seed + 7)
        expected = trained.select(0, self._candidates(), self.slate_size).items
        seed_all(self.seed + 7)
        assert np.array_equal(restored.select(0, self._candidates(), self.slate_size).items, expected)

