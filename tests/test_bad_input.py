"""Bad input (issue 12): a clear error naming the parameter and the fix, raised before anything is
stored; on the command line exit code 2 and one line (``shoal: error: ...``), never a traceback.

The first part holds one regression test per problem the issue lists (each reproduced before the
fix: a traceback and exit code 1, an OverflowError, a created database...); the second part builds
random bad spaces, run configs and command lines with Hypothesis and checks the contract on all.
"""

from __future__ import annotations

import itertools
import math
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import shoal
from shoal import Choice, Custom, Fixed, Float, Int, Space
from shoal.cli import main
from shoal.config import ConfigError, RunConfig
from shoal.storage import StudyNotFound, get_storage
from shoal.storage.sql import SQLStorage

PROPERTY = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
_names = itertools.count()

GOOD_SPACE = {"x": {"type": "float", "low": 0.0, "high": 1.0}, "n": {"type": "int", "low": 1, "high": 4}}


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code: int, err: str, *names: str) -> str:
    """The contract: exit 2, one line on stderr that says error, no traceback, naming ``names``."""
    assert code == 2, err
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("shoal") and ": error: " in lines[0], err
    for name in names:
        assert name in lines[0], (name, err)
    return lines[0]


def nothing_stored(db: Path) -> None:
    """The database file is absent, or holds no study."""
    if db.exists():
        assert get_storage(f"sqlite:///{db}").list_studies() == []


def write_config(folder: Path, db: Path, name: str = "run.yaml", **changes: Any) -> Path:
    data = {
        "study": "demo",
        "objective": "cli_objectives:score",
        "space": {
            "lr": {"type": "float", "low": "1e-4", "high": 1, "scale": "log"},
            "units": {"type": "int", "low": 32, "high": 256, "step": 32},
            "opt": {"type": "choice", "values": ["adam", "sgd"]},
        },
        "direction": "maximize",
        "n_trials": 3,
        "seed": 0,
        "storage": f"sqlite:///{db}",
    }
    data.update(changes)
    path = folder / name
    path.write_text(yaml.safe_dump({k: v for k, v in data.items() if v is not None}, sort_keys=False))
    return path


def module(folder: Path, source: str) -> str:
    """A module of a fresh name in ``folder`` (a name never imported before in this process)."""
    name = f"bad_input_module_{os.getpid()}_{next(_names)}"
    (folder / f"{name}.py").write_text(source)
    return name


def make_study(db: Path, n: int = 3) -> None:
    sampler = shoal.samplers.Random(seed=0)
    study = shoal.Study("demo", {"x": Float(0, 1)}, storage=f"sqlite:///{db}", sampler=sampler)
    study.optimize(lambda c: c["x"], n_trials=n, show_progress=False)
    study.storage.close()  # the last connection checkpoints the WAL into the file and removes it


