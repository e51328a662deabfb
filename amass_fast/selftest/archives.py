from __future__ import annotations

import contextlib
import io
import tarfile
from pathlib import Path


from amass_fast.selftest.cases import Check, _files_under, _short, case

# --- archives ----------------------------------------------------------------------------------------------------

def _tree_archive(folder: Path, files: int = 6) -> tuple[Path, Path]:
    """A small real CMU archive and the tree it came from."""
    from amass_fast import synthetic

    tree = folder / "tree"
    synthetic.make_tree(tree, ["CMU"], files_per_dataset=files, seconds=(2.0, 4.0))
    return synthetic.make_archive(tree, "CMU", folder / "CMU.tar.bz2"), tree


def _extract_each_decoder(c: Check, archive: Path, tree: Path) -> list[str]:
    """Extract `archive` with every decoder available; checks the failure is an ArchiveError naming the archive,
    and that every file left under a final name is whole or refused by load_sequence (its zip CRC)."""
    from amass_fast.archive import ArchiveError, available_decoders, extract_archive
    from amass_fast.formats import FormatError, load_sequence

    did = []
    for decoder in available_decoders():
        out = c.dir / f"out-{decoder}"
        try:
            report = extract_archive(archive, out, decoder=decoder)
            c.expect(False, f"{decoder}: an ArchiveError (got status {report.status})")
        except ArchiveError as exc:
            did.append(f"{decoder}: {_short(str(exc).replace(str(archive), 'ARCHIVE'), 90)}")
            c.expect(str(archive) in str(exc), f"{decoder}: the message names the archive")
            c.expect("download it again" in str(exc), f"{decoder}: the message says what to do")
        names = _files_under(out)
        c.expect(not any(".part" in n for n in names), f"{decoder}: no partial file left")
        c.expect(not (out / ".amass_fast" / "extracted" / f"{archive.name}.json").exists(),
                 f"{decoder}: no 'extracted' marker, so a rerun tries again")
        for path in out.rglob("*.npz"):
            if path.read_bytes() == (tree / path.relative_to(out)).read_bytes():
                continue
            try:
                load_sequence(path)
                c.expect(False, f"{decoder}: {path.name} is damaged yet loads")
            except FormatError:
                pass
    return did


@case("archives", "tar_bz2_cut_short", "ArchiveError naming the archive; no partial file; no 'extracted' marker")
def _cut_short(c: Check) -> None:
    archive, tree = _tree_archive(c.dir)
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) * 2 // 3])
    c.did = "; ".join(_extract_each_decoder(c, archive, tree))


@case("archives", "bzip2_corrupt_block", "ArchiveError (CRC); files left are whole or fail their zip CRC on load")
def _corrupt_block(c: Check) -> None:
    archive, tree = _tree_archive(c.dir)
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))
    c.did = "; ".join(_extract_each_decoder(c, archive, tree))


@case("archives", "html_saved_as_tar_bz2", "refused before decoding: says it is a web page; exit status 1")
def _html_archive(c: Check) -> None:
    from amass_fast.cli import main

    downloads = c.dir / "downloads"
    downloads.mkdir()
    (downloads / "CMU.tar.bz2").write_bytes(b"<!DOCTYPE html>\n<html><head><title>AMASS - Login</title></head>")
    status, _, err = _cli(main, ["extract", "--archives", str(downloads), "--out", str(c.dir / "out")])
    c.did = f"exit {status}: {_short(err.strip().splitlines()[-2] if err.strip() else '', 140)}"
    c.expect(status == 1, "exit status 1")
    c.expect("web page" in err and "CMU.tar.bz2" in err, "the message names the file and says it is a web page")


def _cli(main, argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


def _evil_archive(path: Path, outside: Path) -> None:
    """Members that try to write outside the output folder, links, devices and a duplicate name."""
    def add(tar: tarfile.TarFile, name: str, data: bytes = b"", **attrs) -> None:
        info = tarfile.TarInfo(name)
        for key, value in attrs.items():
            setattr(info, key, value)
        info.size = len(data) if info.isreg() else 0
        tar.addfile(info, io.BytesIO(data) if info.isreg() else None)

    with tarfile.open(path, "w:bz2") as tar:
        add(tar, "CMU/01/01_01_poses.npz", b"first copy")
        add(tar, "../escape_dotdot.npz", b"evil")
        add(tar, "CMU/../../escape_nested.npz", b"evil")
        add(tar, str(outside / "escape_absolute.npz"), b"evil")
        add(tar, "CMU/link_out", type=tarfile.SYMTYPE, linkname=str(outside))
        add(tar, "CMU/link_out/escape_through_symlink.npz", b"evil")
        add(tar, "CMU/hard_out.npz", type=tarfile.LNKTYPE, linkname=str(outside / "victim.txt"))
        add(tar, "CMU/null", type=tarfile.CHRTYPE, devmajor=1, devminor=3)
        add(tar, "CMU/disk", type=tarfile.BLKTYPE, devmajor=8, devminor=0)
        add(tar, "CMU/fifo", type=tarfile.FIFOTYPE)
        add(tar, "CMU/01/01_01_poses.npz", b"second copy")


@case("archives", "escaping_members", "../, absolute, symlink, hard link, device, fifo, duplicate: all refused and "
      "reported; nothing written outside; exit status 1; in-place reading refuses the same")
def _escaping(c: Check) -> None:
    from amass_fast.archive import iter_archive_members
    from amass_fast.cli import main

    outside = c.dir / "outside"  # what the archive aims at
    outside.mkdir()
    (outside / "victim.txt").write_text("precious")
    downloads, out = c.dir / "downloads", c.dir / "work" / "out"
    downloads.mkdir()
    _evil_archive(downloads / "CMU.tar.bz2", outside)
    before = _files_under(c.dir)
    status, _, err = _cli(main, ["extract", "--archives", str(downloads), "--out", str(out)])
    refused = [line for line in err.splitlines() if line.startswith("refused:")]
    new = {n for n in _files_under(c.dir) - before if n.split("/")[:2] != ["work", "out"] and n != "work"}
    c.did = f"exit {status}; refused {len(refused)} members; wrote {sorted(_files_under(out) - {''})[:4]}..."
    c.expect(status == 1, "exit status 1 (the archive held unsafe members)")
    c.expect(not new and _files_under(outside) == {"victim.txt"}, f"nothing written outside the target ({new})")
    c.expect((outside / "victim.txt").read_text() == "precious", "the hard link target is untouched")
    c.expect(not any(p.is_symlink() for p in out.rglob("*")), "no symlink created")
    c.expect((out / "CMU/01/01_01_poses.npz").read_bytes() == b"first copy", "the first of two duplicates is kept")
    for word in ("escape_dotdot", "escape_nested", "escape_absolute", "link_out", "hard_out", "null", "disk", "fifo",
                 "duplicate"):
        c.expect(any(word in line for line in refused), f"the refusal of {word} is reported")
    refused_in_place: list = []
    names = [n for n, _ in iter_archive_members(downloads / "CMU.tar.bz2",
                                                on_refused=lambda *a: refused_in_place.append(a))]
    c.expect(names == ["CMU/01/01_01_poses.npz", "CMU/link_out/escape_through_symlink.npz"],
             f"in-place reading yields only safe, unique members ({names})")
    c.expect(len(refused_in_place) == 9, f"in-place reading refuses the 9 others ({len(refused_in_place)})")


