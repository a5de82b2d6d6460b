"""Free-text search over real ml-100k titles through the text encoder and the FAISS index."""

from __future__ import annotations

from avrec.cli.search import search_items
from avrec_text.configs import TextEncoderConfig
from avrec_text.encoder import TextEncoder

STAR_WARS_IDS = ("50", "172", "181")


def _catalogue(ml100k_titles: dict[str, str]) -> list[str]:
    """The first 40 ml-100k titles plus the three original Star Wars films."""
    first = [title for item, title in list(ml100k_titles.items())[:40]]
    return first + [ml100k_titles[item] for item in STAR_WARS_IDS]


def test_star_wars_query_finds_both_films(make_context, ml100k_titles) -> None:
    titles = _catalogue(ml100k_titles)
    encoder = TextEncoder(TextEncoderConfig(), make_context(titles))
    items, _ = search_items(encoder, "Star Wars", 5)
    found = [titles[i] for i in items]
    assert "Star Wars (1977)" in found
    assert "Return of the Jedi (1983)" in found


def test_search_scores_descend(make_context, ml100k_titles) -> None:
    encoder = TextEncoder(TextEncoderConfig(), make_context(_catalogue(ml100k_titles)))
    _, scores = search_items(encoder, "Toy Story", 5)
    assert list(scores) == sorted(scores, reverse=True)


def test_projected_search_returns_k(make_context, ml100k_titles) -> None:
    encoder = TextEncoder(TextEncoderConfig(), make_context(_catalogue(ml100k_titles)))
    items, _ = search_items(encoder, "Toy Story", 5, space="projected")
    assert len(items) == 5


def test_search_skips_items_without_text(make_context) -> None:
    titles = ["", "Heat (1995)", ""]
    encoder = TextEncoder(TextEncoderConfig(), make_context(titles))
    items, _ = search_items(encoder, "Heat", 3)
    assert items.tolist() == [1]
