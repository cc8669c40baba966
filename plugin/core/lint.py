"""Apology-quality checks for any letter: used by compose (in the note), the admin preview
and `amends lint`. Pure; each finding has a code, a message and a position in the letter.

The seven parts are recognised by their cues (an apology word, "because"/"what happened",
"I have"/"we will", "so that"/"going forward", "reply"/"let me know", a sign-off), so an
admin's own template passes when it has the parts, whatever its words.

Honesty checks (issue 13): no action claimed as done ("I have refunded") unless the admin's
remedy says it, no absolute promise ("never happen again", "we guarantee"), and no compensation
(voucher, discount, goodwill credit, a percentage back) that neither the rules nor the ticket give.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MIN_WORDS, MAX_WORDS, MAX_APOLOGY_WORDS = 60, 250, 2

APOLOGY_WORDS = re.compile(r"\b(sorry|apologi[sz]e[sd]?|apology|apologies)\b", re.I)
GENERIC_PHRASES = (
    "any inconvenience", "mistakes were made", "sorry if you felt", "sorry, but", "sorry but",
    "we apologize for the inconvenience", "we apologise for the inconvenience", "sorry for the inconvenience",
    "inconvenience this may have caused", "valued customer", "we regret any",
)
PARTS: dict[str, re.Pattern] = {
    "apology": re.compile(r"\b(sorry|apologi[sz]e|apology|regret|I understand|I recognise|I recognize|"
                          r"I can see)\b", re.I),
    "explanation": re.compile(r"\b(because|what happened|the cause|caused by|due to|happened|the reason|"
                              r"held up|went wrong|came from|was the result)\b", re.I),
    "remedy": re.compile(r"\b(I have|I've|I will|I'll|we have|we've|we will|we'll|we are|we're|"
                          r"I am|I'm|refund|replacement|credit|arranged|corrected)\b", re.I),
    "prevention": re.compile(r"\b(so that|to stop|to prevent|to protect|to make sure|going forward|"
                             r"from now on|in future|in the future|again|chang\w*|review\w*)\b", re.I),
    "invitation": re.compile(r"\b(reply|get in touch|let me know|contact me|call me|write back|"
                             r"respond personally)\b", re.I),
    "close": re.compile(r"^(kind regards|best regards|warm regards|regards|best wishes|with thanks|thanks|"
                        r"many thanks|yours sincerely|sincerely|yours faithfully|all the best),?\s*$",
                        re.I | re.M),
}
TEMPLATE_SYNTAX = re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}")
PLACEHOLDER = re.compile(r"\[[a-z][a-z' -]*\]")
NUMBER = re.compile(r"\d+(?:[.,:/-]\d+)*%?")


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    start: int = 0
    end: int = 0

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "start": self.start, "end": self.end}


def lint(letter: str, *, subject: str | None = None, to_fill: tuple[str, ...] | None = None,
         allowed_numbers: set[str] | None = None, given: tuple[str, ...] = (), ticket_text: str = "") -> list[Finding]:
    """Findings for one letter. `to_fill` and `allowed_numbers` switch on the checks that
    need to know the ticket: unlisted placeholders and numbers nobody gave us. `given` are the
    admin's texts (remedy, incident, prevention, compensation offer): what they claim or offer is
    the admin's to say. `ticket_text` is what the customer wrote (a voucher they mention is theirs)."""
    findings: list[Finding] = []
    words = re.findall(r"[A-Za-z0-9'’-]+", letter)
    if not MIN_WORDS <= len(words) <= MAX_WORDS:
        findings.append(Finding("length", f"{len(words)} words; keep letters between {MIN_WORDS} and {MAX_WORDS}",
                                0, len(letter)))
    apologies = list(APOLOGY_WORDS.finditer(letter))
    if len(apologies) > MAX_APOLOGY_WORDS:
        extra = apologies[MAX_APOLOGY_WORDS]
        findings.append(Finding("apology-count", f"{len(apologies)} sorry/apologise words; use at most "
                                f"{MAX_APOLOGY_WORDS}", extra.start(), extra.end()))
    lowered = letter.lower()
    for phrase in GENERIC_PHRASES:
        at = lowered.find(phrase)
        if at >= 0:
            findings.append(Finding("generic", f'generic phrase "{phrase}": name the actual failure',
                                    at, at + len(phrase)))
    if subject is not None and len(subject.split()) < 3:
        findings.append(Finding("subject", "the subject line should name the issue", 0, 0))
    for part, pattern in PARTS.items():
        if not pattern.search(letter):
            findings.append(Finding("missing-part", f"no {part} part found", 0, 0))
    for match in TEMPLATE_SYNTAX.finditer(letter):
        findings.append(Finding("template-syntax", f'raw template syntax "{match.group(0)}"',
                                match.start(), match.end()))
    if to_fill is not None:
        for match in PLACEHOLDER.finditer(letter):
            if match.group(0) not in to_fill:
                findings.append(Finding("unlisted-placeholder", f"{match.group(0)} is not listed under "
                                        "'To fill before sending'", match.start(), match.end()))
    if allowed_numbers is not None:
        for match in NUMBER.finditer(letter):
            token = match.group(0).rstrip("%")
            if token not in allowed_numbers:
                findings.append(Finding("invented-number", f'"{match.group(0)}" appears in neither the ticket '
                                        "nor the settings", match.start(), match.end()))
    return findings + honesty_findings(letter, given, ticket_text, allowed_numbers)


