"""Audio features and the FSDD loader."""

from __future__ import annotations

import io
import tarfile

import numpy as np
import pytest
import scipy.io.wavfile

from rnnkit.data.audio import log_mel, mel_filterbank, mfcc, power_spectrum, read_wav
from rnnkit.data.datasets.fsdd import load_fsdd


def tone(freq: float, sr: int = 8000, seconds: float = 0.5) -> np.ndarray:
    return np.sin(2 * np.pi * freq * np.arange(int(sr * seconds)) / sr).astype(np.float32)


def test_frame_count_and_shapes():
    y = tone(440)  # 4000 samples
    assert power_spectrum(y, n_fft=256, hop=80).shape == (1 + 4000 // 80, 129)
    assert log_mel(y, 8000).shape == (51, 40)
    assert mfcc(y, 8000, n_mfcc=13).shape == (51, 13)


@pytest.mark.parametrize("freq", [300.0, 1000.0, 2500.0])
def test_a_tone_peaks_in_the_mel_band_that_holds_its_frequency(freq):
    sr, n_fft = 8000, 256
    bank = mel_filterbank(sr, n_fft, 40)
    band = int(np.argmax(log_mel(tone(freq), sr).mean(axis=0)))
    bin_of_tone = int(round(freq / (sr / n_fft)))
    assert bank[band, bin_of_tone] > 0, f"band {band} does not cover {freq} Hz"


def test_filterbank_triangles_have_unit_area():
    bank = mel_filterbank(8000, 4096, 20, fmin=100, fmax=3800)
    hz_per_bin = 8000 / 4096
    np.testing.assert_allclose(bank.sum(axis=1) * hz_per_bin, 1.0, rtol=0.02)


def wav_bytes(samples: np.ndarray, sr: int = 8000) -> bytes:
    buffer = io.BytesIO()
    scipy.io.wavfile.write(buffer, sr, (samples * 32767).astype(np.int16))
    return buffer.getvalue()


def test_read_wav_scales_int16_and_refuses_garbage(tmp_path):
    y, sr = read_wav(wav_bytes(tone(440)))
    assert sr == 8000 and y.dtype == np.float32 and 0.99 < np.abs(y).max() <= 1.0
    (tmp_path / "bad.wav").write_bytes(b"RIFF\x00\x00not a wav at all")
    with pytest.raises(ValueError, match=r"bad\.wav: not a readable WAV file"):
        read_wav(tmp_path / "bad.wav")


def test_fsdd_loader_on_a_small_archive(tmp_path):
    (tmp_path / "fsdd").mkdir()
    with tarfile.open(tmp_path / "fsdd" / "fsdd_recordings.tar.gz", "w:gz") as tar:
        for name in ["3_alice_0.wav", "3_alice_7.wav", "README.txt"]:
            data = wav_bytes(tone(440)) if name.endswith(".wav") else b"hello"
            info = tarfile.TarInfo(f"recordings/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    recordings = load_fsdd(tmp_path)
    assert [(r.digit, r.speaker, r.index, r.split) for r in recordings] == [
        (3, "alice", 0, "test"),
        (3, "alice", 7, "train"),
    ]


def test_fsdd_missing_archive_says_where_to_put_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"fsdd_recordings\.tar\.gz is missing"):
        load_fsdd(tmp_path)


def test_real_fsdd_standard_split(shared_datasets):
    recordings = load_fsdd(shared_datasets)
    assert len(recordings) == 3000
    assert sum(r.split == "test" for r in recordings) == 300  # 6 speakers x 10 digits x 5 takes
    assert {r.rate for r in recordings} == {8000}
