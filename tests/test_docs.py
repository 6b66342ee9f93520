"""The documentation points at real code and carries its own sources:

* every dotted name `advexplore.…` in README.md and docs/*.md resolves (import the longest module
  prefix, then getattr the rest), so a formula in docs/theory.md is one hop from its code;
* their relative links point to existing files, and `#anchor`s to existing headings;
* nothing in the repository points to the working notes "DESIGN.md", which are not part of it;
* CITATION.cff parses as YAML and cites the four source papers by arXiv id.
"""
import importlib
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# Names that other branches are adding right now; listed here until they are merged.
# Only these may fail to resolve; remove an entry once the name exists.
PENDING: set[str] = set()

# Files allowed to mention DESIGN.md: none.
DESIGN_PENDING: set[str] = set()

ARXIV_IDS = ("2008.06631", "2606.21488", "1906.07916", "2011.07478")

DOTTED = re.compile(r"\badvexplore(?:\.[A-Za-z_][A-Za-z0-9_]*)+")


def resolve(name: str):
    """The object `name` denotes: the longest importable module prefix, then attributes."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)  # AttributeError names the missing piece
        return obj
    raise ModuleNotFoundError(name)


def dotted_names(path: Path) -> set[str]:
    return set(DOTTED.findall(path.read_text(encoding="utf-8")))


def test_docs_exist():
    assert (ROOT / "docs" / "theory.md").is_file()
    assert len(dotted_names(ROOT / "docs" / "theory.md")) > 50


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_dotted_names_resolve(path):
    missing = []
    for name in sorted(dotted_names(path) - PENDING):
        try:
            resolve(name)
        except (ImportError, AttributeError) as err:
            missing.append(f"{name}: {type(err).__name__}: {err}")
    assert not missing, "names in the docs that the code does not have:\n" + "\n".join(missing)


def github_anchor(heading: str) -> str:
    """The id GitHub gives a heading: lower case, punctuation dropped, spaces -> '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    return {github_anchor(h) for h in re.findall(r"^#{1,6} (.+)$", text, flags=re.M)}


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_resolve(path):
    """Relative links point to existing files, and #anchors to headings of the target."""
    broken = []
    for target, anchor in re.findall(r"\]\(([^)#:\s]*)(?:#([^)\s]*))?\)", path.read_text(encoding="utf-8")):
        file = path if not target else path.parent / target
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}#{anchor}: no such heading")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_no_file_points_to_design_notes():
    checked = [ROOT / "README.md", ROOT / "CITATION.cff"]
    for folder, patterns in (("advexplore", ("*.py",)), ("docs", ("*.md",)), ("tests", ("*.py",)),
                             ("notebooks", ("*.ipynb",))):
        for pattern in patterns:
            checked += sorted((ROOT / folder).rglob(pattern))
    this_file = Path(__file__).resolve()
    offenders = [str(p.relative_to(ROOT)) for p in checked
                 if p.resolve() != this_file and str(p.relative_to(ROOT)) not in DESIGN_PENDING
                 and "DESIGN.md" in p.read_text(encoding="utf-8")]
    assert not offenders, f"files that mention DESIGN.md (cite the paper and docs/theory.md instead): {offenders}"


def test_citation_cff():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["cff-version"] == "1.2.0"
    assert cff["type"] == "software" and cff["title"] and cff["authors"] and cff["message"]
    references = cff["references"]
    assert len(references) == 4
    for ref in references:
        assert ref["title"] and ref["authors"] and ref["year"], ref
    text = yaml.safe_dump(references)
    assert all(arxiv in text for arxiv in ARXIV_IDS), "the four papers' arXiv ids"


def test_readme_cites_the_papers():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "## References" in readme
    assert all(f"arXiv:{arxiv}" in readme for arxiv in ARXIV_IDS)
    assert "docs/theory.md" in readme
