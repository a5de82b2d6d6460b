"""Frame sampling and decoding of real clips encoded from scikit-image photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from media_builders import marker_index, photo, save_cover, write_corrupt

from avrec_video.media import MediaError, read_image, read_media, read_video, sample_indices
from avrec_video.preprocess import FramePreprocessor, model_data_config


@pytest.mark.parametrize(
    ("total", "count", "expected"),
    [
        (30, 8, [1, 5, 9, 13, 16, 20, 24, 28]),  # int((k + 0.5) * 30 / 8)
        (12, 4, [1, 4, 7, 10]),
        (10, 1, [5]),
        (3, 8, [0, 1, 2]),
        (8, 8, [0, 1, 2, 3, 4, 5, 6, 7]),
        (0, 4, []),
    ],
)
def test_sample_indices_uniform(total: int, count: int, expected: list[int]) -> None:
    assert sample_indices(total, count) == expected


def test_read_video_returns_sampled_frames(clip_factory) -> None:
    frames = read_video(clip_factory("chelsea", 12), 4)
    assert [marker_index(frame) for frame in frames] == [1, 4, 7, 10]


def test_read_video_frame_size_matches_clip(clip_factory) -> None:
    frames = read_video(clip_factory("chelsea", 12), 4)
    assert frames[0].size == (160, 128)


def test_read_video_short_clip_gives_all_frames(clip_factory) -> None:
    frames = read_video(clip_factory("camera", 3), 8)
    assert [marker_index(frame) for frame in frames] == [0, 1, 2]


def test_read_video_single_frame(clip_factory) -> None:
    frames = read_video(clip_factory("coffee", 1), 8)
    assert len(frames) == 1


def test_read_video_corrupt_file_raises(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="Invalid data"):
        read_video(write_corrupt(tmp_path / "bad.mp4"), 4)


def test_read_video_truncated_file_raises(clip_factory, tmp_path: Path) -> None:
    clip = clip_factory("chelsea", 12).read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(clip[:200])
    with pytest.raises(MediaError):
        read_video(truncated, 4)


def test_read_video_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="FileNotFoundError"):
        read_video(tmp_path / "absent.mp4", 4)


def test_read_image_returns_rgb_frame(tmp_path: Path) -> None:
    frames = read_image(save_cover(tmp_path / "camera.jpg", photo("camera")))
    assert frames[0].mode == "RGB"


def test_read_image_corrupt_file_raises(tmp_path: Path) -> None:
    path = tmp_path / "cover.jpg"
    path.write_bytes(b"not a jpeg at all")
    with pytest.raises(MediaError):
        read_image(path)


def test_read_media_picks_decoder_by_extension(tmp_path: Path, clip_factory) -> None:
    image = save_cover(tmp_path / "cat.jpg", photo("chelsea"))
    assert len(read_media(image, 8)) == 1
    assert len(read_media(clip_factory("chelsea", 12), 3)) == 3


def test_prescaled_frame_skips_timm_resize(clip_factory) -> None:
    preprocessor = FramePreprocessor(model_data_config("efficientnet_lite0"))
    # A 160x128 frame scaled so that its short side is 256 (224 / crop_pct 0.875) keeps its aspect ratio.
    assert preprocessor.scaled_size(160, 128) == (320, 256)
    assert preprocessor.scaled_size(576, 768) == (256, 341)


def test_prescaled_frames_match_pil_resize(clip_factory) -> None:
    from avrec_video.media import FrameScaling

    preprocessor = FramePreprocessor(model_data_config("efficientnet_lite0"))
    clip = clip_factory("coffee", 12)
    plain = preprocessor(read_video(clip, 2))
    scaled = preprocessor(read_video(clip, 2, FrameScaling(preprocessor.scaled_size)))
    assert plain.shape == scaled.shape == (2, 3, 224, 224)
    # FFmpeg's and PIL's bicubic filters differ slightly; normalised pixels agree closely on average.
    assert float((plain - scaled).abs().mean()) < 0.05
    assert np.isfinite(scaled.numpy()).all()