@contextmanager
def immutable(*paths: Path) -> Iterator[None]:
    """``chattr +i``: the kernel refuses every write, even root's (tests run as root, which ignores
    mode 0444). Skips where the filesystem or the user cannot set the flag."""
    done: list[Path] = []
    try:
        for path in paths:
            result = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
            if result.returncode != 0:
                pytest.skip(f"chattr +i is not available here ({result.stderr.strip()})")
            done.append(path)
        yield
    finally:
        for path in reversed(done):
            subprocess.run(["chattr", "-i", str(path)], check=True)


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file of ``folder``: its bytes and modification time."""
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir()) if p.is_file()}


def corrupt_trials_table(db: Path) -> None:
    """Overwrite the root page of shoal_trials: the file opens, reading the trials fails."""
    with sqlite3.connect(db) as conn:
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'shoal_trials'").fetchone()[0]
        page = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    data = bytearray(db.read_bytes())
    data[(root - 1) * page:root * page] = b"\xab" * page
    db.write_bytes(bytes(data))


# -- part 1: each problem of the issue ---------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "names"),
    [
        ("def objective(config:\n    return 1\n", ["has a syntax error", "line 1", "was never closed"]),
        ("raise RuntimeError('no GPU here')\n", ["raised RuntimeError: no GPU here", "fix the module"]),
        ("import sys\nsys.exit(3)\n", ["raised SystemExit"]),
        ("import bad_input_missing_package_xyz\n", ["imports 'bad_input_missing_package_xyz'", "install it"]),
    ],
)
def test_an_objective_module_that_fails_to_import_is_one_line(tmp_path: Path, capsys, source, names) -> None:
    """Reproduced: a SyntaxError or an exception at import printed a traceback and exited 1."""
    name = module(tmp_path, source)
    config = write_config(tmp_path, tmp_path / "s.db", objective=f"{name}:objective")
    code, _, err = run_cli(capsys, "run", config, "--no-progress")
    one_line_error(code, err, f"objective '{name}:objective'", f"module '{name}'", *names)
    assert not (tmp_path / "s.db").exists()
    with pytest.raises(ConfigError) as info:  # the Python API: the module's error is the cause
        RunConfig.from_yaml(config).load_objective()
    assert info.value.__cause__ is not None


@pytest.mark.parametrize("sampler", ["cmaes", {"name": "coarse_to_fine", "base": "cmaes"}])
def test_cmaes_on_a_space_with_a_choice_is_refused_before_the_study_is_stored(
    tmp_path: Path, capsys, sampler
) -> None:
    """Reproduced: 23 lines of traceback, exit 1, and the study record created anyway."""
    db = tmp_path / "s.db"
    code, _, err = run_cli(capsys, "run", write_config(tmp_path, db, sampler=sampler), "--no-progress")
    one_line_error(code, err, "sampler", "dimension 'opt' is a Choice", "TPE")
    nothing_stored(db)


def test_a_grid_over_max_points_is_refused_before_the_study_is_stored(tmp_path: Path, capsys) -> None:
    db = tmp_path / "s.db"
    config = write_config(tmp_path, db, sampler={"name": "grid", "resolution": 1_000_000})
    start = time.perf_counter()
    code, _, err = run_cli(capsys, "run", config, "--no-progress")
    one_line_error(code, err, "sampler 'grid'", "more than max_points=1000000", "lower resolution")
    assert time.perf_counter() - start < 5
    nothing_stored(db)


@pytest.mark.parametrize("kind", ["int", "float"])
def test_a_400_digit_bound_in_a_yaml_space_is_one_line(tmp_path: Path, capsys, kind: str) -> None:
    """Reproduced: OverflowError: int too large to convert to float (a traceback, exit 1)."""
    db = tmp_path / "s.db"
    space = {"big": {"type": kind, "low": 0, "high": 10**400}}
    code, _, err = run_cli(capsys, "run", write_config(tmp_path, db, space=space), "--no-progress")
    line = one_line_error(code, err, "dimension 'big'", "high must be", "401-digit integer")
    assert "0" * 100 not in line  # the number is named by its length, not printed
    nothing_stored(db)


def test_a_dimension_defined_twice_in_yaml_is_refused(tmp_path: Path, capsys) -> None:
    """Reproduced: the last definition silently won."""
    db = tmp_path / "s.db"
    config = tmp_path / "twice.yaml"
    config.write_text(
        f"study: demo\nobjective: cli_objectives:score\nn_trials: 2\nstorage: sqlite:///{db}\n"
        "space:\n"
        "  lr: {type: float, low: 1.0e-4, high: 1, scale: log}\n"
        "  units: {type: int, low: 1, high: 4}\n"
        "  lr: {type: float, low: 0, high: 1}\n"
    )
    code, _, err = run_cli(capsys, "run", config, "--no-progress")
    one_line_error(code, err, "dimension 'lr' is defined twice", "lines 6 and 8", "keep one")
    nothing_stored(db)
    config.write_text(config.read_text().replace("  lr: {type: float, low: 0", "  eta: {type: float, low: 0")
                      + "n_trials: 3\n")
    with pytest.raises(ConfigError, match=r"key 'n_trials' is given twice \(lines 3 and 9\)"):
        RunConfig.from_yaml(config)
    config.write_text(
        "study: demo\nobjective: cli_objectives:score\nn_trials: 2\n"
        "space:\n  lr: {type: float, low: 0, high: 1, low: 0.5}\n"
    )
    with pytest.raises(ConfigError, match=r"space: dimension 'lr': field 'low' is given twice"):
        RunConfig.from_yaml(config)


def test_yaml_anchors_and_merge_keys_still_load(tmp_path: Path) -> None:
    config = tmp_path / "anchors.yaml"
    config.write_text(
        "study: demo\nobjective: cli_objectives:score\nn_trials: 2\n"
        "space:\n  a: &unit {type: float, low: 0, high: 1}\n  b: *unit\n  c: {<<: *unit, high: 2}\n"
    )
    space = RunConfig.from_yaml(config).build_space()
    assert space["b"] == Float(0, 1) and space["c"] == Float(0, 2)


def test_study_load_of_a_missing_sqlite_file_creates_nothing(tmp_path: Path) -> None:
    """Reproduced: StudyNotFound, but an empty database file was left behind."""
    db = tmp_path / "nothing.db"
    with pytest.raises(StudyNotFound, match=r"no study named 'mlp': there is no database file"):
        shoal.Study.load("mlp", f"sqlite:///{db}")
    assert not db.exists()
    make_study(tmp_path / "there.db")
    with pytest.raises(StudyNotFound, match=r"no study named 'mlp' in this storage \(studies: 'demo'\)"):
        shoal.Study.load("mlp", f"sqlite:///{tmp_path / 'there.db'}")


def test_a_malformed_database_page_is_one_line_for_run_and_the_read_commands(tmp_path: Path, capsys) -> None:
    """Reproduced: 'database disk image is malformed' as a traceback (exit 1) from run, studies, show,
    trials and best."""
    db = tmp_path / "s.db"
    make_study(db)
    corrupt_trials_table(db)
    storage = ["--storage", f"sqlite:///{db}"]
    for argv in (["studies", *storage], ["show", "demo", *storage], ["trials", "demo", *storage],
                 ["best", "demo", *storage], ["trials", "demo", "--json", *storage]):
        code, _, err = run_cli(capsys, *argv)
        one_line_error(code, err, f"storage sqlite:///{db}", "malformed", "restore it from a backup")
    config = write_config(tmp_path, db, space={"x": {"type": "float", "low": 0, "high": 1}},
                          objective="cli_objectives:score", direction="minimize")
    code, _, err = run_cli(capsys, "run", config, "--no-progress")
    one_line_error(code, err, "malformed", "restore it from a backup")


def test_run_refuses_a_read_only_database_before_writing(tmp_path: Path, capsys) -> None:
    """Reproduced: 'attempt to write a readonly database' as a traceback, exit 1.

    Tests run as root, which ignores mode 0444, so the file is made immutable (chattr +i): the kernel
    then refuses root's writes as it refuses a user's on a 0444 file, and os.access says so."""
    db = tmp_path / "s.db"
    make_study(db)
    config = write_config(tmp_path, db, space={"x": {"type": "float", "low": 0, "high": 1}},
                          direction="minimize", objective="cli_objectives:score")
    before = snapshot(tmp_path)
    with immutable(db):
        code, _, err = run_cli(capsys, "run", config, "--no-progress")
    one_line_error(code, err, f"storage sqlite:///{db}", "is read-only", "'shoal run' writes to it",
                   "make it writable")
    assert snapshot(tmp_path) == before


def test_a_storage_that_fails_while_the_run_writes_is_not_blamed_on_the_objective(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    """A database that refuses a write mid-run (here: set_state raises SQLite's own error, as a
    read-only or full disk does) is a storage error on one line, not 'the objective raised'."""
    db = tmp_path / "s.db"
    config = write_config(tmp_path, db)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(SQLStorage, "set_state", refuse)
    code, _, err = run_cli(capsys, "run", config, "--no-progress")
    line = one_line_error(code, err, f"storage sqlite:///{db}", "readonly", "cannot be written")
    assert "objective" not in line


def test_the_read_commands_work_on_an_immutable_file(tmp_path: Path, capsys) -> None:
    """As root, chattr +i stands in for mode 0444 (see run's test above). The commands must succeed
    and leave the database file as it was. Its directory is writable, so SQLite's WAL reader keeps
    its shared-memory index (-shm) and an empty -wal beside it, as any reader of a WAL file may
    (another user may be writing the file meanwhile, so it is not opened immutable); no data is
    written."""
    db = tmp_path / "s.db"
    make_study(db)
    before = snapshot(tmp_path)
    storage = ["--storage", f"sqlite:///{db}"]
    with immutable(db):
        for argv, seen in ((["studies", *storage], "demo"), (["show", "demo", *storage], "3 complete"),
                           (["trials", "demo", "--csv", *storage], "COMPLETE"),
                           (["best", "demo", "--json", *storage], '"config"')):
            code, out, err = run_cli(capsys, *argv)
            assert code == 0, err
            assert seen in out
    after = snapshot(tmp_path)
    assert after["s.db"] == before["s.db"]
    assert set(after) - set(before) <= {"s.db-shm", "s.db-wal"}
    assert after.get("s.db-wal", (b"",))[0] == b""


def test_the_read_commands_work_in_a_read_only_directory(tmp_path: Path, capsys) -> None:
    """The directory immutable (chattr +i; mode 0555 binds no root): SQLite cannot create the -shm
    file a WAL reader needs, so the file is opened immutable (no writer can exist either)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "s.db"
    make_study(db)
    before = snapshot(folder)
    storage = ["--storage", f"sqlite:///{db}"]
    with immutable(folder):
        for argv in (["studies", *storage], ["show", "demo", *storage], ["trials", "demo", *storage],
                     ["best", "demo", *storage]):
            code, _, err = run_cli(capsys, *argv)
            assert code == 0, err
        code, _, err = run_cli(capsys, "delete", "demo", "--yes", *storage)  # writing still refused
        one_line_error(code, err, f"storage sqlite:///{db}", "directory", "is read-only", "'shoal delete'")
    assert snapshot(folder) == before


def test_a_read_only_storage_writes_nothing_even_where_it_could(tmp_path: Path) -> None:
    """Runs anywhere (root or not, any filesystem): the read-only opening the read commands use on an
    unwritable file reads everything, refuses writes, and leaves the database file's bytes and
    modification time as they were, on a file root could have written."""
    db = tmp_path / "s.db"
    make_study(db)
    bytes_before, mtime_before = db.read_bytes(), db.stat().st_mtime_ns
    storage = SQLStorage(f"sqlite:///{db}", read_only=True)
    try:
        (summary,) = storage.list_studies()
        assert summary.record.name == "demo" and summary.n_trials == 3
        record = storage.get_study("demo")
        assert len(storage.read_trials(record.study_id)) == 3
        with pytest.raises(Exception, match="readonly"):
            storage.create_study("other", "minimize", {"x": Float(0, 1).to_dict()}, "Random()")
    finally:
        storage.close()
    assert db.read_bytes() == bytes_before and db.stat().st_mtime_ns == mtime_before
    with pytest.raises(Exception, match="unable to open database file"):  # and never creates a file
        SQLStorage(f"sqlite:///{tmp_path / 'absent.db'}", read_only=True)
    assert not (tmp_path / "absent.db").exists()


@pytest.mark.parametrize(
    ("build", "names"),
    [
        (lambda: Float(None, 1), ["Float: low must be a number, got None"]),
        (lambda: Int(0, 10**400), ["Int: high must be an integer", "401-digit"]),
        (lambda: Float(-1e308, 1e308), ["Float: high - low must be a finite number", "narrow the range"]),
        (lambda: Space({"lr": {"type": "float", "low": None, "high": 1}}), ["dimension 'lr': low must be"]),
        (lambda: Space({"lr": {"type": "float", "low": 0, "high": 1, "scale": "log"}}),
         ["dimension 'lr': low must be > 0 for scale='log' (got 0)"]),  # the README's example
        (lambda: Space({"lr": {"type": "float", "low": 0}}), ["dimension 'lr': missing field 'high'"]),
        (lambda: Space.from_dict({"lr": [1, 2]}), ["dimension 'lr': value must be str"]),
        (lambda: Space({"lr": {"type": ["float"], "low": 0, "high": 1}}), ["dimension 'lr': type must be"]),
    ],
)
def test_python_space_errors_are_value_errors_naming_the_field(build, names) -> None:
    """Reproduced: Float(None, 1) raised TypeError, Int(0, 10**400) OverflowError, and
    Float(-1e308, 1e308) was accepted with every sample at 1e308."""
    with pytest.raises(ValueError) as info:
        build()
    for name in names:
        assert name in str(info.value)


# -- part 2: random bad input ------------------------------------------------------------------

# (kind, base spec, corruptions): each corruption makes the spec invalid; the message must name the
# field given with it ("values" is named as "value" in per-value messages).
_BIG = 10**400
BAD_DIMENSIONS: list[tuple[dict[str, Any], str, Any]] = []
for _field, _values in {
    "low": [None, "tiny", [1], {"a": 1}, True, _BIG, -_BIG, "1e400", 2.0],
    "high": [None, "big", [], _BIG, "inf", 0.0005],
    "scale": ["cubic", None, 3],
    "step": [0, -1, "x", 0.3, 5e-324, [1]],
    "default": [5.0, "x"],
    "when": [{}, {"nope": [1]}, "opt"],
    "bogus": [1],
    "type": ["flaot", None, [1], 3],
}.items():
    BAD_DIMENSIONS += [({"type": "float", "low": 0.001, "high": 1.0}, _field, v) for v in _values]
for _field, _values in {
    "low": [None, 1.5, "x", _BIG, True, 10],
    "high": [0, _BIG, "ten", -_BIG],
    "step": [0, 4, 1.5, None, "two"],
    "scale": ["log2", []],
    "default": [11, 2.5],
}.items():
    BAD_DIMENSIONS += [({"type": "int", "low": 1, "high": 10}, _field, v) for v in _values]
BAD_DIMENSIONS += [({"type": "choice", "values": ["a", "b"]}, "values", v)
                   for v in [[], "ab", 5, [[1]], ["a", "a"], [1.0, math.nan], [{"k": 1}], None]]
BAD_DIMENSIONS += [({"type": "fixed", "value": 1}, "value", v) for v in [[1], {"a": 1}, math.inf]]
BAD_DIMENSIONS += [({"type": "custom", "fn": "x"}, "fn", v)
                   for v in ["bad_input_no_module_xyz:f", "math:nope", 3]]
BAD_DIMENSIONS += [({"type": "float", "low": 0.0, "high": 1.0, "scale": "log"}, "low", 0.0),
                   ({"type": "float", "low": 0.5, "high": 1.0, "scale": "reverse_log"}, "high", 1.0),
                   ({"type": "int", "low": 1, "high": 10, "scale": "log"}, "step", 3),
                   ({"type": "float", "low": 0.0, "high": 1.0}, "high", None)]  # None: left out


def corrupt(base: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    spec = dict(base)
    if field == "high" and value is None and "step" not in spec and spec.get("scale") is None:
        del spec["high"]  # a missing field
    else:
        spec[field] = value
    return spec


def names_field(message: str, field: str) -> bool:
    return field in message or (field == "values" and "value" in message) or (
        field == "type" and "type" in message)


# values no bound of a Float or an Int accepts: not numbers, non-finite, beyond any float
_junk = st.one_of(
    st.none(), st.booleans(), st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers()),
    st.text(alphabet="abcdefinty", min_size=1, max_size=8),  # "inf", "nan", "tiny": none is a finite number
    st.integers(min_value=2**1024, max_value=10**500),
    st.integers(max_value=-(2**1024), min_value=-(10**500)),
)
bad_dimension = st.one_of(
    st.sampled_from(BAD_DIMENSIONS),
    st.tuples(
        st.sampled_from([{"type": "float", "low": 0.001, "high": 1.0},
                         {"type": "int", "low": 1, "high": 10}]),
        st.sampled_from(["low", "high", "step"]),
        _junk,
    ).filter(lambda b: not (b[1] == "step" and b[2] is None)),  # a Float without a step is fine
    st.tuples(st.just({"type": "int", "low": 1, "high": 10}), st.sampled_from(["low", "high", "step"]),
              st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: not x.is_integer())),
)
dimension_name = st.sampled_from(["lr", "units", "depth", "beta_1", "opt2"])


