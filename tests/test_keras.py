"""shoal.keras: a shoal study drives Keras Tuner; epochs reported so schedulers stop poor trials.

Keras 3 on the PyTorch CPU backend, a small dense model on the bundled digits data.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from conftest import sqlite_url_for  # noqa: E402

pytest.importorskip("torch")
keras = pytest.importorskip("keras")
kt = pytest.importorskip("keras_tuner")

from sklearn.datasets import load_digits  # noqa: E402

import shoal  # noqa: E402
from shoal.keras import PruningCallback, ShoalOracle, Tuner, from_unit, space_of  # noqa: E402
from shoal.schedulers import ASHA, MedianStopping  # noqa: E402

X, Y = load_digits(return_X_y=True)
X = (X / 16.0).astype("float32")
X_TRAIN, Y_TRAIN, X_VALID, Y_VALID = X[:600], Y[:600], X[600:900], Y[600:900]


def build_model(hp):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,))])
    model.add(keras.layers.Dense(hp.Int("units", 8, 32, step=8), activation="relu"))
    if hp.Boolean("dropout"):
        model.add(keras.layers.Dropout(0.2))
    optimizer = hp.Choice("optimizer", ["adam", "sgd"])
    # the notes' wish: a value from a function of a random number in (0, 1), under a parent condition
    momentum = from_unit(hp, "momentum", lambda u: 1 - 10 ** (-2 * u) / 2, parent_name="optimizer",
                         parent_values=["sgd"])
    lr = hp.Float("lr", 1e-3, 1e-1, sampling="log")
    opt = (keras.optimizers.Adam(lr) if optimizer == "adam"
           else keras.optimizers.SGD(lr, momentum=momentum))
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_hyperparameters_become_shoal_dimensions():
    hp = kt.HyperParameters()
    hp.Int("units", 8, 64, step=8)
    hp.Int("layers", 1, 64, sampling="log")
    hp.Int("filters", 4, 64, step=2, sampling="log")  # a log step multiplies: 4, 8, 16, 32, 64
    hp.Float("lr", 1e-4, 1e-1, sampling="log")
    hp.Float("beta", 0.9, 0.999, sampling="reverse_log")
    hp.Float("decay", 1.0, 10.0, sampling="reverse_log")
    hp.Boolean("bn")
    hp.Fixed("act", "relu")
    opt = hp.Choice("opt", ["adam", "sgd"])
    with hp.conditional_scope("opt", ["sgd"]):
        hp.Float("momentum", 0.0, 0.9)
    alpha = from_unit(hp, "alpha", lambda u: 10 ** (-3 * u) / 10)
    assert opt == "adam" and alpha == pytest.approx(10 ** -1.5 / 10)
    space = space_of(hp)
    assert space["units"] == shoal.Int(8, 64, step=8, default=8)
    assert space["layers"] == shoal.Int(1, 64, scale="log", default=1)
    assert space["filters"] == shoal.Choice([4, 8, 16, 32, 64], default=4)
    assert space["lr"] == shoal.Float(1e-4, 1e-1, scale="log", default=1e-4)
    assert space["beta"] == shoal.Float(0.9, 0.999, scale="reverse_log", default=0.9)
    # a range above 1 keeps Keras Tuner's own mirrored log map: dense near the top
    decay = space["decay"]
    assert decay.from_unit(0.0) == pytest.approx(1.0) and decay.from_unit(1.0) == pytest.approx(10.0)
    assert decay.from_unit(0.5) > 5.5
    assert space["bn"] == shoal.Choice([False, True], default=False)
    assert space["act"] == shoal.Fixed("relu")
    assert space["momentum"].when == {"opt": ("sgd",)}
    # from_unit: the study records fn(u), log-uniform over [1e-4, 1e-1] here
    assert space["alpha"].from_unit(0.0) == pytest.approx(0.1)
    assert space["alpha"].from_unit(1.0) == pytest.approx(1e-4)
    config, unit = space.decode([0.5] * len(space))
    assert config["alpha"] == pytest.approx(10 ** -1.5 / 10) and unit["alpha"] == 0.5


def test_from_unit_arguments_are_checked():
    hp = kt.HyperParameters()
    with pytest.raises(ValueError, match="fn must be callable"):
        from_unit(hp, "x", 3.0)
    with pytest.raises(ValueError, match="both parent_name and parent_values"):
        from_unit(hp, "x", float, parent_name="opt")


def test_oracle_drives_a_tuner_stops_poor_trials_and_resumes(tmp_path):
    def tuner(max_trials):
        oracle = ShoalOracle(
            objective="val_accuracy", max_trials=max_trials, sampler=shoal.samplers.TPE(n_startup=2),
            scheduler=MedianStopping(n_startup=1), seed=0,
        )
        t = kt.Tuner(hypermodel=build_model, oracle=oracle, directory=str(tmp_path), project_name="digits",
                     overwrite=False)
        return t, oracle

    first, oracle = tuner(3)
    first.oracle.study  # noqa: B018 - opened lazily, nothing is there before the search
    # a configuration that learns little in 3 epochs, so median stopping has something to stop
    oracle.study.enqueue({"units": 32, "dropout": False, "optimizer": "adam", "lr": 0.01})
    oracle.study.enqueue({"units": 8, "dropout": True, "optimizer": "sgd", "momentum": 0.5, "lr": 0.001})
    first.search(X_TRAIN, Y_TRAIN, validation_data=(X_VALID, Y_VALID), epochs=3, batch_size=64, verbose=0,
                 callbacks=[PruningCallback(oracle)])
    url = sqlite_url_for(tmp_path / "digits" / "shoal.db")  # the study lives in the tuner's project folder
    trials = shoal.Study.load("keras-tuner", url, space=oracle.study.space).trials
    assert len(trials) == 3
    good, poor = trials[0], trials[1]
    assert good.state == shoal.TrialState.COMPLETE
    assert [s for s, _ in good.reports] == [0, 1, 2]
    # the Keras Tuner score is the best val_accuracy, which the study keeps as the value
    kt_trial = first.oracle.get_trial("0")
    assert good.value == pytest.approx(kt_trial.score)
    assert max(v for _, v in good.reports) == pytest.approx(good.value)
    assert poor.state == shoal.TrialState.PRUNED and len(poor.reports) < 3
    assert poor.config["momentum"] == 0.5
    # Keras Tuner saw the unit number of the from_unit dimension; the study records the value
    third = trials[2]
    if third.config["optimizer"] == "sgd":
        assert 0.5 <= third.config["momentum"] <= 0.995
    assert first.get_best_hyperparameters()[0].values["units"] == good.config["units"]

    # a new tuner on the same project resumes: Keras Tuner's trials and the study's both continue
    second, oracle2 = tuner(4)
    second.search(X_TRAIN, Y_TRAIN, validation_data=(X_VALID, Y_VALID), epochs=1, batch_size=64, verbose=0,
                  callbacks=[PruningCallback(oracle2)])
    assert len(second.oracle.trials) == 4
    assert len(shoal.Study.load("keras-tuner", url, space=oracle.study.space).trials) == 4


class _Interrupt(keras.callbacks.Callback):
    """Ctrl-C in the middle of the second trial's second epoch."""

    def __init__(self, oracle):
        super().__init__()
        self.oracle = oracle

    def __deepcopy__(self, memo):
        return self

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1 and self.oracle.current.number == 1:
            raise KeyboardInterrupt


