"""What a study does with its rules (``shoal.rules``): after each report, ask them about the trial,
store what they change as tweaks with source "rule", and deliver those in the answer to that report.

The rules decide from the trial record alone; this module acts on storage. Every executor's reports
pass through ``Study._report`` in the driver, so rules work the same on all of them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..records import Steering
from ..rules import Rule
from ..space import Space
from ..trial import Trial
from .steering import tweak

if TYPE_CHECKING:  # pragma: no cover
    from .core import Study

__all__ = ["RuleGlue", "check_rules"]

logger = logging.getLogger("shoal")


def check_rules(rules: Iterable[Rule] | None, space: Space) -> list[Rule]:
    """The rules, each bound to (and checked against) ``space``; a ``ValueError`` for anything else."""
    if rules is None:
        return []
    if isinstance(rules, Rule) or not isinstance(rules, Iterable) or isinstance(rules, (str, bytes)):
        raise ValueError(
            f"rules must be a list of shoal rules such as [shoal.rules.ReduceOnPlateau('lr')], got {rules!r}"
        )
    rules = list(rules)
    wrong = [r for r in rules if not isinstance(r, Rule)]
    if wrong:
        raise ValueError(
            f"rules must be shoal rules such as shoal.rules.ReduceOnPlateau('lr'); got {wrong[0]!r}"
        )
    return [rule.bind(space) for rule in rules]


class RuleGlue:
    """One study's rules, asked after each report of a trial this driver runs."""

    def __init__(self, study: Study, rules: list[Rule]) -> None:
        self.study = study
        self.rules = rules
        reported = study.objectives.objectives[study.objectives.names.index(study.report_metric)]
        self.direction = reported.direction  # the direction of the values trials report

    def after_report(self, record: Trial, step: int, answer: Steering) -> Steering:
        """Ask each rule about ``record`` (its report at ``step`` stored); store what they change and
        add it to ``answer``, so the objective trains step ``step + 1`` with the new values."""
        fired = False
        for rule in self.rules:
            changes = rule.decide(record, self.direction)
            if not changes:
                continue
            try:
                rows = tweak(self.study, record.number, changes, source="rule")
            except ValueError as exc:  # e.g. the trial finished meanwhile: nothing to change
                logger.warning("study %r: %s on trial %d changed nothing: %s", self.study.name,
                               rule.describe(), record.number, exc)
                continue
            fired = fired or bool(rows)
        if not fired:
            return answer
        assert record.trial_id is not None
        delivered = self.study.storage.poll_trial(record.trial_id, step + 1)
        self.study._heard(record, delivered)
        if delivered.stop:
            record.stop_requested = True
        changes = {**(answer.changes or {}), **(delivered.changes or {})}
        return Steering(stop=answer.stop or delivered.stop, changes=changes or None)
