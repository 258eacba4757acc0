"""Text segmentation: sentence ends, long clauses, the final flush, chunks cut anywhere."""

import random

import pytest

from speech.engine.text import LONG_CHARS, MAX_CHARS, Segmented, segment_text, split_sentences


def feed(chunks: list[str], *, final: bool = True) -> list[list[str]]:
    """The segments each chunk makes ready, feeding them one after the other like a session does."""
    rest = ""
    out = []
    for index, chunk in enumerate(chunks):
        result = segment_text(rest + chunk, is_final=final and index == len(chunks) - 1)
        out.append(result.segments)
        rest = result.rest
    assert rest == "" or not final
    return out


def test_text_waits_for_a_sentence_end():
    assert segment_text("Hello there, how are", is_final=False) == Segmented([], "Hello there, how are")


def test_a_sentence_end_makes_a_segment_and_keeps_the_rest():
    assert segment_text("Hello there. How are", is_final=False) == Segmented(["Hello there."], "How are")


def test_several_sentences_are_separate_segments_in_order():
    result = segment_text("One! Two? Three… Four.", is_final=False)
    assert result == Segmented(["One!", "Two?", "Three…", "Four."], "")


def test_closing_quotes_and_brackets_stay_with_their_sentence():
    result = segment_text('He said "stop." (Really!) Then', is_final=False)
    assert result.segments == ['He said "stop."', "(Really!)"]
    assert result.rest == "Then"


def test_final_flushes_everything_left():
    assert segment_text("no punctuation at all", is_final=True) == Segmented(["no punctuation at all"], "")
    assert segment_text("Done. and the tail", is_final=True).segments == ["Done.", "and the tail"]


def test_final_with_nothing_left_makes_no_segment():
    assert segment_text("   ", is_final=True) == Segmented([], "")
    assert segment_text("", is_final=False) == Segmented([], "")


def test_segments_without_words_are_dropped():
    assert segment_text("Wait... ... !", is_final=True).segments == ["Wait..."]


def test_decimal_point_at_the_end_of_a_chunk_waits_for_more():
    assert feed(["It costs 3.", "14 dollars. Bye"], final=False) == [[], ["It costs 3.14 dollars."]]


def test_period_after_a_digit_followed_by_space_ends_the_sentence():
    assert segment_text("Chapter 3. Next", is_final=False).segments == ["Chapter 3."]


@pytest.mark.parametrize("size", [1, 2, 3, 7])
def test_chunk_boundaries_anywhere_give_the_same_segments(size):
    text = "Hello world. This is a test, with clauses; and more! Last words"
    chunks = [text[i : i + size] for i in range(0, len(text), size)]
    segments = [segment for ready in feed(chunks) for segment in ready]
    assert segments == ["Hello world.", "This is a test, with clauses; and more!", "Last words"]


def test_tokens_with_leading_spaces_join_into_words():
    assert feed(["Hel", "lo", " wor", "ld.", " Next", " one"]) == [[], [], [], ["Hello world."], [], ["Next one"]]


def test_a_long_sentence_is_cut_at_its_last_clause_boundary():
    head = "word " * 30 + "first clause, " + "more " * 20 + "second clause; "
    text = head + "tail without end"
    assert len(text) > LONG_CHARS
    result = segment_text(text, is_final=False)
    assert result.segments == [head.strip()]
    assert result.rest == "tail without end"


def test_a_short_unfinished_sentence_is_not_cut_at_clauses():
    text = "First clause, second clause, third"
    assert segment_text(text, is_final=False) == Segmented([], text)


def test_a_long_sentence_without_clauses_is_cut_at_a_space_once_it_reaches_the_maximum():
    words = "abcd " * 50  # 250 chars: long, but below the maximum
    assert segment_text(words, is_final=False).segments == []
    text = "abcd " * 70  # 350 chars
    result = segment_text(text, is_final=False)
    assert len(result.segments) == 1
    assert len(result.segments[0]) <= MAX_CHARS
    assert (result.segments[0] + " " + result.rest).split() == text.split()


def test_text_without_spaces_is_cut_at_the_maximum():
    result = segment_text("x" * (MAX_CHARS + 10), is_final=False)
    assert result.segments == ["x" * MAX_CHARS]
    assert result.rest == "x" * 10


def test_splits_at_sentence_ends_keeping_closing_quotes():
    text = 'Hello there. How are you? I am fine!  She said "really." Costs 3.5 pounds.'
    assert split_sentences(text) == [
        "Hello there.",
        "How are you?",
        "I am fine!",
        'She said "really."',
        "Costs 3.5 pounds.",
    ]


def test_long_sentences_are_cut_at_clauses_then_words():
    text = ", ".join(["a clause of several words"] * 40) + "."
    pieces = split_sentences(text, max_chars=100)
    assert all(len(piece) <= 100 for piece in pieces)
    assert " ".join(pieces).replace(" ", "") == text.replace(" ", "")


def test_blank_text_gives_nothing():
    assert split_sentences("   ") == []


def test_a_sentence_too_long_to_speak_whole_is_cut_even_when_it_ends():
    sentence = " ".join(["word"] * 100) + "."  # 500 characters, ended
    result = segment_text(sentence + " Next", is_final=False)
    assert all(len(segment) <= MAX_CHARS for segment in result.segments)
    assert " ".join(result.segments) == sentence
    assert result.rest == "Next"


def test_the_engine_speaks_each_streamed_segment_as_one_piece():
    rng = random.Random(7)
    words = ["alpha", "beta,", "gamma;", "delta.", "epsilon", "zeta!", "eta", "theta:", "3.", "14", "iota?"]
    for _ in range(300):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 150)))
        for segment in segment_text(text, is_final=True).segments:
            assert split_sentences(segment) == [segment]


def test_a_whole_text_is_cut_only_where_it_cannot_be_spoken_whole():
    clauses = "one clause, " * 20 + "and the end"  # 251 characters, no sentence end
    assert split_sentences(clauses) == [clauses]
