"""The feature pipeline: hash, look up the cache, decode in worker threads, encode in batches, store.

Worker threads decode and preprocess files while the calling thread runs the
model on the previous batch. The two overlap wherever the libraries release
the GIL, as torch operators and PIL resizing do. Files that are missing,
unreadable or fail to decode are logged with their path and error and
counted, and the items that have no usable file are masked.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from avrec.errors import ConfigError
from avrec_video.cache import FeatureCache, FileHashes, hash_index
from avrec_video.configs import VideoEncoderConfig
from avrec_video.media import FrameScaling, MediaError, ffmpeg_interpolation, is_video, read_media
from avrec_video.preprocess import FramePreprocessor, model_data_config
from avrec_video.weights import create_model, weights_source

_logger = logging.getLogger(__name__)

# Only the first problems of each kind are logged as warnings; the rest go to debug and the summary.
_MAX_WARNINGS_PER_KIND = 10


@dataclass
class ExtractionStats:
    """Counts of one extraction run, reported in metrics.json under the key ``video``."""

    items_with_media: int = 0
    items_masked: int = 0
    files_missing: int = 0
    files_unreadable: int = 0
    files_corrupt: int = 0
    files_decoded: int = 0
    files_cached: int = 0
    frames_encoded: int = 0
    seconds: float = 0.0
    problems: dict[str, int] = field(default_factory=dict, repr=False)

    @property
    def frames_per_second(self) -> float:
        return self.frames_encoded / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, float | int]:
        values = asdict(self)
        values.pop("problems")
        values["seconds"] = round(self.seconds, 3)
        values["frames_per_second"] = round(self.frames_per_second, 2)
        return values


@dataclass
class FrameFeatures:
    """Per-item frame features ``[t, d]`` (None for a masked item) and the run's counts."""

    per_item: list[np.ndarray | None]
    dim: int
    stats: ExtractionStats

    @property
    def item_mask(self) -> np.ndarray:
        return np.array([features is not None for features in self.per_item], dtype=bool)

    def pooled(self) -> np.ndarray:
        """Return the mean over frames ``[n, d]`` (float32; zeros for masked items)."""
        result = np.zeros((len(self.per_item), self.dim), dtype=np.float32)
        for index, features in enumerate(self.per_item):
            if features is not None:
                result[index] = features.astype(np.float32).mean(axis=0)
        return result

    def padded(self) -> tuple[np.ndarray, np.ndarray]:
        """Return frames ``[n, t_max, d]`` (float16, zero padded) and their mask ``[n, t_max]``."""
        t_max = max((len(f) for f in self.per_item if f is not None), default=1)
        frames = np.zeros((len(self.per_item), t_max, self.dim), dtype=np.float16)
        mask = np.zeros((len(self.per_item), t_max), dtype=bool)
        for index, features in enumerate(self.per_item):
            if features is not None:
                frames[index, : len(features)] = features
                mask[index, : len(features)] = True
        return frames, mask


@dataclass
class _Job:
    path: Path
    entry: str


