"""The customer's explicit requests in a ticket ("refund the extra payment", "before the 21st"). Pure.

Rule-based and cautious on purpose: a part of a sentence counts as a request only when it says
so, with a request word ("please", "I want", "could you", "I expect", ...) or an imperative
("refund me", "cancel my order"), or when it is joined by "and"/"or"/a comma to such a part
("I want the order cancelled and the account locked"). A refund or a manager merely mentioned
("I got a refund last year", "your manager promised") is no ask. Each ask keeps the customer's own
short words, quoted exactly (with brackets made safe, like all ticket text in a letter).

`for_letter` turns the asks into what a letter needs: the ask in the letter's voice ("lock my
account" becomes "lock your account") and its answer, either the commitment the account's rules
allow for that kind or a placeholder for the agent.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from plugin.core.facts import safe
from plugin.models import Ask

MAX_TEXT = 80
MAX_ASKS = 12

_DAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|weekend|mon|tue|wed|thu|fri|sat|sun)"
_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
          r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_ORD = r"\d{1,2}(?:st|nd|rd|th)"
_WHEN = (rf"(?:(?:the )?end of (?:the |this |next )?(?:day|week|month|year)|close of business|eod|cob"
         rf"|(?:this |next |on )?{_DAY}|tomorrow|tonight|today|noon|midday|christmas|new year|next week"
         rf"|(?:the )?{_ORD}(?: of {_MONTH})?|\d{{1,2}}(?:st|nd|rd|th)? (?:of )?{_MONTH}"
         rf"|{_MONTH} \d{{1,2}}(?:st|nd|rd|th)?"
         rf"|\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?|\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}(?::\d{{2}})? ?(?:am|pm))")
_NUM = r"(?:\d+|one|two|three|four|five|six|seven|ten|fourteen|thirty|a|an|twenty-four|forty-eight)"
_NOT_PASSIVE = r"(?:(?!(?:was|were|been|is|being|got|has|had)\b)[\w#-]+ ){0,2}?"
_OBJECTS = "orders?|subscriptions?|bookings?|reservations?|memberships?|renewals?|contracts?|purchases?"

# Per kind, the words that make a request of that kind (searched in lowercase text, ' for ’).
KIND_PATTERNS: dict[str, tuple[str, ...]] = {
    "refund": (
        r"\brefund(?:ed|ing)?\b", r"\breimburs\w*",
        r"\b(?:money|fees?|charges?|costs?|payments?|deposit|amount|difference)\b(?: [^\s]+){0,3}? "
        r"(?:back|returned|refunded|repaid|reimbursed)\b",
        r"\bpay (?:me|us) back\b", r"\breverse (?:the |this |that )?(?:charge|payment|transaction)s?\b",
    ),
    "replacement": (
        r"\breplac(?:e|ed|ement|ements)\b", r"\b(?:exchange|swap)\b", r"\ban alternative\b",
        r"\b(?:another|new|working|correct(?:ed)?|right|undamaged) (?:one|ones|units?|items?|products?|stock|size"
        r"|invoices?|documents?|copy|version|pair)\b",
        r"\b(?:honou?r|restore|reinstate)\w* (?:[\w-]+ ){0,2}?"
        r"(?:original|old|previous|agreed|booked|quoted|advertised)\b",
    ),
    "cancel_order": (
        rf"\bcancel(?:l?ing)? (?:(?:my|the|our|this|that|these|those|both|an|all) )?(?:[\w#-]+ ){{0,2}}?(?:{_OBJECTS}"
        r"|accounts?|it|them)\b",
        rf"\b(?:{_OBJECTS})\b (?:{_NOT_PASSIVE})?cancell?ed\b",
    ),
    "expedite": (
        r"\bexpedit\w*", r"\bspeed (?:\w+ )?up\b", r"\bhurry\b", r"\b(?:faster|quicker|sooner)\b",
        r"\b(?:express|priority|next[- ]day|same[- ]day) (?:delivery|shipping|courier|post|dispatch)\b"
        r"(?! (?:fee|charge|cost|price))",
        r"\b(?:upgrade|switch|send|ship|deliver)\w* (?:\w+ ){0,3}?(?:by |to |with |via )?"
        r"(?:express|priority|next[- ]day|same[- ]day)\b(?! (?:\w+ )?(?:fee|charge|cost|price))",
    ),
    "lock_account": (
        r"\b(?:lock|freeze|block|suspend|disable|secure)\w* (?:down )?(?:(?:my|the|our|this|that) )?(?:[\w-]+ )?"
        r"(?:account|card|profile|login)s?\b",
        rf"\b(?:account|card|profile)s? {_NOT_PASSIVE}(?:locked|frozen|blocked|suspended|disabled|secured)\b",
    ),
    "callback": (
        r"\b(?:call|ring|phone|telephone) (?:me|us)\b(?: back)?", r"\bcall ?-?back\b",
        r"\bgive (?:me|us) a (?:call|ring|phone call)\b", r"\b(?:a |by )?(?:phone|telephone) call\b",
    ),
    "escalate": (
        r"\b(?:manager|supervisor|team lead(?:er)?|someone senior|somebody senior|more senior|senior (?:person|member"
        r"|manager|staff)|complaints? (?:team|department)|escalat\w*)\b",
        r"\b(?:someone|somebody|a person|an agent) else\b", r"\b(?:a )?different (?:agent|person|advis[eo]r)\b",
        r"\bnot (?:the same|you|this) (?:agent|person|advis[eo]r)\b",
    ),
    "deadline": (
        rf"\b(?:by|until|no later than) {_WHEN}\b", rf"\bbefore (?:[\w'-]+ ){{0,4}}?(?:on |by )?{_WHEN}\b",
        rf"\bwithin (?:the next )?{_NUM} (?:working |business )?(?:hours?|days?|weeks?)\b",
        r"\bin time for (?:(?:the|my|our|his|her|their|a) )?[\w'-]+(?: [\w'-]+)?", r"\bthis week\b",
    ),
    "compensation": (
        r"\bcompensat\w*", r"\bgoodwill\b", r"\b(?:voucher|gift card|gift voucher|store credit|account credit)s?\b",
        r"\bcredit (?:on|to|for) (?:my|our|the) account\b", r"\bmake (?:it|this|that) up to (?:me|us)\b",
        r"\b(?:something|some form of|some kind of) (?:\w+ ){0,2}?for (?:the|my|our) (?:trouble|inconvenience|"
        r"time|wasted time|hassle)\b",
    ),
    "explanation": (
        r"\bexplain\w*", r"\bexplanation\b", r"\banswers\b",
        r"\b(?:tell|show) (?:me|us) (?:exactly |urgently )?(?:why|what|how|when|whether|if|who|where)\b",
        r"\blet (?:me|us) know (?:exactly )?(?:why|what|how|when|whether|who|where)\b",
        r"\b(?:know|understand|find out|learn|hear) (?:urgently |exactly |first )?"
        r"(?:why|what|how|whether|if|who|when|where)\b",
    ),
}
_KIND_RES = {kind: tuple(re.compile(p) for p in patterns) for kind, patterns in KIND_PATTERNS.items()}

# Words that turn a part of a sentence into a request (lowercase, ' for ’).
_CUE = re.compile(
    r"\b(?:please|pls|plz|kindly"
    r"|(?:i|we) (?:(?:would|really|just|also|now|still|do|urgently) )?(?:want|need|like|expect|demand|insist|require"
    r"|request|ask)"
    r"|(?:i|we)'d (?:(?:really|also) )?(?:like|want|prefer|appreciate)|(?:i|we) would (?:prefer|appreciate)"
    r"|(?:i'm|i am|we're|we are) (?:asking|requesting|expecting|demanding)"
    r"|(?:can|could|would|will) (?:you|someone|somebody|anyone|we|i|u)|(?:is|would) it (?:be )?possible"
    r"|when (?:will|can|do|should) (?:i|we) (?:get|receive|have|see|expect)"
    r"|make sure|ensure|(?:i|we) must)\b")
# An imperative that opens a part of a sentence: "refund me", "cancel my order", "call me back".
_IMPERATIVE = re.compile(
    r"^(?:(?:so|and|then|just|also|now|but|ok|okay|oh) )*"
    r"(?:refund|reimburse|replace|exchange|swap|send|ship|cancel|call|ring|phone|lock|freeze|block|secure|explain"
    r"|tell|let|escalate|expedite|speed|hurry|compensate|give|get|put|arrange|deliver|transfer|connect|pass"
    r"|honou?r|restore|reinstate|reverse|confirm|contact|have)"
    r" (?:me|us|my|our|the|this|that|these|those|it|them|all|a|an|another|someone|somebody|why|what|how|when"
    r"|whether|your|to)\b")
_NEGATED = re.compile(r"\b(?:don't|dont|do not|never|not|no need to|without)\s+(?:\w+\s+)?$")
# How parts of a sentence are joined; and/or/comma/colon carry a request on to the next part.
_SEPARATOR = re.compile(r"\s*;\s*|\s*:\s*|\s*,\s*(?:(?:and|or|but)\s+)?|\s+(?:and|or|but|because|since|though"
                        r"|although|while|unless|otherwise)\s+")
_CARRIES = re.compile(r"^\s*(?:[,:]\s*)?(?:(?:and|or)\s+)?$")
_WH = ("how", "why", "what", "when", "where", "who", "whether")
_SUBJECT_START = re.compile(r"^(?:i|we|you|he|she|it|they|there|this|that|which|who)(?:'\w+)?\b")
_LEADING = re.compile(r"^(?:(?:please|kindly|pls|just|also|then|now|so|and|or|but|either|if|whether|that|to|you|u"
                      r"|can|could|would|will|i|we|should|may|might|must|really|actually|still|simply)\b[ ,]*)+")
_TRAILING = re.compile(r"(?:[ ,]+(?:please|thanks|thank you|and|or|to|by|with|for|as|at|so))+$|[\s,.;:!?-]+$")
_KNOW_WH = re.compile(r"^(?:to )?(?:know|understand|find out|learn|hear)(?: urgently| exactly| first)? (?=(?:why|what"
                      r"|how|whether|if|who|when|where)\b)")
# Verbs that may open an ask's words: the ask then starts at the verb ("refund the extra payment").
VERBS = frozenset("refund reimburse replace exchange swap send ship cancel call ring phone lock freeze block secure "
                  "explain tell let escalate expedite speed hurry compensate give get put arrange deliver transfer "
                  "connect pass honour honor restore reinstate reverse confirm contact pay sort fix make upgrade "
                  "switch".split())
SELF_VERBS = frozenset("speak talk know understand hear see be have find learn".split())  # "You asked to ..."


@dataclass(frozen=True)
class _Part:
    """A part of one sentence, with its span in the ticket text."""

    start: int
    end: int
    carries: bool  # joined to the part before it by and / or / a comma / a colon


def extract(subject: str, description: str) -> tuple[Ask, ...]:
    """The explicit requests in the ticket, in the order they appear, one per kind unless two are
    clearly different things (other amounts or references, or one about something else)."""
    text = safe(f"{subject or ''}\n{description or ''}")
    shadow = _shadow(text)  # once for the whole ticket: every sentence searches its own span of it
    found: list[tuple[int, Ask]] = []
    for start, end in _sentences(text):
        found += _asks_in_sentence(text, shadow, start, end)
    found.sort(key=lambda item: item[0])
    kept: dict[tuple, Ask] = {}
    for _, ask in found:
        kept.setdefault(_same_ask_key(ask), ask)
    return tuple(kept.values())[:MAX_ASKS]


def _same_ask_key(ask: Ask) -> tuple:
    """Two asks of a kind are the same ask unless their numbers differ or only one is the kind's own wish."""
    return ask.kind, tuple(re.findall(r"\d+", ask.text)), fits_commitment(ask)


