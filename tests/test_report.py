"""`shoal report` and `shoal importance`: a self-contained HTML report of a SQLite study, and exit codes."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from conftest import sqlite_url_for

pytest.importorskip("plotly")
pytest.importorskip("sklearn")

import shoal  # noqa: E402
from shoal.analysis._data import StudyData  # noqa: E402
from shoal.analysis.plots import PLOTS  # noqa: E402
from shoal.analysis.report import render_report, write_report  # noqa: E402
from shoal.cli import main  # noqa: E402
from shoal.samplers import CoarseToFine, Random  # noqa: E402
from shoal.storage import SQLStorage  # noqa: E402

SPACE = {
    "lr": shoal.Float(1e-4, 1.0, scale="log"),
    "opt": shoal.Choice(["adam", "sgd"]),
    "beta1": shoal.Float(0.8, 0.99, when={"opt": ["adam"]}),
    "units": shoal.Int(16, 256, step=16),
}


def curve(config: dict, trial) -> float:
    value = 0.0
    for step in range(4):
        value = abs(config["lr"] - 0.01) + config["units"] / 1000 / (step + 1)
        trial.report(value, step)
        if step == 1 and config["units"] > 200:
            raise shoal.TrialPruned()
    return value


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> tuple[str, Path]:
    folder = tmp_path_factory.mktemp("report")
    url = sqlite_url_for(folder / "shoal.db")
    study = shoal.Study("tuned", SPACE, storage=url, sampler=CoarseToFine(rounds=2, seed=0))
    study.optimize(curve, 24, show_progress=False)
    return url, folder


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _external_sources(text: str) -> list[str]:
    return re.findall(r"""<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?//""", text)


def test_report_has_every_section_and_needs_no_network(db, capsys) -> None:
    url, folder = db
    out_path = folder / "report.html"
    code, out, err = run_cli(capsys, "report", "tuned", "-o", str(out_path), "--storage", url)
    assert code == 0, err
    assert "wrote the report of study 'tuned' (24 trials)" in out
    text = out_path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    shown = [key for key, _, _ in PLOTS if key != "lineage"]  # no trial descends from another
    for key, title, _ in PLOTS:
        pattern = rf'<section id="plot-{key}"><h2>{re.escape(title)}</h2>(.*?)</section>'
        section = re.search(pattern, text, re.S)
        assert bool(section) == (key in shown), key
        if section:
            assert f'id="figure-{key}"' in section.group(1), key  # a plot, not an error note
    assert re.findall(r'<section id="([^"]+)"', text) == ["summary", *(f"plot-{k}" for k in shown), "trials"]
    assert 'id="left-out">Not shown, no data yet: Lineage (no trial descends from another).' in text
    assert '<section id="summary">' in text and "could not draw" not in text
    assert _external_sources(text) == []  # self-contained: no script, style or image fetched
    assert "Plotly.newPlot" in text and text.count("<script") == len(shown) + 2  # plotly.js, sorting
    assert "Ranking (permutation, " in text  # the importance table
    best = shoal.Study.load("tuned", url).best
    assert f"Best: trial {best.number}" in text


def test_report_from_a_study_object(db, tmp_path: Path) -> None:
    url, _ = db
    study = shoal.Study.load("tuned", url, sampler=CoarseToFine(rounds=2, seed=0))
    path = write_report(study, tmp_path / "r.html")
    assert re.search(r"the sampler('|\\u0027)s box", path.read_text())  # the live sampler's exact boxes
    with pytest.raises(ValueError, match=r"must end in \.html or \.htm, got '.*r\.txt'"):
        write_report(study, tmp_path / "r.txt")
    with pytest.raises(ValueError, match="does not exist"):
        write_report(study, tmp_path / "missing" / "r.html")


def test_report_of_a_study_with_too_few_trials_leaves_out_the_plots_it_cannot_draw(sqlite_url: str) -> None:
    study = shoal.Study("tiny", SPACE, storage=sqlite_url)
    study.optimize(lambda c: c["lr"], 2, show_progress=False)
    text = render_report(study)
    sections = re.findall(r'<section id="([^"]+)"', text)
    assert sections == ["summary", "plot-history", "plot-parallel_coordinates", "plot-slices", "plot-edf",
                        "plot-timeline", "trials"]
    assert "Importance (needs at least 4 completed trials, has 2)" in text
    for section in re.findall(r"<section[^>]*>(.*?)</section>", text, re.S):
        assert re.sub(r"<h2>.*?</h2>", "", section).strip()  # none empty


def test_report_names_sampler_and_scheduler_and_tables_every_trial(db) -> None:
    url, _ = db
    data = StudyData.from_storage(SQLStorage(url), "tuned")
    text = render_report(data)
    assert f"<th>sampler</th><td>{html.escape(data.sampler_text)}</td>" in text
    assert "<th>scheduler</th><td>none</td>" in text
    table = re.search(r'<table id="trials" class="sortable"><thead><tr>(.*?)</tr></thead>'
                      r"<tbody>(.*?)</tbody>", text, re.S)
    assert table
    heads = re.findall(r"<th>(.*?)</th>", table.group(1))
    assert heads == ["#", "state", "why it ended", "value", "duration (s)", "lr", "opt", "beta1", "units"]
    rows = re.findall(r"<tr>(.*?)</tr>", table.group(2))
    assert len(rows) == 24
    by_number = {t.number: t for t in data.trials}
    for row in rows:
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
        trial = by_number[int(cells[0])]
        assert cells[1] == trial.state.value.lower()
        # the objective prunes itself at step 1 (no scheduler): the row says where, and names no one
        assert cells[2] == ("pruned at step 1" if trial.state == shoal.TrialState.PRUNED else "completed")
        assert cells[3] == ("" if trial.value is None else f"{trial.value:.6g}")
        assert cells[6] == trial.config["opt"]
    contour = re.search(r'<section id="plot-contour">(.*?)</section>', text, re.S)
    assert contour and '"height":600' in contour.group(1)  # its own height, not squashed to the page's


