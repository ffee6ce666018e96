"""history.py on synthetic run files: series, history lines, plot, diff and run lookup."""

import pytest

from pytest_genquality import RunNotFoundError
from pytest_genquality.report.history import diff, diff_lines, find_run, history_lines, plot, series
from pytest_genquality.store import Store

LANE = "cpu/fp32"


def result(test, metric, value, *, key=None, lane=LANE, higher_is_better=False, n=64, verdict="pass"):
    return {
        "test": test,
        "metric": metric,
        "key": key or metric,
        "value": value,
        "n": n,
        "lane": lane,
        "verdict": verdict,
        "higher_is_better": higher_is_better,
    }


def write_runs(store: Store, runs):
    """runs: [(commit, dirty, [results])], oldest first; returns the run files."""
    for index, (commit, dirty, results) in enumerate(runs):
        store.write_run(results, {"commit": commit, "dirty": dirty, "time": f"2025-01-0{index + 1}T00:00:00+00:00"})
    return store.run_files()


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "store")
    write_runs(
        store,
        [
            (
                "aaaa111",
                False,
                [
                    result("tests/test_q.py::test_fid", "fid", 20.0, key="fid@coco"),
                    result("tests/test_q.py::test_clip", "clip_score", 0.30, higher_is_better=True),
                ],
            ),
            (
                "bbbb222",
                True,
                [
                    result("tests/test_q.py::test_fid", "fid", 21.5, key="fid@coco"),
                    result("tests/test_q.py::test_clip", "clip_score", 0.31, higher_is_better=True),
                    result("tests/test_other.py::test_kid", "kid", 0.01),
                ],
            ),
            (
                "cccc333",
                False,
                [
                    result("tests/test_q.py::test_fid", "fid", 19.0, key="fid@coco", verdict="improved"),
                    result("tests/test_q.py::test_fid", "fid", 30.0, key="fid@coco", lane="cuda/fp16"),
                ],
            ),
        ],
    )
    return store


def loaded(store):
    return [(path.name, store.load_run(path)) for path in store.run_files()]


def test_series_oldest_to_newest_per_test_key_and_lane(store):
    found = series(loaded(store))
    assert list(found) == [
        ("tests/test_other.py::test_kid", "kid", LANE),
        ("tests/test_q.py::test_clip", "clip_score", LANE),
        ("tests/test_q.py::test_fid", "fid@coco", LANE),
        ("tests/test_q.py::test_fid", "fid@coco", "cuda/fp16"),
    ]
    fid = found[("tests/test_q.py::test_fid", "fid@coco", LANE)]
    assert [p.value for p in fid] == [20.0, 21.5, 19.0]
    assert [p.commit for p in fid] == ["aaaa111", "bbbb222+dirty", "cccc333"]
    assert [p.run for p in fid] == [path.name for path in store.run_files()]
    assert fid[-1].verdict == "improved" and fid[0].n == 64 and fid[0].time.startswith("2025-01-01")


def test_series_filters_by_test_glob_or_substring_and_metric(store):
    runs = loaded(store)
    assert {k[0] for k in series(runs, test="tests/test_q.py::*")} == {
        "tests/test_q.py::test_fid",
        "tests/test_q.py::test_clip",
    }
    assert {k[0] for k in series(runs, test="*kid")} == {"tests/test_other.py::test_kid"}
    assert {k[0] for k in series(runs, test="test_clip")} == {"tests/test_q.py::test_clip"}
    assert {k[1] for k in series(runs, metric="fid")} == {"fid@coco"}  # by metric name
    assert {k[1] for k in series(runs, metric="fid@coco")} == {"fid@coco"}  # or by key
    assert series(runs, metric="fid@other") == {}
    assert series(runs, test="nothing*") == {}


def test_history_lines_show_values_and_deltas(store):
    lines = history_lines(series(loaded(store), test="*test_fid", metric="fid"))
    text = "\n".join(lines)
    block = text.split(f"tests/test_q.py::test_fid  fid@coco  [{LANE}]")[1]
    rows = [line.split() for line in block.splitlines()[2:5]]
    assert [row[0] for row in rows] == ["aaaa111", "bbbb222+dirty", "cccc333"]
    assert [row[3] for row in rows] == ["20", "21.5", "19"]
    assert [row[4] for row in rows] == ["—", "+1.5", "-2.5"]
    assert rows[2][5] == "improved"


