"""Described feelings: a few words from the client turned into a proposed SAM rating.

The client says how they feel ("calmer now, a bit tired", "I'm not anxious anymore");
the therapist types it (``attune feeling SESSION TEXT`` or the channel's ``feeling
TEXT``), Attune proposes a rating, and only the therapist's confirmation (``--confirm``,
the prompt, or ``feeling confirm``) files it as a self-report, used like a SAM rating
(during a session it anchors the estimate, :mod:`attune.sessions.selfreport`). The
words themselves are stored only when ``[session] store_feeling_text = true`` (the
client consented); otherwise only the scores are.

Scoring is local, with no model and no network:

* valence: VADER's compound score (Hutto & Gilbert 2014, ICWSM; the ``vaderSentiment``
  package, MIT licence), which handles negation ("not happy"), intensifiers ("very") and
  contrast ("but"), with a few feeling words it lacks added (:data:`VALENCE_ADDITIONS`);
* arousal: Attune's own small lexicon (``data/arousal_lexicon.tsv``, its sources and
  licence in its header) averaged over the feeling words found, each scaled by an
  intensifier before it ("very" x1.3, "a bit" x0.6) and reversed and damped by a
  negation in the three words before it (x -0.5: "not anxious" is calmer than
  "anxious", not as calm as "calm").

Both scores are on -1..+1 and mapped to SAM 1..9 as ``5 + 4 x``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from attune.engine.affect import unit_to_sam
from attune.engine.protocol import CommandError, parse_command

#: Words that negate a feeling word up to :data:`NEGATION_WINDOW` words after them.
NEGATIONS = frozenset(
    {"not", "no", "never", "without", "hardly", "barely", "nor", "neither", "nothing", "none"}
    | {"isnt", "arent", "wasnt", "dont", "doesnt", "didnt", "cant", "cannot", "wont", "aint"}
)
NEGATION_WINDOW = 3
#: [E] A negated arousal word counts this much of its score, reversed (VADER uses -0.74
#: for valence; arousal of "not anxious" is nearer neutral than "calm").
NEGATION_SCALE = -0.5
#: [E] Intensifiers and dampeners right before a feeling word (VADER's booster idea).
BOOSTERS = {
    "very": 1.3,
    "really": 1.3,
    "so": 1.2,
    "extremely": 1.5,
    "incredibly": 1.5,
    "totally": 1.3,
    "completely": 1.3,
    "quite": 1.1,
    "more": 1.1,
    "bit": 0.6,
    "little": 0.6,
    "slightly": 0.6,
    "somewhat": 0.7,
    "kinda": 0.7,
    "less": 0.5,
}
#: [E] Attune's additions to VADER's lexicon for described feelings (VADER's -4..+4
#: scale; our own values): feeling words it lacks, and "heart", which VADER scores as
#: love (+3.2) but which in a described feeling is the body ("my heart is racing").
VALENCE_ADDITIONS = {
    "heart": 0.0,
    "afraid": -2.2,
    "jittery": -1.2,
    "rushed": -1.0,
    "hurried": -0.8,
    "racing": -0.8,
    "pounding": -1.0,
    "wired": -0.5,
    "settled": 1.2,
    "content": 1.6,
    "cosy": 1.5,
    "cozy": 1.5,
    "grounded": 1.3,
    "centred": 1.1,
    "centered": 1.1,
    "mellow": 1.1,
    "rested": 1.4,
    "chilled": 0.9,
    "quiet": 0.4,
    "drowsy": -0.4,
    "heavy": -0.9,
    "flat": -1.1,
    "down": -1.1,
    "blue": -1.0,
    "listless": -1.4,
}
#: Two-word feelings, joined with ``_`` before the lookup.
BIGRAMS = {("at", "ease"): "at_ease", ("on", "edge"): "on_edge", ("keyed", "up"): "keyed"}


@dataclass(frozen=True)
class FeelingScore:
    """The proposed rating of a described feeling.

    Attributes
    ----------
    arousal, valence : float
        Scores on -1..+1.
    sam_arousal, sam_valence : float
        The same as SAM ratings 1..9.
    words : tuple of str
        The feeling words the arousal score rests on (negated ones prefixed ``not ``).
    """

    arousal: float
    valence: float
    sam_arousal: float
    sam_valence: float
    words: tuple[str, ...]

    def describe(self) -> str:
        """One line for the therapist: the proposal and what it rests on."""
        basis = ", ".join(self.words) if self.words else "no arousal words recognised (neutral)"
        return (
            f"proposed SAM arousal {self.sam_arousal:.1f}, valence {self.sam_valence:.1f} "
            f"(arousal from: {basis})"
        )


@cache
def arousal_lexicon() -> dict[str, float]:
    """Return the arousal lexicon: word -> score in [-1, 1] (``data/arousal_lexicon.tsv``)."""
    text = files("attune.sessions").joinpath("data/arousal_lexicon.tsv").read_text("utf-8")
    out = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        word, value = line.split("\t")
        out[word.strip()] = float(value)
    return out


@cache
def _vader():  # noqa: ANN202 - third-party type
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    analyzer.lexicon.update(VALENCE_ADDITIONS)
    return analyzer


def tokens(text: str) -> list[str]:
    """Lower-case words of ``text``, apostrophes dropped (``isn't`` -> ``isnt``), bigrams joined."""
    words = [w.replace("'", "") for w in re.findall(r"[a-z']+", text.lower().replace("’", "'"))]
    out: list[str] = []
    i = 0
    while i < len(words):
        pair = tuple(words[i : i + 2])
        if pair in BIGRAMS:
            out.append(BIGRAMS[pair])
            i += 2
        else:
            out.append(words[i])
            i += 1
    return out


def score_arousal(text: str) -> tuple[float, tuple[str, ...]]:
    """Arousal of a described feeling on -1..+1 and the words it rests on (0 if none)."""
    lex = arousal_lexicon()
    ws = tokens(text)
    scores, used = [], []
    for i, w in enumerate(ws):
        base = lex.get(w)
        if base is None and w.endswith("s"):
            base = lex.get(w[:-1])
        if base is None:
            continue
        x = base
        before = ws[max(0, i - NEGATION_WINDOW) : i]
        if before and before[-1] in BOOSTERS:
            x *= BOOSTERS[before[-1]]
        negated = any(b in NEGATIONS or b.endswith("nt") and b[:-2] in _AUX for b in before)
        if negated:
            x *= NEGATION_SCALE
        scores.append(max(-1.0, min(1.0, x)))
        used.append(("not " if negated else "") + w)
    if not scores:
        return 0.0, ()
    return float(sum(scores) / len(scores)), tuple(used)


#: Auxiliaries whose ``n't`` form negates (``isn't`` -> ``isnt``), besides :data:`NEGATIONS`.
_AUX = frozenset({"is", "are", "was", "were", "do", "does", "did", "could", "would", "should"})


def score_valence(text: str) -> float:
    """Valence of a described feeling on -1..+1 (VADER's compound score)."""
    return float(_vader().polarity_scores(text)["compound"])


def score_feeling(text: str) -> FeelingScore:
    """Score a described feeling (see the module docstring)."""
    a, words = score_arousal(text)
    v = score_valence(text)
    return FeelingScore(a, v, round(unit_to_sam(a), 1), round(unit_to_sam(v), 1), words)


class FeelingDesk:
    """The session side of ``feeling`` commands: propose a rating, file it when confirmed.

    Wraps the controller's command intake: every other command goes on to
    ``controller.command``; ``feeling TEXT`` replies with a proposal, ``feeling
    confirm`` queues it as a self-report during the session (source ``feeling``, with
    the words only if ``keep_text``), ``feeling cancel`` drops it.

    Parameters
    ----------
    command : callable
        The controller's ``command(line)``.
    self_report : callable
        The controller's ``self_report(arousal, valence, kind, source=, text=)``.
    keep_text : bool
        Store the words (the client consented: ``[session] store_feeling_text``).
    """

    def __init__(
        self,
        command: Callable[[str], None],
        self_report: Callable[..., None],
        *,
        keep_text: bool,
    ) -> None:
        self.command = command
        self.self_report = self_report
        self.keep_text = keep_text
        self.pending: tuple[FeelingScore, str] | None = None
        self.events: list[str] = []

    def submit(self, line: str) -> dict[str, object] | None:
        """Handle one command line; a dict of reply fields for ``feeling`` commands.

        Raises
        ------
        CommandError
            As the controller does, and for ``feeling confirm`` without a proposal.
        """
        words = line.strip().split(maxsplit=1)
        if not words or words[0].lower() != "feeling":
            self.command(line)
            return None
        _verb, (text,) = parse_command(line)
        word = text.strip().lower()
        if word == "confirm":
            if self.pending is None:
                raise CommandError("feeling confirm: no proposal to confirm (send 'feeling TEXT')")
            score, said = self.pending
            self.self_report(
                score.sam_arousal,
                score.sam_valence,
                "during",
                source="feeling",
                text=said if self.keep_text else None,
            )
            self.pending = None
            self.events.append(
                f"feeling confirmed: SAM arousal {score.sam_arousal:.1f}, "
                f"valence {score.sam_valence:.1f}"
            )
            return {"reply": "stored as a self-report during the session"}
        if word == "cancel":
            self.pending = None
            return {"reply": "proposal dropped"}
        score = score_feeling(text)
        self.pending = (score, text)
        self.events.append(f"feeling proposed: {score.describe()}")
        return {
            "reply": score.describe() + "; send 'feeling confirm' to store it",
            "proposal": {"arousal": score.sam_arousal, "valence": score.sam_valence},
        }

    def take_events(self) -> list[str]:
        """Return and clear the events since the last call."""
        out, self.events = self.events, []
        return out
