"""FakeZendesk.chaos(): seeded random faults on the API calls, as bench/chaos.py uses them."""

import time

import pytest
import requests

from tests.fakes.zendesk import FakeZendesk

AUTH = ("agent@example.com/token", "tok")
NOTE = {"ticket": {"comment": {"body": "Our note", "public": False}}}


@pytest.fixture
def fake():
    with FakeZendesk(auto_tickets=True) as fake:
        yield fake


def get_ticket(fake, timeout=5):
    return requests.get(f"{fake.url}/api/v2/tickets/5.json", auth=AUTH, timeout=timeout)


@pytest.mark.parametrize("mode", ["429", "500", "503"])
def test_error_modes_answer_without_applying(fake, mode):
    fake.chaos({mode: 1.0})
    response = requests.put(f"{fake.url}/api/v2/tickets/5.json", auth=AUTH, json=NOTE, timeout=5)
    assert response.status_code == int(mode)
    assert response.headers.get("Retry-After") == ("1" if mode == "429" else None)
    assert fake.note_counts().get(5, 0) == 0
    assert fake.chaos_counts[mode] == 1


def test_drop_applies_then_cuts_the_answer(fake):
    fake.chaos({"drop": 1.0})
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.put(f"{fake.url}/api/v2/tickets/5.json", auth=AUTH, json=NOTE, timeout=5)
    assert fake.note_counts()[5] == 1  # Zendesk stored the note; the caller never read the answer


def test_drip_outlasts_a_read_timeout_until_drip_seconds(fake):
    fake.chaos({"drip": 1.0}, drip_interval=0.1, drip_seconds=0.6)
    started = time.time()
    response = get_ticket(fake, timeout=(1, 0.5))  # each byte comes before the read timeout
    assert response.json()["ticket"]["id"] == 5
    assert 0.5 <= time.time() - started < 3


def test_rates_are_a_seeded_fraction_and_none_stops(fake):
    fake.chaos({"500": 0.25}, seed=3)
    first = [get_ticket(fake).status_code for _ in range(40)]
    fake.chaos({"500": 0.25}, seed=3)
    assert [get_ticket(fake).status_code for _ in range(40)] == first
    assert 0 < first.count(500) < 40
    fake.chaos(None)
    assert get_ticket(fake).status_code == 200
    with pytest.raises(ValueError):
        fake.chaos({"418": 0.1})