# --- Honesty: nothing claimed as done, promised absolutely or offered that the rules do not give.

# "I have refunded", "we've cancelled", "I have asked ... to", "I have read through": the letter is
# written before anyone acts, so a completed action is only true when the admin's remedy says it.
_IRREGULAR = (r"sent|put|made|given|taken|spoken|written|told|paid|done|set|got|gotten|brought|kept|held|found"
              r"|left|shut|run|begun|read|seen|let|sought|built|rung|gone|shown|chosen|cut|dealt|spent|lent")
_FILLER = r"(?:(?:already|now|just|also|personally|since|today|gone ahead and)\s+)*"
COMPLETED_CLAIMS = (
    re.compile(rf"\b(?:I|we)(?:\s+have|['’]ve)\s+{_FILLER}(?:re-)?(?:(?!been\b|had\b|need\b)\w+ed|{_IRREGULAR}"
               r"|had\s+a\s+(?:look|word|chat))\b", re.I),
    re.compile(rf"\b(?:I|we)\s+{_FILLER}(?:refunded|credited|reimbursed|reversed|arranged|issued|escalated"
               r"|expedited|waived|reinstated|reactivated|unlocked|rebooked|re-?sent)\b", re.I),
    re.compile(rf"(?<!\byou )\b(?:has|have)\s+{_FILLER}been\s+(?:fully\s+)?(?:refunded|credited|reimbursed|reversed"
               r"|cancell?ed|issued|arranged|processed|corrected|fixed|resolved|sorted|escalated|expedited|reset"
               r"|dispatched|approved|waived|applied|released|reinstated|rebooked|replaced|put right|re-?sent)\b",
               re.I),
)
# Words before a claim, in its own clause, that make it a fact about the complaint or a condition:
# "I'm sorry we have kept you waiting", "once it has been refunded", "you should have been told".
NOT_A_CLAIM = re.compile(
    r"\b(?:sorry|apologi\w*|regret|I know|I can see|I see|I understand|I realise|I realize|I recognise|I recognize"
    r"|because|since|as soon as|once|when|whenever|after|until|till|if|unless|whether|how|why|what happened"
    r"|the first|every time|each time|you (?:told|said|wrote|mentioned))\b", re.I)
# "something we've missed", "the mistake we have made": a relative clause, not a report of work done.
RELATIVE_BEFORE = re.compile(r"\b(?:something|anything|everything|nothing|what|whatever|which|who|whom|where"
                             r"|mistakes?|errors?|trouble)\s+$", re.I)
