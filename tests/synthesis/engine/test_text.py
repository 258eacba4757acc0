from synthesis.engine.text import split_sentences


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
