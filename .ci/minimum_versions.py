"""Print pip requirements pinning each dependency of pyproject.toml to its lower bound
(``numpy>=2.0`` -> ``numpy==2.0``), for the CI step that tests the oldest versions onyx accepts."""

import re
import sys
from pathlib import Path

text = (Path(__file__).parents[1] / "pyproject.toml").read_text()
block = re.search(r"^dependencies = \[(.*?)^\]", text, re.S | re.M)
if block is None:
    sys.exit("pyproject.toml has no dependencies list")
for requirement in re.findall(r'"([^"]+)"', block[1]):
    match = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*>=\s*([0-9][0-9.]*)(,.*)?", requirement)
    if match is None:
        sys.exit(f"dependency without a lower bound: {requirement!r}")
    print(f"{match[1]}=={match[2]}")
