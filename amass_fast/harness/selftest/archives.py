from __future__ import annotations

import contextlib
import io
import tarfile
from pathlib import Path


from amass_fast.harness.selftest.cases import Check, _amass_fast, _files_under, _refused, _require_fifo, _short, case

# --- archives ----------------------------------------------------------------------------------------------------

def _tree_archive(folder: Path, files: int = 6) -> tuple[Path, Path]:
    """A small real CMU archive and the tree it came from."""
    from amass_fast.harness import synthetic

    tree = folder / "tree"
    synthetic.make_tree(tree, ["CMU"], files_per_dataset=files, seconds=(2.0, 4.0))
    return synthetic.make_archive(tree, "CMU", folder / "CMU.tar.bz2"), tree


def _extract_each_decoder(c: Check, archive: Path, tree: Path) -> list[str]:
    """Extract `archive` with every decoder available; checks the failure is an ArchiveError naming the archive,
    and that every file left under a final name is whole or refused by load_sequence (its zip CRC)."""
    from amass_fast.io.archive import ArchiveError, available_decoders, extract_archive
    from amass_fast.io.formats import FormatError, load_sequence

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
    from amass_fast.io.archive import iter_archive_members
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


# --- bounded work, odd names, empty archives, special files, bad flags and paths ------------------------------------

def _tar_bytes(members: list[tuple[str, bytes]]) -> bytes:
    """An uncompressed tar (PAX, so long names are kept whole) of regular members."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _write_bz2(path: Path, tar: bytes) -> Path:
    import bz2

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bz2.compress(tar, 1))
    return path


def _sparse_tar(name: str, declared: int, following: list[tuple[str, bytes]]) -> bytes:
    """A tar whose first member is a GNU sparse file declaring `declared` bytes while 512 are stored (a few hundred
    bytes of archive claiming gigabytes), then `following` regular members."""
    data = _tar_bytes([(name, b"\x01" * 512), *following])
    header = bytearray(data[:512])
    header[156:157] = b"S"                                   # GNU sparse
    header[386:410] = b"%011o\0%011o\0" % (0, 512)           # one stored region: offset 0, 512 bytes
    header[482] = 0                                          # no extended sparse headers
    header[483:495] = b"%011o\0" % declared                  # the size the member claims
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header)
    return bytes(header) + data[512:]


def _npz_bytes(seed: int) -> bytes:
    return b"PK\x03\x04" + bytes([seed]) * 64  # content does not matter to extraction: only names and sizes do


def _user_file(folder: Path) -> Path:
    """Something the user already had in the output folder, that no case may change."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "my_notes.txt"
    path.write_text("mine")
    return path


def _name_max(folder: Path) -> int:
    import os

    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


@case("archives", "long_member_names", "a 255-byte member name and a 1.6 KB path extract whole; a name the file "
      "system refuses is reported by name (exit 1) and the members after it are still extracted")
def _long_names(c: Check) -> None:
    from amass_fast.io.archive import iter_archive_members

    name_max = _name_max(c.dir)
    if name_max < 255 or name_max > 1000:
        c.skip(f"this file system allows names of {name_max} bytes: the case needs the usual 255")
    longest = "CMU/01/" + "a" * (name_max - 4) + ".npz"
    deep = "CMU/" + "/".join(f"{i}" + "d" * 199 for i in range(8)) + "/07_01_poses.npz"
    too_long = "CMU/01/" + "b" * (name_max + 40) + ".npz"
    after = "CMU/01/01_02_poses.npz"
    members = [(longest, _npz_bytes(1)), (deep, _npz_bytes(2)), (too_long, _npz_bytes(3)), (after, _npz_bytes(4))]
    downloads, out = c.dir / "downloads", c.dir / "out"
    _write_bz2(downloads / "CMU.tar.bz2", _tar_bytes(members))
    mine = _user_file(out)
    proc = _amass_fast(["extract", "--archives", str(downloads), "--out", str(out)])
    written = {n: (out / n).read_bytes() for n, _ in members if n != too_long and (out / n).is_file()}
    c.did = f"exit {proc.returncode}; wrote {len(written)} of 3 writable; {_short(proc.stderr, 160)}"
    c.expect(proc.returncode == 1, "exit status 1 (one member could not be written)")
    c.expect(written == {n: d for n, d in members if n != too_long}, "the 255-byte name, the long path and the "
             "member after the refused name are extracted whole")
    c.expect("not written" in proc.stderr and too_long[:60] in proc.stderr, "the unwritable member is named")
    c.expect("longer than this file system allows" in proc.stderr, "says the name is too long")
    c.expect(not [n for n in _files_under(out) if n.endswith(".tmp")], "no temporary file left")
    c.expect(mine.read_text() == "mine", "the user's file in the output folder is untouched")
    names = [n for n, _ in iter_archive_members(downloads / "CMU.tar.bz2", on_refused=lambda *a: None)]
    c.expect(names == [n for n, _ in members], "in-place reading yields every member, long names included")


@case("archives", "sparse_huge_member", "a member declaring 4 GiB (sparse, a few hundred bytes stored) is refused "
      "by name before anything is read or written; the other members are extracted and read")
