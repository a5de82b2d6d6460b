"""Config validation: unknown keys, wrong types and unknown components fail before any work."""

from __future__ import annotations

import pytest

from avrec.cli.hydra_app import compose_config, preflight
from avrec.config import TrainerConfig, resolve, validate_node
from avrec.errors import ConfigError
from avrec.plugins import get_registry
from omegaconf import OmegaConf


def test_default_config_resolves():
    resolved = resolve(compose_config([]), get_registry())
    assert set(resolved.encoders) == {"id", "text"}
    assert resolved.components["fusion"][0].name == "gated"
    assert resolved.components["head"][0].name == "bpr"
    assert isinstance(resolved.trainer, TrainerConfig)


def test_misspelled_trainer_key_suggests():
    with pytest.raises(ConfigError) as excinfo:
        preflight(["trainer.epocs=3"])
    message = str(excinfo.value)
    assert "trainer.epocs" in message
    assert "Did you mean 'epochs'?" in message


def test_misspelled_head_option_suggests():
    with pytest.raises(ConfigError) as excinfo:
        preflight(["head=bprr"])
    message = str(excinfo.value)
    assert "bprr" in message
    assert "Did you mean 'bpr'?" in message


def test_misspelled_encoder_in_list_suggests():
    with pytest.raises(ConfigError) as excinfo:
        preflight(["encoder=[idd]"])
    assert "Did you mean 'id'?" in str(excinfo.value)


def test_wrong_type_names_key():
    with pytest.raises(ConfigError) as excinfo:
        preflight(["trainer.lr=fast"])
    assert "trainer.lr" in str(excinfo.value)


def test_sweep_values_each_checked():
    with pytest.raises(ConfigError) as excinfo:
        preflight(["head=bpr,popp"])
    assert "popp" in str(excinfo.value)


def test_validate_node_unknown_nested_key():
    node = OmegaConf.create({"user_tower": {"histroy": "mean"}})
    from avrec.config import ModelConfig

    with pytest.raises(ConfigError) as excinfo:
        validate_node(node, ModelConfig, "model")
    assert "model.user_tower.histroy" in str(excinfo.value)
    assert "Did you mean 'history'?" in str(excinfo.value)


def test_component_key_suggests_field():
    with pytest.raises(ConfigError) as excinfo:
        preflight(["head.negatves=2"])
    assert "Did you mean 'negatives'?" in str(excinfo.value)


def test_appended_key_rejected_by_dataclass():
    with pytest.raises(ConfigError) as excinfo:
        preflight(["+head.margin=1.0"])
    assert "head.margin" in str(excinfo.value)


def test_misspelled_top_level_key_suggests():
    with pytest.raises(ConfigError) as excinfo:
        preflight(["traner.epochs=3"])
    message = str(excinfo.value)
    assert "Unknown config key 'traner'" in message
    assert "Did you mean 'trainer'?" in message


def test_misspelled_nested_section_suggests():
    with pytest.raises(ConfigError) as excinfo:
        preflight(["model.user_towr.history=mean"])
    message = str(excinfo.value)
    assert "Unknown config key 'model.user_towr'" in message
    assert "Did you mean 'user_tower'?" in message


def test_added_top_level_key_rejected():
    with pytest.raises(ConfigError) as excinfo:
        preflight(["+traner.epochs=3"])
    message = str(excinfo.value)
    assert "Unknown config key 'traner' at the top level" in message
    assert "Did you mean 'trainer'?" in message


def test_added_policy_group_accepted():
    preflight(["+policy=linucb"])


def test_unclosed_bracket_is_config_error():
    with pytest.raises(ConfigError) as excinfo:
        preflight(["encoder=[id"])
    assert "Invalid override 'encoder=[id'" in str(excinfo.value)


def test_wrong_type_message_is_one_line():
    with pytest.raises(ConfigError) as excinfo:
        preflight(["trainer.epochs=two"])
    message = str(excinfo.value)
    assert "\n" not in message
    assert "Set trainer.epochs to a value of type int." in message


