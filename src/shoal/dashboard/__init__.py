"""A live web dashboard over a storage: ``shoal dashboard --storage sqlite:///shoal.db``.

Lists studies; for a study shows the best-so-far history, a sortable trial table and each trial's
details, updating while trials run. Panda mode: from the page a person enqueues a configuration,
stops a running trial, pauses and unpauses the study, tweaks a running trial's hyperparameters or
forks a trial from a checkpoint (actions need the token printed at start); a trial's curve marks
each tweak.
Standard library only (``http.server``); plotly figures from ``shoal.analysis`` appear when plotly
is installed.
"""

from __future__ import annotations

from .server import TOKEN_HEADER, Dashboard

__all__ = ["Dashboard", "TOKEN_HEADER", "serve"]


def serve(storage, *, host: str = "127.0.0.1", port: int = 8080, token: str | None = None) -> None:
    """Serve a dashboard in this thread until Ctrl-C, printing its address and action token."""
    dashboard = Dashboard(storage, host=host, port=port, token=token)
    print(f"shoal dashboard on {dashboard._server.storage_label}")
    print(f"  open   {dashboard.url_with_token}")
    print(f"  token  {dashboard.token}   (actions need it: enqueue, stop, pause, tweak, fork, notes, delete)")
    print("  Ctrl-C stops it", flush=True)
    try:
        dashboard.serve_forever()
    except KeyboardInterrupt:
        pass