def _sentences(text: str):
    start = 0
    for match in re.finditer(r"(?<=[.!?])\s+|\n+", text):
        yield start, match.start()
        start = match.end()
    yield start, len(text)


def _shadow(text: str) -> str:
    """The same text, same length, in lowercase with one kind of apostrophe: what patterns search."""
    return text.lower().replace("’", "'")


def _parts(text: str, start: int, end: int) -> list[_Part]:
    parts, at, carries = [], start, False
    for match in _SEPARATOR.finditer(text, start, end):
        before = text[at:match.start()].split()
        if before and before[-1].lower() in _WH and "and" in match.group(0):
            continue  # "how and when this will be corrected" is one question
        parts.append(_Part(at, match.start(), carries))
        at, carries = match.end(), bool(_CARRIES.match(match.group(0).lower()))
    parts.append(_Part(at, end, carries))
    return [p for p in parts if p.end > p.start]


def _asks_in_sentence(text: str, shadow: str, start: int, end: int) -> list[tuple[int, Ask]]:
    found: list[tuple[int, Ask]] = []
    requesting = False
    for part in _parts(text, start, end):
        piece = shadow[part.start:part.end]
        cues = [m for m in _CUE.finditer(piece)]
        inherits = requesting and part.carries and not _SUBJECT_START.match(piece)
        requesting = bool(cues) or bool(_IMPERATIVE.match(piece)) or inherits
        if requesting:
            found += _asks_in_part(text, shadow, part, [part.start + m.end() for m in cues])
    return found


