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


def text_boxes(root, cls="chart-tick"):
    """(x0, x1, y, text) of each text element, its width estimated as the chart does (10 px font)."""
    from pytest_genquality.report.svg_chart import CHAR_PX

    boxes = []
    for element in root.iter(SVG + "text"):
        if element.get("class") != cls:
            continue
        x, width = float(element.get("x")), len(element.text) * CHAR_PX
        anchor = element.get("text-anchor", "start")
        x0 = x - width if anchor == "end" else x - width / 2 if anchor == "middle" else x
        boxes.append((x0, x0 + width, float(element.get("y")), element.text))
    return boxes


def test_long_y_tick_labels_fit_inside_the_chart():
    root = parse(line_chart(points([68_680.0, 66_220.0, 123_456.7]), title="kid", threshold=100_000.0))
    ticks = [box for box in text_boxes(root) if box[3][0].isdigit()]
    assert len(ticks) == 3 and all(box[0] >= 0 for box in ticks), ticks
    compact = "".join(box[3] for box in text_boxes(parse(line_chart(points([6.868e4, 6.9e4]), title="t"))))
    assert "e4" in compact and "e+0" not in compact, compact


def test_x_labels_of_many_runs_do_not_overlap_and_the_newest_is_labelled():
    for count in (2, 5, 10, 12, 30):
        root = parse(line_chart(points(list(range(count))), title="t"))
        labels = sorted(box for box in text_boxes(root) if box[3].startswith("c0"))
        assert labels[-1][3] == f"c{count - 1:06d}"[:9]
        assert all(a[1] <= b[0] for a, b in zip(labels, labels[1:])), (count, labels)


def test_threshold_and_baseline_labels_do_not_overlap_when_the_lines_are_close():
    root = parse(line_chart(points([3.0, 3.5]), title="t", threshold=3.30, baseline=3.31))
    named = {box[3].split()[0]: box for box in text_boxes(root) if box[3].startswith(("threshold", "baseline"))}
    threshold, baseline = named["threshold"], named["baseline"]
    apart_x = threshold[1] <= baseline[0] or baseline[1] <= threshold[0]
    assert apart_x or abs(threshold[2] - baseline[2]) >= 12, named


@pytest.mark.parametrize(
    "title",
    [
        "coverage@shapes-real  [cpu/cpu/fp32/torch-2.5.1+cpu]",
        "fid@coco-val-2k-with-a-long-reference-name  [cuda/NVIDIA H100 80GB HBM3/fp16/torch-2.14.1+cu124]",
    ],
)
def test_a_long_title_wraps_inside_the_chart_instead_of_being_cut(title):
    """Issue 22.12: 'coverage@shapes-real [cpu/cpu/fp32/torch-2' was cut at the chart's right edge."""
    from pytest_genquality.report.svg_chart import TITLE_CHAR_PX, WIDTH

    root = parse(line_chart(points([0.5, 0.6]), title=title))
    lines = [t for t in root.iter(SVG + "text") if t.get("class") == "chart-title"]
    assert len(lines) >= 2
    assert all(float(t.get("x")) + len(t.text) * TITLE_CHAR_PX <= WIDTH for t in lines), [t.text for t in lines]
    assert "".join(t.text for t in lines).replace(" ", "") == title.replace(" ", ""), "nothing lost"
    title_bottom = max(float(t.get("y")) for t in lines)
    assert float(root.find(SVG + "rect").get("y")) > title_bottom, "the plot moves down below the title"
    assert int(root.get("height")) > 150 and root.find(SVG + "title").text == title


def test_a_title_with_no_place_to_break_is_cut_with_an_ellipsis():
    from pytest_genquality.report.svg_chart import wrap_title

    assert wrap_title("x" * 60, 20) == ["x" * 19 + "…"]
    assert wrap_title("a b c d e f", 1) == ["a", "b", "…"]
    assert wrap_title("fid@coco  [cpu/fp32]", 40) == ["fid@coco [cpu/fp32]"]
