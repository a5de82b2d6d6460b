"""Masked fusions: absent modalities never reach the output, gates sum to 1 over present ones."""

from __future__ import annotations

import math

import pytest
import torch

from avrec.errors import ConfigError
from avrec.interfaces import ModalityOutput
from avrec_fusion.configs import ConcatFusionConfig, GatedFusionConfig
from avrec_fusion.fusions import ConcatFusion, GatedFusion

DIMS = {"id": 3, "text": 2}


def _outputs(text_values: torch.Tensor | None = None) -> dict[str, ModalityOutput]:
    """Four items: both modalities, id only, text only, none."""
    id_embeddings = torch.tensor([[1.0, 0.0, 2.0], [0.5, -1.0, 0.0], [9.0, 9.0, 9.0], [7.0, 7.0, 7.0]])
    text = torch.tensor([[0.0, 1.0], [3.0, 3.0], [-1.0, 2.0], [4.0, 4.0]]) if text_values is None else text_values
    return {
        "id": ModalityOutput(id_embeddings, torch.tensor([True, True, False, False])),
        "text": ModalityOutput(text, torch.tensor([True, False, True, False])),
    }


def _set_concat_weights(fusion: ConcatFusion) -> None:
    with torch.no_grad():
        fusion.projections["id"].weight.copy_(torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]))
        fusion.projections["text"].weight.copy_(torch.tensor([[2.0, 0.0], [0.0, -1.0]]))
        fusion.bias.copy_(torch.tensor([0.5, 0.0]))


@pytest.fixture
def concat() -> ConcatFusion:
    torch.manual_seed(0)
    fusion = ConcatFusion(ConcatFusionConfig(), DIMS, 2)
    _set_concat_weights(fusion)
    return fusion.eval()


@pytest.fixture
def gated() -> GatedFusion:
    torch.manual_seed(0)
    return GatedFusion(GatedFusionConfig(gate_hidden=4), DIMS, 2).eval()


def test_concat_full_item_matches_linear_of_concatenation(concat):
    fused = concat(_outputs())
    # [1, 0, 2 | 0, 1] through [[1,0,0,2,0],[0,1,1,0,-1]] plus bias [0.5, 0].
    assert fused[0].tolist() == [1.5, 1.0]


def test_concat_rescales_single_present_modality(concat):
    fused = concat(_outputs())
    # id only: 2 * (W_id x) + bias = 2 * [0.5, -1.0] + [0.5, 0].
    assert fused[1].tolist() == [1.5, -2.0]
    # text only: 2 * (W_text x) + bias = 2 * [-2, -2] + [0.5, 0].
    assert fused[2].tolist() == [-3.5, -4.0]


def test_concat_without_rescale_sums_present_terms():
    fusion = ConcatFusion(ConcatFusionConfig(rescale=False), DIMS, 2)
    _set_concat_weights(fusion)
    fused = fusion(_outputs())
    assert fused[1].tolist() == [1.0, -1.0]


@pytest.mark.parametrize("fusion_name", ["concat", "gated"])
@pytest.mark.parametrize("placeholder", [0.0, 123.0, float("nan"), float("inf")])
def test_absent_text_values_do_not_change_output(request, fusion_name, placeholder):
    fusion = request.getfixturevalue(fusion_name)
    before = fusion(_outputs())
    text = torch.tensor([[0.0, 1.0], [placeholder, -placeholder], [-1.0, 2.0], [placeholder, placeholder]])
    after = fusion(_outputs(text))
    assert torch.equal(before, after)


@pytest.mark.parametrize("fusion_name", ["concat", "gated"])
def test_nan_placeholder_keeps_gradients_finite(request, fusion_name):
    fusion = request.getfixturevalue(fusion_name)
    text = torch.tensor([[0.0, 1.0], [float("nan"), 1.0], [-1.0, 2.0], [float("nan")] * 2])
    fusion(_outputs(text)).sum().backward()
    for name, parameter in fusion.named_parameters():
        assert torch.isfinite(parameter.grad).all(), name


@pytest.mark.parametrize("fusion_name", ["concat", "gated"])
def test_item_without_modalities_gets_missing_vector(request, fusion_name):
    fusion = request.getfixturevalue(fusion_name)
    fused = fusion(_outputs())
    assert torch.equal(fused[3], fusion.missing.detach())


@pytest.mark.parametrize("fusion_name", ["concat", "gated"])
def test_fused_vectors_are_finite(request, fusion_name):
    fusion = request.getfixturevalue(fusion_name)
    assert torch.isfinite(fusion(_outputs())).all()


def test_gates_sum_to_one_over_present(gated):
    gates = gated.gates(_outputs())
    sums = gates[:3].sum(dim=1)
    assert torch.allclose(sums, torch.ones(3))


def test_gates_zero_for_absent_modalities(gated):
    gates = gated.gates(_outputs())
    assert gates[1, 1].item() == 0.0
    assert gates[2, 0].item() == 0.0


