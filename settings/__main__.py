"""`python -m settings docs` rewrites the table of docs/configuration.md from `settings.SETTINGS`;
`python -m settings path NPS_DUCKDB_PATH` prints a path setting made absolute (the Makefile uses it)."""

from __future__ import annotations

import sys

import settings

DOCS = settings.REPO_ROOT / "docs" / "configuration.md"
BEGIN, END = "<!-- settings table: begin (python -m settings docs) -->", "<!-- settings table: end -->"


def docs_text(current: str) -> str:
    head, _, rest = current.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{settings.markdown_table()}\n{END}{tail}"


def main(argv: list[str]) -> int:
    if argv[:1] == ["docs"]:
        DOCS.write_text(docs_text(DOCS.read_text(encoding="utf-8")), encoding="utf-8")
        return 0
    if len(argv) == 2 and argv[0] == "path":
        print(settings.absolute(settings.value(argv[1]) or ""))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