@PROPERTY
@given(bad=bad_dimension, name=dimension_name)
def test_random_bad_spaces_are_value_errors_naming_the_dimension_and_field(bad, name: str) -> None:
    base, field, value = bad
    spec = corrupt(base, field, value)
    with pytest.raises(ValueError) as info:  # from a mapping, as YAML gives it
        Space.from_dict({"opt": {"type": "choice", "values": ["adam", "sgd"]}, name: spec})
    message = str(info.value)
    assert type(info.value) is ValueError
    assert f"dimension {name!r}" in message and names_field(message, field), message
    # the Python constructors: a ValueError naming the field (the dimension too once it is bound)
    kwargs = {k: v for k, v in spec.items() if k != "type"}
    kind = spec.get("type")
    kinds = {"float": Float, "int": Int, "choice": Choice, "fixed": Fixed, "custom": Custom}
    cls = kinds.get(kind) if isinstance(kind, str) else None
    if cls is None or any(isinstance(v, str) for k, v in kwargs.items() if k in ("low", "high", "step")):
        return  # an unknown type has no constructor; strings are YAML's numbers, read by from_dict
    if cls is Custom and isinstance(kwargs.get("fn"), str):
        return
    try:
        Space({"opt": Choice(["adam", "sgd"]), name: cls(**kwargs)})
    except TypeError as exc:  # an unknown or missing keyword: Python's own complaint names it
        assert field in str(exc) or "missing" in str(exc) or "argument" in str(exc)
    except ValueError as exc:
        assert type(exc) is ValueError
        assert names_field(str(exc), field), str(exc)
    else:
        pytest.fail(f"accepted {cls.__name__}(**{kwargs!r})")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the configs and objective modules of all examples (one sys.path entry)."""
    return tmp_path_factory.mktemp("bad_input")


def _bad_config(draw: st.DrawFn, folder: Path, db: Path) -> tuple[str, list[str]]:
    """YAML text of a run config with one thing wrong, and what its error must name."""
    config: dict[str, Any] = {"study": "demo", "objective": "cli_objectives:score", "space": dict(GOOD_SPACE),
                              "n_trials": 2, "storage": f"sqlite:///{db}"}
    problem = draw(st.sampled_from(["dimension", "twice", "sampler", "cmaes", "grid", "key", "number",
                                    "objective", "module"]))
    if problem == "dimension":
        base, field, value = draw(bad_dimension)
        name = draw(dimension_name)
        config["space"] = {**GOOD_SPACE, name: corrupt(base, field, value)}
        return yaml.safe_dump(config), [f"dimension {name!r}", "value" if field == "values" else field]
    if problem == "twice":
        name = draw(st.sampled_from(["x", "n"]))
        text = yaml.safe_dump(config, sort_keys=False)  # block style: the space's keys at 2 spaces
        text = text.replace("space:\n", f"space:\n  {name}: {{type: int, low: 0, high: 9}}\n", 1)
        return text, [f"dimension {name!r} is defined twice"]
    if problem == "sampler":
        config["sampler"] = draw(
            st.sampled_from(["gird", {"name": "grid", "resolutoin": 3}, 7, {"resolution": 3}])
        )
        return yaml.safe_dump(config), ["sampler"]
    if problem == "cmaes":
        config["space"] = {**GOOD_SPACE, "opt": {"type": "choice", "values": ["a", "b"]}}
        config["sampler"] = "cmaes"
        return yaml.safe_dump(config), ["sampler", "dimension 'opt'"]
    if problem == "grid":
        config["sampler"] = {"name": "grid", "resolution": draw(st.integers(2_000_000, 10**9))}
        return yaml.safe_dump(config), ["sampler 'grid'", "max_points"]
    if problem == "key":
        key = draw(st.sampled_from(["n_trails", "samplr", "workers"]))
        config[key] = 1
        return yaml.safe_dump(config), [repr(key)]
    if problem == "number":
        key, value = draw(st.sampled_from([("n_trials", 0), ("n_trials", -_BIG), ("timeout", _BIG),
                                           ("timeout", "soon"), ("seed", -1), ("retries", 1.5),
                                           ("n_workers", True), ("timeout_per_trial", 0)]))
        config[key] = value
        return yaml.safe_dump(config), [key]
    if problem == "objective":
        config["objective"] = draw(st.sampled_from(["score", "cli_objectives:", "bad_input_nowhere:f",
                                                    "cli_objectives:no_such", "cli_objectives:NOT_CALLABLE"]))
        return yaml.safe_dump(config), ["objective"]
    source = draw(st.sampled_from(["def f(:\n", "raise ValueError('at import')\n", "1 / 0\n",
                                   "import bad_input_absent_dependency\n", "x = undefined_name\n"]))
    name = module(folder, source)
    config["objective"] = f"{name}:f"
    return yaml.safe_dump(config), [f"objective '{name}:f'"]


@PROPERTY
@given(data=st.data())
def test_random_bad_run_configs_exit_2_with_one_line_and_store_nothing(data, workdir: Path, capsys) -> None:
    tag = next(_names)
    db = workdir / f"config_{tag}.db"
    text, names = _bad_config(data.draw, workdir, db)
    path = workdir / f"config_{tag}.yaml"
    path.write_text(text)
    code, _, err = run_cli(capsys, "run", path, "--no-progress")
    one_line_error(code, err, *names)
    nothing_stored(db)


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database holding study 'demo' (3 trials), for the read commands."""
    db = tmp_path_factory.mktemp("stored") / "s.db"
    make_study(db)
    return db


