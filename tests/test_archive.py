"""Extraction: safe against hostile archives, idempotent, every decoder; streaming reads without extracting."""
from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from amass_fast.io import archive, atomic
from amass_fast.harness import synthetic
from amass_fast.cli import main
from amass_fast.io.formats import Sequence, load_sequence

DECODERS = [pytest.param(d, marks=pytest.mark.skipif(d not in archive.available_decoders(),
                                                     reason=f"{d} not installed")) for d in archive.DECODERS]


def tree_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A small KIT tree (4 motion files + a licence text + a file AMASS does not ship) and its archive."""
    base = tmp_path_factory.mktemp("good")
    synthetic.make_tree(base / "tree", ["KIT"], files_per_dataset=4, seconds=(0.4, 0.8))
    (base / "tree/KIT/LICENSE.txt").write_text("licence text")
    (base / "tree/KIT/1/notes.c3d").write_bytes(b"raw markers")
    return base / "tree", synthetic.make_archive(base / "tree", "KIT", base / "KIT.tar.bz2")


def add(tar: tarfile.TarFile, name: str, data: bytes = b"x", **attrs) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data) if attrs.get("type", tarfile.REGTYPE) == tarfile.REGTYPE else 0
    for key, value in attrs.items():
        setattr(info, key, value)
    tar.addfile(info, io.BytesIO(data) if info.size else None)


def hostile_archive(path: Path, outside: Path) -> Path:
    with tarfile.open(path, "w:bz2") as tar:
        add(tar, "CMU/", type=tarfile.DIRTYPE)
        add(tar, "CMU/01/01_01_poses.npz", b"ok")                            # the one safe file
        add(tar, "../escape.npz")
        add(tar, "CMU/../../escape2.npz")
        add(tar, str(outside / "absolute.npz"))
        add(tar, "..\\escape3.npz")
        add(tar, "C:/escape4.npz")
        add(tar, "CMU/link", type=tarfile.SYMTYPE, linkname=str(outside))
        add(tar, "CMU/link/through_link.npz")                                 # must not follow the link
        add(tar, "CMU/rel_link", type=tarfile.SYMTYPE, linkname="../../")
        add(tar, "CMU/hard.npz", type=tarfile.LNKTYPE, linkname=str(outside / "target.npz"))
        add(tar, "CMU/dev_null", type=tarfile.CHRTYPE)
        add(tar, "CMU/blk", type=tarfile.BLKTYPE)
        add(tar, "CMU/pipe", type=tarfile.FIFOTYPE)
        add(tar, "CMU/evil.pkl")                                             # not an AMASS file: ignored
    return path


@pytest.mark.parametrize("decoder", DECODERS)
def test_extract_matches_the_tree_and_keeps_only_amass_files(tmp_path, good, decoder):
    tree, arc = good
    report = archive.extract_archive(arc, tmp_path / "out", decoder=decoder)
    assert (report.status, report.decoder, report.refused, report.folders) == ("extracted", decoder, [], ["KIT"])
    expected = {k: v for k, v in tree_files(tree).items() if not k.endswith(".c3d")}
    assert tree_files(tmp_path / "out" / "KIT") == {k[len("KIT/"):]: v for k, v in expected.items()}
    assert report.files == 5 and report.ignored == 1
    assert report.bytes == sum(len(v) for v in expected.values())
    assert not list((tmp_path / "out").rglob(atomic.GLOB))


@pytest.mark.parametrize("decoder", DECODERS)
def test_hostile_archive_writes_nothing_outside(tmp_path, decoder):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "target.npz").write_bytes(b"precious")
    arc = hostile_archive(tmp_path / "hostile.tar.bz2", outside)
    out = tmp_path / "a" / "b" / "out"
    before = tree_files(tmp_path)
    report = archive.extract_archive(arc, out, decoder=decoder)
    after = tree_files(tmp_path)
    outside_after = {k: v for k, v in after.items() if not k.startswith("a/b/out/")}
    assert outside_after == before
    written = {k for k in after if k.startswith("a/b/out/") and "/.amass_fast/" not in k}
    assert written == {"a/b/out/CMU/01/01_01_poses.npz", "a/b/out/CMU/link/through_link.npz"}
    assert not (out / "CMU" / "link").is_symlink()
    refused = {name for name, _ in report.refused}
    assert refused == {"../escape.npz", "CMU/../../escape2.npz", str(outside / "absolute.npz"), "..\\escape3.npz",
                       "C:/escape4.npz", "CMU/link", "CMU/rel_link", "CMU/hard.npz", "CMU/dev_null", "CMU/blk",
                       "CMU/pipe"}
    reasons = dict(report.refused)
    assert "symbolic link" in reasons["CMU/link"] and "hard link" in reasons["CMU/hard.npz"]
    assert reasons["CMU/dev_null"] == "device file" and reasons["CMU/pipe"] == "fifo"
    assert report.ignored == 1  # evil.pkl


def test_existing_symlink_under_out_is_not_followed(tmp_path, good):
    _, arc = good
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "KIT").symlink_to(elsewhere)
    report = archive.extract_archive(arc, out)
    assert list(elsewhere.iterdir()) == []
    assert report.files == 0 and len(report.refused) >= 5


def test_idempotent_and_re_extracts_when_changed(tmp_path, good):
    tree, arc = good
    arc = Path(shutil.copy(arc, tmp_path / "KIT.tar.bz2"))
    out = tmp_path / "out"
    first = archive.extract_archive(arc, out)
    marker = json.loads((out / ".amass_fast/extracted/KIT.tar.bz2.json").read_text())
    assert marker["fingerprint"]["size"] == arc.stat().st_size and marker["report"]["files"] == 5
    one = out / "KIT/LICENSE.txt"
    mtime = one.stat().st_mtime_ns
    second = archive.extract_archive(arc, out)
    assert (first.status, second.status) == ("extracted", "skipped")
    assert second.files == first.files and one.stat().st_mtime_ns == mtime  # nothing rewritten
    assert archive.extract_archive(arc, out, force=True).status == "extracted"
    shutil.rmtree(out / "KIT")                                             # user deleted the output
    assert archive.extract_archive(arc, out).status == "extracted"
    (tree / "KIT/LICENSE.txt").write_text("a changed licence text")        # archive replaced by a new one
    try:
        synthetic.make_archive(tree, "KIT", arc)
    finally:
        (tree / "KIT/LICENSE.txt").write_text("licence text")
    assert archive.extract_archive(arc, out).status == "extracted"
    assert one.read_text() == "a changed licence text"


@pytest.mark.parametrize("decoder", DECODERS)
def test_corrupt_archives_raise_archive_error_and_leave_no_marker(tmp_path, good, decoder):
    _, arc = good
    data = arc.read_bytes()
    truncated = tmp_path / "trunc.tar.bz2"
    truncated.write_bytes(data[: len(data) // 2])
    html = tmp_path / "html.tar.bz2"
    html.write_bytes(b"<html><body>Please log in</body></html>")
    for bad in (truncated, html):
        with pytest.raises(archive.ArchiveError, match=bad.name):
            archive.extract_archive(bad, tmp_path / "out", decoder=decoder)
        assert not (tmp_path / "out/.amass_fast/extracted" / (bad.name + ".json")).exists()
    assert not list((tmp_path / "out").rglob(atomic.GLOB))


def test_fallback_to_python_bz2_when_nothing_else(tmp_path, good, monkeypatch):
    _, arc = good
    monkeypatch.setattr(archive.shutil, "which", lambda name: None)
    monkeypatch.setattr(archive, "_has_indexed_bzip2", lambda: False)
    assert archive.available_decoders() == ["bz2"]
    assert archive.extract_archive(arc, tmp_path / "out").decoder == "bz2"
    with pytest.raises(archive.ArchiveError, match="not available"):
        archive.extract_archive(arc, tmp_path / "out2", decoder="lbzip2")
    with pytest.raises(ValueError, match="unknown bzip2 decoder"):
        with archive.open_bzip2(arc, "gzip"):
            pass


@pytest.mark.parametrize("decoder", DECODERS)
def test_iter_archive_members_streams_npz_only_and_safely(tmp_path, good, decoder):
    tree, arc = good
    members = dict(archive.iter_archive_members(arc, decoder))
    expected = {k: v for k, v in tree_files(tree).items() if k.endswith(".npz")}
    assert members == expected
    seq = load_sequence(members[next(iter(members))], name=next(iter(members)))
    assert isinstance(seq, Sequence) and seq.kind == "smplh"
    refused = []
    hostile = hostile_archive(tmp_path / "h.tar.bz2", tmp_path / "outside")
    names = [n for n, _ in archive.iter_archive_members(hostile, decoder, on_refused=lambda n, r: refused.append(n))]
    assert names == ["CMU/01/01_01_poses.npz", "CMU/link/through_link.npz"]
    assert "../escape.npz" in refused and "CMU/hard.npz" in refused and len(refused) == 11


def test_stopping_early_cleans_up(good):
    _, arc = good
    for decoder in archive.available_decoders():
        it = archive.iter_archive_members(arc, decoder)
        name, _ = next(it)
        it.close()  # must not hang or raise, also with a decoder subprocess
        assert name.startswith("KIT/")


def test_cli_extracts_several_archives_and_reports(tmp_path, good, capsys):
    tree, arc = good
    synthetic.make_tree(tmp_path / "tree2", ["TotalCapture"], files_per_dataset=2, seconds=(0.3, 0.5))
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    shutil.copy(arc, downloads)
    synthetic.make_archive(tmp_path / "tree2", "TotalCapture", downloads / "TotalCapture.tar.bz2")
    (downloads / "CMU.tar.bz2.part").write_bytes(b"BZh half")               # a download in progress: not picked
    out = tmp_path / "amass"
    assert main(["extract", "--archives", str(downloads), "--out", str(out), "--jobs", "2"]) == 0
    text = capsys.readouterr().out
    assert "KIT.tar.bz2" in text and "TotalCapture.tar.bz2" in text and "extracted" in text
    assert len(list(out.rglob("*.npz"))) == 6
    assert main(["extract", "--archives", str(downloads), "--out", str(out)]) == 0
    assert capsys.readouterr().out.count("skipped") == 2
    hostile_archive(downloads / "Bad.tar.bz2", tmp_path / "outside")
    (downloads / "Broken.tar.bz2").write_bytes(b"<html>licence not accepted</html>")
    assert main(["extract", "--archives", str(downloads), "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert "failed" in captured.out and "Broken.tar.bz2" in captured.err and "refused" in captured.err
    assert main(["extract", "--archives", str(tmp_path / "nowhere"), "--out", str(out)]) == 2


def test_safe_member_name():
    assert archive.safe_member_name("./CMU//01/./x.npz") == "CMU/01/x.npz"
    for bad in ("", "/etc/passwd", "a/../../b", "..", "a\\b", "C:x", "a\x00b"):
        assert archive.safe_member_name(bad) is None
    assert archive.is_kept("CMU/LICENSE") and archive.is_kept("CMU/readme.md") and not archive.is_kept("a/x.pkl")


def test_measure_reports_every_available_decoder(good, capsys):
    _, arc = good
    assert main(["extract", "--measure", str(arc)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == archive.available_decoders()
    assert all(float(line.split()[1]) > 0 for line in lines)


def test_cli_keeps_logs_clean_and_names_itself_in_errors(tmp_path, good, capsys):
    _, arc = good
    out = tmp_path / "amass"
    assert main(["extract", "--archives", str(arc), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "archive/s" not in captured.err and "B/s" not in captured.err  # stderr is not a terminal: no bars
    assert captured.out.splitlines()[1].startswith("-----")  # header rule, as in the other commands' tables
    assert main(["extract", "--archives", str(tmp_path / "nowhere"), "--out", str(out)]) == 2
    assert capsys.readouterr().err.startswith("amass-fast extract: ")


def _tar_bz2(path, members):
    with tarfile.open(path, "w:bz2", format=tarfile.PAX_FORMAT) as tar:  # PAX: long names are kept whole
        for name, data in members:
            add(tar, name, data)
    return path


@pytest.mark.parametrize("decoder", DECODERS)
def test_unwritable_member_is_listed_and_the_rest_extracted_without_a_marker(tmp_path, decoder):
    too_long = "CMU/01/" + "x" * 400 + ".npz"
    arc = _tar_bz2(tmp_path / "CMU.tar.bz2", [(too_long, b"a"), ("CMU/01/01_01_poses.npz", b"b")])
    report = archive.extract_archive(arc, tmp_path / "out", decoder=decoder)
    assert [m for m, _ in report.unwritten] == [too_long] and "longer than" in report.unwritten[0][1]
    assert (tmp_path / "out/CMU/01/01_01_poses.npz").read_bytes() == b"b" and report.files == 1
    assert not (tmp_path / "out" / archive.MARKER_DIR / "CMU.tar.bz2.json").exists()  # a rerun tries again


def test_member_over_the_cap_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(archive, "MAX_MEMBER_BYTES", 10)
    arc = _tar_bz2(tmp_path / "CMU.tar.bz2", [("CMU/a_poses.npz", b"x" * 11), ("CMU/b_poses.npz", b"y" * 10)])
    refused = []
    assert list(archive.iter_archive_members(arc, on_refused=lambda *a: refused.append(a))) == \
        [("CMU/b_poses.npz", b"y" * 10)]
    assert [name for name, _ in refused] == ["CMU/a_poses.npz"] and "over the limit" in refused[0][1]
    report = archive.extract_archive(arc, tmp_path / "out")
    assert [m for m, _ in report.refused] == ["CMU/a_poses.npz"] and not (tmp_path / "out/CMU/a_poses.npz").exists()


def test_archive_without_npz_is_empty_and_not_marked(tmp_path):
    arc = _tar_bz2(tmp_path / "KIT.tar.bz2", [("KIT/README.txt", b"hi")])
    report = archive.extract_archive(arc, tmp_path / "out")
    assert report.status == "empty" and "no .npz" in report.error and str(arc) in report.error
    assert archive.already_extracted(arc, tmp_path / "out") is None
    assert list(archive.iter_archive_members(arc)) == []  # reading in place: nothing, no error
