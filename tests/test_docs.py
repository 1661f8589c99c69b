"""The documentation: generated reference pages are current, and the site builds with no broken link."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from onyx.tools import reference_docs

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("page", sorted(reference_docs.PAGES))
def test_generated_reference_pages_are_current(page):
    expected = reference_docs.PAGES[page]()
    actual = (ROOT / "docs" / page).read_text()
    assert actual == expected, f"docs/{page} is stale: run `python -m onyx.tools.reference_docs` and commit it"


def test_operators_page_lists_every_domain_with_cpu_kernels():
    text = reference_docs.operators_markdown()
    for domain in ("ai.onnx", "ai.onnx.ml", "com.microsoft", "ai.onyx"):
        assert f"\n## {domain}\n" in text
    assert "| Conv | 1 | CPU |" in text and "| Gemm | 1, 7 | CPU |" in text
    assert "com.example" not in text  # kernels of plugins and user code are not onyx's


def test_cli_page_has_every_command():
    from onyx.cli import main

    text = reference_docs.cli_markdown()
    for name in main.commands:
        assert f"## onyx {name}\n" in text
    assert "## onyx hub download\n" in text


def test_docs_site_builds_without_broken_links(tmp_path):
    pytest.importorskip("mkdocs", reason="the [docs] extra is not installed")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site" / "operators" / "index.html").is_file()
