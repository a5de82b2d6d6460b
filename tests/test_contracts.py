"""Contract tests for every component that avrec's built-in plugins register.

Each built-in component needs a contract test here (a subclass of the
avrec.testing case of its kind, collected into ``CONTRACT_TESTS``) and a
section in the generated docs/config-reference.md. The two parametrised
checks at the end fail for a component that lacks either.
Third-party plugins installed next to avrec are left to their own suites.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import timm
import torch
# tests/video has no __init__.py, so pytest, which puts tests/ on sys.path, imports it as the namespace package video.
from video.media_builders import make_clip, photo, save_cover, write_microlens

from avrec.plugins import BUILTIN_DISTRIBUTION, get_plugin_manager
from avrec.testing import (
    DatasetContract,
    EncoderContract,
    FusionContract,
    HeadContract,
    PolicyContract,
    SplitContract,
    small_context,
)
from avrec_video.configs import MicroLensConfig
from avrec_video.microlens import MicroLensSource

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "config-reference.md"


class TestIdEncoder(EncoderContract):
    name = "id"

    def expected_mask(self, context):
        seen = [False] * context.dataset.n_items
        for item in context.split.train["item"]:
            seen[int(item)] = True
        return seen


class TestIdEncoderOwnDim(EncoderContract):
    name = "id"
    config_overrides = {"dim": 5, "init_std": 0.1}


class TestLightGCNEncoder(EncoderContract):
    name = "lightgcn"
    config_overrides = {"layers": 2}


class TestTextEncoder(EncoderContract):
    name = "text"
    config_overrides = {"fields": ["title", "genres"], "dim": 8, "device": "cpu"}

    def expected_mask(self, context):
        return [bool(title) for title in context.dataset.item_features["title"]]


class TestKGEncoder(EncoderContract):
    name = "kg"
    # The testing catalogue has no .kg file, so the graph is its genre triples alone.
    config_overrides = {
        "kg_triples": False, "item_links": False, "prune_leaves": False, "embedding_dim": 4, "epochs": 2,
        "batch_size": 16, "holdout_fraction": 0.0, "device": "cpu",
    }

    def expected_mask(self, context):
        return [bool(genres) for genres in context.dataset.item_features["genres"]]


# Tiny timm architecture (160 x 160 input) that keeps the video encoder cases fast on a CPU.
TINY_VISION_MODEL = "test_efficientnet"


class TestVideoEncoder(EncoderContract):
    name = "video"
    config_overrides = {
        "model_name": TINY_VISION_MODEL, "frames": 2, "decode_workers": 0, "device": "cpu", "progress": False,
    }

    @pytest.fixture
    def config(self, tiny_vision_checkpoint: Path):
        return self.make_config_with(checkpoint=str(tiny_vision_checkpoint))

    @pytest.fixture
    def context(self, contract_microlens_dir: Path, video_feature_cache: Path):
        dataset = MicroLensSource(MicroLensConfig(data_dir=str(contract_microlens_dir))).load()
        return small_context(video_feature_cache, dim=self.context_dim, seed=self.seed, dataset=dataset)

    def expected_mask(self, context):
        # Items 101 to 108 in order. 104 (corrupt video) and 105 (no video) use their covers, and 106 has no media.
        return [True, True, True, True, True, False, True, True]


class TestVideoEncoderAttention(TestVideoEncoder):
    config_overrides = {**TestVideoEncoder.config_overrides, "pooling": "attention", "dim": 5}


@pytest.fixture(scope="module")
def video_feature_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return one feature cache shared by the video encoder cases, so only the first build decodes media."""
    return tmp_path_factory.mktemp("video-cache")


class TestPassThroughFusion(FusionContract):
    name = "none"
    input_dims = {"id": 8}


class TestConcatFusion(FusionContract):
    name = "concat"


class TestGatedFusion(FusionContract):
    name = "gated"


class TestGatedFusionThreeModalities(FusionContract):
    name = "gated"
    input_dims = {"id": 8, "text": 6, "kg": 4}


class TestBPRHead(HeadContract):
    name = "bpr"


class TestBPRHeadSeveralNegatives(HeadContract):
    name = "bpr"
    config_overrides = {"negatives": 3, "l2": 0.01}


class TestPopHead(HeadContract):
    name = "pop"


class TestBCEHead(HeadContract):
    name = "bce"


class TestRatingHead(HeadContract):
    name = "rating"


class TestMovieLens100kSource(DatasetContract):
    name = "ml-100k"

    @pytest.fixture
    def config(self, ml100k_slice: Path):
        return self.make_config_with(data_dir=str(ml100k_slice))


class TestAtomicSource(DatasetContract):
    name = "atomic"

    @pytest.fixture
    def config(self, ml100k_slice: Path):
        return self.make_config_with(path=str(ml100k_slice), dataset="ml-100k")


class TestGroupLensSource(DatasetContract):
    name = "grouplens"

    @pytest.fixture
    def config(self, ml100k_slice: Path, tmp_path: Path):
        return self.make_config_with(path=str(_grouplens_copy(ml100k_slice, tmp_path)))