class FeatureExtractor:
    """Frame feature extractor: media files to timm model features, through the cache."""

    def __init__(self, config: VideoEncoderConfig, cache_root: Path, device: torch.device) -> None:
        if config.frames < 1:
            raise ConfigError(f"Invalid encoder.video.frames={config.frames}. Use a positive number of frames per video.")
        if config.batch_size < 1:
            raise ConfigError(f"Invalid encoder.video.batch_size={config.batch_size}. Use a positive number of frames.")
        self.config = config
        self.device = device
        self.source = weights_source(config)
        self.data_config = model_data_config(config.model_name)
        self.preprocess = FramePreprocessor(self.data_config)
        self.scaling = FrameScaling(self.preprocess.scaled_size, ffmpeg_interpolation(self.data_config["interpolation"]))
        hashes = hash_index(cache_root)
        self.cache = FeatureCache(cache_root, self._settings(hashes), hashes)
        self._model: torch.nn.Module | None = None

    def _settings(self, hashes: FileHashes) -> dict[str, object]:
        weights = _pretrained_tag(self.config.model_name) if self.source.pretrained else hashes.sha256(self.source.path)
        return {
            "model_name": self.config.model_name,
            "weights": weights,
            "checkpoint_layout": self.config.checkpoint_layout,
            "key_map": dict(sorted(self.config.key_map.items())),
            "data_config": {key: list(v) if isinstance(v, tuple) else v for key, v in self.data_config.items()},
            "video_prescale": "ffmpeg",
        }

    @property
    def model(self) -> torch.nn.Module:
        """The timm model, created and loaded on first use so that a fully cached run never builds it."""
        if self._model is None:
            _logger.info("Loading %s with weights from %s.", self.config.model_name, self.source.describe())
            model = create_model(self.config, self.source).to(self.device)
            self._model = model.to(memory_format=torch.channels_last)
        return self._model

    @torch.inference_mode()
    def encode(self, batch: torch.Tensor) -> torch.Tensor:
        """Return pooled, pre-classifier features ``[b, d]`` (float32, on the CPU) of normalised frames."""
        model = self.model
        inputs = batch.to(self.device).contiguous(memory_format=torch.channels_last)
        features = model.forward_head(model.forward_features(inputs), pre_logits=True)
        return features.float().cpu()

    def decode(self, path: Path) -> torch.Tensor:
        """Decode and preprocess one file into ``[t, 3, H, W]``; raise MediaError when it fails."""
        frames = read_media(path, self.config.frames, self.scaling)
        try:
            return self.preprocess(frames)
        except (OSError, ValueError, RuntimeError) as error:
            raise MediaError(f"preprocessing failed: {type(error).__name__}: {error}") from error

    def extract(self, candidates: list[list[list[Path]]]) -> FrameFeatures:
        """Return features for each item from the first of its candidate file groups that yields any.

        ``candidates[i]`` lists item i's groups in order of preference, for
        example its video, then its cover images. An empty list means the item
        has no media. Later groups are read only for items whose earlier
        groups all failed.
        """
        run = _Run(self, ExtractionStats(items_with_media=sum(1 for groups in candidates if groups)))
        start = time.perf_counter()
        per_item: list[np.ndarray | None] = [None] * len(candidates)
        depth = max((len(groups) for groups in candidates), default=0)
        for level in range(depth):
            waiting = [i for i, groups in enumerate(candidates) if per_item[i] is None and len(groups) > level]
            results = run.resolve(dict.fromkeys(path for i in waiting for path in candidates[i][level]))
            for index in waiting:
                per_item[index] = self._combine([results[path] for path in candidates[index][level]])
        run.stats.items_masked = sum(1 for i, groups in enumerate(candidates) if groups and per_item[i] is None)
        run.stats.seconds = time.perf_counter() - start
        self.cache.close()
        _log_summary(run.stats)
        return FrameFeatures(per_item, self._feature_dim(per_item), run.stats)

    def _combine(self, parts: list[np.ndarray | None]) -> np.ndarray | None:
        usable = [part for part in parts if part is not None]
        if not usable:
            return None
        return np.concatenate(usable)[: max(self.config.frames, 1)]

    def _feature_dim(self, per_item: list[np.ndarray | None]) -> int:
        for features in per_item:
            if features is not None:
                return int(features.shape[1])
        return int(self.model.num_features)


