"""LightGCN encoder: graph normalisation, layer mean, caching and use in a full model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from avrec.data.dataset import Dataset, IdMap
from avrec.interfaces import BuildContext, Split
from avrec.sampling import train_matrix
from avrec_lightgcn.configs import LightGCNConfig
from avrec_lightgcn.encoder import LightGCNEncoder, normalized_adjacency

# Two users, three items: u0-i0, u0-i1, u1-i1; item 2 has no training edge.
TRAIN_ROWS = [(0, 0), (0, 1), (1, 1)]


def _context(tmp_path: Path) -> BuildContext:
    frame = pd.DataFrame(
        {
            "user": np.array([u for u, _ in TRAIN_ROWS], dtype=np.int64),
            "item": np.array([i for _, i in TRAIN_ROWS], dtype=np.int64),
            "rating": np.full(len(TRAIN_ROWS), np.nan, dtype=np.float32),
            "timestamp": np.full(len(TRAIN_ROWS), np.nan),
        }
    )
    dataset = Dataset("toy", frame, IdMap(["a", "b"]), IdMap(["x", "y", "z"]))
    empty = frame.iloc[:0]
    return BuildContext(
        dataset=dataset,
        split=Split(frame, empty, empty),
        train_matrix=train_matrix(frame, 2, 3),
        dim=4,
        cache_dir=tmp_path,
        device=torch.device("cpu"),
        seed=0,
    )


def test_adjacency_symmetric_normalisation():
    adjacency = normalized_adjacency(train_matrix(_toy_frame(), 2, 3))
    dense = adjacency.toarray()
    # Degrees: u0 2, u1 1, i0 1, i1 2, i2 0. Nodes 0-1 are users, 2-4 items.
    assert dense[0, 2] == pytest.approx(1 / np.sqrt(2 * 1))
    assert dense[0, 3] == pytest.approx(1 / np.sqrt(2 * 2))
    assert dense[1, 3] == pytest.approx(1 / np.sqrt(1 * 2))
    assert np.allclose(dense, dense.T)
    assert not dense[4].any()
    assert not dense[:2, :2].any()


def _toy_frame() -> pd.DataFrame:
    return pd.DataFrame({"user": [u for u, _ in TRAIN_ROWS], "item": [i for _, i in TRAIN_ROWS]})


def test_one_layer_is_mean_of_ego_and_neighbours(tmp_path):
    encoder = LightGCNEncoder(LightGCNConfig(layers=1), _context(tmp_path))
    users = encoder.user_embedding.weight.detach()
    items = encoder.item_embedding.weight.detach()
    # Item 1 neighbours: u0 (degree 2) and u1 (degree 1); item 1 has degree 2.
    expected_item1 = (items[1] + users[0] / 2 + users[1] / np.sqrt(2)) / 2
    # User 0 neighbours: i0 (degree 1) and i1 (degree 2); user 0 has degree 2.
    expected_user0 = (users[0] + items[0] / np.sqrt(2) + items[1] / 2) / 2
    with torch.no_grad():
        item_vectors = encoder().embeddings
        user_vectors = encoder.user_embeddings(torch.tensor([0]))
    assert torch.allclose(item_vectors[1], expected_item1, atol=1e-6)
    assert torch.allclose(user_vectors[0], expected_user0, atol=1e-6)


def test_isolated_item_keeps_scaled_ego_embedding(tmp_path):
    encoder = LightGCNEncoder(LightGCNConfig(layers=2), _context(tmp_path))
    with torch.no_grad():
        output = encoder()
    # Layers 1 and 2 of an isolated node are zero, so the mean is ego / 3.
    expected = encoder.item_embedding.weight[2].detach() / 3
    assert torch.allclose(output.embeddings[2], expected)
    assert output.mask.tolist() == [True, True, False]


def test_zero_layers_return_ego_embeddings(tmp_path):
    encoder = LightGCNEncoder(LightGCNConfig(layers=0), _context(tmp_path))
    with torch.no_grad():
        output = encoder(torch.tensor([2, 0]))
    assert torch.equal(output.embeddings, encoder.item_embedding.weight[[2, 0]].detach())


def test_propagation_cache_refreshes_after_step(tmp_path):
    encoder = LightGCNEncoder(LightGCNConfig(layers=2), _context(tmp_path))
    optimizer = torch.optim.Adam(encoder.parameters(), lr=0.1)
    first = encoder().embeddings
    again = encoder().embeddings
    assert again is first
    loss = (first * encoder.user_embeddings(torch.tensor([0]))).sum()
    loss.backward()
    optimizer.step()
    after = encoder().embeddings
    assert not torch.allclose(after, first.detach())


def test_user_loss_reaches_neighbour_items(tmp_path):
    encoder = LightGCNEncoder(LightGCNConfig(layers=1), _context(tmp_path))
    encoder.user_embeddings(torch.tensor([1])).sum().backward()
    grad = encoder.item_embedding.weight.grad
    # User 1 touches only item 1.
    assert grad[1].abs().sum() > 0
    assert grad[0].abs().sum() == 0
    assert grad[2].abs().sum() == 0


def test_negative_layers_rejected(tmp_path):
    from avrec.errors import ConfigError

    with pytest.raises(ConfigError, match="layers -1"):
        LightGCNEncoder(LightGCNConfig(layers=-1), _context(tmp_path))


@pytest.mark.slow
def test_lightgcn_alone_trains_on_slice(ml100k_slice, tmp_path):
    from avrec.cli.hydra_app import compose_config
    from avrec.run import train

    cfg = compose_config(
        [
            "experiment=bpr",
            "encoder=[lightgcn]", "head=bpr", "model.user_tower.id_embedding=false",
            f"dataset.data_dir={ml100k_slice}", "trainer.epochs=3", "trainer.progress=false",
            "trainer.tensorboard=false", f"cache_dir={tmp_path / 'cache'}",
        ]
    )
    metrics = train(cfg, tmp_path / "run")
    # A random ranking of the slice's items scores near 0.01 NDCG@10 (an estimate), well below 0.05.
    assert metrics["test"]["ndcg@10"] > 0.05
    assert metrics["epochs"] == 3


def test_symmetric_matmul_gradient_matches_dense():
    from avrec_lightgcn.encoder import SymmetricSparseMatmul, to_torch_csr

    adjacency = normalized_adjacency(train_matrix(_toy_frame(), 2, 3))
    dense = torch.from_numpy(adjacency.toarray())
    x = torch.randn(5, 3, dtype=torch.float32, requires_grad=True)
    weights = torch.randn(5, 3)
    (SymmetricSparseMatmul.apply(to_torch_csr(adjacency), x) * weights).sum().backward()
    sparse_grad = x.grad.clone()
    x.grad = None
    ((dense @ x) * weights).sum().backward()
    assert torch.allclose(sparse_grad, x.grad, atol=1e-6)
