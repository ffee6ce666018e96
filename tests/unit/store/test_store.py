"""store.py: the on-disk snapshot store: merging, layout, runs and concurrency."""

import json
import multiprocessing
import re

import numpy as np
import pytest
import torch

from pytest_genquality.store.files import StoreFileError
from pytest_genquality.reference import ReferenceStats
from pytest_genquality.store.layout import STORE_GITIGNORE, Store, array_name, node_dir_name

LANE = "cpu/x86_64/fp32/torch-2"
OTHER_LANE = "cuda/NVIDIA H100/fp16/torch-2"


def entry(value, **extra):
    return {"value": value, "n": 64, "extractor_id": "toy", **extra}


def test_prepare_writes_a_gitignore_for_locks_and_cache_and_keeps_a_users_own(tmp_path):
    store = Store(tmp_path / "store")
    store.prepare()
    text = (tmp_path / "store" / ".gitignore").read_text()
    assert text == STORE_GITIGNORE and "*.lock" in text.splitlines() and "cache/" in text.splitlines()
    (tmp_path / "store" / ".gitignore").write_text("mine\n")
    store.prepare()
    assert (tmp_path / "store" / ".gitignore").read_text() == "mine\n"


def test_update_baselines_merges_and_leaves_everything_else(tmp_path):
    store = Store(tmp_path)
    store.update_baselines(
        "tests/test_q.py",
        {
            "tests/test_q.py::a": {"fid": {LANE: entry(10.0), OTHER_LANE: entry(11.0)}, "kid": {LANE: entry(0.1)}},
            "tests/test_q.py::b": {"fid": {LANE: entry(20.0)}},
        },
    )
    store.update_baselines("tests/test_q.py", {"tests/test_q.py::a": {"fid": {LANE: entry(12.0)}}})
    tests = store.read_baselines("tests/test_q.py")
    assert tests["tests/test_q.py::a"]["fid"] == {LANE: entry(12.0), OTHER_LANE: entry(11.0)}
    assert tests["tests/test_q.py::a"]["kid"] == {LANE: entry(0.1)}
    assert tests["tests/test_q.py::b"] == {"fid": {LANE: entry(20.0)}}
    payload = json.loads(store.baseline_file("tests/test_q.py").read_text())
    assert payload["schema"] == 1 and payload["test_file"] == "tests/test_q.py"
    assert store.baseline_file("tests/test_q.py") == tmp_path / "baselines" / "tests" / "test_q.py.json"


def test_baselines_of_other_test_files_are_separate(tmp_path):
    store = Store(tmp_path)
    store.update_baselines("tests/test_a.py", {"tests/test_a.py::x": {"fid": {LANE: entry(1.0)}}})
    store.update_baselines("tests/sub/test_b.py", {"tests/sub/test_b.py::y": {"fid": {LANE: entry(2.0)}}})
    store.save_features("tests/test_a.py::x", {"f": np.zeros(3)})  # not a baseline file
    assert list(store.baseline_files()) == ["tests/sub/test_b.py", "tests/test_a.py"]
    assert store.read_baselines("tests/test_c.py") == {}


def test_remove_nodes_and_the_file_goes_when_empty(tmp_path):
    store = Store(tmp_path)
    store.update_baselines("t.py", {"t.py::a": {"fid": {LANE: entry(1.0)}}, "t.py::b": {"fid": {LANE: entry(2.0)}}})
    store.update_baselines("t.py", {}, remove_nodes=["t.py::a", "t.py::never-existed"])
    assert list(store.read_baselines("t.py")) == ["t.py::b"]
    store.update_baselines("t.py", {"t.py::c": {"fid": {LANE: entry(3.0)}}}, remove_nodes=["t.py::b"])
    assert list(store.read_baselines("t.py")) == ["t.py::c"]
    store.update_baselines("t.py", {}, remove_nodes=["t.py::c"])
    assert not store.baseline_file("t.py").exists() and store.read_baselines("t.py") == {}


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"schema": 1, "tests": {"t.py::a": ', "corrupt or truncated"),
        ('{"schema": 1, "tests": []}', "no 'tests' mapping"),
        ('{"schema": 2, "tests": {}}', "has schema 2"),
    ],
)
def test_a_corrupt_baseline_file_raises_and_is_not_overwritten(tmp_path, content, message):
    store = Store(tmp_path)
    path = store.baseline_file("t.py")
    path.parent.mkdir(parents=True)
    path.write_text(content)
    with pytest.raises(StoreFileError, match=message) as info:
        store.update_baselines("t.py", {"t.py::b": {"fid": {LANE: entry(1.0)}}})
    assert str(path) in str(info.value)
    with pytest.raises(StoreFileError):
        store.update_baselines("t.py", {}, remove_nodes=["t.py::a"])
    assert path.read_text() == content