def _first_matches(shadow: str, part: _Part) -> list[tuple[int, int, str]]:
    """(start, end, kind): each kind's first match in the part, not negated, in order."""
    matches = []
    for kind, patterns in _KIND_RES.items():
        hits = [m for p in patterns for m in [p.search(shadow, part.start, part.end)] if m]
        hits = [m for m in hits if not _NEGATED.search(shadow[max(part.start, m.start() - 24):m.start()])]
        if hits:
            first = min(hits, key=lambda m: m.start())
            matches.append((first.start(), first.end(), kind))
    return sorted(matches)


def _asks_in_part(text: str, shadow: str, part: _Part, cue_ends: list[int]) -> list[tuple[int, Ask]]:
    matches = _first_matches(shadow, part)
    asks = []
    for i, (start, end, kind) in enumerate(matches):
        if kind == "deadline":
            words = text[start:end]
        else:
            stop = next((s for s, _, k in matches[i + 1:] if s >= end), part.end)
            begin = start if _opens_with_verb(shadow, start) else _segment_start(part, cue_ends, matches[:i], start)
            words = _tidy(text[begin:stop], kind)
        if words:
            asks.append((start, Ask(kind, words)))
    return asks


def _opens_with_verb(shadow: str, at: int) -> bool:
    word = re.match(r"[a-z]+", shadow[at:])
    return bool(word) and word.group(0) in VERBS


