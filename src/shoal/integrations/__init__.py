"""Integrations with other frameworks (scikit-learn, Keras Tuner, XGBoost, LightGBM) and experiment
trackers (MLflow, Weights & Biases, TensorBoard).

Each lives in its own submodule and imports its framework only when that submodule is imported;
``import shoal`` imports none of them. The public spellings are ``shoal.sklearn``, ``shoal.keras``,
``shoal.xgboost``, ``shoal.lightgbm``, ``shoal.mlflow``, ``shoal.wandb`` and ``shoal.tensorboard``.
"""
