"""Run the ``python`` code blocks of a docs page in order, in one namespace, from the
repository root (``python docs/run_page.py docs/loss-laws.md``); tests run the pages the same
way from a scratch copy, so what a page shows is what its code does."""

import re
import sys
from pathlib import Path


def blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)


def run(page: Path) -> dict:
    namespace: dict = {"__name__": "__page__"}
    for code in blocks(page):
        exec(compile(code, str(page), "exec"), namespace)
    return namespace


if __name__ == "__main__":
    run(Path(sys.argv[1]))
