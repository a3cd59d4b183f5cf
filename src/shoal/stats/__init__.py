"""Numeric cores over trials that samplers and analysis share: hyperparameter importance (random
forest permutation and fANOVA) and trials as unit-coordinate matrices. Pure functions on arrays."""
