"""textfile: node_exporter's own cases against their .out, plus malformed and changing files."""

from __future__ import annotations

import os
import re
import shutil

import pytest

from exporter.collectors.textfile import TextfileCollector, TextfileConfig
from tests.exporter.helpers import FIXTURES, collect_text, fixture_config, headers, samples

CASES = FIXTURES / "textfile"
# case -> directory argument, as node_exporter's textfile_test.go passes them
DIRECTORIES = {case.name[:-4]: case.name[:-4] for case in CASES.glob("*.out")}
DIRECTORIES["glob_extra_dimension"] = "*_extra_dimension"


def run(directory: str) -> TextfileCollector:
    return TextfileCollector(fixture_config(textfile=TextfileConfig(directory=directory)))


def normalized(text: str) -> str:
    """Our absolute paths as the test's relative ones, and mtimes as its fixed 1."""
    text = text.replace(str(CASES), "fixtures/textfile")
    return re.sub(r"^(node_textfile_mtime_seconds\{.*\}) \S+$", r"\1 1", text, flags=re.M)


@pytest.mark.parametrize("case", sorted(DIRECTORIES))
def test_case_matches_node_exporter(case):
    expected = (CASES / f"{case}.out").read_text()
    got = normalized(collect_text(run(str(CASES / DIRECTORIES[case]))))
    assert samples(got) == samples(expected)
    assert headers(got) == headers(expected)


def copy_case(tmp_path, case: str):
    target = tmp_path / case
    shutil.copytree(CASES / case, target)
    return target


def test_malformed_file_is_skipped_and_others_served(tmp_path):
    directory = copy_case(tmp_path, "two_metric_files")
    (directory / "broken.prom").write_text('bad_metric{foo="bar" 1\n')
    got = samples(collect_text(run(str(directory))))
    assert got[("node_textfile_scrape_error", ())] == 1
    assert got[("testmetric1_1", (("foo", "bar"),))] == 10
    assert got[("testmetric2_2", (("foo", "baz"),))] == 40
    files = {dict(k[1])["file"] for k in got if k[0] == "node_textfile_mtime_seconds"}
    assert files == {str(directory / "metrics1.prom"), str(directory / "metrics2.prom")}


def test_mtime_is_the_files(tmp_path):
    directory = copy_case(tmp_path, "histogram")
    path = directory / "metrics.prom"
    os.utime(path, ns=(1_600_000_000_500_000_000, 1_600_000_000_500_000_000))
    got = samples(collect_text(run(str(directory))))
    assert got[("node_textfile_mtime_seconds", (("file", str(path)),))] == 1600000000.5


def test_changed_file_is_read_again(tmp_path):
    directory = tmp_path / "d"
    directory.mkdir()
    path = directory / "a.prom"
    path.write_text("x 1\n")
    collector = run(str(directory))
    assert samples(collect_text(collector))[("x", ())] == 1
    assert samples(collect_text(collector))[("x", ())] == 1  # served from the cache
    path.write_text("x 22\n")
    os.utime(path, ns=(1, 2_000_000_000))
    assert samples(collect_text(collector))[("x", ())] == 22
    path.write_text("x{\n")
    os.utime(path, ns=(1, 3_000_000_000))
    got = samples(collect_text(collector))
    assert ("x", ()) not in got
    assert got[("node_textfile_scrape_error", ())] == 1
    path.unlink()
    got = samples(collect_text(collector))
    assert got == {("node_textfile_scrape_error", ()): 0}


def test_unreadable_file_sets_error(tmp_path):
    if os.geteuid() == 0:
        # root reads anything; a directory named like a file fails to read instead
        (tmp_path / "dir.prom").mkdir()
    else:
        bad = tmp_path / "secret.prom"
        bad.write_text("x 1\n")
        bad.chmod(0)
    (tmp_path / "ok.prom").write_text("y 2\n")
    got = samples(collect_text(run(str(tmp_path))))
    assert got[("node_textfile_scrape_error", ())] == 1
    assert got[("y", ())] == 2


def test_no_directory_configured_reports_no_error():
    got = samples(collect_text(run("")))
    assert got == {("node_textfile_scrape_error", ()): 0}


def test_openmetrics_counter_names(tmp_path):
    (tmp_path / "a.prom").write_text("# TYPE jobs_total counter\njobs_total 3\n"
                                     "# TYPE odd counter\nodd 4\n")
    text = collect_text(run(str(tmp_path)), openmetrics=True)
    assert "# TYPE jobs counter\n" in text and "jobs_total 3.0\n" in text
    assert "# TYPE odd counter\n" in text and "odd_total 4.0\n" in text


@pytest.mark.parametrize("case", sorted(DIRECTORIES))
def test_openmetrics_output_parses_with_the_same_values(case):
    from prometheus_client.openmetrics.parser import text_string_to_metric_families as om

    collector = run(str(CASES / DIRECTORIES[case]))
    text = samples(collect_text(collector))
    parsed = {(s.name, tuple(sorted(s.labels.items()))): s.value
              for fam in om(collect_text(collector, openmetrics=True)) for s in fam.samples}
    assert parsed == text
