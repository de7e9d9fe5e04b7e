"""One time-series reader serves forecast and anomaly: the same bad file, the same error.

Each malformed CSV is given to ``rnnkit forecast train`` and ``rnnkit anomaly train``; both must
stop with exit code 1 and the same one-line message naming the file, the 1-based line and the
column, and write nothing.
"""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from rnnkit.cli.main import cli

GOOD = [f"2020-01-01 {h:02d}:00,{h % 5}.0" for h in range(24)]
CASES = {
    "missing-column": ("stamp,value\n", GOOD, r": line 1: no column 'timestamp'; the header has"),
    "text-in-number": (
        None,
        {5: "2020-01-01 05:00,high"},
        r": line 7, column 'value': not a number: 'high'",
    ),  # noqa: E501
    "nan": (None, {6: "2020-01-01 06:00,"}, r": line 8, column 'value': missing value"),
    "duplicate": (
        None,
        {4: "2020-01-01 03:00,1.0"},
        r": line 6, column 'timestamp': duplicated timestamp",
    ),  # noqa: E501
    "unsorted": (
        None,
        {3: "2020-01-01 05:00,1.0", 5: "2020-01-01 03:00,1.0"},
        r": lines 6, 7, column 'timestamp': goes back in time",
    ),  # noqa: E501
    "empty": ("", [], r": line 1: the file is empty"),
    "binary": (
        b"timestamp,value\n2020-01-01 00:00,1\n\x89PNG\x00\x01",
        [],
        r": line 3: not UTF-8 text",
    ),  # noqa: E501
}


def write(path, case):
    header, rows, _ = CASES[case]
    if isinstance(header, bytes):
        path.write_bytes(header)
        return path
    lines = list(GOOD)
    if isinstance(rows, dict):
        for i, row in rows.items():
            lines[i] = row
    else:
        lines = rows
    text = "" if header == "" else (header or "timestamp,value\n") + "\n".join(lines) + "\n"
    path.write_text(text)
    return path


def run(*args):
    return CliRunner().invoke(cli, [*map(str, args)])


@pytest.mark.parametrize("case", sorted(CASES))
def test_forecast_and_anomaly_refuse_a_bad_csv_alike(tmp_path, case):
    csv = write(tmp_path / f"{case}.csv", case)
    forecast = run(
        "forecast", "train", "--csv", csv, "--data.time_column", "timestamp",
        "--target", "value", "--lookback", "4", "--horizon", "2", "--out", tmp_path / "f",
    )  # fmt: skip
    anomaly = run(
        "anomaly", "train", "--data", csv, "--data.timestamp_column", "timestamp",
        "--out", tmp_path / "a",
    )  # fmt: skip
    messages = []
    for done in (forecast, anomaly):
        assert done.exit_code == 1, done.output
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "Traceback" not in done.output, done.output
        messages.append(lines[0])
    assert messages[0] == messages[1]
    assert messages[0].startswith(f"Error: {csv}")
    assert re.search(CASES[case][2], messages[0]), messages[0]
    assert not (tmp_path / "f").exists() and not (tmp_path / "a").exists()