def test_features_merge_by_name(tmp_path):
    store = Store(tmp_path)
    node = "tests/test_q.py::test_fid[seed=0]"
    first = np.random.default_rng(0).standard_normal((8, 4)).astype(np.float16)
    store.save_features(node, {"a": first, "b": np.arange(3.0)})
    store.save_features(node, {"b": np.arange(5.0), "c": np.ones(2, np.float32)})
    assert np.array_equal(store.load_features(node, "a"), first) and store.load_features(node, "a").dtype == np.float16
    assert np.array_equal(store.load_features(node, "b"), np.arange(5.0))
    assert np.array_equal(store.load_features(node, "c"), np.ones(2))
    assert store.load_features(node, "missing") is None
    assert store.load_features("tests/test_q.py::other", "a") is None
    store.features_file(node).write_bytes(store.features_file(node).read_bytes()[:40])
    with pytest.raises(StoreFileError, match="baseline features"):
        store.save_features(node, {"d": np.zeros(1)})


def test_array_name_depends_on_key_and_lane():
    names = {array_name(k, lane) for k in ("fid", "fid@coco") for lane in (LANE, OTHER_LANE)}
    assert len(names) == 4 and all(re.fullmatch(r"a[0-9a-f]{16}", n) for n in names)


def test_images_round_trip_exactly_and_stale_seeds_go(tmp_path):
    store = Store(tmp_path)
    node = "tests/test_p.py::test_paired"
    images = torch.randint(0, 256, (3, 3, 9, 7), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    store.save_images(node, images, [5, 6, 7])
    loaded = store.load_images(node, [5, 6, 7])
    assert loaded.dtype == torch.uint8 and torch.equal(loaded, images)
    assert torch.equal(store.load_images(node, [7, 5]), images[[2, 0]])
    assert store.load_images(node, [5, 8]) is None
    assert store.load_images("tests/test_p.py::never", [5]) is None

    store.save_images(node, images[1:], [6, 8])
    assert sorted(p.name for p in store.images_dir(node).iterdir()) == ["6.png", "8.png"]
    assert torch.equal(store.load_images(node, [6, 8]), images[1:])
    assert store.load_images(node, [5]) is None

    store.remove_node_artifacts(node)
    assert not store.images_dir(node).exists()


def test_write_run_names_and_order(tmp_path):
    store = Store(tmp_path)
    assert store.run_files() == []
    first = store.write_run([{"test": "t", "value": 1.0}], {"commit": "abc1234", "dirty": False})
    second = store.write_run([], {"commit": "0000000", "dirty": True})
    third = store.write_run([], {})
    assert re.fullmatch(r"\d{8}T\d{12}Z_abc1234\.json", first.name)
    assert re.fullmatch(r"\d{8}T\d{12}Z_0000000_dirty\.json", second.name)
    assert third.name.endswith("_nogit.json")
    assert store.run_files() == [first, second, third]  # oldest first, whatever the commit
    payload = store.load_run(first)
    assert payload["schema"] == 1 and payload["results"] == [{"test": "t", "value": 1.0}]
    assert payload["provenance"] == {"commit": "abc1234", "dirty": False}


def test_references(tmp_path):
    store = Store(tmp_path / "s")
    assert store.reference_names() == []
    with pytest.raises(KeyError) as info:
        store.load_reference("coco")
    text = str(info.value)
    assert "'coco'" in text and "known: none" in text and "genquality build-ref IMAGE_DIR --name coco" in text
    features = np.random.default_rng(0).standard_normal((20, 4))
    store.save_reference("b-ref", ReferenceStats.from_features(features, extractor_id="toy"))
    store.save_reference("a.ref", ReferenceStats.from_features(features + 1, extractor_id="toy"))
    assert store.reference_names() == ["a.ref", "b-ref"]
    loaded = store.load_reference("b-ref")
    assert loaded.name == "b-ref" and loaded.n == 20 and np.allclose(loaded.mu, features.mean(0))
    with pytest.raises(KeyError, match="known: a.ref, b-ref"):
        store.load_reference("c")
    with pytest.raises(ValueError, match="name: reference names"):
        store.save_reference("../escape", ReferenceStats.from_features(features, extractor_id="toy"))


def test_node_dir_name_is_safe_readable_and_unique():
    ids = [
        "tests/test_q.py::test_fid[a/b]",
        "tests/test_q.py::test_fid[a:b]",
        "tests/test_q.py::test_fid[a b]",
        "tests/test_q.py::test_fid[a\\b]",
        "tests/test_q.py::test_fid[a*b]",
        "tests/test_q.py::test_fid[a?b]",
        "tests/test_q.py::test_fid[..]",
        "tests/test_q.py::test_fid[é]",
        "x" * 500,
        "::",
        "..",
    ]
    names = [node_dir_name(node) for node in ids]
    assert len(set(names)) == len(names)
    for name in names:
        assert re.fullmatch(r"[A-Za-z0-9._=-]+", name) and len(name) <= 90 and name not in (".", "..")
    assert node_dir_name(ids[0]).startswith("tests_test_q.py__test_fid_a_b")
    assert node_dir_name(ids[0]) == node_dir_name(ids[0])


def test_node_dir_name_works_as_a_folder(tmp_path):
    store = Store(tmp_path)
    for node in ("t.py::f[a/b]", "t.py::f[a:b]"):
        store.save_features(node, {"x": np.zeros(1)})
    assert len(list((tmp_path / "baselines" / "features").glob("*.npz"))) == 2


def _update_many(root, worker: int, count: int) -> None:
    store = Store(root)
    for i in range(count):
        store.update_baselines("tests/test_c.py", {f"tests/test_c.py::w{worker}": {f"m{i}": {LANE: entry(float(i))}}})


def test_concurrent_updates_of_different_nodes_lose_nothing(tmp_path):
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_update_many, args=(tmp_path, worker, 20)) for worker in range(2)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=60)
        assert process.exitcode == 0
    tests = Store(tmp_path).read_baselines("tests/test_c.py")
    for worker in range(2):
        assert sorted(tests[f"tests/test_c.py::w{worker}"]) == sorted(f"m{i}" for i in range(20))