def _bad_argv(draw: st.DrawFn, stored: Path, folder: Path) -> tuple[list[str], list[str], Path | None]:
    """A command line with one thing wrong, what its error must name, and a file it must not create."""
    storage = ["--storage", f"sqlite:///{stored}"]
    config = folder / "good.yaml"
    if not config.exists():
        config.write_text(yaml.safe_dump({"study": "demo", "objective": "cli_objectives:score",
                                          "space": GOOD_SPACE, "n_trials": 1,
                                          "storage": f"sqlite:///{folder / 'never.db'}"}))
    kind = draw(st.sampled_from(["top", "state", "run_flag", "storage_url", "no_study", "no_file", "form"]))
    if kind == "top":
        top = draw(st.sampled_from(["0", "-3", "x", "1.5", ""]))
        return ["show", "demo", "--top", top, *storage], ["--top"], None
    if kind == "state":
        state = draw(st.sampled_from(["bogus", "done", "1"]))
        return ["trials", "demo", "--state", state, *storage], ["--state"], None
    if kind == "run_flag":
        flag, value = draw(st.sampled_from([("--n-trials", "0"), ("--n-trials", "many"), ("--retries", "-1"),
                                            ("--timeout-per-trial", "nan"), ("--timeout-per-trial", "-2"),
                                            ("--dask", "localhost"), ("--n-workers", "0"),
                                            ("--total-trials", "1e3"), ("--max-trials-per-worker", "-1")]))
        return ["run", str(config), flag, value], [flag], folder / "never.db"
    if kind == "storage_url":
        command = draw(st.sampled_from([["studies"], ["show", "demo"], ["trials", "demo"], ["best", "demo"]]))
        url = draw(st.sampled_from(["notaurl", "shoal.db", "sqlite:/x.db", "://"]))
        return [*command, "--storage", url], ["storage"], None
    if kind == "no_study":
        name = draw(st.sampled_from(["nope", "Demo", "demo2"]))
        command = draw(st.sampled_from(["show", "trials", "best", "lineage", "delete"]))
        return [command, name, *storage], [f"no study named {name!r}"], None
    if kind == "no_file":
        missing = folder / f"absent_{next(_names)}.db"
        command = draw(st.sampled_from([["studies"], ["show", "demo"], ["trials", "demo"], ["best", "demo"]]))
        return [*command, "--storage", f"sqlite:///{missing}"], ["no shoal database"], missing
    return ["trials", "demo", "--csv", "--json", *storage], ["--json", "--csv"], None


@PROPERTY
@given(data=st.data())
def test_random_bad_command_lines_exit_2_with_one_line(data, stored: Path, workdir: Path, capsys) -> None:
    before = stored.read_bytes()
    argv, names, absent = _bad_argv(data.draw, stored, workdir)
    code, _, err = run_cli(capsys, *argv)
    one_line_error(code, err, *names)
    if absent is not None:
        assert not absent.exists()
    assert get_storage(f"sqlite:///{stored}").get_study("demo").name == "demo"
    assert len(stored.read_bytes()) == len(before)