MODAL_BEFORE = re.compile(r"\b(?:should|could|would|must|might|may|will|shall|to|['’]d)\s+(?:not\s+|never\s+)?$",
                          re.I)
CLAUSE_START = re.compile(r"[,;:—–]|\b(?:and|but|so|then)\s+(?=(?:I|we)\b)", re.I)
SENTENCE = re.compile(r"(?:[^.!?\n]|[.!?](?=\S))+(?:[.!?]+|$)", re.M)  # "£2,340.00" is not a sentence end
# Promises nobody can keep.
ABSOLUTE = re.compile(
    r"\b(?:(?:will|shall)\s+never|['’]ll\s+never)\s+(?:again\b|happen|occur|recur|be\s+repeated)\w*(?:\s+again)?"
    r"|\bnever\s+(?:happen|occur|recur)\w*\s+again\b"
    r"|\b(?:won['’]t|will\s+not|shall\s+not|can(?:not|['’]t))\s+(?:ever\s+)?(?:happen|occur|recur)\s+again\b"
    r"|\b(?:I|we)\s+(?:can\s+|will\s+|do\s+|fully\s+|personally\s+)*guarantee\b|\bguarantee\s+(?:that|it|you|this)\b"
    r"|\b(?:is|are|be|it['’]s)\s+guaranteed\b|\bguaranteed\s+(?:to|that|not)\b"
    r"|\b(?:this|it|that|we|you)\s+(?:will|shall|['’]ll)\s+always\b"
    r"|\b100\s?%|\b100\s+per\s?cent\b|\bone\s+hundred\s+per\s?cent\b", re.I)
# Compensation: kinds of goodwill, and amounts offered back.
OFFER_KIND = re.compile(
    r"\b(?:vouchers?|gift\s+cards?|coupons?|discount(?:\s+codes?)?|discounts|goodwill"
    r"|(?:store|account|service)\s+credits?|a\s+credit\s+of|complimentary"
    r"|free\s+(?:delivery|shipping|month|months|year|upgrade|gift|subscription))\b"
    r"|\d\s?%\s+off\b", re.I)
KIND_WORD = re.compile(r"voucher|gift\s+card|coupon|discount|goodwill|credit|complimentary|free|off", re.I)
MONEY_BACK = re.compile(r"\b(?:refund\w*|reimburs\w*|credit\w*|off|back|compensat\w*)\b", re.I)
OFFER_AMOUNT = re.compile(
    r"[$€£]\s?\d[\d,]*(?:\.\d{1,2})?|\b(?:USD|EUR|GBP|CAD|AUD)\s?\d[\d,]*(?:\.\d{1,2})?"
    r"|\b\d[\d,]*(?:\.\d{1,2})?\s?(?:%|percent\b|per\s?cent\b|USD\b|EUR\b|GBP\b|dollars\b|euros\b|pounds\b)", re.I)


def honesty_findings(letter: str, given: tuple[str, ...], ticket_text: str,
                     allowed_numbers: set[str] | None) -> list[Finding]:
    """Completed-action claims, absolute promises and compensation nobody gave us. Placeholders
    are blanked first (their words are the agent's to fill), and the admin's own sentences exempt."""
    text = PLACEHOLDER.sub(lambda m: " " * len(m.group(0)), letter)
    exempt = given_spans(letter, given)
    compensation, offer_amounts = compensation_findings(text, exempt, given, ticket_text, allowed_numbers)
    return claim_findings(text, exempt) + absolute_findings(text, offer_amounts) + compensation


def given_spans(letter: str, given: tuple[str, ...]) -> list[tuple[int, int]]:
    """Where the admin's texts (each of their sentences) appear in the letter, whatever the line breaks."""
    spans = []
    for text in given:
        for piece in re.split(r"(?<=[.!?])\s+", text.strip()):
            if piece.split():
                pattern = r"\s+".join(re.escape(word) for word in piece.split())
                spans += [m.span() for m in re.finditer(pattern, letter)]
    return spans


