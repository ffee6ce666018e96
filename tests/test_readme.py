"""README facts a new user acts on (issue 22 item 13): set-up on a CPU machine, own extractors in tests,
a first screen whose numbers agree with each other, and no path outside the repository."""

import re
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_set_up_offers_the_cpu_build_of_torch_and_says_how_long_the_suite_takes():
    assert "--index-url https://download.pytorch.org/whl/cpu" in README
    assert re.search(r"test suite takes about \d+ minutes on 2 CPU cores", README)


def test_own_extractors_in_tests_need_the_root_on_the_python_path():
    assert "`pythonpath = .`" in README


def test_no_path_outside_the_repository():
    assert not re.findall(r"\.\./[\w./-]+", README)


def test_the_first_screens_table_p_is_the_failure_message_p():
    first_screen = README.split("## Set-up")[0]
    message_p = float(re.search(r"FID drifted from its baseline: .* p=([0-9.e+-]+) <", first_screen).group(1))
    fid_row = next(line for line in first_screen.splitlines() if "fid@digits-held-out" in line and "fail" in line)
    table_p = float(fid_row.split()[-2])
    assert f"{message_p:.2g}" == f"{table_p:.2g}", (message_p, table_p)


def test_readme_is_the_first_hour_in_at_most_250_lines():
    assert len(README.splitlines()) <= 250


def test_every_docs_page_the_readme_links_exists():
    root = Path(__file__).resolve().parents[1]
    links = re.findall(r"\]\((docs/[^)#\s]+\.md)(?:#[^)]*)?\)", README)
    assert links, "README links no docs/ page"
    missing = [link for link in links if not (root / link).is_file()]
    assert not missing, missing
