"""Choice lists from GeoJSON files (`select_one_from_file places.geojson`), read as ODK Collect
reads them: each feature an item whose `id` is the value, `title` the label, every property
and the geometry (ODK's "lat lon 0 0" text) a child expressions read; shown as a searchable
list (no map here: a warning naming the row); a file that cannot be such a list refused by
name at every row that reads it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from fieldapp.forms.attachments import AttachmentError, bind, file_choices
from fieldapp.forms.choices import visible_choices
from fieldapp.forms.files import MAX_FILE_BYTES
from fieldapp.forms.geojson import MAX_FEATURES
from fieldapp.forms.validate import check
from fieldapp.office.xlsform import XLSFormError, import_form
from tests.test_xlsform import write_xlsform

REAL = Path(__file__).parent / "fixtures" / "xlsforms_real"


def feature(geometry: dict[str, Any] | None, fid: str | None = None, **properties: Any) -> dict:
    found: dict[str, Any] = {"type": "Feature", "geometry": geometry, "properties": properties}
    if fid is not None:
        found["id"] = fid
    return found


def point(longitude: float, latitude: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [longitude, latitude]}


PLACES = {
    "type": "FeatureCollection",
    "features": [
        feature(point(36.82, -1.29), "w1", title="Kenyatta clinic", kind="clinic", beds=12),
        feature(point(36.9, -1.3), None, id="w2", title="Mbagathi hospital", kind="hospital"),
        feature(None, "w4", kind="clinic"),  # no title, no geometry
        feature(
            {"type": "LineString", "coordinates": [[36.8, -1.2], [36.81, -1.21]]},
            "w3",
            title="Access road",
            kind="road",
            name="Ngong road",
        ),
    ],
}


def write_places_form(directory: Path, places: dict | str | bytes | None = None) -> Path:
    """`places.xlsx` picking a feature from places.geojson (beside it unless `places` is
    None), reading its properties and geometry."""
    directory.mkdir(parents=True, exist_ok=True)
    if places is not None:
        content = places if isinstance(places, str | bytes) else json.dumps(places)
        target = directory / "places.geojson"
        target.write_bytes(content if isinstance(content, bytes) else content.encode())
    lookup = "instance('places')/root/item[id=${place}]"
    return write_xlsform(
        directory / "places.xlsx",
        survey=[
            ["type", "name", "label", "appearance", "calculation", "choice_filter"],
            ["select_one kinds", "kind", "Kind"],
            [
                "select_one_from_file places.geojson",
                "place",
                "Place",
                "map",
                None,
                "kind=${kind}",
            ],
            ["calculate", "where", None, None, f"{lookup}/geometry"],
            ["calculate", "beds", None, None, f"{lookup}/beds"],
            ["calculate", "street", None, None, f"{lookup}/name"],
        ],
        choices=[
            ["list_name", "name", "label"],
            ["kinds", "clinic", "Clinic"],
            ["kinds", "hospital", "Hospital"],
            ["kinds", "road", "Road"],
        ],
        settings_rows=[["form_id", "version"], ["places", "1"]],
    )


def test_a_geojson_list_gives_its_features_properties_and_geometry(tmp_path: Path) -> None:
    imported = import_form(write_places_form(tmp_path, PLACES))
    spec = imported.spec
    assert spec.attachments["places"].file == "places.geojson"
    assert not spec.awaiting_files
    assert "Kenyatta" not in spec.model_dump_json()  # the file travels beside the spec
    # no map widget: a searchable list, said at the row with the appearance it replaces
    [warning] = [w for w in spec.import_warnings if "places.geojson" in w]
    assert warning.startswith("survey row 3: the features of places.geojson are picked on a map")
    assert "(appearance 'map')" in warning and "searchable list" in warning
    assert spec.node("place").appearance == "autocomplete"  # type: ignore[union-attr]

    bound = bind(spec, imported.files)
    assert [c.value for c in bound.choices["places"]] == ["w1", "w2", "w4", "w3"]
    assert bound.choice_label("places", "w2", "en") == "Mbagathi hospital"
    assert bound.choice_label("places", "w4", "en") == "w4"  # listed by its id
    shown = visible_choices(bound, bound.node("place"), {"kind": "hospital"})  # type: ignore[arg-type]
    assert [c.value for c in shown] == ["w2"]  # choice_filter over a property

    result = check(bound, {"kind": "clinic", "place": "w1"})
    assert result.ok, result.errors
    assert result.values["where"] == "-1.29 36.82 0 0"  # lat lon alt accuracy, as Collect
    assert result.values["beds"] == "12"
    road = check(bound, {"kind": "road", "place": "w3"})
    assert road.values["where"] == "-1.2 36.8 0 0; -1.21 36.81 0 0"
    assert road.values["street"] == "Ngong road"  # a `name` property is the item's name
    wrong = check(bound, {"kind": "clinic", "place": "w2"})  # filtered out by the kind
    assert [(e.field, e.code) for e in wrong.errors] == [("place", "choice")]
    unknown = check(bound, {"kind": "clinic", "place": "w9"})
    assert [(e.field, e.code) for e in unknown.errors] == [("place", "choice")]


BAD = [
    ({"type": "Feature", "features": []}, "not a GeoJSON FeatureCollection"),
    ({"type": "FeatureCollection"}, "the FeatureCollection has no 'features' list"),
    (
        {"type": "FeatureCollection", "features": [feature(point(1, 2), title="A")]},
        "places.geojson, column 'id': feature 1 has no id",
    ),
    (
        {
            "type": "FeatureCollection",
            "features": [feature(point(1, 2), "a"), feature(point(3, 4), None, id="a")],
        },
        "places.geojson, column 'id': id 'a' appears twice (features 1 and 2)",
    ),
    (
        {
            "type": "FeatureCollection",
            "features": [feature({"type": "MultiPoint", "coordinates": [[1, 2]]}, "a")],
        },
        "feature 1: geometry 'MultiPoint': only Point, LineString, Polygon are read",
    ),
    (
        {"type": "FeatureCollection", "features": [feature(point(1, 2), "a", tags={"x": 1})]},
        "feature 1: property 'tags' is a list or an object",
    ),
    (
        {"type": "FeatureCollection", "features": [feature({"type": "Point"}, "a")]},
        "feature 1: geometry Point: coordinates are not [longitude, latitude]",
    ),
    ('{"type": "FeatureCollection", ', "places.geojson: not readable JSON (line 1"),
    (b"\xff\xfe", "places.geojson: not UTF-8 text"),
]


@pytest.mark.parametrize(("content", "expected"), BAD)
def test_a_bad_geojson_is_refused_naming_the_file_and_feature(
    tmp_path: Path, content: dict | str | bytes, expected: str
) -> None:
    with pytest.raises(XLSFormError) as caught:
        import_form(write_places_form(tmp_path, content))
    problems = [str(p) for p in caught.value.problems]
    # at every row reading the file: the select and the three lookups
    rows = [p.split(":")[0] for p in problems]
    assert rows == ["survey row 3", "survey row 4", "survey row 5", "survey row 6"], problems
    assert all(expected in p for p in problems), problems


def test_a_geojson_too_large_is_refused_by_name(tmp_path: Path) -> None:
    padding = "x" * (MAX_FILE_BYTES + 1)
    big = {"type": "FeatureCollection", "features": [feature(point(1, 2), "a", note=padding)]}
    with pytest.raises(XLSFormError, match=r"places\.geojson: [\d,]+ bytes, more than"):
        import_form(write_places_form(tmp_path, big))
    # the device's own check, for a file that came another way
    with pytest.raises(AttachmentError, match=r"places\.geojson: [\d,]+ bytes, more than"):
        file_choices("places.geojson", json.dumps(big).encode())


def test_a_geojson_with_more_features_than_a_list_may_hold_is_refused() -> None:
    tiny = [{"type": "Feature", "id": str(n), "geometry": None} for n in range(MAX_FEATURES + 1)]
    content = json.dumps({"type": "FeatureCollection", "features": tiny}).encode()
    assert len(content) < MAX_FILE_BYTES  # refused for its features, not its bytes
    with pytest.raises(AttachmentError, match=rf"big\.geojson: {MAX_FEATURES + 1:,} features"):
        file_choices("big.geojson", content)


def test_a_real_osm_workbook_reads_its_geojson(tmp_path: Path) -> None:
    # hotosm's cemeteries form: select_one_from_file cemeteries.geojson (appearance map),
    # then instance('cemeteries')/root/item[id=${existing}]/geometry
    form = tmp_path / "cemeteries.xls"
    shutil.copy(REAL / "osm__cemeteries.xls", form)
    cemeteries = {
        "type": "FeatureCollection",
        "features": [
            feature(point(36.8, -1.28), "way/11", title="Langata cemetery", religion="mixed"),
            feature(
                {"type": "Polygon", "coordinates": [[[36.7, -1.3], [36.71, -1.3], [36.7, -1.3]]]},
                None,
                id="way/12",
                title="Kariokor",
            ),
        ],
    }
    (tmp_path / "cemeteries.geojson").write_text(json.dumps(cemeteries))
    imported = import_form(form)
    spec = bind(imported.spec, imported.files)
    assert [c.value for c in spec.choices["cemeteries"]] == ["way/11", "way/12"]
    assert any(
        w.startswith("survey row 13: the features of cemeteries.geojson") and "'map'" in w
        for w in spec.import_warnings
    )
    result = check(spec, {"existing": "way/12"})
    assert result.values["xid"] == "way/12"
    assert result.values["xlocation"] == "-1.3 36.7 0 0; -1.3 36.71 0 0; -1.3 36.7 0 0"
    refused = check(spec, {"existing": "way/99"})
    assert ("existing", "choice") in [(e.field, e.code) for e in refused.errors]


def test_a_real_osm_workbook_reads_namespaced_properties(tmp_path: Path) -> None:
    # hotosm's amenities form pre-fills its questions from the chosen feature's OSM tags:
    # instance("Amenities")/root/item[id=${existing}]/fuel:diesel, .../label, .../addr_street
    form = tmp_path / "amenities.xls"
    shutil.copy(REAL / "osm__amenities.xls", form)
    tags = {"title": "Shell Ngong Rd", "amenity": "fuel", "fuel:diesel": "yes"}
    amenities = {
        "type": "FeatureCollection",
        "features": [
            feature(point(36.78, -1.3), "node/7", **tags, addr_street="Ngong Road"),
            feature(point(36.79, -1.31), "node/8", title="Java House", label="Java"),
        ],
    }
    (tmp_path / "Amenities.geojson").write_text(json.dumps(amenities))
    imported = import_form(form)
    assert not imported.spec.awaiting_files
    spec = bind(imported.spec, imported.files)
    fuel = check(spec, {"existing": "node/7"}).values
    assert (fuel["xdiesel"], fuel["xamenity"], fuel["xstreet"]) == ("yes", "fuel", "Ngong Road")
    assert fuel["xid"] == "node/7" and fuel["xlocation"] == "-1.3 36.78 0 0"
    assert not fuel.get("xlabel")  # no `label` property: empty, as in ODK Collect
    cafe = check(spec, {"existing": "node/8"}).values
    assert cafe["xlabel"] == "Java" and not cafe.get("xdiesel")
