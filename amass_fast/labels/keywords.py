"""Actions named by words: in file and folder names, CMU descriptions and BABEL's free-text labels.

Real names join words in several ways, all understood: CamelCase (``walkRightCircle4Steps``, ``TipToe``), "_"
(``jumping_jacks``, ``jumpingjacks_kick``), "-" and spaces (``sitdown_standup-04-chair elbow``), and compounds of an
action word with a direction or another action word (``longjump``, ``sitdown``, ``standup``).
"""
from __future__ import annotations

import functools
import re
from typing import Mapping, Optional, Sequence

from amass_fast.labels.identity import FILE_SUFFIX, dataset_folder

# action -> words and phrases that name it. Words also match their usual inflections (walk: walks, walked,
# walking, walker; run: running; dance: dancing). A phrase beats a single word at the same place ("lay up" is a
# basketball shot, "lay" alone lies down).
_KEYWORDS = {
    "idle": "rom|range of motion|calibration|idle|static|acting|hang out",
    "walk": "walk|carry|stroll|stride|march|sneak|tiptoe|tip toe|limp|stagger|wander|shuffle|navigate|strafe|step|creep|"
            "amble|hike|stomp|waddle",
    "run": "run|jog|scamper|hurry",
    "sprint": "sprint|dash",
    "jump": "jump|hop|leap|skip|hopscotch|flip|backflip|jumpingjack",
    "wave": "wave|greet|salute|hello|goodbye",
    "talk": "talk|call|conversation|chat|explain|gesture|phone|telephone|discuss|argue|quarrel",
    "shout": "shout|yell|scream",
    "whisper": "whisper",
    "sing": "sing|song|nursery rhyme",
    "point": "point",
    "clap": "clap|applaud",
    "batting": "bat|golf|putt|bunt|baseball swing",
    "pitching": "pitch",
    "catching": "catch",
    "running_bases": "base running|run the bases",
    "fielding": "field",
    "throwing": "throw|toss|frisbee",
    "kicking": "kick ball|kick the ball|kick a ball",
    "dribbling": "dribble",
    "shooting": "shoot|free throw|jump shot|lay up|layup",
    "fight": "fight|box|spar|swordplay|sword|fencing|karate|kendo|judo|wrestle|taekwondo|kungfu|brawl|attack",
    "punch": "punch|jab|uppercut|hit|strike",
    "kick": "kick|roundhouse",
    "dodge": "dodge|duck|evade|evasive|avoid",
    "sit": "sit|seat",
    "stand": "stand|pose|balance|t pose|a pose",
    "kneel": "kneel|squat|crouch",
    "lie_down": "lie|lying|lay|sleep|lie down",
    "eating": "eat",
    "drinking": "drink|sip",
    "reading": "read",
    "typing": "type|keyboard",
    "looking_around": "look|search|binoculars",
    "climbing": "climb|ladder|stairs|staircase|upstairs|downstairs|hang",
    "crawling": "crawl",
    "swimming": "swim|stroke|breaststroke|backstroke|fly stroke",
    "flying": "fly|airplane|flap",
    "celebrate": "celebrate|cheer|victory",
    "dance": "dance|salsa|charleston|ballet|waltz|tango|hiphop|hip hop|breakdance|pirouette|arabesque|jete|disco|"
             "samba|moonwalk|freestyle|chacha|cha cha|chicken wings",
    "cry": "cry|sob|weep",
    "laugh": "laugh|giggle",
    "handshake": "handshake|shake hands|shake hand|hand shake|shaking hands",
    "hug": "hug|embrace",
    "high_five": "highfive|high five",
    "fight_stance": "stance|guard|block|defensive",
}
# Words that set a scene rather than name a movement: used only when no word above matches anywhere.
_CONTEXT_KEYWORDS = {
    "walk": "treadmill", "climbing": "playground", "dribbling": "basketball", "kicking": "soccer|football",
    "batting": "baseball|tennis", "throwing": "handball", "fight": "martial", "sit": "motorcycle",
}
# Datasets whose every motion is one kind of action (matched on sequence_key's dataset folder).
_DATASET_ACTIONS = {"dancedb": "dance", "bmlhandball": "throwing"}


