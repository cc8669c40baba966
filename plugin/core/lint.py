"""Apology-quality checks for any letter: used by compose (in the note), the admin preview
and `amends lint`. Pure; each finding has a code, a message and a position in the letter.

The seven parts are recognised by their cues (an apology word, "because"/"what happened",
"I have"/"we will", "so that"/"going forward", "reply"/"let me know", a sign-off), so an
admin's own template passes when it has the parts, whatever its words.
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
         allowed_numbers: set[str] | None = None) -> list[Finding]:
    """Findings for one letter. `to_fill` and `allowed_numbers` switch on the checks that
    need to know the ticket: unlisted placeholders and numbers nobody gave us."""
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
    return findings
