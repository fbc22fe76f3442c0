"""Message catalogue: every message a person reads, in English, French, Spanish and Arabic."""

from __future__ import annotations

__all__ = ["LANGUAGES", "RTL_LANGUAGES", "message"]

LANGUAGES: dict[str, str] = {"en": "English", "fr": "Français", "es": "Español", "ar": "العربية"}
RTL_LANGUAGES: frozenset[str] = frozenset({"ar"})

_CATALOGUE: dict[str, dict[str, str]] = {
    "required": {
        "en": "{label}: an answer is required.",
        "fr": "{label} : une réponse est obligatoire.",
        "es": "{label}: se requiere una respuesta.",
        "ar": "{label}: الإجابة مطلوبة.",
    },
    "constraint": {
        "en": "{label}: the answer is not allowed.",
        "fr": "{label} : la réponse n'est pas acceptée.",
        "es": "{label}: la respuesta no es válida.",
        "ar": "{label}: الإجابة غير مقبولة.",
    },
    "constraint_custom": {
        "en": "{label}: {detail}",
        "fr": "{label} : {detail}",
        "es": "{label}: {detail}",
        "ar": "{label}: {detail}",
    },
    "type_integer": {
        "en": "{label}: enter a whole number.",
        "fr": "{label} : saisissez un nombre entier.",
        "es": "{label}: introduzca un número entero.",
        "ar": "{label}: أدخل عددًا صحيحًا.",
    },
    "type_decimal": {
        "en": "{label}: enter a number.",
        "fr": "{label} : saisissez un nombre.",
        "es": "{label}: introduzca un número.",
        "ar": "{label}: أدخل رقمًا.",
    },
    "type_date": {
        "en": "{label}: enter a date as YYYY-MM-DD.",
        "fr": "{label} : saisissez une date au format AAAA-MM-JJ.",
        "es": "{label}: introduzca una fecha como AAAA-MM-DD.",
        "ar": "{label}: أدخل التاريخ بالصيغة YYYY-MM-DD.",
    },
    "type_datetime": {
        "en": "{label}: enter a date and time (YYYY-MM-DDTHH:MM).",
        "fr": "{label} : saisissez une date et une heure (AAAA-MM-JJTHH:MM).",
        "es": "{label}: introduzca fecha y hora (AAAA-MM-DDTHH:MM).",
        "ar": "{label}: أدخل التاريخ والوقت (YYYY-MM-DDTHH:MM).",
    },
    "type_boolean": {
        "en": "{label}: answer yes or no.",
        "fr": "{label} : répondez oui ou non.",
        "es": "{label}: responda sí o no.",
        "ar": "{label}: أجب بنعم أو لا.",
    },
    "type_text": {
        "en": "{label}: enter text.",
        "fr": "{label} : saisissez du texte.",
        "es": "{label}: introduzca texto.",
        "ar": "{label}: أدخل نصًا.",
    },
    "text_too_long": {
        "en": "{label}: the text is too long (at most {limit} characters).",
        "fr": "{label} : le texte est trop long ({limit} caractères au plus).",
        "es": "{label}: el texto es demasiado largo (máximo {limit} caracteres).",
        "ar": "{label}: النص طويل جدًا (الحد الأقصى {limit} حرفًا).",
    },
    "type_geopoint": {
        "en": "{label}: enter a location as latitude and longitude.",
        "fr": "{label} : saisissez une position (latitude et longitude).",
        "es": "{label}: introduzca una ubicación (latitud y longitud).",
        "ar": "{label}: أدخل الموقع بخط العرض وخط الطول.",
    },
    "choice": {
        "en": "{label}: '{value}' is not one of the choices.",
        "fr": "{label} : « {value} » ne fait pas partie des choix.",
        "es": "{label}: '{value}' no es una de las opciones.",
        "ar": "{label}: '{value}' ليس من الخيارات.",
    },
    "choice_unnamed": {
        "en": "{label}: the answer is not one of the choices.",
        "fr": "{label} : la réponse ne fait pas partie des choix.",
        "es": "{label}: la respuesta no es una de las opciones.",
        "ar": "{label}: الإجابة ليست من الخيارات.",
    },
    "type_repeat": {
        "en": "{label}: expected a list of entries.",
        "fr": "{label} : une liste d'entrées est attendue.",
        "es": "{label}: se esperaba una lista de entradas.",
        "ar": "{label}: مطلوب قائمة من الإدخالات.",
    },
    "repeat_min": {
        "en": "{label}: at least {count} entries are required.",
        "fr": "{label} : au moins {count} entrées sont requises.",
        "es": "{label}: se requieren al menos {count} entradas.",
        "ar": "{label}: مطلوب {count} إدخالات على الأقل.",
    },
    "repeat_max": {
        "en": "{label}: at most {count} entries are allowed.",
        "fr": "{label} : {count} entrées au plus sont autorisées.",
        "es": "{label}: se permiten como máximo {count} entradas.",
        "ar": "{label}: مسموح بـ {count} إدخالات كحد أقصى.",
    },
    "unknown_field": {
        "en": "{label}: this form has no such question.",
        "fr": "{label} : ce formulaire n'a pas cette question.",
        "es": "{label}: este formulario no tiene esa pregunta.",
        "ar": "{label}: لا يحتوي هذا النموذج على هذا السؤال.",
    },
}


def message(key: str, lang: str, **params: object) -> str:
    """The message `key` in `lang` (English when the language is missing), filled in."""
    texts = _CATALOGUE[key]
    return texts.get(lang, texts["en"]).format(**params)
