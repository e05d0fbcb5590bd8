"""Described feelings scored by a local lexicon, negations included (issue 19, must-show 2)."""

import pytest

from attune.sessions.feelings import (
    FeelingDesk,
    arousal_lexicon,
    score_arousal,
    score_feeling,
    score_valence,
    tokens,
)

#: (sentence, valence sign, arousal sign): what a reader would say, 0 = about neutral.
SENTENCES = [
    ("I am happy", +1, +1),
    ("not happy", -1, None),
    ("I'm not happy at all", -1, None),
    ("very calm", +1, -1),
    ("I feel calm and relaxed", +1, -1),
    ("I'm not anxious anymore", +1, -1),
    ("I feel anxious", -1, +1),
    ("so tense and stressed", -1, +1),
    ("I don't feel calm at all", -1, +1),
    ("sleepy and bored", -1, -1),
    ("terrified, my heart is racing", -1, +1),
    ("I feel at ease now", +1, -1),
    ("sad and tired", -1, -1),
    ("excited and happy", +1, +1),
    ("not stressed, just a bit tired", None, -1),
    ("angry and frustrated", -1, +1),
    ("peaceful", +1, -1),
]


@pytest.mark.parametrize(("text", "valence", "arousal"), SENTENCES)
def test_sentences_score_in_the_right_direction(text, valence, arousal):
    s = score_feeling(text)
    if valence is not None:
        assert s.valence * valence > 0.05, (text, s)
        assert (s.sam_valence - 5) * valence > 0
    if arousal is not None:
        assert s.arousal * arousal > 0.05, (text, s)
        assert (s.sam_arousal - 5) * arousal > 0


def test_negation_reverses_and_damps():
    assert score_valence("not happy") < 0 < score_valence("happy")
    anxious, _ = score_arousal("anxious")
    not_anxious, words = score_arousal("I'm not anxious anymore")
    calm, _ = score_arousal("calm")
    assert calm < not_anxious < 0 < anxious  # calmer than anxious, not as calm as calm
    assert words == ("not anxious",)
    assert score_arousal("I wasn't nervous")[0] < 0 < score_arousal("I was nervous")[0]
    assert score_arousal("I couldn't relax")[0] > 0


def test_intensifiers_scale():
    assert score_arousal("very calm")[0] < score_arousal("calm")[0] < score_arousal("a bit calm")[0]
    assert score_arousal("extremely tense")[0] == 1.0 or score_arousal("extremely tense")[0] > 0.9


def test_unknown_words_are_neutral_and_said_so():
    s = score_feeling("the weather is grey today")
    assert s.arousal == 0.0 and s.words == () and s.sam_arousal == 5.0
    assert "no arousal words recognised" in s.describe()


def test_tokens_and_lexicon():
    assert tokens("I’m on edge, isn't it") == ["im", "on_edge", "isnt", "it"]
    lex = arousal_lexicon()
    assert len(lex) > 100 and all(-1.0 <= v <= 1.0 for v in lex.values())
    assert lex["calm"] < 0 < lex["excited"]


def test_scores_map_onto_the_sam_scale():
    s = score_feeling("very calm and peaceful")
    assert 1.0 <= s.sam_arousal < 3.0 and 5.0 < s.sam_valence <= 9.0
    assert s.sam_arousal == round(5 + 4 * s.arousal, 1)


def test_desk_passes_other_commands_on_and_cancels():
    got = []
    desk = FeelingDesk(got.append, lambda *a, **k: got.append(("report", a, k)), keep_text=False)
    assert desk.submit("pause") is None and got == ["pause"]
    reply = desk.submit("feeling tense")
    assert reply is not None and reply["proposal"]["arousal"] > 5  # type: ignore[index]
    assert desk.submit("feeling cancel") == {"reply": "proposal dropped"}
    assert desk.pending is None and got == ["pause"]
    desk.submit("feeling calm")
    desk.submit("feeling confirm")
    (_, args, kw) = got[-1]
    assert args[2] == "during" and kw == {"source": "feeling", "text": None}