def _segment_start(part: _Part, cue_ends: list[int], before: list[tuple[int, int, str]], at: int) -> int:
    """Where a noun-led ask's words begin: after the request words and any earlier ask in the part."""
    starts = [part.start] + [c for c in cue_ends if c <= at] + [e for _, e, _ in before if e <= at]
    return max(starts)


def _tidy(words: str, kind: str) -> str:
    """The ask's words without the request words and joiners around them, at most MAX_TEXT characters."""
    lowered = _shadow(words)
    lead = _LEADING.match(lowered.lstrip())
    words = words.lstrip()[lead.end() if lead else 0:]
    if kind == "explanation":
        know = _KNOW_WH.match(_shadow(words))
        words = words[know.end() if know else 0:]
    if len(words) > MAX_TEXT:
        words = words[:MAX_TEXT].rsplit(" ", 1)[0]
    previous = None
    while previous != words:
        previous, words = words, _TRAILING.sub("", words)
    return words.strip()


# --- in the letter -------------------------------------------------------------------------------

# Core words of each kind: only an ask that says them gets the kind's commitment ("honour the
# original terms" is filed under replacement but is no request for a new item).
_CORE = {
    "replacement": re.compile(r"\b(?:replac\w*|another|new|working|correct(?:ed)?|right|undamaged|swap|exchange)\b"),
    "explanation": re.compile(r"\b(?:explain\w*|explanation|answers|why|what|how|when|whether|who|where)\b"),
}
_FALLBACK = {  # the placeholder's subject when the customer's words do not fit in one
    "refund": "the refund", "replacement": "the replacement", "cancel_order": "cancelling the order",
    "expedite": "speeding this up", "lock_account": "locking your account", "callback": "calling you back",
    "escalate": "passing this to a manager", "deadline": "the timing you need", "compensation": "compensation",
    "explanation": "what happened",
}
_SWAPS = {  # the customer's point of view turned to the letter's
    "i'm": "you're", "i am": "you are", "i've": "you've", "i have": "you have", "i was": "you were", "i'd": "you'd",
    "i": "you", "me": "you", "my": "your", "mine": "yours", "myself": "yourself", "we're": "you're",
    "we are": "you are", "we've": "you've", "we have": "you have", "we were": "you were", "we'd": "you'd",
    "we": "you", "us": "you", "our": "your", "ours": "yours", "ourselves": "yourselves", "you're": "we're",
    "you are": "we are", "you've": "we've", "you have": "we have", "you were": "we were", "you will": "we will",
    "you'll": "we'll", "you can": "we can", "you did": "we did", "your": "our", "yours": "ours",
    "yourself": "ourselves", "you": "us",
}
_SWAP_RE = re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, _SWAPS), key=len, reverse=True)) + r")\b", re.I)
_FUNCTION_WORDS = frozenset("the a an of for by before within to about your our my and or with at in from".split())
_DOUBLED = {"get": "getting", "swap": "swapping", "put": "putting", "cancel": "cancelling", "ship": "shipping",
            "stop": "stopping", "let": "letting", "sort": "sorting"}


