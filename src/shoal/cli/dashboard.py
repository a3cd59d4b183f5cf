"""``shoal dashboard``: serve the live web page of a storage's studies."""

from __future__ import annotations

import argparse

from ..errors import CLIError
from ._stored import open_storage, storage_url


def cmd_dashboard(args: argparse.Namespace) -> int:
    from ..dashboard import serve

    storage = open_storage(storage_url(args), must_exist=True)
    try:
        serve(storage, host=args.host, port=args.port)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    return 0
