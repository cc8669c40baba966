"""bench/learning_curve.py on a small fixture: corrections go through POST /api/feedback, the
account's model is retrained as the worker does, and what it learnt shows on the rest."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from learning_curve import needs_correction, run  # noqa: E402

from plugin.models import Classification  # noqa: E402

BASE = {
    "delivery_delay": ["my parcel has not arrived yet", "the order is two weeks late", "tracking has not moved",
                       "still waiting for my delivery", "where is my package, it is late",
                       "the courier never delivered my order", "my shipment is stuck in transit",
                       "the delivery date passed and nothing came"],
    "billing_error": ["you charged me twice", "there is a wrong fee on my bill", "I was overcharged on my invoice",
                      "double charge on my card", "my statement shows a charge I did not expect",
                      "the invoice total is wrong", "charged after I cancelled", "an unknown fee on my account"],
    "other": ["what time do you open", "do you ship to canada", "thanks for the help", "how do I change my address",
              "can I get a catalogue", "is the store open on sunday", "great service, thank you",
              "where can I find my receipt", "do you have this in blue", "I love the new menu"],
}
BIKE = ["the bike chain snapped on my first ride", "the chain on the new bike snapped after a day",
        "bike chain snapped again, second time this week", "my bike's chain snapped going uphill",
        "the chain snapped and the gears grind on the bike", "new bike, chain snapped within an hour",
        "chain snapped on the bike you sold me", "this bike chain snapped twice already",
        "bike arrived fine but the chain snapped", "the bike chain keeps slipping and then snapped"]


def test_corrections_are_learnt_and_measured_on_the_rest(tmp_path):
    examples = [(text, category) for category, texts in BASE.items() for text in texts]
    # the stream: product faults the base model has never seen, then a few known kinds
    stream = [{"description": text, "category": "product_defect"} for text in BIKE * 3]
    stream += [{"description": t, "category": c} for c, texts in BASE.items() for t in texts[:2]]
    lines = []
    figures = run(stream, [0, 6], examples, seed=3, out=lines.append, ceiling=True)
    assert set(figures) == {0, 6, "ceiling"}
    assert any(line.startswith("6 corrections after") for line in lines)
    assert figures[6]["right-specific"] >= figures[0]["right-specific"] + 0.3, lines
    assert set(figures[0]) == {"coverage", "noise", "specific precision", "right-specific", "general share",
                               "best guess right"}
    assert figures[6]["best guess right"] > figures[0]["best guess right"]  # the bike faults were learnt
    # the ceiling: every message before the rest labelled, right suggestions included
    assert any(line.startswith("ceiling, all ") for line in lines)
    assert figures["ceiling"]["right-specific"] >= figures[0]["right-specific"] + 0.3, lines


def test_what_an_agent_would_correct():
    assert needs_correction("other", Classification("wrong_item", 0.9))
    assert not needs_correction("other", Classification("other", 0.9))
    assert needs_correction("wrong_item", Classification("other", 0.9))
    assert needs_correction("wrong_item", Classification("wrong_item", 0.4, decision="general"))
    assert needs_correction("wrong_item", Classification("damaged_item", 0.9))
    assert not needs_correction("wrong_item", Classification("wrong_item", 0.9))
