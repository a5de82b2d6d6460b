"""``avrec recommend`` and ``avrec search`` on runs trained on a real ml-100k slice."""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"

import pytest
from omegaconf import OmegaConf

from avrec.cli.hydra_app import compose_config
from avrec.cli.main import main
from avrec.cli.recommend import history_items
from avrec.run import load_run, train

SLICE_USERS = 3


def _tiny_ml100k(source: Path, target: Path) -> Path:
    """Copy the ml-100k files cut to the first three users in file order, their items and those items' KG triples."""
    target.mkdir()
    inter = (source / "ml-100k.inter").read_text(encoding="utf-8").splitlines()
    rows = [line.split("\t") for line in inter[1:]]
    users = set(list(dict.fromkeys(row[0] for row in rows))[:SLICE_USERS])
    items = {row[1] for row in rows if row[0] in users}
    links = [line.split("\t") for line in (source / "ml-100k.link").read_text(encoding="utf-8").splitlines()[1:]]
    entities = {row[1] for row in links if row[0] in items}
    keep = {
        "inter": lambda r: r[0] in users,
        "user": lambda r: r[0] in users,
        "item": lambda r: r[0] in items,
        "link": lambda r: r[0] in items,
        "kg": lambda r: r[0] in entities,
    }
    for suffix, predicate in keep.items():
        lines = (source / f"ml-100k.{suffix}").read_text(encoding="utf-8").splitlines()
        kept = [lines[0]] + [line for line in lines[1:] if predicate(line.split("\t"))]
        (target / f"ml-100k.{suffix}").write_text("\n".join(kept) + "\n", encoding="utf-8")
    return target


def _train_run(data_dir: Path, run_dir: Path, cache_dir: Path, overrides: list[str]) -> Path:
    cfg = compose_config(
        [
            "experiment=bpr",
            f"dataset.data_dir={data_dir}",
            "encoder=[text]",
            "fusion=none",
            "trainer.epochs=1",
            "trainer.progress=false",
            "trainer.device=cpu",
            f"cache_dir={cache_dir}",
            *overrides,
        ]
    )
    train(cfg, run_dir)
    (run_dir / ".hydra").mkdir(exist_ok=True)
    OmegaConf.save(cfg, run_dir / ".hydra" / "config.yaml")
    return run_dir


@pytest.fixture(scope="module")
def runs(ml100k_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A BPR run and a popularity run with a text encoder, sharing one embedding cache."""
    root = tmp_path_factory.mktemp("recommend")
    data_dir = _tiny_ml100k(ml100k_dir, root / "data")
    cache_dir = root / "cache"
    return {
        "bpr": _train_run(data_dir, root / "bpr", cache_dir, ["head=bpr"]),
        "pop": _train_run(data_dir, root / "pop", cache_dir, ["head=pop"]),
    }


def _json_output(capsys, argv: list[str]) -> dict:
    capsys.readouterr()
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("head", ["bpr", "pop"])
def test_recommend_excludes_history(runs, capsys, head: str) -> None:
    experiment = load_run(runs[head])
    user = experiment.dataset.users.raw(0)
    history = history_items(experiment.split, 0)
    n_items = experiment.dataset.n_items
    payload = _json_output(capsys, ["recommend", str(runs[head]), "--user", user, "-k", str(n_items), "--json"])
    returned = {experiment.dataset.items.index(row["item"]) for row in payload["items"]}
    assert history
    assert not returned & history
    assert len(returned) == n_items - len(history)


def test_recommend_rows_are_ranked(runs, capsys) -> None:
    experiment = load_run(runs["bpr"])
    titles = experiment.dataset.item_titles()
    user = experiment.dataset.users.raw(1)
    payload = _json_output(capsys, ["recommend", str(runs["bpr"]), "--user", user, "-k", "5", "--json"])
    scores = [row["score"] for row in payload["items"]]
    assert [row["rank"] for row in payload["items"]] == [1, 2, 3, 4, 5]
    assert scores == sorted(scores, reverse=True)
    assert all(row["title"] == titles[experiment.dataset.items.index(row["item"])] for row in payload["items"])


def test_recommend_prints_table(runs, capsys) -> None:
    user = load_run(runs["bpr"]).dataset.users.raw(0)
    capsys.readouterr()
    assert main(["recommend", str(runs["bpr"]), "--user", user, "-k", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["rank", "item", "score", "title"]
    assert len(lines) == 4


def test_recommend_unknown_user(runs, capsys) -> None:
    capsys.readouterr()
    assert main(["recommend", str(runs["bpr"]), "--user", "no-such-user"]) == 2
    error = capsys.readouterr().err
    assert "Unknown user id 'no-such-user'" in error
    assert "for example: 196" in error


def test_recommend_unknown_numeric_user_names_range(runs, capsys) -> None:
    assert main(["recommend", str(runs["bpr"]), "--user", "100000"]) == 2
    error = capsys.readouterr().err
    assert "Unknown user id '100000'" in error
    assert "User ids are integers between 22 and 196" in error
    assert "Did you mean" not in error


def test_recommend_invalid_k(runs, capsys) -> None:
    assert main(["recommend", str(runs["bpr"]), "--user", "196", "-k", "0"]) == 2
    assert "Invalid -k 0" in capsys.readouterr().err


def test_recommend_not_a_run(tmp_path, capsys) -> None:
    assert main(["recommend", str(tmp_path), "--user", "196"]) == 2
    assert "is not an avrec run directory" in capsys.readouterr().err


def test_search_lists_k_items(runs, capsys) -> None:
    payload = _json_output(capsys, ["search", str(runs["bpr"]), "Toy Story", "-k", "4", "--json"])
    scores = [row["score"] for row in payload["items"]]
    assert len(scores) == 4
    assert scores == sorted(scores, reverse=True)


def test_search_projected_space(runs, capsys) -> None:
    payload = _json_output(capsys, ["search", str(runs["bpr"]), "Toy Story", "-k", "3", "--space", "projected", "--json"])
    assert len(payload["items"]) == 3


def test_search_empty_query(runs, capsys) -> None:
    assert main(["search", str(runs["bpr"]), "   "]) == 2
    assert "search query is empty" in capsys.readouterr().err


def test_search_run_without_text_encoder(runs, tmp_path, capsys) -> None:
    cfg = OmegaConf.load(runs["bpr"] / ".hydra" / "config.yaml")
    cfg.encoder = {"id": {"name": "id", "dim": 0, "init_std": 0.0}}
    (tmp_path / ".hydra").mkdir()
    OmegaConf.save(cfg, tmp_path / ".hydra" / "config.yaml")
    assert main(["search", str(tmp_path), "Star Wars"]) == 2
    assert "has no text encoder (its encoders: id)" in capsys.readouterr().err


@pytest.mark.slow
def test_search_star_wars_on_ml100k(tmp_path, capsys) -> None:
    """The full ml-100k catalogue: both films are in the top 5 for "Star Wars"."""
    overrides = ["encoder=[text]", "fusion=none", "trainer.epochs=1", "trainer.progress=false"]
    cfg = compose_config(["experiment=bpr", *overrides, f"cache_dir={tmp_path / 'cache'}"])
    run_dir = tmp_path / "run"
    train(cfg, run_dir)
    (run_dir / ".hydra").mkdir(exist_ok=True)
    OmegaConf.save(cfg, run_dir / ".hydra" / "config.yaml")
    payload = _json_output(capsys, ["search", str(run_dir), "Star Wars", "-k", "5", "--json"])
    titles = [row["title"] for row in payload["items"]]
    assert "Star Wars (1977)" in titles
    assert "Return of the Jedi (1983)" in titles