def test_an_interrupted_search_resumes_with_the_same_trial(tmp_path):
    def tuner():
        oracle = ShoalOracle(objective="val_accuracy", max_trials=3, seed=1)
        return kt.Tuner(hypermodel=build_model, oracle=oracle, directory=str(tmp_path), project_name="p",
                        overwrite=False), oracle

    first, oracle = tuner()
    fit = dict(validation_data=(X_VALID, Y_VALID), epochs=2, batch_size=64, verbose=0)
    with pytest.raises(KeyboardInterrupt):
        first.search(X_TRAIN, Y_TRAIN, callbacks=[PruningCallback(oracle), _Interrupt(oracle)], **fit)
    interrupted = oracle.study.trials[1]
    assert interrupted.state == shoal.TrialState.RUNNING and len(interrupted.reports) == 2
    second, oracle2 = tuner()  # Keras Tuner reloads its project and runs trial "1" again
    second.search(X_TRAIN, Y_TRAIN, callbacks=[PruningCallback(oracle2)], **fit)
    trials = oracle2.study.trials
    assert [t.state.value for t in trials] == ["COMPLETE", "FAILED", "COMPLETE", "COMPLETE"]
    assert "runs again" in trials[1].error and trials[2].config == trials[1].config
    assert sorted(second.oracle.trials) == ["0", "1", "2"]
    assert second.oracle.get_trial("1").score == pytest.approx(trials[2].value)


def test_callback_in_a_plain_keras_objective_raises_trial_pruned():
    study = shoal.Study("plain", {"lr": shoal.Float(1e-4, 0.1, scale="log")},
                        scheduler=MedianStopping(n_startup=1))
    study.enqueue({"lr": 0.05})
    study.enqueue({"lr": 1e-4})

    def objective(config, trial):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10, activation="softmax")])
        model.compile(keras.optimizers.SGD(config["lr"]), "sparse_categorical_crossentropy")
        history = model.fit(X_TRAIN, Y_TRAIN, validation_data=(X_VALID, Y_VALID), epochs=4, batch_size=64,
                            verbose=0, callbacks=[PruningCallback(trial, monitor="val_loss")])
        return history.history["val_loss"][-1]

    study.optimize(objective, n_trials=2, show_progress=False)
    good, poor = study.trials
    assert good.state == shoal.TrialState.COMPLETE and len(good.reports) == 4
    assert poor.state == shoal.TrialState.PRUNED and len(poor.reports) < 4