# "the order cancelled" reads as "the order to be cancelled" after "You asked for".
_GERUNDS = {"cancelled": "cancelling", "canceled": "canceling", "locked": "locking", "frozen": "freezing",
            "blocked": "blocking", "suspended": "suspending", "disabled": "disabling", "secured": "securing",
            "refunded": "refunding", "replaced": "replacing", "returned": "returning", "corrected": "correcting",
            "fixed": "fixing", "sorted": "sorting", "reversed": "reversing", "escalated": "escalating"}
_PARTICIPLE = re.compile(r" (" + "|".join(_GERUNDS) + r")$")


def fits_commitment(ask: Ask) -> bool:
    core = _CORE.get(ask.kind)
    return core is None or bool(core.search(_shadow(ask.text)))


def in_letter_voice(text: str) -> str:
    """The customer's words as the letter says them back: "lock my account" -> "lock your account"."""
    swapped = _SWAP_RE.sub(lambda m: _SWAPS[m.group(0).lower().replace("’", "'")], text.replace("’", "'"))
    first = swapped.split(" ", 1)[0]
    return swapped[:1].lower() + swapped[1:] if first[1:].islower() or len(first) == 1 else swapped


def form(ask: Ask, said: str) -> str:
    """How the letter introduces the ask: when (a deadline), to ("You asked us to ..."), self ("You
    asked to ..."), wh ("You asked why ..."), for ("You asked for ...")."""
    first = said.split(" ", 1)[0].lower()
    if ask.kind == "deadline":
        return "when"
    if first in _WH or first == "if":
        return "wh"
    if first in SELF_VERBS:
        return "self"
    return "to" if first in VERBS else "for"


def placeholder(ask: Ask, said: str, how: str) -> str:
    """[answer about ...] in the customer's words where they fit the placeholder pattern (lowercase
    letters, spaces, apostrophes, hyphens), else in words naming the kind."""
    words = said.lower().split()
    if how in ("to", "self") and words:  # "refund the fee" -> "refunding the fee"
        words[0] = _gerund(words[0])
    elif how == "wh" and words and words[0] == "if":  # "[answer about whether it's worth waiting]"
        words[0] = "whether"
    kept = [w.strip(",.;:!?\"()") for w in words]
    kept = [w for w in kept if re.fullmatch(r"[a-z][a-z'-]*", w)][:10]
    while kept and kept[-1] in _FUNCTION_WORDS:
        kept.pop()
    subject = " ".join(kept) if how != "when" and len(kept) >= 2 else _FALLBACK[ask.kind]
    return f"[answer about {subject}]"


def _gerund(verb: str) -> str:
    if verb in _DOUBLED:
        return _DOUBLED[verb]
    if verb.endswith("e") and not verb.endswith("ee"):
        return verb[:-1] + "ing"
    return verb + "ing"


def for_letter(asks: tuple[Ask, ...], commitment: Callable[[str], str]) -> list[dict]:
    """The letter's `asks`: per ask its kind, the customer's words (`text`), those words in the
    letter's voice (`said`), how to introduce them (`form`) and the `answer`: the rules' commitment
    for its kind (`commitment(kind)`, "" when none) or a placeholder for the agent."""
    result = []
    for ask in asks:
        said = in_letter_voice(ask.text)
        if ask.kind != "deadline" and re.match(r"(?:get|receive) \S", said):
            said = said.split(" ", 1)[1]  # "get my money back" is asked for, not asked of us
        how = form(ask, said)
        done = _PARTICIPLE.search(said) if how == "for" else None
        subject = said
        if done:  # "the order cancelled": "for the order to be cancelled", "[answer about cancelling the order]"
            subject = f"{_GERUNDS[done.group(1)]} {said[:done.start()]}"
            said = f"{said[:done.start()]} to be {done.group(1)}"
        promise = commitment(ask.kind) if fits_commitment(ask) else ""
        result.append({"kind": ask.kind, "text": ask.text, "said": said, "form": how,
                       "answer": promise or placeholder(ask, subject, "for" if done else how),
                       "committed": bool(promise)})
    return result


def note_line(asks: tuple[Ask, ...]) -> str:
    """The note's line naming the asks with the customer's exact words ("" when there are none)."""
    if not asks:
        return ""
    return "The customer asks: " + ", ".join(f'{a.kind} ("{a.text}")' for a in asks)