def test_report_escapes_what_the_study_holds(tmp_path: Path) -> None:
    bad = "</script><script>alert(1)</script>"
    study = shoal.Study("<b>x</b>", {"a": shoal.Float(0, 1), "pick": shoal.Choice([bad, "ok"])},
                        storage=sqlite_url_for(tmp_path / "x.db"), sampler=Random(seed=0))
    study.optimize(lambda c: c["a"], 6, show_progress=False)
    text = render_report(study)
    assert bad not in text and "<b>x</b>" not in text and text.count("<script") == 9
    assert html.escape(bad) in text  # in the trial table, as text


def test_the_notes_section_shows_study_and_trial_notes_escaped_once_there_are_some(sqlite_url: str) -> None:
    study = shoal.Study("noted", SPACE, storage=sqlite_url, sampler=Random(seed=0))
    study.optimize(lambda c: c["lr"], 3, show_progress=False)
    assert '<section id="notes">' not in render_report(study)
    study.note("# Plan\nlr first, <script>alert(1)</script>")
    study.note("looks *diverged*", trial=2)
    for source in (study, StudyData.from_storage(SQLStorage(sqlite_url), "noted")):  # live and stored
        text = render_report(source)
        section = re.search(r'<section id="notes"><h2>Notes</h2>(.*?)</section>', text, re.S)
        assert section, "no notes section"
        assert section.group(1) == ('<h3>Study</h3><pre class="user-note"># Plan\nlr first, '
                                    '&lt;script&gt;alert(1)&lt;/script&gt;</pre>'
                                    '<h3>Trial 2</h3><pre class="user-note">looks *diverged*</pre>')
        assert '<a href="#notes">Notes</a>' in text


def test_report_exit_codes(db, capsys, tmp_path: Path) -> None:
    url, _ = db
    code, _, err = run_cli(capsys, "report", "nope", "-o", str(tmp_path / "r.html"), "--storage", url)
    assert code == 2 and err.startswith("shoal: error:") and "nope" in err
    assert not (tmp_path / "r.html").exists()
    code, _, err = run_cli(capsys, "report", "tuned", "-o", str(tmp_path / "no" / "r.html"), "--storage", url)
    assert code == 2 and "does not exist" in err and len(err.strip().splitlines()) == 1
    for name in ("r.pdf", "r.html.txt", "r", "r.xhtml"):  # refused in one line, before the study is read
        code, _, err = run_cli(capsys, "report", "nope", "-o", str(tmp_path / name), "--storage", url)
        assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
        assert f"report path must end in .html or .htm, got '{tmp_path / name}'" in err
        assert not (tmp_path / name).exists()
    for name in ("r.htm", "R.HTML", "r.Htm"):  # both names a browser opens as HTML, in any case
        code, out, err = run_cli(capsys, "report", "tuned", "-o", str(tmp_path / name), "--storage", url)
        assert code == 0, err
        assert (tmp_path / name).read_text().startswith("<!DOCTYPE html>") and name in out
    missing = sqlite_url_for(tmp_path / "missing.db")
    code, _, err = run_cli(capsys, "report", "tuned", "--storage", missing)
    assert code == 2 and "no shoal database" in err
    assert not (tmp_path / "missing.db").exists()
    code, _, err = run_cli(capsys, "report")
    assert code == 2 and "STUDY" in err


def test_importance_command(db, capsys) -> None:
    url, _ = db
    code, out, err = run_cli(capsys, "importance", "tuned", "--storage", url)
    assert code == 0, err
    expected = shoal.importance(shoal.Study.load("tuned", url))
    rows = [line for line in out.splitlines() if re.match(r"\W*\d+\s*│", line)]
    assert [r.split("│")[2].strip() for r in rows] == expected.ranking
    code, out, _ = run_cli(capsys, "importance", "tuned", "--storage", url, "--method", "fanova", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["method"] == "fanova" and sum(data["shares"].values()) == pytest.approx(1.0)
    code, _, err = run_cli(capsys, "importance", "tuned", "--storage", url, "--method", "shap")
    assert code == 2 and "invalid choice" in err


def test_importance_command_with_too_few_trials(capsys, sqlite_url: str) -> None:
    shoal.Study("few", SPACE, storage=sqlite_url).optimize(lambda c: c["lr"], 2, show_progress=False)
    code, _, err = run_cli(capsys, "importance", "few", "--storage", sqlite_url)
    assert code == 2 and "at least 4 completed trials, got 2" in err


def test_report_names_the_scheduler_the_study_ran_with(sqlite_url: str) -> None:
    from shoal.schedulers import ASHA

    scheduler = ASHA(1, reduction_factor=2, max_resource=4)
    study = shoal.Study("sched", SPACE, storage=sqlite_url, scheduler=scheduler, sampler=Random(seed=0))
    study.optimize(curve, 6, show_progress=False)
    for source in (study, StudyData.from_storage(SQLStorage(sqlite_url), "sched")):  # live and stored
        text = render_report(source)
        assert f"<th>scheduler</th><td>{html.escape(scheduler.describe())}</td>" in text
