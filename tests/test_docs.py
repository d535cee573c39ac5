"""The design travels with the repository: docs/architecture.md.

Code, tests and documents point into docs/architecture.md ("docs/architecture.md, invariant 4"),
never at planning notes a clone does not contain nor at a path outside the repository; and every
`path::name` pointer in docs/architecture.md names something that exists, so that renaming a test
or moving a function without updating the document fails here instead of leaving it to rot.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURE = ROOT / "docs" / "architecture.md"
SKIPPED_DIRECTORIES = {".git", ".venv", "var", "node_modules", "__pycache__", ".pytest_cache"}
THIS_FILE = Path(__file__).resolve()

# Planning notes that live outside the repository (by file name, or by name alone: "see DESIGN"),
# and the folder they live in.
OUTSIDE_NOTES = re.compile(
    r"(?i:\b(?:design|conventions)\.md\b)|\b(?:DESIGN|CONVENTIONS)\b"
    r"|(?:\.\./)+shared\b|/work/shared\b"
)
RELATIVE_PATH = re.compile(r"(?<![\w./-])((?:\.\./)+)([\w.-]+)")
INVARIANT_CITATION = re.compile(r"\binvariants?\s+(\d+)((?:\s*(?:-|–|to|and|,)\s*\d+)*)", re.I)
INVARIANT_HEADING = re.compile(r"^### Invariant (\d+):", re.M)
# `path/to/file.py::name` or `path/to/file.py::Class.method`, as written in the document.
POINTER = re.compile(r"`([\w./-]+\.py)::([\w.]+)`")


def repository_texts() -> list[tuple[Path, str]]:
    texts = []
    for path in sorted(ROOT.rglob("*")):
        relative = path.relative_to(ROOT)
        if any(part in SKIPPED_DIRECTORIES for part in relative.parts) or not path.is_file():
            continue
        if path.resolve() == THIS_FILE:
            continue
        try:
            texts.append((relative, path.read_text(encoding="utf-8")))
        except (UnicodeDecodeError, OSError):
            continue  # images, wheels, the embedded database's files
    return texts


def line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def test_no_file_cites_notes_outside_the_repository():
    citations = [
        f"{path}:{line_of(text, match.start())}: {match.group(0)}"
        for path, text in repository_texts()
        for match in OUTSIDE_NOTES.finditer(text)
    ]
    assert not citations, (
        "cite docs/architecture.md instead (a clone has nothing else):\n" + "\n".join(citations)
    )


def test_no_file_cites_a_path_outside_the_repository():
    escaping = []
    for path, text in repository_texts():
        for match in RELATIVE_PATH.finditer(text):
            target = (ROOT / path).parent / (match.group(1) + match.group(2))
            if not target.resolve().is_relative_to(ROOT):
                escaping.append(f"{path}:{line_of(text, match.start())}: {match.group(0)}")
    assert not escaping, "paths that leave the repository:\n" + "\n".join(escaping)


def invariant_numbers() -> set[int]:
    return {int(number) for number in INVARIANT_HEADING.findall(ARCHITECTURE.read_text())}


def test_the_document_numbers_its_invariants_from_one_without_a_gap():
    numbers = invariant_numbers()
    assert numbers and numbers == set(range(1, max(numbers) + 1))


def test_every_invariant_cited_is_a_pointer_to_one_the_document_defines():
    defined = invariant_numbers()
    problems = []
    for path, text in repository_texts():
        if path == ARCHITECTURE.relative_to(ROOT):
            continue
        for match in INVARIANT_CITATION.finditer(text):
            where = f"{path}:{line_of(text, match.start())}: {match.group(0)!r}"
            # The pointer may be wrapped onto the comment's previous line.
            if "docs/architecture.md" not in text[max(0, match.start() - 120) : match.start()]:
                problems.append(f"{where} does not say it is docs/architecture.md's")
            cited = {int(number) for number in re.findall(r"\d+", match.group(0))}
            if cited - defined:
                problems.append(f"{where} cites an invariant the document does not define")
    assert not problems, "\n".join(problems)


def _defines(tree: ast.Module, dotted: str) -> bool:
    """Whether `dotted` (a function, class, method, nested class or module-level name) is
    defined in the module."""
    scope: list[ast.stmt] = tree.body
    for part in dotted.split("."):
        found = None
        for node in scope:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                if node.name == part:
                    found = node
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(t, ast.Name) and t.id == part for t in targets):
                    found = node
        if found is None:
            return False
        scope = getattr(found, "body", [])
    return True


def pointers() -> list[tuple[str, str]]:
    return sorted(set(POINTER.findall(ARCHITECTURE.read_text())))


def test_the_document_points_at_tests_for_every_invariant():
    text = ARCHITECTURE.read_text()
    sections = re.split(INVARIANT_HEADING, text)[1:]  # number, body, number, body, ...
    untested = [
        number
        for number, body in zip(sections[::2], sections[1::2], strict=True)
        if not POINTER.search(body.split("\n## ")[0])
    ]
    assert sections and not untested, f"invariants without a test: {untested}"


@pytest.mark.parametrize(
    ("path", "name"), [pointer for pointer in pointers() if pointer[0].startswith("tests/")]
)
def test_every_test_the_document_names_exists(path, name):
    module = ROOT / path
    assert module.is_file(), f"docs/architecture.md names {path}, which does not exist"
    assert _defines(ast.parse(module.read_text()), name), (
        f"docs/architecture.md names {path}::{name}, which {path} does not define"
    )


@pytest.mark.parametrize(
    ("path", "name"), [pointer for pointer in pointers() if not pointer[0].startswith("tests/")]
)
def test_every_function_the_document_points_at_exists(path, name):
    module = ROOT / path
    assert module.is_file(), f"docs/architecture.md points at {path}, which does not exist"
    assert _defines(ast.parse(module.read_text()), name), (
        f"docs/architecture.md points at {path}::{name}, which {path} does not define"
    )


def test_the_readme_links_the_architecture_from_its_layout():
    readme = (ROOT / "README.md").read_text()
    layout = readme.split("## Layout", 1)[1]
    assert "docs/architecture.md" in layout
