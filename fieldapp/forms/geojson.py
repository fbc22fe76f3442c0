"""Choice lists read from a GeoJSON file attached to a form (`select_one_from_file x.geojson`),
as ODK Collect reads them: a FeatureCollection whose every feature is one item.

A feature's `id` (its own, else `properties.id`) is the choice's value and `properties.title`
its label (else its id); every property is a child of the instance item, and the geometry is its
`geometry` child in ODK's text ("lat lon 0 0", points of a line or a polygon's outer ring
joined by "; "), so `instance('x')/root/item[id=${f}]/geometry` reads what Collect reads. A
file that is not such a collection, a feature without an id, an id twice, a geometry ODK
cannot write or a nested property is refused naming the file and the feature.
"""

from __future__ import annotations

import json
from typing import Any

from fieldapp.forms.spec import Choice

__all__ = ["MAX_FEATURES", "GeoJSONError", "geojson_choices", "is_geojson"]

MAX_FEATURES = 50_000  # items on one list: a device searches them as it types
_GEOMETRIES = ("Point", "LineString", "Polygon")


class GeoJSONError(ValueError):
    """The file cannot be a choice list; `column` the item child at fault (`id`), if one."""

    def __init__(self, message: str, column: str | None = None) -> None:
        super().__init__(message)
        self.column = column


def is_geojson(file: str) -> bool:
    return file.lower().endswith(".geojson")


def geojson_choices(text: str, default_language: str) -> list[Choice]:
    """The features of the GeoJSON `text` as choices; raises GeoJSONError naming the feature
    (1-based, as a person counts them) when one cannot be an item."""
    try:
        collection = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GeoJSONError(f"not readable JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        raise GeoJSONError("not a GeoJSON FeatureCollection (its top-level 'type')")
    features = collection.get("features")
    if not isinstance(features, list):
        raise GeoJSONError("the FeatureCollection has no 'features' list")
    if len(features) > MAX_FEATURES:
        raise GeoJSONError(
            f"{len(features):,} features, more than the {MAX_FEATURES:,} a list may hold"
        )
    seen: dict[str, int] = {}
    choices = []
    for number, feature in enumerate(features, start=1):
        try:
            columns = _item(feature)
        except ValueError as exc:
            raise GeoJSONError(f"feature {number}: {exc}") from None
        value = columns.get("id", "")
        if not value:
            raise GeoJSONError(f"feature {number} has no id", "id")
        if value in seen:
            msg = f"id {value!r} appears twice (features {seen[value]} and {number})"
            raise GeoJSONError(msg, "id")
        seen[value] = number
        # a feature without a title is listed (and searched) by its id, not as a blank line
        title = columns.get("title") or value
        choices.append(Choice(value=value, label={default_language: title}, columns=columns))
    return choices


def _item(feature: Any) -> dict[str, str]:
    """The children of the feature's instance item: `geometry`, the properties, then `id`."""
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise ValueError("not a GeoJSON Feature (its 'type')")
    properties = feature.get("properties") or {}
    if not isinstance(properties, dict):
        raise ValueError("'properties' is not an object")
    item: dict[str, str] = {}
    if feature.get("geometry") is not None:
        item["geometry"] = _odk_geometry(feature["geometry"])
    for key, value in properties.items():
        item[key] = _text(key, value)
    if feature.get("id") is not None:
        item["id"] = _text("id", feature["id"])
    return item


def _text(key: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise ValueError(f"property {key!r} is a list or an object: only text and numbers are read")


def _odk_geometry(geometry: Any) -> str:
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    if kind not in _GEOMETRIES:
        raise ValueError(f"geometry {kind!r}: only {', '.join(_GEOMETRIES)} are read")
    coordinates = geometry.get("coordinates")
    try:
        if kind == "Point":
            return _point(coordinates)
        ring = coordinates if kind == "LineString" else (coordinates[0] if coordinates else [])
        return "; ".join(_point(point) for point in ring)
    except (TypeError, IndexError, KeyError):
        raise ValueError(f"geometry {kind}: coordinates are not [longitude, latitude]") from None


def _point(position: Any) -> str:
    longitude, latitude = position[0], position[1]
    if not all(
        isinstance(n, int | float) and not isinstance(n, bool) for n in (longitude, latitude)
    ):
        raise TypeError(position)
    return f"{latitude} {longitude} 0 0"
