"""The user documentation: every docs/CONVENTIONS.md section the code cites exists, nothing cites internal notes,
and the README and docs/ speak to users only."""
import math
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONVENTIONS = ROOT / "docs" / "CONVENTIONS.md"
CODE = [p for folder in ("amass_fast", "csrc", "benches", "tools") for p in (ROOT / folder).rglob("*")
        if p.is_file() and p.suffix in (".py", ".h", ".cuh", ".cu", ".cpp", ".sh")]
USER_DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Words about how the package was made rather than how it is used.
NOT_FOR_USERS = re.compile(r"\bsessions?\b|\blent\b|\blends?\b|device tool|device call|the seed\b|seed's|"
                           r"DESIGN\.md|\.\./shared", re.I)


def _headings(path: Path) -> set[str]:
    return {m.group(1).strip() for m in re.finditer(r"^#{2,3} (.+)$", path.read_text(encoding="utf-8"), re.M)}


def _citations() -> list[tuple[Path, str]]:
    found = []
    for path in CODE:
        text = re.sub(r"\s*\n\s*(#|//|\*)?\s*", " ", path.read_text(encoding="utf-8", errors="replace"))
        found += [(path, m.group(1)) for m in re.finditer(r'docs/CONVENTIONS\.md, "([^"]+)"', text)]
    return found


def test_no_code_cites_internal_notes():
    hits = [f"{p.relative_to(ROOT)}" for p in CODE if "DESIGN.md" in p.read_text(encoding="utf-8", errors="replace")]
    assert not hits, f"cite docs/CONVENTIONS.md instead of DESIGN.md in: {hits}"


def test_every_cited_section_exists():
    citations = _citations()
    assert {"Body model", "Stick layout", "Download protocol"} <= {section for _, section in citations}
    headings = _headings(CONVENTIONS)
    missing = [f"{p.relative_to(ROOT)}: {section!r}" for p, section in citations if section not in headings]
    assert not missing, f"docs/CONVENTIONS.md has no section for: {missing} (its sections: {sorted(headings)})"


def test_conventions_has_one_section_per_topic():
    assert {"Coordinate frames", "Body model", "Views", "Stick layout", "Resampling", "Windows", "Labels",
            "Output formats", "Input files", "Download protocol"} <= _headings(CONVENTIONS)


def test_conventions_states_what_the_code_uses():
    """Numbers the docs state, read from the code that uses them."""
    from amass_fast.io import catalog, formats
    from amass_fast import labels
    from amass_fast.kernels import reference

    text = CONVENTIONS.read_text(encoding="utf-8")
    assert ", ".join(labels.ACTION_TYPES) == " ".join(
        re.search(r"index = position\):\n\n(.*?)\n\n", text, re.S).group(1).split())
    parents = reference.BODY_PARENTS.tolist()
    table = re.findall(r"^    parent (.+)$", text, re.M)
    assert [int(v) for row in table for v in row.split()] == parents
    assert "T = floor((F - 1) · 25 / fps + 1e-6) + 1" in text
    for frames, fps in ((601, 60.0), (600, 59.99999), (2501, 250.0), (1, 120.0), (1000, 100.0), (7, 120.00005)):
        assert math.floor((frames - 1) * 25 / fps + 1e-6) + 1 == reference.resampled_length(frames, fps, 25.0)
    for key in formats.FPS_KEYS:
        assert f"`{key}`" in text
    assert catalog.archive_url(catalog.DEFAULT_BASE_URL, "CMU").replace("/smplh/gender_specific/", "/MODEL/GENDER/") \
        .replace("CMU.tar.bz2", "NAME.tar.bz2") in text


def test_user_docs_speak_to_users():
    hits = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}" for p in USER_DOCS
            for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if NOT_FOR_USERS.search(line)]
    assert not hits, "\n".join(hits)


def test_readme_links_the_conventions_and_links_resolve():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/CONVENTIONS.md)" in readme
    for doc in USER_DOCS:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", doc.read_text(encoding="utf-8")):
            if target.endswith("LABELS.md"):
                continue   # written beside this file by the labels documentation
            assert (doc.parent / target).exists(), f"{doc.relative_to(ROOT)} links to missing {target}"


def test_size_cap_table_is_the_code_table():
    """docs/CONVENTIONS.md's table of size caps lists exactly amass_fast.io.guarded.LIMITS, each cap as the code
    states it (guarded.size_text; "none" for a streamed kind), so the two cannot drift apart."""
    from amass_fast.io import guarded

    text = CONVENTIONS.read_text(encoding="utf-8")
    table = text.split("<!-- size caps: amass_fast.io.guarded.LIMITS -->", 1)[1].split("<!-- end size caps -->", 1)[0]
    rows = {m.group(1): m.group(2).strip() for m in re.finditer(r"^\| `(\w+)` \| ([^|]+) \|", table, re.M)}
    assert list(rows) == list(guarded.LIMITS), "the table's kinds, in the code's order"
    for kind, cap in guarded.LIMITS.items():
        assert rows[kind] == ("none (streamed)" if cap is None else guarded.size_text(cap)), kind
    # The per-member cap of texts.zip is the caption cap, as the caption row says.
    assert guarded.ZIP_MEMBER_LIMITS == {"texts_zip": guarded.LIMITS["caption"]}
    assert f"deeper than {guarded.MAX_JSON_DEPTH} levels" in text


def test_every_file_path_named_in_docs_and_comments_exists():
    """A path of the repository named in the README, docs/, BENCHMARKS.md or a comment of csrc/ (a test file, a
    module, a bench script, a C++ file) exists: moving a file without its mentions fails here."""
    pattern = re.compile(r"(?<![\w/.])((?:amass_fast|tests|benches|csrc|tools|docs)/[\w/]+\.(?:py|h|cpp|cuh|cu|sh|md))(?!\w)")
    texts = [ROOT / "README.md", ROOT / "BENCHMARKS.md", *sorted((ROOT / "docs").glob("*.md")),
             *sorted((ROOT / "csrc").iterdir())]
    named = {(text.name, m) for text in texts for m in pattern.findall(text.read_text(encoding="utf-8"))}
    assert len(named) > 20  # the check sees the paths the docs do name
    missing = sorted(f"{where}: {path}" for where, path in named
                     if "*" not in path and not (ROOT / path).exists())
    assert not missing, "named but not in the repository:\n  " + "\n  ".join(missing)