@pytest.mark.parametrize(
    "name",
    [
        ".",
        "..",
        "...",
        ".hidden",
        "-flag",
        "x.npz",
        "x.json",
        "X.NPZ",
        "a/b",
        "../x",
        "a\\b",
        "",
        " x",
        "x" * 129,
        "é",
        "x\n",
    ],
)
def test_bad_reference_names_are_refused(tmp_path, name):
    store = Store(tmp_path / "s")
    stats = ReferenceStats.from_features(np.random.default_rng(0).standard_normal((5, 3)), extractor_id="toy")
    with pytest.raises(ValueError, match="name: reference names start with a letter or digit"):
        store.save_reference(name, stats)
    assert not (tmp_path / "s").exists() or not any((tmp_path / "s").rglob("*.npz"))


def test_no_reference_name_writes_outside_refs(tmp_path):
    """Every name save_reference accepts lands as refs/<name>.npz and refs/<name>.json, nothing else."""
    rng = np.random.default_rng(1)
    alphabet = list("ab0._-/\\") + [".."]
    candidates = {"".join(rng.choice(alphabet, size=rng.integers(1, 6))) for _ in range(300)}
    candidates |= {"a", "a.b", "a..b", "0", "a-", "a_", "a.", "v1.0"}
    stats = ReferenceStats.from_features(rng.standard_normal((5, 3)), extractor_id="toy")
    store = Store(tmp_path / "s")
    accepted = 0
    for name in sorted(candidates):
        try:
            store.save_reference(name, stats)
        except ValueError:
            continue
        accepted += 1
        assert (store.refs_dir / f"{name}.npz").is_file() and (store.refs_dir / f"{name}.json").is_file(), name
        assert store.load_reference(name).name == name
    assert accepted >= 8
    written = {p.relative_to(tmp_path / "s").parts[0] for p in (tmp_path / "s").rglob("*") if p.is_file()}
    assert written == {"refs", ".gitignore"}
    assert {p.parent for p in store.refs_dir.rglob("*") if p.is_file()} == {store.refs_dir}


def test_an_existing_reference_is_not_overwritten_without_overwrite(tmp_path):
    from pytest_genquality.store.layout import ReferenceExistsError

    store = Store(tmp_path / "s")
    rng = np.random.default_rng(2)
    first = ReferenceStats.from_features(rng.standard_normal((5, 3)), extractor_id="toy")
    second = ReferenceStats.from_features(rng.standard_normal((5, 3)) + 5, extractor_id="toy")
    store.save_reference("coco", first)
    with pytest.raises(ReferenceExistsError, match="'coco' already exists.*--force"):
        store.save_reference("coco", second)
    assert np.allclose(store.load_reference("coco").mu, first.mu)
    store.save_reference("coco", second, overwrite=True)
    assert np.allclose(store.load_reference("coco").mu, second.mu)
