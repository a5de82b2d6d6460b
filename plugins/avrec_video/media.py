"""Decode media files into PIL frames: N frames sampled uniformly from a video, or an image as one frame.

Videos are decoded with PyAV. A first pass reads only packet headers to find
every frame's presentation timestamp and the keyframes. The second pass
decodes forward from the keyframe before each sampled frame, so groups of
pictures without a sampled frame are never decoded.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

_logger = logging.getLogger(__name__)

VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mkv", ".webm", ".avi", ".mov", ".mpg", ".mpeg", ".gif", ".ts", ".flv"})


class MediaError(Exception):
    """A media file is missing, unreadable or cannot be decoded."""


@dataclass(frozen=True)
class FrameScaling:
    """Scale decoded video frames with FFmpeg: ``size(width, height)`` returns the target or None to keep it."""

    size: Callable[[int, int], tuple[int, int] | None]
    interpolation: str = "BICUBIC"


_INTERPOLATIONS = {"bicubic": "BICUBIC", "bilinear": "BILINEAR", "nearest": "POINT", "lanczos": "LANCZOS"}


def ffmpeg_interpolation(name: str) -> str:
    """Return the FFmpeg (swscale) filter matching a timm interpolation name, or bicubic for an unknown name."""
    return _INTERPOLATIONS.get(name, "BICUBIC")


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS


def sample_indices(total: int, count: int) -> list[int]:
    """Return ``count`` frame indices spread uniformly over ``total`` frames (each segment's centre).

    A video with at most ``count`` frames returns all of them.
    """
    if total <= count:
        return list(range(total))
    return [int((k + 0.5) * total / count) for k in range(count)]


def read_image(path: Path) -> list[Image.Image]:
    """Return the image at ``path`` as one RGB frame; raise MediaError when it cannot be read."""
    try:
        with Image.open(path) as image:
            return [image.convert("RGB")]
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise MediaError(f"{type(error).__name__}: {error}") from error


def read_video(path: Path, count: int, scaling: FrameScaling | None = None) -> list[Image.Image]:
    """Return ``count`` RGB frames sampled uniformly from the video at ``path`` (fewer when it is shorter)."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError("the file has no video stream")
            frames = _decode_sampled(container, count, scaling)
    except MediaError:
        raise
    except (OSError, av.error.FFmpegError, ValueError, IndexError, RuntimeError) as error:
        raise MediaError(f"{type(error).__name__}: {error}") from error
    if not frames:
        raise MediaError("no frame could be decoded")
    return frames


def read_media(path: Path, count: int, scaling: FrameScaling | None = None) -> list[Image.Image]:
    """Decode ``path`` as a video or an image, judged by its extension."""
    return read_video(path, count, scaling) if is_video(path) else read_image(path)


def _to_image(frame, scaling: FrameScaling | None) -> Image.Image:
    size = scaling.size(frame.width, frame.height) if scaling is not None else None
    if size is None:
        return frame.to_image()
    return frame.to_image(width=size[0], height=size[1], interpolation=scaling.interpolation)


def _decode_sampled(container, count: int, scaling: FrameScaling | None) -> list[Image.Image]:
    stream = container.streams.video[0]
    timestamps, keyframes = _scan_packets(container, stream)
    if timestamps is None:
        return _decode_sequential(container, stream, count, scaling)
    targets = [timestamps[i] for i in sample_indices(len(timestamps), count)]
    frames = _decode_targets(container, stream, targets, keyframes, scaling)
    if frames is None:
        _logger.debug("Seeking in %s was not exact; decoding it sequentially.", container.name)
        return _decode_sequential(container, stream, count, scaling)
    return frames


def _scan_packets(container, stream) -> tuple[list[int] | None, list[int]]:
    """Return the sorted presentation timestamps and the keyframe timestamps, or None when some are unknown."""
    timestamps, keyframes = [], []
    for packet in container.demux(stream):
        if packet.size == 0:
            continue
        if packet.pts is None:
            return None, []
        timestamps.append(packet.pts)
        if packet.is_keyframe:
            keyframes.append(packet.pts)
    if not timestamps or not keyframes:
        return None, []
    return sorted(timestamps), sorted(keyframes)


def _decode_targets(
    container, stream, targets: list[int], keyframes: list[int], scaling: FrameScaling | None
) -> list[Image.Image] | None:
    """Decode the frames at ``targets``; seek only when a target's keyframe lies past the decoder's position.

    Returns None when a seek lands after the target, so the caller falls back to sequential decoding.
    """
    frames: list[Image.Image] = []
    decoder = None
    position: int | None = None
    for target in targets:
        keyframe = keyframes[max(bisect.bisect_right(keyframes, target) - 1, 0)]
        if decoder is None or position is None or keyframe > position:
            container.seek(keyframe, stream=stream, backward=True, any_frame=False)
            decoder = container.decode(stream)
            position = None
        for frame in decoder:
            if frame.pts is None:
                return None
            if position is None and frame.pts > target:
                return None
            position = frame.pts
            if frame.pts >= target:
                frames.append(_to_image(frame, scaling))
                break
        else:
            break
    return frames


def _decode_sequential(container, stream, count: int, scaling: FrameScaling | None) -> list[Image.Image]:
    """Decode every frame once to count them, then again keeping the sampled ones."""
    container.seek(0)
    total = sum(1 for _ in container.decode(stream))
    selected = set(sample_indices(total, count))
    container.seek(0)
    frames = []
    for index, frame in enumerate(container.decode(stream)):
        if index in selected:
            frames.append(_to_image(frame, scaling))
            if len(frames) == len(selected):
                break
    return frames