def _sparse_huge(c: Check) -> None:
    from amass_fast.io.archive import MAX_MEMBER_BYTES, iter_archive_members

    huge, other = "CMU/01/01_01_poses.npz", ("CMU/01/01_02_poses.npz", _npz_bytes(5))
    downloads, out = c.dir / "downloads", c.dir / "out"
    archive = _write_bz2(downloads / "CMU.tar.bz2", _sparse_tar(huge, 4 << 30, [other]))
    mine = _user_file(out)
    proc = _amass_fast(["extract", "--archives", str(downloads), "--out", str(out)], timeout=60)
    refused: list = []
    read = dict(iter_archive_members(archive, on_refused=lambda *a: refused.append(a)))
    c.did = f"exit {proc.returncode}; {_short(proc.stderr, 150)}; in place: read {sorted(read)}, refused {refused}"
    c.expect(4 << 30 > MAX_MEMBER_BYTES, "the member is over the documented cap")
    c.expect(proc.returncode == 1, "exit status 1")
    c.expect("refused" in proc.stderr and huge in proc.stderr and "over the limit" in proc.stderr,
             "the refusal names the member and the limit")
    c.expect(not (out / huge).exists(), "nothing written for the huge member")
    c.expect((out / other[0]).read_bytes() == other[1], "the next member is extracted")
    c.expect(read == dict([other]) and [r[0] for r in refused] == [huge], "in-place reading refuses it by name, "
             "without reading it, and yields the next member")
    c.expect(mine.read_text() == "mine", "the user's file in the output folder is untouched")


@case("archives", "empty_archives", "an archive with no members, one with only a README, and a folder without "
      "archives: exit 2 naming them; no 'extracted' marker; nothing of the user's changed")
def _empty(c: Check) -> None:
    downloads, out, bare = c.dir / "downloads", c.dir / "out", c.dir / "bare"
    _write_bz2(downloads / "CMU.tar.bz2", _tar_bytes([]))
    _write_bz2(downloads / "KIT.tar.bz2", _tar_bytes([("KIT/README.txt", b"no motions here")]))
    bare.mkdir()
    mine = _user_file(out)
    proc = _amass_fast(["extract", "--archives", str(downloads), "--out", str(out)])
    none = _amass_fast(["extract", "--archives", str(bare), "--out", str(out)])
    c.did = f"exit {proc.returncode}: {_short(proc.stderr, 120)}; empty folder: exit {none.returncode}"
    c.expect(proc.returncode == 2, "exit status 2 when every archive is empty")
    c.expect("CMU.tar.bz2" in proc.stderr and "KIT.tar.bz2" in proc.stderr and "no .npz" in proc.stderr,
             "each empty archive is named and the problem said")
    c.expect(none.returncode == 2 and str(bare) in none.stderr, "an empty folder: exit 2 naming it")
    c.expect(not (out / ".amass_fast" / "extracted").exists() or
             not any((out / ".amass_fast" / "extracted").iterdir()), "no 'extracted' marker: a rerun looks again")
    c.expect(mine.read_text() == "mine" and _files_under(out) - {"my_notes.txt", "KIT", "KIT/README.txt",
                                                                  ".amass_fast", ".amass_fast/extracted"} == set(),
             "nothing else in the output folder")


@case("archives", "special_files_as_archives", "a fifo passed to --archives: exit 2 naming it, without blocking; "
      "a fifo named like an archive in a folder: listed as skipped, the real archive beside it extracted")
def _special_files(c: Check) -> None:
    import os

    _require_fifo(c)
    downloads, out = c.dir / "downloads", c.dir / "out"
    _write_bz2(downloads / "KIT.tar.bz2", _tar_bytes([("KIT/3/walk_poses.npz", _npz_bytes(6))]))
    fifo = downloads / "CMU.tar.bz2"
    os.mkfifo(fifo)
    alone = c.dir / "ACCAD.tar.bz2"
    os.mkfifo(alone)
    given = _amass_fast(["extract", "--archives", str(alone), "--out", str(out)], timeout=60)
    folder = _amass_fast(["extract", "--archives", str(downloads), "--out", str(out)], timeout=60)
    c.did = f"fifo given: exit {given.returncode} ({_short(given.stderr, 90)}); in a folder: exit {folder.returncode}"
    c.expect(given.returncode == 2 and str(alone) in given.stderr and "pipe" in given.stderr,
             "a fifo given as the archive: exit 2, named, said to be a pipe")
    c.expect(folder.returncode == 0 and (out / "KIT/3/walk_poses.npz").read_bytes() == _npz_bytes(6),
             "the real archive beside the fifo is extracted")
    c.expect(f"skipped {fifo}" in folder.stderr, "the fifo in the folder is listed as skipped")
    c.expect(not (out / "CMU").exists(), "nothing created for the fifo")


@case("archives", "extract_bad_flags_and_paths", "--out is a file, --jobs 0 / huge / not a number: exit 2 naming "
      "the flag, before any work; the file is untouched")
def _extract_flags(c: Check) -> None:
    downloads = c.dir / "downloads"
    _write_bz2(downloads / "KIT.tar.bz2", _tar_bytes([("KIT/3/walk_poses.npz", _npz_bytes(7))]))
    target = c.dir / "data.bin"
    target.write_bytes(b"precious")
    runs = {"--out": _amass_fast(["extract", "--archives", str(downloads), "--out", str(target)])}
    for value in ("0", "100000000", "two"):
        runs[f"--jobs {value}"] = _amass_fast(["extract", "--archives", str(downloads), "--out",
                                               str(c.dir / "out"), "--jobs", value])
    for what, proc in runs.items():
        _refused(c, what, proc, [what.split()[0]])
    c.expect(str(target) in runs["--out"].stderr and "not a folder" in runs["--out"].stderr,
             "--out FILE: the message names the file and says it is not a folder")
    c.expect(target.read_bytes() == b"precious", "the file given as --out is untouched")
    c.expect(not (c.dir / "out").exists(), "no work was done for the bad --jobs values")
