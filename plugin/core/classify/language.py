"""Which language a ticket is written in, cheaply: common function words and scripts. Pure.

Only used to route non-English tickets to `other` until letters exist in more
languages, so it needs to tell English from the rest, and name the rest.
"""

from __future__ import annotations

import re

STOPWORDS = {
    "en": "the and is it to my of for i you not was have this that with on your me please order".split(),
    "es": "el la los las que de y es mi mis por para pero no con una un pedido gracias hola está".split(),
    "fr": "le la les des est et je mon ma mes pas une un pour avec vous commande merci bonjour".split(),
    "de": "der die das und ist ich nicht mein meine ein eine mit für sie bestellung danke hallo".split(),
    "pt": "o a os as que de e é meu minha não um uma para com pedido obrigado olá".split(),
    "it": "il la che di e è mio mia non un una per con ordine grazie ciao sono".split(),
    "nl": "de het een en is ik niet mijn met voor van bestelling bedankt hallo".split(),
}
NAMES = {"en": "English", "es": "Spanish", "fr": "French", "de": "German", "pt": "Portuguese", "it": "Italian",
         "nl": "Dutch", "ru": "Russian", "ar": "Arabic", "zh": "Chinese", "ja": "Japanese", "ko": "Korean",
         "el": "Greek", "he": "Hebrew", "hi": "Hindi", "th": "Thai"}
SCRIPTS = (("ru", r"[\u0400-\u04FF]"), ("ar", r"[\u0600-\u06FF]"), ("ja", r"[\u3040-\u30FF]"),
           ("zh", r"[\u4E00-\u9FFF]"), ("ko", r"[\uAC00-\uD7AF]"), ("el", r"[\u0370-\u03FF]"),
           ("he", r"[\u0590-\u05FF]"), ("hi", r"[\u0900-\u097F]"), ("th", r"[\u0E00-\u0E7F]"))
_SETS = {lang: frozenset(words) for lang, words in STOPWORDS.items()}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


_LANGS_OF: dict[str, tuple[str, ...]] = {}
for _lang, _words in _SETS.items():
    for _w in _words:
        _LANGS_OF[_w] = _LANGS_OF.get(_w, ()) + (_lang,)
_SCRIPT_PATTERNS = tuple((lang, re.compile(pattern)) for lang, pattern in SCRIPTS)


def detect(text: str) -> str:
    """An ISO 639-1 code; 'en' when unsure (short texts, names, order numbers)."""
    if not text.isascii():  # ASCII cannot be in another script: skip the script count
        letters = sum(c.isalpha() for c in text)
        for lang, pattern in _SCRIPT_PATTERNS:
            if letters and len(pattern.findall(text)) > letters * 0.3:
                return lang
    hits = dict.fromkeys(_SETS, 0)
    for word in _WORD.findall(text.lower()):
        for lang in _LANGS_OF.get(word, ()):
            hits[lang] += 1
    best = max(hits, key=hits.get)
    if best != "en" and hits[best] >= 3 and hits[best] > 2 * hits["en"]:
        return best
    return "en"


def name(code: str) -> str:
    return NAMES.get(code, code)
