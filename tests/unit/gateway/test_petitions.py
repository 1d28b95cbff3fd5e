"""The gateway's own parts of petitions: CSV cells no spreadsheet runs, list filters, the
launch form's end date, and where the map puts a département's count."""
import pytest

from umpnet_kernel.errors import ValidationFailed

from umpnet_gateway.api.petitions import csv_cell, list_filters
from umpnet_gateway.site.petitions import end_of_day, map_points


@pytest.mark.parametrize("value, cell", [
    ("=SUM(A1)", "'=SUM(A1)"), ("+33 6", "'+33 6"), ("-2", "'-2"), ("@cmd", "'@cmd"), ("\t=1", "'\t=1"),
    ("Léa", "Léa"), ("a=b", "a=b"), ("", ""), (None, ""), (69, "69"),
])
def test_a_csv_cell_never_starts_a_formula(value, cell):
    assert csv_cell(value) == cell


def test_list_filters_leave_out_the_empty_ones_and_refuse_huge_ones():
    assert list_filters({"status": "open", "theme": " ", "scope": "", "other": "x"}) == {"status": "open"}
    with pytest.raises(ValidationFailed) as refused:
        list_filters({"theme": "x" * 101})
    assert "theme" in refused.value.fields


def test_the_end_date_is_the_end_of_that_day_in_paris():
    assert end_of_day("2027-01-15") == "2027-01-15T23:59:59+01:00"
    assert end_of_day("2027-07-15") == "2027-07-15T23:59:59+02:00"
    assert end_of_day("") is None
    with pytest.raises(ValidationFailed):
        end_of_day("15/01/2027")


def test_map_points_sit_in_their_departement():
    points = map_points([{"code": "69", "name": "Rhône", "count": 3}, {"code": "zz", "name": "?", "count": 1}])
    assert [(p["code"], p["count"]) for p in points] == [("69", 3)]
    assert 45.4 < points[0]["lat"] < 46.3 and 4.2 < points[0]["lon"] < 5.2


def test_one_list_filter_helper_renames_what_a_service_calls_otherwise():
    from umpnet_gateway.api.lists import list_filters as shared
    from umpnet_gateway.api.meetings import meeting_filters

    assert shared({"from": "2027-01-01", "sort": " ", "x": "y"}, ("from", "sort"), {"from": "start"}) == {
        "start": "2027-01-01"}
    assert meeting_filters({"from": "2027-01-01", "theme": "sante"}) == {"start": "2027-01-01", "theme": "sante"}
    with pytest.raises(ValidationFailed) as refused:
        meeting_filters({"from": "x" * 101})
    assert "from" in refused.value.fields
