"""Train one peer library's LSTM on a scaled series and forecast every test window.

Run by ``benchmarks/ett_peers.py`` with the Python of a separate environment that holds the peer
library (it imports nothing from rnnkit):

    PEER_PYTHON benchmarks/ett_peers_worker.py IN.npz OUT.npz

``IN.npz`` holds ``z`` (T,) the standardised series, ``borders`` (train end, validation end, test
end), ``origins`` (N,) the row of the last observed value of each test window, and ``spec`` (a
JSON string: library, lookback, horizon, hidden_size, epochs, patience, batch_size, lr, seed,
threads). ``OUT.npz`` receives ``pred`` (N, H) and ``info`` (JSON: train/predict wall seconds,
parameters, library version). Errors are scored by the caller with rnnkit's own metric code.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import time
import warnings

import numpy as np


def darts_block_lstm(z, borders, origins, spec, workdir):
    """Darts ``BlockRNNModel(model="LSTM")``: an LSTM encoder and a dense head emitting H steps."""
    import darts
    from darts import TimeSeries
    from darts.models import BlockRNNModel
    from pytorch_lightning.callbacks import EarlyStopping

    L, H = spec["lookback"], spec["horizon"]
    train_end, val_end, _ = borders
    series = TimeSeries.from_values(z.astype(np.float32))
    stop = EarlyStopping("val_loss", patience=spec["patience"], mode="min")
    model = BlockRNNModel(
        input_chunk_length=L,
        output_chunk_length=H,
        model="LSTM",
        hidden_dim=spec["hidden_size"],
        n_rnn_layers=1,
        batch_size=spec["batch_size"],
        n_epochs=spec["epochs"],
        optimizer_kwargs={"lr": spec["lr"]},
        random_state=spec["seed"],
        use_reversible_instance_norm=True,  # per-window normalisation, as ours
        model_name="peer",
        work_dir=workdir,
        save_checkpoints=True,
        force_reset=True,
        pl_trainer_kwargs={
            "accelerator": "cpu",
            "callbacks": [stop],
            "enable_progress_bar": False,
            "enable_model_summary": False,
        },
    )
    started = time.perf_counter()
    model.fit(series[:train_end], val_series=series[train_end - L : val_end], verbose=False)
    epochs = model.epochs_trained
    model = BlockRNNModel.load_from_checkpoint("peer", work_dir=workdir, best=True)
    train_s = time.perf_counter() - started
    started = time.perf_counter()
    inputs = [series[o + 1 - L : o + 1] for o in origins]
    out = model.predict(n=H, series=inputs, batch_size=1024, verbose=False)
    pred = np.stack([s.values()[:, 0] for s in out])
    params = sum(p.numel() for p in model.model.parameters())
    info = {"version": f"darts {darts.__version__}", "epochs": epochs}
    return pred, train_s, time.perf_counter() - started, params, info


def neuralforecast_lstm(z, borders, origins, spec, workdir):
    """NeuralForecast ``LSTM``: an LSTM encoder and an MLP decoder emitting H steps."""
    import neuralforecast
    import pandas as pd
    from neuralforecast import NeuralForecast
    from neuralforecast.losses.pytorch import MSE
    from neuralforecast.models import LSTM

    L, H = spec["lookback"], spec["horizon"]
    train_end, val_end, test_end = borders
    per_epoch = int(np.ceil((train_end - L - H + 1) / spec["batch_size"]))
    model = LSTM(
        h=H,
        input_size=L,
        encoder_n_layers=1,
        encoder_hidden_size=spec["hidden_size"],
        decoder_hidden_size=spec["hidden_size"],
        decoder_layers=1,
        loss=MSE(),
        max_steps=per_epoch * spec["epochs"],
        val_check_steps=per_epoch,  # validate once per epoch's worth of windows
        early_stop_patience_steps=spec["patience"],
        learning_rate=spec["lr"],
        windows_batch_size=spec["batch_size"],
        scaler_type="standard",  # per-window standardisation
        random_seed=spec["seed"],
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        default_root_dir=workdir,
    )
    frame = pd.DataFrame({"unique_id": "OT", "ds": np.arange(test_end), "y": z[:test_end]})
    nf = NeuralForecast(models=[model], freq=1)
    test_size = test_end - val_end
    started = time.perf_counter()
    # refit=False: one fit on the rows before validation (validation for early stopping), then
    # forecasts from every origin of the test rows with the fitted weights
    cv = nf.cross_validation(
        frame,
        val_size=val_end - train_end,
        test_size=test_size,
        n_windows=None,
        step_size=1,
        refit=False,
    )
    elapsed = time.perf_counter() - started
    cv = cv.sort_values(["cutoff", "ds"])
    cutoffs = np.sort(cv["cutoff"].unique())
    if not np.array_equal(cutoffs, origins):
        raise RuntimeError(f"neuralforecast cutoffs {cutoffs[:3]}... differ from the origins")
    pred = cv["LSTM"].to_numpy().reshape(len(cutoffs), H)
    params = sum(p.numel() for p in nf.models[0].parameters())
    # cross_validation trains and predicts in one call: the time is reported as training time
    info = {"version": f"neuralforecast {neuralforecast.__version__}", "predict_in_train": True}
    return pred, elapsed, 0.0, params, info


PEERS = {"darts": darts_block_lstm, "neuralforecast": neuralforecast_lstm}


def main() -> None:
    if len(sys.argv) != 3 or sys.argv[1] in ("-h", "--help"):
        sys.exit("usage: PEER_PYTHON benchmarks/ett_peers_worker.py IN.npz OUT.npz (run by "
                 "benchmarks/ett_peers.py)")  # fmt: skip
    source, target = sys.argv[1:3]
    data = np.load(source)
    spec = json.loads(str(data["spec"]))
    warnings.filterwarnings("ignore")
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning").setLevel(logging.ERROR)
    import torch

    torch.set_num_threads(spec["threads"])
    torch.manual_seed(spec["seed"])
    with tempfile.TemporaryDirectory(prefix="rnnkit-peer-") as workdir:
        cpu = time.process_time()
        pred, train_s, predict_s, params, info = PEERS[spec["library"]](
            data["z"], [int(b) for b in data["borders"]], data["origins"], spec, workdir
        )
        info.update(
            train_s=train_s,
            predict_s=predict_s,
            parameters=int(params),
            cpu_s=time.process_time() - cpu,
            torch=torch.__version__,
        )
    np.savez(target, pred=pred.astype(np.float64), info=json.dumps(info))


if __name__ == "__main__":
    main()