#: the learning rates build_unit_model built models with, in order
BUILT: list[float] = []


def build_unit_model(hp):
    keras.utils.set_random_seed(0)
    lr = from_unit(hp, "lr", lambda u: 10 ** (-3 * u) / 10)  # 1e-4 .. 1e-1
    BUILT.append(lr)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10, activation="softmax")])
    model.compile(keras.optimizers.SGD(lr), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_tuner_preset_stops_poor_trials_and_shows_the_values_trials_ran_with(tmp_path, capsys):
    def tuner():
        return Tuner(build_unit_model, objective="val_accuracy", max_trials=3, max_epochs=3, seed=0,
                     directory=str(tmp_path), project_name="p", overwrite=False)

    first = tuner()
    scheduler = first.oracle.scheduler
    assert isinstance(scheduler, ASHA) and scheduler.max_resource == 3 and scheduler.reduction_factor == 3
    fit = dict(validation_data=(X_VALID, Y_VALID), batch_size=64, verbose=0)
    with pytest.raises(ValueError, match="epochs: this Tuner trains each trial up to max_epochs=3"):
        first.search(X_TRAIN, Y_TRAIN, epochs=5, **fit)
    assert first.oracle.study.trials == []
    first.oracle.study.enqueue({"lr": 0.1})  # a value by hand: from_unit takes it as it is
    first.oracle.study.enqueue({"lr": 1e-4})  # learns little: ASHA stops it at the first rung
    BUILT.clear()
    first.search(X_TRAIN, Y_TRAIN, **fit)
    good, poor, third = first.oracle.study.trials
    assert BUILT[:2] == [0.1, 1e-4]  # before, from_unit mapped the enqueued value again
    assert good.state == shoal.TrialState.COMPLETE and [s for s, _ in good.reports] == [0, 1, 2]
    assert poor.state == shoal.TrialState.PRUNED and [s for s, _ in poor.reports] == [0, 1]
    assert third.unit["lr"] is not None and BUILT[2] == pytest.approx(third.config["lr"])
    # Keras Tuner shows the values the trials ran with (before: the unit number of a sampled one)
    shown = sorted(t.hyperparameters.values["lr"] for t in first.oracle.trials.values())
    assert shown == sorted(t.config["lr"] for t in (good, poor, third))
    best = first.get_best_hyperparameters()[0]
    assert best.values["lr"] == pytest.approx(first.oracle.study.best.config["lr"])
    capsys.readouterr()
    first.results_summary(3)
    summary = capsys.readouterr().out
    assert f"lr: {third.config['lr']}" in summary and f"lr: {third.unit['lr']}" not in summary
    # and building from them (or a copy) gives the model the trial trained
    BUILT.clear()
    first.hypermodel.build(best.copy())
    first.get_best_models(1)
    assert BUILT == [best.values["lr"]] * 2
    # a tuner made again reloads the project: the same values, the unit numbers kept aside
    again = tuner().oracle.trials
    assert {k: t.hyperparameters.values for k, t in again.items()} == {
        k: t.hyperparameters.values for k, t in first.oracle.trials.items()}
    [sampled] = [t for t in again.values() if t.hyperparameters.values["lr"] == third.config["lr"]]
    BUILT.clear()
    first.hypermodel.build(sampled.hyperparameters)
    assert BUILT == [pytest.approx(third.config["lr"])]


def test_bad_arguments():
    with pytest.raises(ValueError, match="sampler must be a shoal sampler"):
        ShoalOracle(objective="val_loss", sampler="tpe")
    with pytest.raises(ValueError, match="max_trials"):
        ShoalOracle(objective="val_loss", max_trials=0)
    with pytest.raises(ValueError, match="max_epochs must be an int >= 1"):
        Tuner(build_unit_model, objective="val_loss", max_epochs=0)
    with pytest.raises(ValueError, match="makes its own ShoalOracle"):
        Tuner(build_unit_model, oracle=ShoalOracle(objective="val_loss"))
    with pytest.raises(ValueError, match="PruningCallback: give the ShoalOracle"):
        PruningCallback("val_loss")
    study = shoal.Study("cb", {"lr": shoal.Float(0.1, 1.0)})
    callback = PruningCallback(study.ask(), monitor="val_auc")
    with pytest.raises(ValueError, match="'val_auc' is not in the epoch's logs"):
        callback.on_epoch_end(0, {"val_loss": 1.0})
    assert np.isfinite(1.0)
