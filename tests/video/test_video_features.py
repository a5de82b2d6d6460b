"""The feature pipeline and the encoder on the MicroLens-layout fixture, with a tiny timm model."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from media_builders import photo, save_cover

from avrec.data.config import LeaveOneOutSplitConfig
from avrec.interfaces import BuildContext
from avrec.sampling import train_matrix
from avrec.split import LeaveOneOutSplitter
from avrec_video.configs import MicroLensConfig, VideoEncoderConfig
from avrec_video.encoder import VideoEncoder, media_candidates
from avrec_video.features import FeatureExtractor, FrameFeatures
from avrec_video.microlens import load_microlens

TINY_MODEL = "test_efficientnet"
# Items 101..106 in the fixture: frames used with frames=4 and media=any (None = masked).
EXPECTED_FRAMES = [4, 4, 3, 1, 1, None]


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "tiny.pth"
    torch.save(timm.create_model(TINY_MODEL).state_dict(), path)
    return path


def video_config(checkpoint: Path, **overrides) -> VideoEncoderConfig:
    settings = {"model_name": TINY_MODEL, "checkpoint": str(checkpoint), "frames": 4, "progress": False}
    return VideoEncoderConfig(**{**settings, **overrides})


def extract(config: VideoEncoderConfig, data_dir: Path, cache: Path) -> FrameFeatures:
    dataset = load_microlens(MicroLensConfig(data_dir=str(data_dir)))
    return FeatureExtractor(config, cache, torch.device("cpu")).extract(media_candidates(dataset, config))


@pytest.fixture(scope="module")
def first_and_rerun(tiny_checkpoint, microlens_dir, tmp_path_factory) -> tuple[FrameFeatures, FrameFeatures, Path]:
    cache = tmp_path_factory.mktemp("cache")
    config = video_config(tiny_checkpoint)
    return extract(config, microlens_dir, cache), extract(config, microlens_dir, cache), cache


def frame_counts(features: FrameFeatures) -> list[int | None]:
    return [None if item is None else len(item) for item in features.per_item]


def test_extract_frames_per_item(first_and_rerun) -> None:
    first, _, _ = first_and_rerun
    assert frame_counts(first) == EXPECTED_FRAMES


def test_extract_counts_problems(first_and_rerun) -> None:
    stats = first_and_rerun[0].stats
    assert stats.items_with_media == 6
    assert stats.items_masked == 1
    assert stats.files_missing == 3  # 105.mp4, 106.mp4, 106.jpg
    assert stats.files_corrupt == 1  # 104.mp4
    assert stats.files_unreadable == 0


def test_extract_decodes_and_encodes_once(first_and_rerun) -> None:
    stats = first_and_rerun[0].stats
    assert stats.files_decoded == 6  # four videos (one corrupt) and the covers of 104 and 105
    assert stats.frames_encoded == 13
    assert stats.files_cached == 0


def test_rerun_decodes_nothing(first_and_rerun) -> None:
    rerun = first_and_rerun[1].stats
    assert rerun.files_decoded == 0
    assert rerun.frames_encoded == 0
    assert rerun.files_cached == 5


def test_rerun_still_counts_problems(first_and_rerun) -> None:
    rerun = first_and_rerun[1].stats
    assert rerun.files_corrupt == 1
    assert rerun.files_missing == 3
    assert rerun.items_masked == 1


def test_rerun_features_equal(first_and_rerun) -> None:
    first, rerun, _ = first_and_rerun
    for before, after in zip(first.per_item, rerun.per_item):
        if before is not None:
            np.testing.assert_array_equal(before, after)


def test_cache_leaves_no_temporary_files(first_and_rerun) -> None:
    cache = first_and_rerun[2]
    assert not [path for path in cache.rglob("*") if path.name.endswith(".tmp")]


def test_cache_writes_manifest_and_entries(first_and_rerun) -> None:
    cache = first_and_rerun[2]
    assert len(list(cache.rglob("*.npy"))) == 5
    assert len(list(cache.rglob("*.error"))) == 1


def test_frames_setting_invalidates_videos_only(tiny_checkpoint, microlens_dir, tmp_path) -> None:
    extract(video_config(tiny_checkpoint), microlens_dir, tmp_path)
    stats = extract(video_config(tiny_checkpoint, frames=2), microlens_dir, tmp_path).stats
    assert stats.files_decoded == 4  # 101-104.mp4 again; both covers come from the cache
    assert stats.files_cached == 2


def test_other_weights_use_other_cache(tiny_checkpoint, microlens_dir, tmp_path) -> None:
    extract(video_config(tiny_checkpoint), microlens_dir, tmp_path / "cache")
    torch.manual_seed(1)
    other = tmp_path / "other.pth"
    torch.save(timm.create_model(TINY_MODEL).state_dict(), other)
    stats = extract(video_config(other), microlens_dir, tmp_path / "cache").stats
    assert stats.files_cached == 0


def test_changed_file_is_encoded_again(tiny_checkpoint, microlens_dir, tmp_path) -> None:
    data_dir = shutil.copytree(microlens_dir, tmp_path / "data")
    extract(video_config(tiny_checkpoint), data_dir, tmp_path / "cache")
    save_cover(data_dir / "covers" / "105.jpg", photo("camera"))
    stats = extract(video_config(tiny_checkpoint), data_dir, tmp_path / "cache").stats
    assert stats.files_decoded == 1


def test_directory_in_place_of_file_is_unreadable(tiny_checkpoint, microlens_dir, tmp_path) -> None:
    data_dir = shutil.copytree(microlens_dir, tmp_path / "data")
    (data_dir / "covers" / "106.jpg").mkdir()
    stats = extract(video_config(tiny_checkpoint), data_dir, tmp_path / "cache").stats
    assert stats.files_unreadable == 1


def test_inline_decoding_matches_threads(tiny_checkpoint, microlens_dir, tmp_path, first_and_rerun) -> None:
    inline = extract(video_config(tiny_checkpoint, decode_workers=0, cache=False), microlens_dir, tmp_path)
    for threaded, plain in zip(first_and_rerun[0].per_item, inline.per_item):
        if threaded is not None:
            np.testing.assert_allclose(threaded.astype(np.float32), plain.astype(np.float32), atol=1e-3)


def test_cache_off_writes_nothing(tiny_checkpoint, microlens_dir, tmp_path) -> None:
    extract(video_config(tiny_checkpoint, cache=False), microlens_dir, tmp_path)
    assert not list(tmp_path.rglob("*.npy"))


def test_media_video_only_masks_items_without_video(tiny_checkpoint, microlens_dir, tmp_path) -> None:
    features = extract(video_config(tiny_checkpoint, media="video"), microlens_dir, tmp_path)
    assert frame_counts(features) == [4, 4, 3, None, None, None]


def test_media_image_uses_covers(tiny_checkpoint, microlens_dir, tmp_path) -> None:
    features = extract(video_config(tiny_checkpoint, media="image"), microlens_dir, tmp_path)
    assert frame_counts(features) == [1, 1, 1, 1, 1, None]


def test_media_dir_finds_files_by_item_id(tiny_checkpoint, microlens_dir, tmp_path) -> None:
    config = video_config(tiny_checkpoint, media_dir=str(microlens_dir / "covers"), cache=False)
    features = extract(config, microlens_dir, tmp_path)
    assert frame_counts(features) == [1, 1, 1, 1, 1, None]


def test_media_column_paths_resolve_against_media_dir(microlens_dir) -> None:
    dataset = load_microlens(MicroLensConfig(data_dir=str(microlens_dir)))
    dataset.item_features["poster"] = [f"covers/{raw}.jpg" for raw in dataset.items.raw_ids[:5]] + [None]
    config = VideoEncoderConfig(media_column="poster", media_dir=str(microlens_dir))
    candidates = media_candidates(dataset, config)
    assert candidates[0] == [[microlens_dir / "covers" / "101.jpg"]]
    assert candidates[5] == []


def test_media_column_unknown_rejected(microlens_dir) -> None:
    from avrec.errors import ConfigError

    dataset = load_microlens(MicroLensConfig(data_dir=str(microlens_dir)))
    with pytest.raises(ConfigError, match="media_column 'poster' is not an item feature column"):
        media_candidates(dataset, VideoEncoderConfig(media_column="poster"))


def test_pooled_is_mean_of_frames(first_and_rerun) -> None:
    features = first_and_rerun[0]
    expected = features.per_item[2].astype(np.float32).mean(axis=0)
    np.testing.assert_allclose(features.pooled()[2], expected, rtol=1e-6)


def test_padded_masks_missing_frames(first_and_rerun) -> None:
    frames, mask = first_and_rerun[0].padded()
    assert frames.shape[:2] == (6, 4)
    assert mask.sum(axis=1).tolist() == [4, 4, 3, 1, 1, 0]


# Encoder -------------------------------------------------------------------------------------


def build_encoder(checkpoint: Path, data_dir: Path, cache: Path, **overrides) -> VideoEncoder:
    dataset = load_microlens(MicroLensConfig(data_dir=str(data_dir)))
    split = LeaveOneOutSplitter(LeaveOneOutSplitConfig()).split(dataset, 0)
    context = BuildContext(
        dataset=dataset,
        split=split,
        train_matrix=train_matrix(split.train, dataset.n_users, dataset.n_items),
        dim=8,
        cache_dir=cache,
        device=torch.device("cpu"),
        seed=0,
    )
    torch.manual_seed(0)
    return VideoEncoder(video_config(checkpoint, **overrides), context)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("encoder-cache")


def test_encoder_masks_item_without_media(tiny_checkpoint, microlens_dir, cache_dir) -> None:
    output = build_encoder(tiny_checkpoint, microlens_dir, cache_dir)()
    assert output.mask.tolist() == [True, True, True, True, True, False]
    assert torch.count_nonzero(output.embeddings[5]) == 0


def test_encoder_output_width(tiny_checkpoint, microlens_dir, cache_dir) -> None:
    encoder = build_encoder(tiny_checkpoint, microlens_dir, cache_dir, dim=5)
    assert encoder().embeddings.shape == (6, 5)
    assert encoder.output_dim == 5


def test_encoder_selects_items(tiny_checkpoint, microlens_dir, cache_dir) -> None:
    encoder = build_encoder(tiny_checkpoint, microlens_dir, cache_dir, pooling="attention")
    items = torch.tensor([4, 0, 5])
    torch.testing.assert_close(encoder(items).embeddings, encoder().embeddings[items])


def test_attention_pooling_trains(tiny_checkpoint, microlens_dir, cache_dir) -> None:
    encoder = build_encoder(tiny_checkpoint, microlens_dir, cache_dir, pooling="attention")
    encoder().embeddings.sum().backward()
    assert encoder.attention.weight.grad is not None
    assert torch.count_nonzero(encoder.attention.weight.grad) > 0


def test_attention_ignores_padded_frames(tiny_checkpoint, microlens_dir, cache_dir) -> None:
    encoder = build_encoder(tiny_checkpoint, microlens_dir, cache_dir, pooling="attention")
    before = encoder(torch.tensor([2])).embeddings
    encoder.frames[2, 3] = 1000.0  # item 103 has 3 frames; slot 3 is padding
    torch.testing.assert_close(encoder(torch.tensor([2])).embeddings, before)


def test_attention_single_frame_equals_projection(tiny_checkpoint, microlens_dir, cache_dir) -> None:
    encoder = build_encoder(tiny_checkpoint, microlens_dir, cache_dir, pooling="attention")
    expected = encoder.projection(encoder.norm(encoder.frames[3, 0].float()))
    torch.testing.assert_close(encoder(torch.tensor([3])).embeddings[0], expected)


def test_mean_pooling_projects_frame_mean(tiny_checkpoint, microlens_dir, cache_dir) -> None:
    encoder = build_encoder(tiny_checkpoint, microlens_dir, cache_dir)
    expected = encoder.projection(encoder.norm(encoder.pooled[0]))
    torch.testing.assert_close(encoder(torch.tensor([0])).embeddings[0], expected)


def test_projection_init_ignores_cache_state(tiny_checkpoint, microlens_dir, tmp_path) -> None:
    cold = build_encoder(tiny_checkpoint, microlens_dir, tmp_path)
    warm = build_encoder(tiny_checkpoint, microlens_dir, tmp_path)
    assert warm.stats.files_decoded == 0
    torch.testing.assert_close(cold.projection.weight, warm.projection.weight)


def test_encoder_reports_counts(tiny_checkpoint, microlens_dir, cache_dir) -> None:
    metrics = build_encoder(tiny_checkpoint, microlens_dir, cache_dir).metrics()
    assert metrics["video"]["items_masked"] == 1
    assert metrics["video"]["files_corrupt"] == 1


def test_encoder_without_media_rejected(tiny_checkpoint, microlens_dir, tmp_path) -> None:
    from avrec.errors import ConfigError

    empty = tmp_path / "data"
    shutil.copytree(microlens_dir, empty, ignore=shutil.ignore_patterns("covers", "videos"))
    with pytest.raises(ConfigError, match="lists no media files"):
        build_encoder(tiny_checkpoint, empty, tmp_path / "cache")
