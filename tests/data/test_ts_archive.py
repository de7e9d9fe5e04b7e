"""The UEA/UCR ``.ts`` reader: small files written here, from a folder and from a wheel."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from rnnkit.data import DataError
from rnnkit.data.datasets.ts_archive import archive_files, load_archive, main, read_ts

TS = """# a comment
@problemName Toy
@univariate false
@dimensions 2
@equalLength true
@classLabel true walk run
@data
1,2,3:4,5,6:walk
0.5,0.25,-1:7,8,9:run
"""


def test_read_ts_gives_cases_steps_channels():
    x, y = read_ts(TS, "toy.ts")
    np.testing.assert_array_equal(x[0], [[1, 4], [2, 5], [3, 6]])
    np.testing.assert_array_equal(x[1, :, 0], [0.5, 0.25, -1])
    assert y.tolist() == ["walk", "run"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (TS.replace("1,2,3:4,5,6:walk", "1,2:4,5,6:walk"), "toy.ts: line 8: channels of lengths"),
        (TS.replace("1,2,3:4,5,6:walk", "1,?,3:4,5,6:walk"), "toy.ts: line 8: could not convert"),
        (TS.replace("7,8,9:run", "7,8,9:swim"), r"labels \['swim'\] are not in @classLabel"),
        (TS.replace("0.5,0.25,-1:7,8,9:run", "0.5,0.25,-1:run"), "line 9: 1 channels of 3 steps"),
        (TS.replace("@data\n", ""), "toy.ts: line 7: expected an @ header line"),
        (TS.split("@data")[0] + "@data\n", "no cases after @data"),
        (TS.replace("1,2,3:4,5,6:walk", "1,inf,3:4,5,6:walk"), "line 8: missing or non-finite"),
    ],
)
def test_bad_files_name_file_and_line(text, message):
    with pytest.raises(DataError, match=message):
        read_ts(text, "toy.ts")


def test_from_a_folder_and_from_a_wheel(tmp_path):
    folder = tmp_path / "Toy"
    folder.mkdir()
    for split in ("TRAIN", "TEST"):
        (folder / f"Toy_{split}.ts").write_text(TS)
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for split in ("TRAIN", "TEST"):
            z.writestr(f"pkg/datasets/data/Toy/Toy_{split}.ts", TS)
    a, b = load_archive("Toy", tmp_path), load_archive("Toy", wheel)
    for key in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(a[key], b[key])
    assert a["x_train"].shape == (2, 3, 2) and a["x_train"].dtype == np.float32
    assert archive_files("Toy", wheel)["test"][1].endswith("!pkg/datasets/data/Toy/Toy_TEST.ts")
    with pytest.raises(DataError, match="holds no Other_TRAIN.ts"):
        load_archive("Other", wheel)


def test_command_writes_an_npz_for_classify(tmp_path, capsys):
    for split in ("TRAIN", "TEST"):
        (tmp_path / f"Toy_{split}.ts").write_text(TS)
    main(["Toy", str(tmp_path), str(tmp_path / "toy.npz")])
    assert "2 train and 2 test series of 3 steps x 2 channels" in capsys.readouterr().out
    with np.load(tmp_path / "toy.npz") as f:
        assert sorted(f.files) == ["x_test", "x_train", "y_test", "y_train"]
    with pytest.raises(SystemExit) as stop:
        main(["Toy", str(tmp_path / "nowhere"), str(tmp_path / "x.npz")])
    assert stop.value.code == 1 and "nowhere: no such file" in capsys.readouterr().err