def test_history_lines_when_nothing_matches():
    assert "no recorded results match" in history_lines({})[0]


def test_plot_writes_a_png(store, tmp_path):
    out = plot(series(loaded(store)), tmp_path / "history.png")
    assert out == tmp_path / "history.png"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 1000


def run_of(*results):
    return {"results": list(results)}


@pytest.mark.parametrize(
    "max_drift, new_value, worse",
    [
        (1.0, 21.0, False),
        (1.0, 21.01, True),
        ("5%", 20.9, False),
        ("5%", 21.2, True),
        (1.0, 10.0, False),
    ],
)
def test_diff_lower_is_better(max_drift, new_value, worse):
    changes = diff(run_of(result("t::a", "fid", 20.0)), run_of(result("t::a", "fid", new_value)), max_drift=max_drift)
    assert [(c.test, c.key, c.lane, c.old, c.new, c.worse) for c in changes] == [
        ("t::a", "fid", LANE, 20.0, new_value, worse)
    ]


@pytest.mark.parametrize(
    "max_drift, new_value, worse",
    [
        (0.01, 0.2905, False),
        (0.01, 0.285, True),
        ("5%", 0.286, False),
        ("5%", 0.28, True),
        (0.01, 0.9, False),
    ],
)
def test_diff_higher_is_better(max_drift, new_value, worse):
    changes = diff(
        run_of(result("t::c", "clip_score", 0.30, higher_is_better=True)),
        run_of(result("t::c", "clip_score", new_value, higher_is_better=True)),
        max_drift=max_drift,
    )
    assert changes[0].worse is worse and changes[0].higher_is_better


def test_diff_keeps_added_and_removed_results_and_separates_lanes():
    old = run_of(result("t::a", "fid", 20.0), result("t::gone", "fid", 5.0))
    new = run_of(result("t::a", "fid", 50.0, lane="gpu"), result("t::new", "kid", 1.0))
    changes = {(c.test, c.lane): c for c in diff(old, new, max_drift=0)}
    assert (changes[("t::a", LANE)].old, changes[("t::a", LANE)].new) == (20.0, None)
    assert (changes[("t::a", "gpu")].old, changes[("t::a", "gpu")].new) == (None, 50.0)
    assert changes[("t::gone", LANE)].new is None and changes[("t::new", LANE)].old is None
    assert not any(c.worse for c in changes.values())  # nothing comparable


def test_diff_off_and_auto():
    old, new = run_of(result("t::a", "fid", 20.0)), run_of(result("t::a", "fid", 99.0))
    assert not diff(old, new, max_drift=None)[0].worse
    untested = diff(old, new, max_drift="auto")[0]  # no seed-noise estimate anywhere: never judged by a guess
    assert not untested.worse and untested.p_value is None and "no seed-noise estimate" in untested.note
    with pytest.raises(ValueError, match="max_drift"):
        diff(old, new, max_drift="lots")


def with_noise(record, noise_sd, margin=None):
    return {**record, "noise": {"noise_sd": noise_sd, "margin": margin}}


@pytest.mark.parametrize(
    "new_value, worse, better",
    [
        (20.0 + 0.75 + 2.7, False, False),  # 2.7 SDs past the 0.75-SD margin: p = 0.0035 > 0.0025
        (20.0 + 0.75 + 2.9, True, False),  # 2.9 SDs past it: p = 0.0019
        (20.0 - 0.75 - 2.9, False, True),  # the same improvement is reported, never failed
    ],
)
def test_diff_auto_is_the_gates_margin_rule(new_value, worse, better):
    old = run_of(result("t::a", "fid", 20.0))
    new = run_of(with_noise(result("t::a", "fid", new_value), 1.0))
    change = diff(old, new, max_drift="auto")[0]
    assert (change.worse, change.better, change.margin, change.noise_sd) == (worse, better, 0.75, 1.0)