def _grouplens_copy(atomic_dir: Path, target: Path) -> Path:
    """Write the slice's interactions as GroupLens ml-100k ``u.data`` (tab-separated, no header)."""
    lines = (atomic_dir / "ml-100k.inter").read_text(encoding="utf-8").splitlines()[1:]
    (target / "u.data").write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return target


class TestMicroLensSource(DatasetContract):
    name = "microlens"

    @pytest.fixture
    def config(self, contract_microlens_dir: Path):
        return self.make_config_with(data_dir=str(contract_microlens_dir))


@pytest.fixture(scope="module")
def contract_microlens_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return the media_builders MicroLens-100k folder (items 101 to 106) with items 107 and 108 added.

    The encoder contract reads item indices up to 7, so the folder needs eight
    items. Item 107 has a 2-frame astronaut clip and no cover, and item 108 has
    a rocket cover and no video.
    """
    directory = write_microlens(tmp_path_factory.mktemp("contract-microlens") / "MicroLens-100k")
    make_clip(directory / "videos" / "107.mp4", photo("astronaut"), frames=2)
    save_cover(directory / "covers" / "108.jpg", photo("rocket"))
    with (directory / "MicroLens-100k_title_en.csv").open("a", encoding="utf-8") as titles:
        titles.write("107,An astronaut in a white suit\n108,A rocket on its launch pad\n")
    with (directory / "MicroLens-100k_pairs.csv").open("a", encoding="utf-8") as pairs:
        pairs.write("u1,107,50\nu2,108,51\nu4,107,52\n")
    return directory


@pytest.fixture(scope="module")
def tiny_vision_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a checkpoint of the tiny timm model with weights from seed 0."""
    path = tmp_path_factory.mktemp("vision-weights") / f"{TINY_VISION_MODEL}.pth"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        torch.save(timm.create_model(TINY_VISION_MODEL).state_dict(), path)
    return path


class TestRandomOrderSplit(SplitContract):
    name = "ro"


class TestTemporalSplit(SplitContract):
    name = "temporal"


class TestLeaveOneOutSplit(SplitContract):
    name = "loo"


class TestColdItemsSplit(SplitContract):
    name = "cold_items"


class TestFixedSplit(SplitContract):
    """The split files put every tenth interaction in valid and the next in test."""

    name = "fixed"

    @pytest.fixture
    def config(self, dataset, tmp_path):
        frame = pd.DataFrame(
            {
                "user_id": [dataset.users.raw(u) for u in dataset.interactions["user"]],
                "item_id": [dataset.items.raw(i) for i in dataset.interactions["item"]],
            }
        )
        phase = np.arange(len(frame)) % 10
        frame[phase < 8].to_csv(tmp_path / "train.tsv", sep="\t", index=False)
        frame[phase == 8].to_csv(tmp_path / "valid.tsv", sep="\t", index=False)
        frame[phase == 9].to_csv(tmp_path / "test.tsv", sep="\t", index=False)
        return self.make_config_with(path=str(tmp_path))


class TestRandomPolicy(PolicyContract):
    name = "random"


class TestGreedyPolicy(PolicyContract):
    name = "greedy"


class TestSoftmaxPolicy(PolicyContract):
    name = "softmax"


class TestEpsilonGreedyPolicy(PolicyContract):
    name = "epsilon_greedy"


class TestLinUCBPolicy(PolicyContract):
    name = "linucb"


class TestLinTSPolicy(PolicyContract):
    name = "lin_ts"


CONTRACT_TESTS: dict[tuple[str, str], list[type]] = {}
for _case in list(globals().values()):
    if isinstance(_case, type) and _case.__name__.startswith("Test") and getattr(_case, "kind", ""):
        CONTRACT_TESTS.setdefault((_case.kind, _case.name), []).append(_case)


def _builtin_components() -> list[tuple[str, str, str]]:
    manager = get_plugin_manager()
    return sorted(
        (spec.kind, spec.name, spec.plugin)
        for spec in manager.registry
        if manager.plugins[spec.plugin].distribution == BUILTIN_DISTRIBUTION
    )


BUILTIN = _builtin_components()
IDS = [f"{kind}:{name}" for kind, name, _ in BUILTIN]


@pytest.mark.parametrize(("kind", "name", "plugin"), BUILTIN, ids=IDS)
def test_component_has_contract_test(kind: str, name: str, plugin: str) -> None:
    assert (kind, name) in CONTRACT_TESTS, (
        f"{kind} '{name}' from plugin '{plugin}' has no contract test: add a subclass of "
        f"avrec.testing.{kind.capitalize()}Contract with name = '{name}' to tests/test_contracts.py."
    )


@pytest.mark.parametrize(("kind", "name", "plugin"), BUILTIN, ids=IDS)
def test_component_documented(kind: str, name: str, plugin: str) -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    assert f"### {kind}: {name}\n" in text, (
        f"{kind} '{name}' from plugin '{plugin}' is missing from {REFERENCE.name}: "
        f"give its config dataclass a docstring and run `python scripts/gen_config_reference.py`."
    )


def test_contract_tests_name_registered_components() -> None:
    registered = {(kind, name) for kind, name, _ in BUILTIN}
    stale = sorted(set(CONTRACT_TESTS) - registered)
    assert not stale, f"contract tests for components that are not registered: {stale}"
