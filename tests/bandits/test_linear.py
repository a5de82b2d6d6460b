"""Ridge model updates and the context feature forms of the linear policies."""

from __future__ import annotations

import numpy as np
import pytest

from avrec.errors import ConfigError
from avrec_bandits.linear import ContextFeatures, RidgeModel


def _observations(n: int = 50, dim: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    return rng.normal(size=(n, dim)), rng.integers(0, 2, size=n).astype(float)


def test_sherman_morrison_matches_direct_inverse() -> None:
    contexts, rewards = _observations()
    model = RidgeModel(6, ridge=2.0, refactor_every=0)
    model.update(contexts, rewards)
    direct = np.linalg.inv(2.0 * np.eye(6) + contexts.T @ contexts)
    np.testing.assert_allclose(model.inverse, direct, rtol=1e-9, atol=1e-12)


def test_theta_is_ridge_solution() -> None:
    contexts, rewards = _observations()
    model = RidgeModel(6, ridge=2.0)
    model.update(contexts, rewards)
    expected = np.linalg.solve(2.0 * np.eye(6) + contexts.T @ contexts, contexts.T @ rewards)
    np.testing.assert_allclose(model.theta, expected, rtol=1e-9)


def test_refactor_keeps_inverse() -> None:
    contexts, rewards = _observations()
    incremental = RidgeModel(6, ridge=1.0, refactor_every=0)
    refactored = RidgeModel(6, ridge=1.0, refactor_every=7)
    incremental.update(contexts, rewards)
    refactored.update(contexts, rewards)
    np.testing.assert_allclose(refactored.inverse, incremental.inverse, rtol=1e-8, atol=1e-12)


def test_width_is_quadratic_form() -> None:
    contexts, rewards = _observations()
    model = RidgeModel(6, ridge=1.0)
    model.update(contexts[:20], rewards[:20])
    expected = np.sqrt(np.einsum("ij,jk,ik->i", contexts, np.linalg.inv(model.design), contexts))
    np.testing.assert_allclose(model.width(contexts), expected, rtol=1e-8)


def test_posterior_samples_have_posterior_covariance() -> None:
    contexts, rewards = _observations(n=30, dim=3)
    model = RidgeModel(3, ridge=1.0)
    model.update(contexts, rewards)
    samples = model.sample_theta(np.random.default_rng(0), 0.5, 200_000)
    np.testing.assert_allclose(np.cov(samples), 0.25 * model.inverse, atol=2e-4)


def test_nonpositive_ridge_rejected() -> None:
    with pytest.raises(ConfigError, match="ridge 0"):
        RidgeModel(3, ridge=0.0)


@pytest.mark.parametrize("kinds", [["product"], ["concat"], ["product", "concat", "bias"], ["bias", "product"]])
def test_projected_forms_match_explicit_features(kinds: list[str]) -> None:
    rng = np.random.default_rng(2)
    features = ContextFeatures(rng.normal(size=(4, 5)), rng.normal(size=(30, 5)), kinds, scale=True)
    items = np.array([3, 7, 8, 20])
    weights = rng.normal(size=features.dim)
    matrix = np.cov(rng.normal(size=(features.dim, 3 * features.dim)))
    explicit = features.matrix(2, items)
    assert explicit.shape == (4, features.dim)
    np.testing.assert_allclose(features.linear_form(2, items, weights), explicit @ weights, rtol=1e-4, atol=1e-4)
    expected = np.einsum("ij,jk,ik->i", explicit, matrix, explicit)
    np.testing.assert_allclose(features.quadratic_form(2, items, matrix), expected, rtol=1e-4, atol=1e-4)


def test_forms_over_most_items_match_gathered_rows() -> None:
    rng = np.random.default_rng(3)
    features = ContextFeatures(rng.normal(size=(2, 4)), rng.normal(size=(10, 4)), ["product"], scale=False)
    items = np.array([0, 1, 2, 4, 5, 6, 9])
    weights = rng.normal(size=4)
    np.testing.assert_allclose(
        features.linear_form(1, items, weights), features.matrix(1, items) @ weights, rtol=1e-5, atol=1e-5
    )


def test_product_features_by_hand() -> None:
    features = ContextFeatures(np.array([[1.0, 2.0]]), np.array([[3.0, 4.0], [5.0, 6.0]]), ["product", "bias"], scale=False)
    np.testing.assert_array_equal(features.matrix(0, np.array([1])), [[5.0, 12.0, 1.0]])


def test_unknown_feature_kind_rejected() -> None:
    with pytest.raises(ConfigError, match="product, concat, bias"):
        ContextFeatures(np.ones((1, 2)), np.ones((3, 2)), ["outer"], scale=False)