def test_diff_auto_takes_a_recorded_margin_and_the_stores_noise_and_skips_other_n():
    old = run_of(result("t::a", "recall", 0.50, higher_is_better=True), result("t::b", "fid", 20.0))
    new = run_of(
        with_noise(result("t::a", "recall", 0.40, higher_is_better=True), 0.01, margin=0.2),
        result("t::b", "fid", 25.0, n=128),
    )
    changes = {c.test: c for c in diff(old, new, max_drift="auto", noise_sds={("t::b", "fid", LANE): 0.1})}
    assert not changes["t::a"].worse and changes["t::a"].margin == 0.2  # 0.1 worse, inside the user's 0.2
    assert not changes["t::b"].worse and changes["t::b"].note == "not compared: n 64 vs 128"


def test_diff_lines_mark_worse():
    changes = diff(
        run_of(result("t::a", "fid", 20.0), result("t::b", "fid", 20.0)),
        run_of(result("t::a", "fid", 25.0), result("t::b", "fid", 20.5)),
        max_drift=1,
    )
    lines = diff_lines(changes)
    assert lines[0].split() == [
        "test",
        "metric",
        "lane",
        "old",
        "new",
        "delta",
        "margin",
        "noise",
        "SD",
        "p",
        "verdict",
    ]  # every column has a header ("noise SD" is one)
    row_a = next(line for line in lines if line.startswith("t::a"))
    row_b = next(line for line in lines if line.startswith("t::b"))
    assert row_a.split()[-5:] == ["+5", "—", "—", "—", "WORSE"] and row_b.split()[-5:] == ["+0.5", "—", "—", "—", "ok"]


def test_find_run_by_index_name_and_commit(store):
    files = store.run_files()
    assert find_run(files, "-1") == files[-1]
    assert find_run(files, "-3") == files[0]
    assert find_run(files, "0") == files[0]
    assert find_run(files, files[1].name) == files[1]
    assert find_run(files, files[1].stem) == files[1]
    assert find_run(files, "bbbb") == files[1]
    assert find_run(files, "cccc333") == files[2]
    assert find_run(files, "cccc3330123456789abcdef") == files[2]  # a full hash finds its short form


def test_find_run_refuses_a_commit_prefix_that_matches_several_runs(tmp_path):
    """Picking the newest would silently pick a rerun of the same commit, maybe the other side of a diff."""
    store = Store(tmp_path)
    files = write_runs(store, [("abc1234", False, []), ("abc1234", True, []), ("def5678", False, [])])
    with pytest.raises(RunNotFoundError, match="commit 'abc' matches 2 runs") as error:
        find_run(files, "abc")
    assert files[0].stem in str(error.value) and files[1].stem in str(error.value)
    assert "by its run file name or by index" in str(error.value)
    assert find_run(files, files[0].stem) == files[0] and find_run(files, "def") == files[2]


def test_find_run_with_a_numeric_commit_prefix(tmp_path):
    store = Store(tmp_path)
    files = write_runs(store, [("1234567", False, []), ("89abcde", False, [])])
    assert find_run(files, "1234") == files[0]
    assert find_run(files, "1234567") == files[0]
    assert find_run(files, "1") == files[1]  # in range: an index


def test_find_run_errors(store, tmp_path):
    files = store.run_files()
    with pytest.raises(RunNotFoundError, match="run index -4 out of range: 3 runs are stored"):
        find_run(files, "-4")
    with pytest.raises(RunNotFoundError, match="no run matches 'zzz'; runs: .*_aaaa111"):
        find_run(files, "zzz")
    with pytest.raises(RunNotFoundError, match="no run files in the store yet"):
        find_run([], "-1")


def test_plot_puts_every_series_on_the_shared_run_axis(store):
    """A test that ran only in the 2nd run sits under the 2nd commit, not the 1st."""
    import matplotlib.pyplot as plt

    from pytest_genquality.report.history import plot_figure

    figure = plot_figure(series(loaded(store)))
    try:
        by_title = {axis.get_title(): axis for axis in figure.axes}
        assert set(by_title) == {"clip_score", "fid@coco", "kid"}
        kid = by_title["kid"]
        assert list(kid.lines[0].get_xdata()) == [1]
        assert [tick.get_text() for tick in kid.get_xticklabels()] == ["aaaa111", "bbbb222+dirty", "cccc333"]
        fid_lines = {line.get_label(): list(line.get_xdata()) for line in by_title["fid@coco"].lines}
        assert fid_lines == {
            f"tests/test_q.py::test_fid [{LANE}]": [0, 1, 2],
            "tests/test_q.py::test_fid [cuda/fp16]": [2],
        }
    finally:
        plt.close(figure)
