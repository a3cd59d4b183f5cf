"""MkDocs hooks (``hooks:`` in mkdocs.yml): pages that live outside ``docs/`` join the site.

README.md becomes the home page, ARCHITECTURE.md and benchmarks/RESULTS.md (with its figures) get
pages of their own, and every relative link is rewritten from the repository's layout to the site's,
so ``docs/cli.md`` in the README and ``../benchmarks/RESULTS.md#parallel`` in ``docs/parallel.md``
both work on GitHub and on the site. A link to a repository file the site does not hold is left as it
is, and ``mkdocs build --strict`` then fails on it.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
DOCS = "docs"
#: Repository path -> site path, for the pages kept outside docs/.
MOUNTED = {
    "README.md": "index.md",
    "ARCHITECTURE.md": "architecture.md",
    "benchmarks/RESULTS.md": "benchmarks.md",
}
#: Folders of images outside docs/ that mounted pages show: repository folder -> site folder.
FOLDERS = {"benchmarks/peers/figures": "benchmarks/figures"}

_LINK = re.compile(r"(\]\()([^)\s]+)(\))")  # [text](target) and ![alt](target)
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)


def site_path(repo_path: str) -> str | None:
    """Where the file at ``repo_path`` (relative to the repository root) is on the site, or None."""
    if repo_path in MOUNTED:
        return MOUNTED[repo_path]
    if repo_path.startswith(DOCS + "/"):
        return repo_path[len(DOCS) + 1:]
    for folder, target in FOLDERS.items():
        if repo_path.startswith(folder + "/"):
            return target + repo_path[len(folder):]
    return None


def repo_path_of(src_uri: str) -> str:
    """The repository path of the site file ``src_uri``."""
    for repo, site in MOUNTED.items():
        if site == src_uri:
            return repo
    return f"{DOCS}/{src_uri}"


def rewrite_link(target: str, page_repo_path: str, page_site_path: str) -> str:
    """``target`` as written in the file at ``page_repo_path``, relative to the page on the site."""
    if target.startswith(("#", "/")) or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):
        return target  # an anchor on the page, an absolute path or a URL (https:, mailto:)
    path, hash_, anchor = target.partition("#")
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(page_repo_path), path))
    where = site_path(resolved)
    if where is None:
        return target
    relative = posixpath.relpath(where, posixpath.dirname(page_site_path) or ".")
    return relative + hash_ + anchor


def rewrite_links(markdown: str, page_repo_path: str, page_site_path: str) -> str:
    """Every relative link of ``markdown`` outside fenced code, rewritten by ``rewrite_link``."""

    def links(text: str) -> str:
        return _LINK.sub(
            lambda m: m[1] + rewrite_link(m[2], page_repo_path, page_site_path) + m[3], text
        )

    out, last = [], 0
    for fence in _FENCE.finditer(markdown):
        out += [links(markdown[last:fence.start()]), fence[0]]
        last = fence.end()
    out.append(links(markdown[last:]))
    return "".join(out)


def on_files(files: Files, config: Any) -> Files:
    for repo, site in MOUNTED.items():
        files.append(File.generated(config, site, abs_src_path=str(ROOT / repo)))
    for folder, target in FOLDERS.items():
        for image in sorted((ROOT / folder).rglob("*")):  # subfolders too (figures/interim/)
            if image.is_file():
                name = image.relative_to(ROOT / folder).as_posix()
                files.append(File.generated(config, f"{target}/{name}", abs_src_path=str(image)))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    src_uri = page.file.src_uri
    return rewrite_links(markdown, repo_path_of(src_uri), src_uri)
