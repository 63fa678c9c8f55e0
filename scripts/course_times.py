"""How long each notebook takes to read: words of prose outside the folds, at 150 words a minute.

    python scripts/course_times.py            # print the table TEACHING.md shows
    python scripts/course_times.py --write    # also refresh the "Reading time" line of every notebook's header

Prose is the text of the markdown cells without the folded ``<details>`` blocks (worked solutions,
side measurements) and without code blocks and formulas; tests/test_course_times.py checks that
the headers and TEACHING.md give these numbers.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
WORDS_PER_MINUTE = 150
READING_LINE = re.compile(r"\*\*Reading time:\*\*[^\n]*")


def prose_words(nb: nbformat.NotebookNode) -> int:
    """Words a student reads on a first pass: markdown outside folds, code blocks and formulas."""
    words = 0
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        text = re.sub(r"<details>.*?</details>", " ", cell.source, flags=re.S)
        text = re.sub(r"```.*?```", " ", text, flags=re.S)
        text = re.sub(r"\$\$.*?\$\$|\$[^$\n]+\$", " ", text)
        text = READING_LINE.sub(" ", text)  # the line this script writes counts for nothing
        words += len(re.findall(r"[A-Za-z0-9][\w'’.,-]*", text))
    return words


def reading_minutes(words: int) -> int:
    """Minutes at WORDS_PER_MINUTE, rounded up."""
    return math.ceil(words / WORDS_PER_MINUTE)


def reading_line(words: int) -> str:
    """The header line, e.g. '**Reading time:** about 9 minutes (1,320 words at 150 a minute).'"""
    return f"**Reading time:** about {reading_minutes(words)} minutes ({words:,} words at {WORDS_PER_MINUTE} a minute)."


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="refresh the Reading time line of every header")
    args = parser.parse_args()
    print("| notebook | words | reading |\n|---|---|---|")
    for path in sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        words = prose_words(nb)
        print(f"| {path.stem} | {words:,} | {reading_minutes(words)} min |")
        if args.write:
            header = nb.cells[0]
            if READING_LINE.search(header.source):
                header.source = READING_LINE.sub(reading_line(words), header.source)
            else:
                header.source = header.source.replace("**Run time:**", reading_line(words) + "\n\n**Run time:**", 1)
            nbformat.write(nb, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
