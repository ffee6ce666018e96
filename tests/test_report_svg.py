"""The hand-written SVG history chart: well-formed, one marker per run, honest about the threshold."""

import xml.etree.ElementTree as ET

import pytest

from pytest_genquality.report.svg_chart import ChartPoint, line_chart

SVG = "{http://www.w3.org/2000/svg}"


def points(values, verdict="pass"):
    return [ChartPoint(f"c{i:06d}", v, verdict, f"run {i}") for i, v in enumerate(values)]


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # raises on malformed XML


def markers(root):
    return [c for c in root.iter(SVG + "circle") if c.get("r") == "3.5"]


def test_one_marker_per_run_in_order_higher_values_drawn_higher():
    root = parse(line_chart(points([3.0, 5.0, 4.0]), title="fid@coco <lane>"))
    ys = [float(c.get("cy")) for c in markers(root)]
    xs = [float(c.get("cx")) for c in markers(root)]
    assert len(ys) == 3 and xs == sorted(xs)
    assert ys[1] < ys[2] < ys[0], "SVG y grows downwards: the largest value is highest"
    assert root.find(SVG + "text").text == "fid@coco <lane>", "titles are escaped, not injected"


def test_a_nearby_threshold_is_a_line_a_far_one_is_named():
    near = parse(line_chart(points([3.0, 3.2]), title="t", threshold=3.3, baseline=3.1))
    assert len(list(near.iter(SVG + "line"))) == 2
    far = parse(line_chart(points([3.0, 3.2]), title="t", threshold=28.0))
    assert len(list(far.iter(SVG + "line"))) == 0
    assert any(t.text == "threshold 28 ↑" for t in far.iter(SVG + "text"))
    ys = [float(c.get("cy")) for c in markers(far)]
    assert abs(ys[0] - ys[1]) > 50, "the far threshold does not squash the series"


def test_single_and_flat_series_are_drawn_and_coloured_by_verdict():
    root = parse(line_chart(points([2.0], verdict="fail"), title="t"))
    assert markers(root)[0].get("fill") == "#c62828"
    flat = parse(line_chart(points([1.0, 1.0, 1.0]), title="t"))
    assert len({c.get("cy") for c in markers(flat)}) == 1


def test_no_points_is_an_error():
    with pytest.raises(ValueError, match="at least one point"):
        line_chart([], title="t")