def _inflections(word: str) -> set[str]:
    forms = {word, word + "s", word + "es", word + "ed", word + "ing", word + "er", word + "ers"}
    if word.endswith("e"):
        forms |= {word + "d", word[:-1] + "ing", word + "r", word + "rs"}
    if len(word) >= 3 and word[-1] not in "aeiouwxy" and word[-2] in "aeiou" and word[-3] not in "aeiou":
        forms |= {word + word[-1] + suffix for suffix in ("ing", "ed", "er", "ers")}  # run -> running
    return forms


def _build_matcher(table: Mapping[str, str]) -> dict[str, list[tuple[tuple[str, ...], str]]]:
    """first word -> [(the phrase's other words, action)], longest phrases first."""
    matcher: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    for action, alternatives in table.items():
        for phrase in alternatives.split("|"):
            first, *rest = phrase.split()
            for form in _inflections(first) if not rest else {first}:
                matcher.setdefault(form, []).append((tuple(rest), action))
    for entries in matcher.values():
        entries.sort(key=lambda entry: -len(entry[0]))
    return matcher


_MATCHER = _build_matcher(_KEYWORDS)
_CONTEXT_MATCHER = _build_matcher(_CONTEXT_KEYWORDS)


def words(text: str) -> list[str]:
    """Lower-case words of a name or sentence: "HDM_bd_walkRightCircle4Steps" -> hdm bd walk right circle 4 steps."""
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", text)  # "TPose" -> "T Pose"
    return re.findall(r"[a-z]+|\d+", text.lower())


# Words that join an action word in real file names ("longjump", "sitdown", "standup", "sidestep").
_JOINERS = frozenset("up down left right back forward side long high low fast slow turn twist around over on off "
                     "in out place small big one two".split())


# An action word of at least this many letters at either end of a longer token that names nothing else counts as
# that word ("walksideways", "jumpinplace", "catwalk", "airkick"), when what is left has at least _REST_MIN letters.
_EDGE_WORD_MIN, _REST_MIN = 4, 3
_ENDINGS = ("ing", "ed", "er", "ers", "s")  # a word at the end that looks like an ending is taken as one


def _split_compound(token: str, matcher) -> list[str]:
    """A token made of an action word and a joiner, or of two action words, as two tokens; else an action word of
    _EDGE_WORD_MIN letters or more at its start or end and the rest; else the token."""
    if token in matcher or len(token) < 5:
        return [token]
    for i in range(2, len(token) - 1):
        head, tail = token[:i], token[i:]
        if (head in matcher or head in _JOINERS) and (tail in matcher or tail in _JOINERS) and \
                (head in matcher or tail in matcher):
            return [head, tail]
    for i in range(len(token) - _REST_MIN, _EDGE_WORD_MIN - 1, -1):  # the longest action word first
        if token[:i] in matcher:
            return [token[:i], token[i:]]
        if token[-i:] in matcher and not token[-i:].endswith(_ENDINGS):  # "closing" is not "clo" + "sing"
            return [token[:-i], token[-i:]]
    return [token]


def _first_match(tokens: list[str], matcher) -> Optional[str]:
    """The earliest action named in tokens, preferring any other action over idle."""
    tokens = [part for token in tokens for part in _split_compound(token, matcher)]
    fallback = None
    for i, token in enumerate(tokens):
        for rest, action in matcher.get(token, ()):
            if tuple(tokens[i + 1:i + 1 + len(rest)]) == rest:
                if action != "idle":
                    return action
                fallback = fallback or action
                break
    return fallback


def keyword_action(texts: Sequence[str]) -> Optional[str]:
    """The action named in the first of ``texts`` that names one (movement words anywhere beat scene words)."""
    tokenized = [words(text) for text in texts]
    for matcher in (_MATCHER, _CONTEXT_MATCHER):
        for tokens in tokenized:
            action = _first_match(tokens, matcher)
            if action is not None:
                return action
    return None


@functools.lru_cache(maxsize=65536)
def path_action(rel_path: str) -> Optional[str]:
    """The action named by a file's name, else its folders (innermost first), else its dataset; None if none."""
    parts = [p for p in rel_path.replace("\\", "/").split("/") if p]
    if not parts:
        return None
    parts[-1] = FILE_SUFFIX.sub("", parts[-1])
    return keyword_action(parts[::-1]) or _DATASET_ACTIONS.get(dataset_folder(rel_path).lower())