def test_gates_of_item_without_modalities_are_zero(gated):
    gates = gated.gates(_outputs())
    assert gates[3].tolist() == [0.0, 0.0]


def test_single_present_modality_gets_whole_gate(gated):
    gates = gated.gates(_outputs())
    assert gates[1, 0].item() == 1.0


def test_gated_output_is_gate_weighted_projection(gated):
    outputs = _outputs()
    gates = gated.gates(outputs)
    projected_id = gated.projections["id"](outputs["id"].embeddings[0])
    projected_text = gated.projections["text"](outputs["text"].embeddings[0])
    expected = gates[0, 0] * projected_id + gates[0, 1] * projected_text
    assert torch.allclose(gated(outputs)[0], expected)


def test_gate_logits_by_hand():
    fusion = GatedFusion(GatedFusionConfig(gate_hidden=1), {"a": 1, "b": 1}, 1)
    with torch.no_grad():
        fusion.gate_hidden.weight.fill_(1.0)
        fusion.gate_hidden.bias.zero_()
        fusion.gate_out.weight.fill_(1.0)
        fusion.modality_bias.copy_(torch.tensor([0.0, 1.0]))
    outputs = {
        "a": ModalityOutput(torch.tensor([[0.0]]), torch.tensor([True])),
        "b": ModalityOutput(torch.tensor([[0.0]]), torch.tensor([True])),
    }
    # Logits are tanh(0) + 0 = 0 and tanh(0) + 1 = 1.
    expected_b = math.exp(1.0) / (1.0 + math.exp(1.0))
    assert fusion.gates(outputs)[0, 1].item() == pytest.approx(expected_b)


def test_temperature_must_be_positive():
    with pytest.raises(ConfigError, match="temperature"):
        GatedFusion(GatedFusionConfig(temperature=0.0), DIMS, 2)


def test_unexpected_modality_raises(concat):
    outputs = _outputs()
    outputs["video"] = outputs.pop("text")
    with pytest.raises(ValueError, match="video"):
        concat(outputs)


def test_gated_passes_same_width_modality_through(gated):
    outputs = _outputs()
    # Item 2 has only text, whose width 2 already equals the output width.
    assert torch.equal(gated(outputs)[2], outputs["text"].embeddings[2])


def test_gated_projects_same_width_on_request():
    fusion = GatedFusion(GatedFusionConfig(project_same_dim=True), DIMS, 2)
    assert isinstance(fusion.projections["text"], torch.nn.Linear)


def test_concat_adds_projection_to_unprojected_id():
    fusion = ConcatFusion(ConcatFusionConfig(rescale=False, project_same_dim=False), {"id": 2, "text": 3}, 2).eval()
    with torch.no_grad():
        fusion.projections["text"].weight.copy_(torch.tensor([[1.0, 0.0, 1.0], [0.0, 2.0, 0.0]]))
    outputs = {
        "id": ModalityOutput(torch.tensor([[0.5, -1.0]]), torch.tensor([True])),
        "text": ModalityOutput(torch.tensor([[1.0, 1.0, 2.0]]), torch.tensor([True])),
    }
    # [0.5, -1] + [1 + 2, 2] with a zero bias.
    assert fusion(outputs)[0].tolist() == [3.5, 1.0]


def test_projection_init_keeps_norm():
    fusion = ConcatFusion(ConcatFusionConfig(), {"id": 4}, 4)
    vector = torch.tensor([1.0, -2.0, 0.5, 3.0])
    projected = fusion.projections["id"](vector)
    assert projected.norm().item() == pytest.approx(vector.norm().item(), rel=1e-5)


@pytest.mark.parametrize("fusion_class,config_class", [(ConcatFusion, ConcatFusionConfig), (GatedFusion, GatedFusionConfig)])
def test_modality_dropout_keeps_one_modality(fusion_class, config_class):
    torch.manual_seed(0)
    fusion = fusion_class(config_class(modality_dropout=0.9), DIMS, 2).train()
    mask = torch.ones(1000, 2, dtype=torch.bool)
    assert fusion._drop_modalities(mask).any(dim=1).all()


def test_modality_dropout_hides_modalities_in_training():
    torch.manual_seed(0)
    fusion = GatedFusion(GatedFusionConfig(modality_dropout=0.5), DIMS, 2).train()
    mask = torch.ones(1000, 2, dtype=torch.bool)
    # A row loses one modality with probability 0.5 (both drawn hidden are restored), so about 500.
    assert 420 < int((~fusion._drop_modalities(mask)).sum()) < 580


def test_modality_dropout_off_in_eval():
    fusion = GatedFusion(GatedFusionConfig(modality_dropout=0.5), DIMS, 2).eval()
    first, second = fusion(_outputs()), fusion(_outputs())
    assert torch.equal(first, second)


def test_modality_dropout_must_be_below_one():
    with pytest.raises(ConfigError, match="modality_dropout"):
        ConcatFusion(ConcatFusionConfig(modality_dropout=1.0), DIMS, 2)
