"""The comparison of one request's draws across two runs (tests/speech/engine/draws.py) tells a parting at a near
tie, which float rounding explains, from wrong logits or a wrong draw."""

import pytest
import torch

from speech.engine.sampling import noise_counters
from speech.engine.worker import SpeechRequest
from tests.speech.engine.draws import Draw, Trace, assert_same_speech

COUNTERS = noise_counters(2, 4)
REQUEST = SpeechRequest(text="Hello.")
ONE = torch.ones(1, dtype=torch.long)
GREEDY = {"temperature": torch.ones(1), "topk": ONE, "seed": ONE * 0, "frame_index": ONE}


def _trace(*frames: list[float]) -> Trace:
    """One draw per frame (codebook 0), greedy: the code is the logits' argmax."""
    record = Trace(counters=COUNTERS)
    record.frames[id(REQUEST)] = [
        [Draw(torch.tensor(logits), int(torch.tensor(logits).argmax()), 0, GREEDY)] for logits in frames
    ]
    return record


def test_the_same_draws_never_part():
    alone = _trace([0.1, 0.5, 0.2, 0.0], [0.3, 0.1, 0.0, 0.0])
    among = _trace([0.1, 0.5 + 1e-7, 0.2, 0.0], [0.3, 0.1, 0.0, 0.0])
    assert assert_same_speech(alone, among, REQUEST) is None


def test_a_near_tie_may_part_the_runs_where_it_is():
    alone = _trace([0.1, 0.5, 0.2, 0.0], [0.3, 0.3 - 2e-6, 0.0, 0.0], [0.9, 0.0, 0.0, 0.0])
    among = _trace([0.1, 0.5, 0.2, 0.0], [0.3 - 2e-6, 0.3, 0.0, 0.0], [0.0, 0.0, 0.9, 0.0])
    assert assert_same_speech(alone, among, REQUEST) == 1


def test_logits_apart_beyond_rounding_fail_even_with_the_same_codes():
    alone = _trace([0.1, 0.5, 0.2, 0.0])
    among = _trace([0.1, 0.5, 0.2 + 5e-4, 0.0])
    with pytest.raises(AssertionError):
        assert_same_speech(alone, among, REQUEST)


def test_another_code_from_the_same_logits_fails():
    alone = _trace([0.1, 0.5, 0.2, 0.0])
    among = _trace([0.1, 0.5, 0.2, 0.0])
    among.of(REQUEST)[0][0].code = 2  # what a row sampled with another row's settings could draw
    with pytest.raises(AssertionError):
        assert_same_speech(alone, among, REQUEST)


def test_runs_of_different_lengths_that_never_part_fail():
    with pytest.raises(AssertionError):
        assert_same_speech(_trace([0.1, 0.5, 0.2, 0.0]), _trace([0.1, 0.5, 0.2, 0.0], [0.3, 0.1, 0.0, 0.0]), REQUEST)
