"""The app's look: one calm palette for light and dark, and the bundled Arabic font."""

from __future__ import annotations

import flet as ft

__all__ = ["ARABIC_FONT", "FONTS", "app_theme"]

# Bundled (assets/fonts, SIL OFL): the web client works offline, so it cannot fetch a font for
# Arabic script from the internet, and Roboto has none.
ARABIC_FONT = "Noto Sans Arabic"
FONTS = {ARABIC_FONT: "fonts/NotoSansArabic-Regular.ttf"}


def app_theme() -> ft.Theme:
    """One calm palette for light and dark.

    The Arabic font is the theme's font in every language: it has no Latin letters, so those
    fall back to the built-in Roboto. (Set on the page from the start: in Flet 1.0.5 a font
    set later, or a container's theme or theme mode, does not reach every control.)
    """
    return ft.Theme(
        color_scheme_seed=ft.Colors.INDIGO,
        visual_density=ft.VisualDensity.STANDARD,
        font_family=ARABIC_FONT,
    )