def test_wrong_type_nested_names_type():
    with pytest.raises(ConfigError) as excinfo:
        preflight(["model.user_tower.id_embedding=maybe"])
    assert "Set model.user_tower.id_embedding to a value of type bool." in str(excinfo.value)


@pytest.mark.parametrize("value", ["abc", "1.5", "null"])
def test_non_integer_seed_rejected(value):
    with pytest.raises(ConfigError) as excinfo:
        preflight([f"seed={value}"])
    assert "Invalid value for 'seed'" in str(excinfo.value)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("trainer.epochs=-1", "Invalid value for 'trainer.epochs': -1. Use an integer >= 0."),
        ("trainer.batch_size=0", "Invalid value for 'trainer.batch_size': 0. Use an integer >= 1."),
        ("trainer.eval_every=0", "Invalid value for 'trainer.eval_every': 0. Use an integer >= 1."),
        ("trainer.lr=-1", "Invalid value for 'trainer.lr': -1.0."),
        ("trainer.lr=nan", "Invalid value for 'trainer.lr': nan."),
        ("trainer.weight_decay=-0.1", "Invalid value for 'trainer.weight_decay': -0.1."),
        ("trainer.optimizer=adamm", "Did you mean 'adam'? Use one of: adam, adamw, sgd."),
        ("trainer.lr_schedule=cos", "Did you mean 'cosine'? Use one of: constant, cosine."),
        ("trainer.valid_metric=ndgc@10", "Did you mean 'ndcg@10'?"),
        ("eval.metrics=[recal]", "unknown metric 'recal'"),
        ("eval.ks=[0]", "cut-off 0 is invalid"),
        ("eval.batch_size=0", "Invalid value for 'eval.batch_size': 0."),
        ("model.dim=0", "Invalid value for 'model.dim': 0."),
        ("model.user_tower.history=meen", "Did you mean 'mean'? Use one of: none, mean, attention."),
    ],
)
def test_out_of_range_value_rejected(override, expected):
    with pytest.raises(ConfigError) as excinfo:
        preflight([override])
    assert expected in str(excinfo.value)


def test_zero_epochs_accepted():
    resolved = resolve(compose_config(["trainer.epochs=0"]), get_registry())
    assert resolved.trainer.epochs == 0


def test_valid_metric_follows_eval_ks():
    with pytest.raises(ConfigError) as excinfo:
        preflight(["eval.ks=[5]"])
    assert "Did you mean 'ndcg@5'?" in str(excinfo.value)


def test_bpr_experiment_selects_matrix_factorisation():
    cfg = compose_config(["experiment=bpr"])
    assert list(cfg.encoder) == ["id"]
    assert cfg.fusion.name == "none"
    assert cfg.trainer.lr == 0.002
    assert cfg.model.user_tower.history == "none"


def test_command_line_group_beats_experiment():
    cfg = compose_config(["encoder=[id]", "fusion=none"])
    assert list(cfg.encoder) == ["id"]
    assert cfg.fusion.name == "none"


def test_unknown_experiment_suggests():
    with pytest.raises(ConfigError) as excinfo:
        preflight(["experiment=bprr"])
    assert "Did you mean 'bpr'?" in str(excinfo.value)


def test_history_from_unknown_name_rejected():
    with pytest.raises(ConfigError) as excinfo:
        preflight(["model.user_tower.history_from=txt"])
    message = str(excinfo.value)
    assert "'model.user_tower.history_from': 'txt'" in message
    assert "Did you mean 'text'?" in message


def test_history_from_selected_encoder_resolves():
    resolved = resolve(compose_config(["model.user_tower.history_from=text"]), get_registry())
    assert resolved.model.user_tower.history_from == "text"


def test_history_from_unselected_encoder_pools_fused(caplog):
    # The default preset pools text; with encoder=[id] it falls back to the fused vectors.
    with caplog.at_level("INFO", logger="avrec.config"):
        resolved = resolve(compose_config(["encoder=[id]"]), get_registry())
    assert resolved.model.user_tower.history_from == "fused"
    assert "not selected" in caplog.text