class _Run:
    """One extraction run: resolves files through the cache and the decode-encode pipeline."""

    def __init__(self, extractor: FeatureExtractor, stats: ExtractionStats) -> None:
        self.extractor = extractor
        self.config = extractor.config
        self.cache = extractor.cache
        self.stats = stats

    def entry_name(self, path: Path, digest: str) -> str:
        return f"{digest}-f{self.config.frames}" if is_video(path) else f"{digest}-image"

    def resolve(self, paths: Iterable[Path]) -> dict[Path, np.ndarray | None]:
        """Return features per path: from the cache, or decoded and encoded now; None when unusable."""
        results: dict[Path, np.ndarray | None] = {}
        jobs = []
        for path in paths:
            job = self._lookup(path, results)
            if job is not None:
                jobs.append(job)
        for job, features in self._pipeline(jobs):
            results[job.path] = features
        return results

    def _lookup(self, path: Path, results: dict[Path, np.ndarray | None]) -> _Job | None:
        results[path] = None
        try:
            digest = self.cache.hashes.sha256(path)
        except FileNotFoundError as error:
            self._problem("missing", path, error)
            return None
        except OSError as error:
            self._problem("unreadable", path, error)
            return None
        entry = self.entry_name(path, digest)
        if not self.config.cache:
            return _Job(path, entry)
        cached = self.cache.load(entry)
        if cached is not None:
            self.stats.files_cached += 1
            results[path] = cached
            return None
        failure = self.cache.failure(entry)
        if failure is not None:
            self._problem("corrupt", path, f"{failure} (recorded in the feature cache)")
            return None
        return _Job(path, entry)

    def _problem(self, kind: str, path: Path, error: object) -> None:
        counter = f"files_{kind}"
        setattr(self.stats, counter, getattr(self.stats, counter) + 1)
        seen = self.stats.problems.get(kind, 0) + 1
        self.stats.problems[kind] = seen
        level = logging.WARNING if seen <= _MAX_WARNINGS_PER_KIND else logging.DEBUG
        _logger.log(level, "Video encoder skipped a %s media file, %s: %s", kind, path, error)
        if seen == _MAX_WARNINGS_PER_KIND:
            _logger.warning("Further %s media files are logged at debug level only; the summary counts them.", kind)

    def _pipeline(self, jobs: list[_Job]) -> Iterator[tuple[_Job, np.ndarray | None]]:
        if not jobs:
            return
        estimate = sum(self.config.frames if is_video(job.path) else 1 for job in jobs)
        progress = tqdm(total=estimate, unit="frame", desc="video features", disable=not self.config.progress)
        batch: list[tuple[_Job, torch.Tensor]] = []
        try:
            for job, outcome in self._decoded(jobs):
                self.stats.files_decoded += 1
                if isinstance(outcome, MediaError):
                    self._problem("corrupt", job.path, outcome)
                    if self.config.cache:
                        self.cache.store_failure(job.entry, str(outcome))
                    yield job, None
                    continue
                batch.append((job, outcome))
                if sum(len(frames) for _, frames in batch) >= self.config.batch_size:
                    yield from self._encode(batch, progress)
                    batch = []
            yield from self._encode(batch, progress)
        finally:
            progress.close()

    def _decoded(self, jobs: list[_Job]) -> Iterator[tuple[_Job, torch.Tensor | MediaError]]:
        """Yield each job with its frames or its error, in order, decoding ahead in worker threads."""
        workers = self.config.decode_workers
        if workers <= 0:
            for job in jobs:
                yield job, _attempt(self.extractor.decode, job.path)
            return
        ahead = max(2 * workers, 2)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="avrec-video-decode") as pool:
            pending: deque[tuple[_Job, Future]] = deque()
            queue = iter(jobs)
            for job in queue:
                pending.append((job, pool.submit(_attempt, self.extractor.decode, job.path)))
                if len(pending) >= ahead:
                    break
            while pending:
                job, future = pending.popleft()
                following = next(queue, None)
                if following is not None:
                    pending.append((following, pool.submit(_attempt, self.extractor.decode, following.path)))
                yield job, future.result()

    def _encode(self, batch: list[tuple[_Job, torch.Tensor]], progress: tqdm) -> Iterator[tuple[_Job, np.ndarray]]:
        if not batch:
            return
        frames = torch.cat([tensor for _, tensor in batch])
        features = self.extractor.encode(frames).numpy()
        self.stats.frames_encoded += len(frames)
        progress.update(len(frames))
        progress.set_postfix(files=self.stats.files_decoded, failed=self.stats.files_corrupt, refresh=False)
        offset = 0
        for job, tensor in batch:
            part = features[offset : offset + len(tensor)]
            offset += len(tensor)
            if self.config.cache:
                self.cache.store(job.entry, part)
            yield job, part.astype(np.float16)


def _pretrained_tag(model_name: str) -> str:
    """Return a cache label for timm's downloaded weights: the model's default pretrained tag."""
    import timm

    if "." in model_name:  # the name already carries its tag, as in resnet50.a1_in1k
        return f"timm-pretrained:{model_name}"
    pretrained_cfg = timm.models.get_pretrained_cfg(model_name)
    tag = pretrained_cfg.tag if pretrained_cfg is not None else None
    return f"timm-pretrained:{model_name}.{tag}" if tag else f"timm-pretrained:{model_name}"


def _attempt(decode, path: Path) -> torch.Tensor | MediaError:
    try:
        return decode(path)
    except MediaError as error:
        return error


def _log_summary(stats: ExtractionStats) -> None:
    _logger.info(
        "Video features: %d items with media, %d masked; files: %d from cache, %d decoded, %d missing, "
        "%d unreadable, %d corrupt; %d frames encoded at %.1f frames/s.",
        stats.items_with_media, stats.items_masked, stats.files_cached, stats.files_decoded,
        stats.files_missing, stats.files_unreadable, stats.files_corrupt, stats.frames_encoded,
        stats.frames_per_second,
    )