def _inside(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(s <= start and end <= e for s, e in spans)


def _clause_before(text: str, at: int) -> str:
    """The words of the sentence before `at`, from the last clause break."""
    sentence_start = max((m.end() for m in re.finditer(r"[.!?](?=\s)|\n", text[:at])), default=0)
    before = text[sentence_start:at]
    breaks = list(CLAUSE_START.finditer(before))
    return before[breaks[-1].end():] if breaks else before


def claim_findings(text: str, exempt: list[tuple[int, int]]) -> list[Finding]:
    findings = []
    for pattern in COMPLETED_CLAIMS:
        for match in pattern.finditer(text):
            if _inside(*match.span(), exempt) or any(f.start <= match.start() < f.end for f in findings):
                continue
            clause, just_before = _clause_before(text, match.start()), text[max(0, match.start() - 30):match.start()]
            if NOT_A_CLAIM.search(clause) or MODAL_BEFORE.search(just_before) or RELATIVE_BEFORE.search(just_before):
                continue
            findings.append(Finding("completed-claim", f'"{match.group(0)}" says it is already done; write what you '
                                    'will do ("I will ...") unless the rule\'s remedy says it', *match.span()))
    return findings


def absolute_findings(text: str, offer_amounts: list[tuple[int, int]]) -> list[Finding]:
    return [Finding("absolute-promise", f'"{m.group(0)}" is a promise nobody can keep; say what is changing '
                    "instead", *m.span())
            for m in ABSOLUTE.finditer(text) if not _inside(*m.span(), offer_amounts)]


def compensation_findings(text: str, exempt: list[tuple[int, int]], given: tuple[str, ...], ticket_text: str,
                          allowed_numbers: set[str] | None) -> tuple[list[Finding], list[tuple[int, int]]]:
    """(findings, the spans of every amount offered back). An offer is fine when it is the admin's
    (in `given`) or the customer's own (the ticket's amount, the voucher they mention)."""
    known_words = " ".join((*given, ticket_text)).lower()
    known_numbers = set(re.findall(r"\d+(?:\.\d+)?", " ".join(given).replace(",", ""))) | (allowed_numbers or set())
    findings, offer_amounts = [], []
    for sentence in SENTENCE.finditer(text):
        kinds = [m for m in OFFER_KIND.finditer(text, *sentence.span()) if not _inside(*m.span(), exempt)]
        if not kinds and not MONEY_BACK.search(sentence.group(0)):
            continue
        amounts = list(OFFER_AMOUNT.finditer(text, *sentence.span()))
        offer_amounts += [m.span() for m in amounts]
        unknown = [m for m in amounts if not _inside(*m.span(), exempt)
                   and _unknown_amount(m.group(0), bool(kinds), known_numbers, allowed_numbers is not None)]
        unknown += [m for m in kinds if KIND_WORD.search(m.group(0)).group(0).lower() not in known_words
                    and not NOT_A_CLAIM.search(_clause_before(text, m.start()))]
        if unknown:
            start, end = min(m.start() for m in unknown), max(m.end() for m in unknown)
            findings.append(Finding("unlisted-compensation", f'"{text[start:end]}" offers compensation the rules do '
                                    "not give; offer only what the account's rules allow", start, end))
    return findings, offer_amounts


def _unknown_amount(amount: str, goodwill: bool, known_numbers: set[str], ticket_known: bool) -> bool:
    """A percentage or a goodwill amount must come from the rules or the ticket; an amount refunded
    is checked only when the ticket is known (it may be what the customer paid)."""
    written = re.search(r"\d[\d,]*(?:\.\d+)?", amount).group(0)
    if {written, written.replace(",", ""), written.removesuffix(".00")} & known_numbers:
        return False
    return goodwill or "%" in amount or "cent" in amount.lower() or ticket_known
