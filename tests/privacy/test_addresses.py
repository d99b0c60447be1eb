"""International address blocks (real formats from presidio-research's labelled set), found
from a unit or a country; and what must stay untouched."""

from __future__ import annotations

import pytest

from memgraph_ops.privacy import Scanner
from memgraph_ops.privacy.addresses import find_addresses


def _addresses(text: str) -> list[str]:
    (found,) = Scanner().scan([text])
    return [text[s.start : s.end] for s in found if s.entity == "STREET_ADDRESS"]


@pytest.mark.parametrize(
    ("text", "address"),
    [
        (
            "The letter arrived at 60 Dašická 688\n Apt. 328\n Turkovice u Prelouce\n Bulgaria 83572 last night.",
            "60 Dašická 688\n Apt. 328\n Turkovice u Prelouce\n Bulgaria 83572",
        ),
        (
            "Jason Otila\nGovtribe\n10 Travessa Esmeraldo Neto 1620 Apt. 199, Mata Mourisca, "
            "Saint Vincent and the Grenadines 36907\n22 498317 office",
            "10 Travessa Esmeraldo Neto 1620 Apt. 199, Mata Mourisca, Saint Vincent and the Grenadines 36907",
        ),
        (
            "I'd like to call a taxi to 30 Celso Emilio Ferreiro 90\n Suite 427\n Caspe\n "
            "Trinidad and Tobago 90850. Please call me",
            "30 Celso Emilio Ferreiro 90\n Suite 427\n Caspe\n Trinidad and Tobago 90850",
        ),
        (
            ">Lauren Napolitano\n>81 Duizendmonnikenstraat 189\n>Suite 829\n>Sint Anthonis\n>Togo 12345",
            "81 Duizendmonnikenstraat 189\n>Suite 829\n>Sint Anthonis\n>Togo 12345",
        ),
        ("Miranda Márquez\n\n92 De Lindeboom 105\n Apt. 618\n", "92 De Lindeboom 105\n Apt. 618"),
        ("x 48\n Apt. 401\n HOLUM\n\n Norway 08093", "Apt. 401\n HOLUM\n\n Norway 08093"),  # a blank line
        ("my new address is 80 Gosposka ulica 61\nÚstí nad Labem 2\n, US\n Thailand 60136",
         "80 Gosposka ulica 61\nÚstí nad Labem 2\n, US\n Thailand 60136"),
        ("Andrea Guernon lives at 18 Třebčínská 860, Horka nad Moravou", "18 Třebčínská 860"),
        ("My zip code is 71382", "71382"),
    ],
)  # fmt: skip
def test_an_address_block_is_found_whole(text: str, address: str) -> None:
    assert address in _addresses(text)


@pytest.mark.parametrize(
    "text",
    [
        "In 2019, France won the cup",
        "We run the test suite 3 times in Germany",
        "name,email,phone\nGary Scott,gscott@example.com,1-683-881-3340, Canada",
        "Version 2.1\nReleased in Germany",
        "I moved to France",
        "meet me at 5 pm ok",
        "he lives at home since 2019",
    ],
)
def test_no_address_without_a_street(text: str) -> None:
    assert find_addresses(text) == []
