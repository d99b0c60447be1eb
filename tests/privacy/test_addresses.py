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
        # a region and postal code close the block (`nan`: a region that was left empty)
        ("The address of Whitby Group is 07 Sterre der Zeestraat 197\nKÖPMANHOLMEN, nan 76457",
         "07 Sterre der Zeestraat 197\nKÖPMANHOLMEN, nan 76457"),
        ("As promised, here's Viktor's address:\n\n07 Hansinegata 120\nSPRINGDALE HEIGHTS\n, NSW\n 53218",
         "07 Hansinegata 120\nSPRINGDALE HEIGHTS\n, NSW\n 53218"),
        ("Dr. Katie Giles Apt. 276 27 Sorlaskeid 32\nHafnafjörður nan 60644",
         "Apt. 276 27 Sorlaskeid 32\nHafnafjörður nan 60644"),
        # a real chat message (hh-rlhf)
        ("I believe the address you want is 1190 Master’s Drive, Glen Mills, PA 19342. Is that correct?",
         "1190 Master’s Drive, Glen Mills, PA 19342"),
        # the town after a unit on its line; a country named without its parenthesis
        ("The letter arrived at 11 Rookopli 96 Apt. 478 Uralaane Valgamaa last night.",
         "11 Rookopli 96 Apt. 478 Uralaane Valgamaa"),
        ("How do I change my address to 49 Via Nizza 60\n Apt. 061\n Vascon\n Slovakia 65695 for post mail?",
         "49 Via Nizza 60\n Apt. 061\n Vascon\n Slovakia 65695"),
        ("Douglas Lundin\n24 320 St Marys Rd\n Apt. 389\n Winnipeg\n Argentina",
         "24 320 St Marys Rd\n Apt. 389\n Winnipeg\n Argentina"),
        # a crossing
        ("i'd like to call a taxi to the corner of siikasaarentie 19 and matković street. please call",
         "the corner of siikasaarentie 19 and matković street"),
        # streets named by their type, with no block around them
        ("Pedestrians must enter on Freistädter Strasse 61 St. the first three months", "Freistädter Strasse 61"),
        ("Filip lives on Nassaustraat 123 street.", "Nassaustraat 123"),
        ("The title refers to 87 Rue Joseph Vernet street in BAR-LE-DUC.", "87 Rue Joseph Vernet"),
        ("The title refers to Dózsa György út 78. street in Egerlövô.", "Dózsa György út 78"),
        ("Please return to Malou and Λεωφόρος Β. Αλεξάνδρου 189 in case of an issue.",
         "Λεωφόρος Β. Αλεξάνδρου 189"),
        ("The letter arrived at 92 C/ Manuel Iradier 77 last night.", "92 C/ Manuel Iradier 77"),
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
        "people in 2019.  By comparison, the United States has more",
        "We sent the forms via Email 5 times",
        "The 5th Brigade 2 km north, the Christie 3 case",
        "Total: 12 items, may 2020",
        "Order 4411 shipped, jan 2019",
    ],
)
def test_no_address_without_a_street(text: str) -> None:
    assert find_addresses(text) == []
