"""Faults by class, each through several entry points (group "faults"): special files read back, unbounded memory,
messages instead of tracebacks, one input sinking a run, silent NaN, user data replaced, resume and signals,
documented use, the trust boundary of read-back files and arguments named in errors.

Every run here is a separate `python` process under a time limit and an address-space limit (RLIMIT_AS), so a
blocking open or an unbounded allocation fails its case instead of hanging or swapping the machine; what the user
made is snapshotted before and compared byte for byte afterwards. A fix that covers one path of a class only fails
the other paths' checks."""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path
from typing import Callable, NamedTuple, Optional

import numpy as np

from amass_fast.harness.selftest.archives import _tar_bytes, _write_bz2
from amass_fast.harness.selftest.cases import Check, _env, _last_line, _refused, _require_fifo, _short, case
from amass_fast.harness.selftest.download import _limit_file_size
from amass_fast.harness.selftest.files import _good_sequence
from amass_fast.harness.selftest.processing import _load_pt, _same_samples, _snapshot

GROUP = "faults"
MEMORY_LIMIT = 3 << 30  # bytes of address space per run: a run that needs more is a fault here
TIME_LIMIT = 120.0      # seconds per run: a run that takes longer blocked
_FLAGS = ["--backend", "reference", "--batch-files", "1", "--jobs", "1"]


def _bounded() -> None:
    """In the child: an address-space limit, so an unbounded allocation fails there instead of exhausting memory."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _run(c: Check, what: str, command: list[str], limit_file: Optional[int] = None,
         timeout: float = TIME_LIMIT) -> Optional[tuple[int, str, str]]:
    """(exit status, stdout, stderr) of ``command`` run bounded in time and memory; None (a failed expectation) when
    it had to be stopped."""
    def limits() -> None:
        _bounded()
        if limit_file is not None:
            _limit_file_size(limit_file)()

    started = time.monotonic()
    try:
        proc = subprocess.run(command, capture_output=True, text=True, errors="replace", env=_env(),
                              timeout=timeout, preexec_fn=limits)
    except subprocess.TimeoutExpired:
        c.did += f"{what}: still running after {timeout:.0f} s, stopped; "
        c.expect(False, f"{what}: ends within {timeout:.0f} s (nothing blocks)")
        return None
    c.expect(time.monotonic() - started < timeout, f"{what}: ends in bounded time")
    return proc.returncode, proc.stdout, proc.stderr


def _cli(c: Check, what: str, args: list[str], **kw) -> Optional[tuple[int, str, str]]:
    return _run(c, what, [sys.executable, "-m", "amass_fast", *args], **kw)


_SNIPPET = """
import sys
try:
{body}
except (ValueError, TypeError, OSError, MemoryError) as exc:
    print(type(exc).__name__ + ": " + str(exc), file=sys.stderr)
    sys.exit(3)
print("accepted")
"""


def _python(c: Check, what: str, body: str) -> Optional[tuple[int, str, str]]:
    """Run ``body`` (library calls) in a bounded `python -c`: exit 3 with the error's one line on stderr when it
    raises ValueError, TypeError, OSError or MemoryError; any other exception leaves a traceback, which _refusal
    reports."""
    return _run(c, what, [sys.executable, "-c", _SNIPPET.format(body=textwrap.indent(textwrap.dedent(body), "    "))])


def _refusal(c: Check, what: str, result: Optional[tuple[int, str, str]], names: list[str], status: int) -> None:
    """The exit status, no traceback, and one line (the last) naming every one of ``names``."""
    if result is None:
        return
    _refused(c, what, result, names, status)
    line = _last_line(result[2])
    for name in names:
        c.expect(name in line, f"{what}: the last line of the message names {name}")


def _errors(output: Path) -> list[dict]:
    path = Path(f"{output}.errors.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _tree(root: Path, files: int = 2, seconds: tuple = (1.5, 2.5)) -> Path:
    from amass_fast.harness import synthetic

    synthetic.make_tree(root, ["CMU"], files_per_dataset=files, seconds=seconds, seed=5)
    return root


def _rels(root: Path) -> list[str]:
    from amass_fast.io.tree import iter_motion_files

    return [p.relative_to(root).as_posix() for p in iter_motion_files(root)]


def _fake_shards(folder: Path, shards: int = 2, clips: int = 2, lines: Optional[list] = None,
                 action: int = 0) -> Path:
    """A shards folder as `process --format shards` writes it (small random stick5 clips), without running it."""
    from amass_fast.outputs import writers
    from amass_fast.labels import ACTION_TYPES

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    entries = []
    for s in range(shards):
        name = writers.SHARD_NAME.format(s)
        rows = lines or [{"action": "walk", "description": "A person walks.", "dataset": "CMU",
                          "file": f"CMU/01/01_{i:02d}_poses.npz", "start_s": 0.0, "source_fps": 120.0,
                          "view": "front", "valid_length": 25, "label_source": "name",
                          "description_source": "template"} for i in range(clips)]
        writers.write_shard(folder / name, rng.normal(0, 0.3, (len(rows), 25, 20)),
                            np.full((len(rows), 25), action), rows,
                            {"task": s, "counts": {}, "errors": [], "sources": [], "label_sources": {}})
        entries.append({"file": name, "clips": len(rows)})
    writers.write_json(folder / writers.MANIFEST_NAME, {
        "format": writers.MANIFEST_FORMAT, "format_version": 1, "fps": 25.0, "window": 25,
        "actions_vocabulary": list(ACTION_TYPES), "shards": entries})
    return folder


def _read_all(path: Path) -> str:
    return f"""
from amass_fast import StickClips
clips = StickClips({str(path)!r})
[clips[i] for i in range(len(clips))]
"""


def _preview(c: Check, what: str, path: Path, out: Path, index: int = -1):
    return _cli(c, what, ["preview", str(path), "--index", str(index), "--out", str(out)])


def _deep_json(depth: int = 100_000) -> str:
    return "[" * depth + "]" * depth


# --- hang on a special file --------------------------------------------------------------------------------------

@case(GROUP, "fifo_among_shards", "a FIFO named like a shard in a shards folder: StickClips and preview refuse it "
      "by name at once; process --resume remakes that shard; nothing blocks")
def _fifo_shard(c: Check) -> None:
    _require_fifo(c)
    tree = _tree(c.dir / "amass")
    out = c.dir / "shards"
    done = _cli(c, "process", ["process", "--amass-root", str(tree), "--output", str(out), "--format", "shards",
                               *_FLAGS])
    if done is None or not c.expect(done[0] == 0, f"the first run succeeds ({_short(done[2], 200)})"):
        return
    fifo = out / "shard-000001.npz"
    fifo.unlink()
    os.mkfifo(fifo)
    _refusal(c, "StickClips", _python(c, "StickClips", _read_all(out)), [str(fifo), "FIFO"], 3)
    _refusal(c, "preview", _preview(c, "preview", out, c.dir / "clip.gif"), [str(fifo), "FIFO"], 1)
    again = _cli(c, "process --resume", ["process", "--amass-root", str(tree), "--output", str(out), "--format",
                                         "shards", "--resume", *_FLAGS])
    if again is not None:
        c.did += f"process --resume: exit {again[0]}; "
        c.expect(again[0] == 0, f"process --resume remakes the shard, exit 0 ({_short(again[2], 200)})")
        c.expect(fifo.is_file(), "the shard is a regular file again")


def _humanml3d(root: Path, rels: list[str], fifo_caption: bool = False) -> Path:
    (root / "HumanML3D" / "texts").mkdir(parents=True)
    rows = ["source_path,start_frame,end_frame,new_name"]
    for i, rel in enumerate(rels):
        rows.append(f"./pose_data/{rel[:-4]}.npy,0,-1,{i:06d}.npy")
        caption = root / "HumanML3D" / "texts" / f"{i:06d}.txt"
        if fifo_caption and i == 0:
            os.mkfifo(caption)
        else:
            caption.write_text("a person moves#a/DET person/NOUN#0.0#0.0\n", encoding="utf-8")
    (root / "index.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


@case(GROUP, "fifo_in_annotations", "a FIFO as a HumanML3D caption and as a BABEL file: labels skips the file "
      "(named), process lists it in its errors and goes on (exit 1), labels --babel refuses the FIFO (exit 2)")
def _fifo_annotations(c: Check) -> None:
    _require_fifo(c)
    tree = _tree(c.dir / "amass")
    rels = _rels(tree)
    hml = _humanml3d(c.dir / "hml", rels, fifo_caption=True)
    fifo = hml / "HumanML3D" / "texts" / "000000.txt"
    labels = _cli(c, "labels --humanml3d", ["labels", "--amass-root", str(tree), "--humanml3d", str(hml)])
    if labels is not None:
        c.did += f"labels --humanml3d: exit {labels[0]}; "
        c.expect(labels[0] == 0 and str(fifo) in labels[2] and "Traceback" not in labels[2],
                 "labels --humanml3d: exit 0, the FIFO named as skipped, no traceback")
    out = c.dir / "out.pt"
    proc = _cli(c, "process --humanml3d", ["process", "--amass-root", str(tree), "--humanml3d", str(hml),
                                           "--output", str(out), *_FLAGS])
    if proc is not None:
        errors = _errors(out)
        c.did += f"process --humanml3d: exit {proc[0]}, {len(errors)} error line(s); "
        c.expect(proc[0] == 1 and "Traceback" not in proc[2], "process --humanml3d: exit 1, no traceback")
        c.expect(len(errors) == 1 and str(fifo) in errors[0]["reason"] and errors[0]["file"] == rels[0],
                 "process: one error line, for the file whose caption is the FIFO, naming it")
        c.expect(out.exists() and len({s["meta"]["file"] for s in _load_pt(out)}) == len(rels) - 1,
                 "process: the other files converted")
    babel = c.dir / "babel"
    babel.mkdir()
    os.mkfifo(babel / "val.json")
    _refusal(c, "labels --babel", _cli(c, "labels --babel", ["labels", "--amass-root", str(tree), "--babel",
                                                             str(babel)]), [str(babel / "val.json"), "FIFO"], 2)


@case(GROUP, "fifo_records_and_models", "a FIFO as run.json (process --resume) and as a model file "
      "(load_body_model, process --body-model): refused by name, exit 2, nothing blocks")
def _fifo_records(c: Check) -> None:
    _require_fifo(c)
    tree = _tree(c.dir / "amass")
    parts = c.dir / "out.pt.parts"
    parts.mkdir()
    os.mkfifo(parts / "run.json")
    _refusal(c, "process --resume", _cli(c, "process --resume", ["process", "--amass-root", str(tree), "--output",
                                                                 str(c.dir / "out.pt"), "--resume", *_FLAGS]),
             [str(parts / "run.json"), "FIFO"], 2)
    model = c.dir / "models" / "smplh" / "SMPLH_MALE.npz"
    model.parent.mkdir(parents=True)
    os.mkfifo(model)
    _refusal(c, "load_body_model", _python(c, "load_body_model", f"""
from amass_fast.io.body_models import load_body_model
load_body_model({str(model)!r})
"""), [str(model), "FIFO"], 3)
    proc = _cli(c, "process --body-model", ["process", "--amass-root", str(tree), "--body-model",
                                            str(c.dir / "models"), "--output", str(c.dir / "b.pt"), *_FLAGS])
    if proc is not None:
        c.did += f"process --body-model: exit {proc[0]}; "
        c.expect(proc[0] == 2 and "--body-model" in _last_line(proc[2]) and "Traceback" not in proc[2],
                 "process --body-model: exit 2 naming --body-model (no model file there), no traceback")


# --- unbounded memory --------------------------------------------------------------------------------------------

def _write_texts_zip(hml: Path, rels: list[str], big_member: bool = False, bad_crc: bool = False) -> Path:
    (hml / "HumanML3D").mkdir(parents=True)
    rows = ["source_path,start_frame,end_frame,new_name"]
    rows += [f"./pose_data/{rel[:-4]}.npy,0,-1,{i:06d}.npy" for i, rel in enumerate(rels)]
    (hml / "index.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    path = hml / "HumanML3D" / "texts.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(len(rels)):
            text = "a person moves#a/DET person/NOUN#0.0#0.0\n"
            if big_member and i == 0:  # 256 MiB of text in a few hundred KB
                with archive.open(f"texts/{i:06d}.txt", "w") as member:
                    line = (text * 1024).encode()
                    for _ in range((256 << 20) // len(line)):
                        member.write(line)
            else:
                archive.writestr(zipfile.ZipInfo(f"texts/{i:06d}.txt"), text * 4)
    if bad_crc:  # flip one byte of the last (stored) member's data: its CRC-32 no longer matches
        data = bytearray(path.read_bytes())
        at = data.rfind(b"a person moves")
        data[at] ^= 0x20
        path.write_bytes(bytes(data))
    return path


@case(GROUP, "texts_zip_bomb_and_bad_crc", "a texts.zip whose member expands to 256 MiB, and one with a bad CRC: "
      "labels and process refuse the zip by name (exit 2) before any work, within the memory limit")
def _texts_zip(c: Check) -> None:
    tree = _tree(c.dir / "amass")
    rels = _rels(tree)
    for label, kw, words in (("bomb", {"big_member": True}, "limit"), ("bad CRC", {"bad_crc": True}, "CRC")):
        hml = c.dir / label.replace(" ", "_")
        texts = _write_texts_zip(hml, rels, **kw)
        before = texts.read_bytes()
        _refusal(c, f"labels ({label})", _cli(c, f"labels ({label})", ["labels", "--amass-root", str(tree),
                                                                        "--humanml3d", str(hml)]),
                 [str(texts), words], 2)
        out = c.dir / f"{hml.name}.pt"
        _refusal(c, f"process ({label})", _cli(c, f"process ({label})", [
            "process", "--amass-root", str(tree), "--humanml3d", str(hml), "--output", str(out), *_FLAGS]),
            [str(texts), words], 2)
        c.expect(not out.exists() and not Path(f"{out}.parts").exists(), f"process ({label}): nothing written")
        c.expect(texts.read_bytes() == before, f"{label}: texts.zip unchanged")


def _write_texts_zip_over_total(hml: Path, rels: list[str]) -> Path:
    """A texts.zip whose members are each under the one-member cap but together over the zip's total cap
    (guarded.LIMITS["texts_zip"]): about 3 MB that expand beyond it."""
    from amass_fast.io import guarded

    path = _write_texts_zip(hml, rels)
    member_cap, total_cap = guarded.ZIP_MEMBER_LIMITS["texts_zip"], guarded.LIMITS["texts_zip"]
    line = b"a person moves#a/DET person/NOUN#0.0#0.0\n"
    data = line * ((member_cap - 1) // len(line))  # just under the one-member cap
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for i in range(total_cap // len(data) + 1):
            archive.writestr(f"texts/extra{i:06d}.txt", data)
    return path


@case(GROUP, "texts_zip_over_total", "a texts.zip whose members are each within the one-member cap but together "
      "expand beyond the zip's total cap: labels, process and humanml3d_index refuse it by name before reading a "
      "member, within the memory limit")
def _texts_zip_total(c: Check) -> None:
    tree = _tree(c.dir / "amass")
    hml = c.dir / "hml"
    texts = _write_texts_zip_over_total(hml, _rels(tree))
    before = texts.read_bytes()
    words = [str(texts), "limit", "members expand"]
    _refusal(c, "labels", _cli(c, "labels", ["labels", "--amass-root", str(tree), "--humanml3d", str(hml)]), words, 2)
    out = c.dir / "clips.pt"
    _refusal(c, "process", _cli(c, "process", ["process", "--amass-root", str(tree), "--humanml3d", str(hml),
                                               "--output", str(out), *_FLAGS]), words, 2)
    c.expect(not out.exists() and not Path(f"{out}.parts").exists(), "process: nothing written")
    _refusal(c, "humanml3d_index", _python(c, "humanml3d_index", f"""
from amass_fast.labels import humanml3d_index
humanml3d_index({str(hml)!r})
"""), words, 3)
    c.expect(texts.read_bytes() == before, "texts.zip unchanged")


@case(GROUP, "planned_size_counts_views", "one long file with --views 360 --schema joints2d, --random-views 360 "
      "--schema stick12 (shards) and --mirror --views 180: the file is one error line giving the limit and the "
      "planned size (exit 1), under an address-space limit far below it; the kernels called directly (convert_batch "
      "on NumPy arrays and torch tensors, resample_poses) refuse such an output with both sizes before allocating")
def _planned_size(c: Check) -> None:
    from amass_fast.harness import synthetic

    tree = c.dir / "amass"
    long = synthetic.write_sequence(tree / "CMU" / "01" / "01_01_poses.npz", seconds=2000.0, fps=1.0, seed=2)
    _good_sequence(tree / "CMU" / "01" / "01_02_poses.npz")
    before = _snapshot(tree)
    for name, extra in (("views", ["--views", "360", "--schema", "joints2d"]),
                        ("random-views", ["--random-views", "360", "--schema", "stick12", "--format", "shards"]),
                        ("mirror", ["--mirror", "--views", "180", "--schema", "joints2d"])):
        out = c.dir / (name if "shards" in extra else f"{name}.pt")
        proc = _cli(c, name, ["process", "--amass-root", str(tree), "--output", str(out), *extra, *_FLAGS])
        if proc is None:
            continue
        errors = _errors(out)
        reason = errors[0]["reason"] if errors else ""
        c.did += f"{name}: exit {proc[0]}: {_short(reason, 90)}; "
        c.expect(proc[0] == 1 and "Traceback" not in proc[2], f"{name}: exit 1, no traceback")
        c.expect(len(errors) == 1 and errors[0]["file"] == long.relative_to(tree).as_posix(),
                 f"{name}: one error line, for the long file")
        c.expect("GiB" in reason and "limit" in reason and reason.count("GiB") >= 2,
                 f"{name}: the reason gives the planned size and the limit")
    c.expect(_snapshot(tree) == before, "the input tree unchanged")
    # The kernels: 2 M windows of joints3d (123 GiB of float32) from one short sequence; 2.5 M frames of 52 joints
    # (3.1 GB of float64) resampled from 1e-5 fps.
    batch = """
import numpy as np
import amass_fast as af
from amass_fast.schemas.skeleton import BODY_PARENTS
C = 2_000_000
z = np.zeros(C, dtype=np.int64)
args = dict(poses=np.zeros((300, 66), np.float32), trans=np.zeros((300, 3), np.float32),
            seq_offsets=np.array([0, 300]), seq_fps=np.array([30.0]), rest_joints=np.zeros((1, 22, 3), np.float32),
            parents=BODY_PARENTS, clip_seq=z, clip_start=z, clip_len=np.full(C, 250), schema="joints3d")
"""
    for what, body in (("convert_batch (NumPy)", batch + "af.convert_batch(**args)"),
                       ("convert_batch (torch)", batch + "import torch\n"
                        "af.convert_batch(**{k: torch.as_tensor(v) if isinstance(v, np.ndarray) else v "
                        "for k, v in args.items()})"),
                       ("resample_poses", "import numpy as np\nimport amass_fast as af\n"
                        "af.resample_poses(np.zeros((2, 156)), np.zeros((2, 3)), 1e-5)")):
        _refusal(c, what, _python(c, what, body), [what.split()[0], "MemoryError", "GiB", "more than"], 3)


# --- a message, not a traceback ----------------------------------------------------------------------------------

@case(GROUP, "json_nested_deep", "JSON nested 100,000 deep as manifest.json (StickClips, preview), run.json "
      "(process --resume) and a BABEL file (labels --babel): refused by name with the depth limit, no traceback")
def _deep(c: Check) -> None:
    shards = _fake_shards(c.dir / "shards")
    manifest = shards / "manifest.json"
    manifest.write_text(_deep_json())
    _refusal(c, "StickClips", _python(c, "StickClips", _read_all(shards)), [str(manifest), "nested"], 3)
    _refusal(c, "preview", _preview(c, "preview", shards, c.dir / "clip.gif"), [str(manifest), "nested"], 1)
    tree = _tree(c.dir / "amass")
    parts = c.dir / "out.pt.parts"
    parts.mkdir()
    (parts / "run.json").write_text(_deep_json())
    _refusal(c, "process --resume", _cli(c, "process --resume", ["process", "--amass-root", str(tree), "--output",
                                                                 str(c.dir / "out.pt"), "--resume", *_FLAGS]),
             [str(parts / "run.json"), "nested"], 2)
    babel = c.dir / "babel"
    babel.mkdir()
    (babel / "train.json").write_text(_deep_json())
    _refusal(c, "labels --babel", _cli(c, "labels --babel", ["labels", "--amass-root", str(tree), "--babel",
                                                             str(babel)]), [str(babel / "train.json"), "nested"], 2)


@case(GROUP, "read_back_wrong_types", "a manifest whose fields have the wrong types, a shard whose clip line does, "
      "and a .pt holding something else than samples: StickClips and preview name the file and the field (no "
      "traceback); process --resume remakes the damaged shard")
def _wrong_types(c: Check) -> None:
    from amass_fast.outputs import writers

    shards = _fake_shards(c.dir / "shards")
    manifest = shards / writers.MANIFEST_NAME
    data = json.loads(manifest.read_text())
    data["shards"][0] = {"file": 3, "clips": "2"}
    manifest.write_text(json.dumps(data))
    _refusal(c, "StickClips (manifest)", _python(c, "StickClips (manifest)", _read_all(shards)),
             [str(manifest), "'file'"], 3)
    _refusal(c, "preview (manifest)", _preview(c, "preview (manifest)", shards, c.dir / "a.gif"),
             [str(manifest), "'file'"], 1)
    line = {"action": "walk", "description": "d", "dataset": "CMU", "file": "CMU/x.npz", "start_s": 0.0,
            "source_fps": 120.0, "view": "front", "valid_length": "25", "label_source": "name"}
    bad = _fake_shards(c.dir / "bad_line", shards=1, lines=[line])
    shard = bad / "shard-000000.npz"
    _refusal(c, "StickClips (clip line)", _python(c, "StickClips (clip line)", _read_all(bad)),
             [str(shard), "'valid_length'"], 3)
    _refusal(c, "preview (clip line)", _preview(c, "preview (clip line)", bad, c.dir / "b.gif", 0),
             [str(shard), "'valid_length'"], 1)
    import torch

    for name, obj in (("dict", {"motion": torch.zeros(3, 20)}), ("ints", [1, 2, 3]),
                      ("no_motion", [{"action": "walk", "description": "d", "meta": {}}])):
        pt = c.dir / f"{name}.pt"
        torch.save(obj, pt)
        _refusal(c, f"StickClips ({name})", _python(c, f"StickClips ({name})", _read_all(pt)), [str(pt)], 3)
        _refusal(c, f"preview ({name})", _preview(c, f"preview ({name})", pt, c.dir / f"{name}.gif", 0), [str(pt)], 1)
        c.expect(not (c.dir / f"{name}.gif").exists(), f"preview ({name}): no image written")


def _replace_member(shard: Path, member: str, array: np.ndarray) -> None:
    """Rewrite one stored .npy member of a shard (as a damaged or foreign writer would have left it)."""
    with zipfile.ZipFile(shard) as zf:
        members = {info.filename: zf.read(info) for info in zf.infolist()}
    buffer = io.BytesIO()
    np.save(buffer, array)
    members[member] = buffer.getvalue()
    with zipfile.ZipFile(shard, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


@case(GROUP, "shard_actions_out_of_range", "shards whose actions member holds an index below 0 or past the "
      "actions vocabulary, or floats: StickClips, preview and writers.open_shard refuse the shard by name (no "
      "traceback), the shards unchanged")
def _actions_range(c: Check) -> None:
    from amass_fast.labels import ACTION_TYPES

    for label, action in (("negative", -1), ("past_vocabulary", len(ACTION_TYPES)), ("float", None)):
        folder = _fake_shards(c.dir / label, shards=1, action=0 if action is None else action)
        shard = folder / "shard-000000.npz"
        if action is None:
            _replace_member(shard, "actions.npy", np.zeros((2, 25), dtype=np.float64))
        before = _snapshot(folder)
        words = [str(shard), "actions"]
        _refusal(c, f"StickClips ({label})", _python(c, f"StickClips ({label})", _read_all(folder)), words, 3)
        _refusal(c, f"preview ({label})", _preview(c, f"preview ({label})", folder, c.dir / f"{label}.gif", 0),
                 words, 1)
        c.expect(not (c.dir / f"{label}.gif").exists(), f"preview ({label}): no image written")
        _refusal(c, f"open_shard ({label})", _python(c, f"open_shard ({label})", f"""
from amass_fast.outputs import writers
writers.open_shard({str(shard)!r})
"""), words, 3)
        c.expect(_snapshot(folder) == before, f"{label}: the shards unchanged")


@case(GROUP, "flags_that_cannot_work", "--random-views 2 --seed -1, labels --seed -1, --view top --scale-height "
      "and an --output whose .errors.jsonl would be too long a name: exit 2 naming the flag, before any write")
def _bad_flags(c: Check) -> None:
    tree = _tree(c.dir / "amass")
    before = _snapshot(c.dir)
    out = str(c.dir / "out.pt")
    for what, args, names in (
            ("--seed -1", ["process", "--amass-root", str(tree), "--output", out, "--random-views", "2", "--seed",
                           "-1", *_FLAGS], ["--seed"]),
            ("labels --seed -1", ["labels", "--amass-root", str(tree), "--seed", "-1"], ["--seed"]),
            ("--view top --scale-height", ["process", "--amass-root", str(tree), "--output", out, "--view", "top",
                                           "--scale-height", *_FLAGS], ["--view top", "--scale-height"]),
            ("long --output", ["process", "--amass-root", str(tree), "--output", str(c.dir / ("a" * 250 + ".pt")),
                               *_FLAGS], ["--output", "longer"])):
        _refusal(c, what, _cli(c, what, args), names, 2)
    c.expect(_snapshot(c.dir) == before and not Path(f"{out}.parts").exists(), "nothing written or changed")


# --- one input must not sink the run ------------------------------------------------------------------------------

@case(GROUP, "absurd_body_shape_scale_height", "--scale-height with one file whose body shape has the head below "
      "the ankles (pt; shards with --jobs 2; --mirror): that file is one error line, the others are converted, exit 1")
def _absurd_shape(c: Check) -> None:
    from amass_fast.harness import synthetic, synthetic_models

    tree = c.dir / "amass"
    betas = np.zeros(16)
    betas[0] = -3e4
    bad = synthetic.write_sequence(tree / "CMU" / "01" / "01_01_poses.npz", seconds=2.0, fps=60.0, betas=betas)
    for i in (2, 3):
        synthetic.write_sequence(tree / "CMU" / "01" / f"01_0{i}_poses.npz", seconds=2.0, fps=60.0, seed=i)
    models = c.dir / "models"
    synthetic_models.write_model_tree(models)
    for what, extra, out in (("pt", [], c.dir / "a.pt"), ("shards --jobs 2", ["--format", "shards"], c.dir / "b"),
                             ("--mirror", ["--mirror"], c.dir / "c.pt")):
        flags = ["--backend", "reference", "--batch-files", "1", "--jobs", "2" if "--jobs 2" in what else "1"]
        proc = _cli(c, what, ["process", "--amass-root", str(tree), "--body-model", str(models), "--scale-height",
                              "--output", str(out), *extra, *flags])
        if proc is None:
            continue
        errors = _errors(out)
        c.did += f"{what}: exit {proc[0]}, {len(errors)} error(s); "
        c.expect(proc[0] == 1 and "Traceback" not in proc[2], f"{what}: exit 1, no traceback")
        c.expect([e["file"] for e in errors] == [bad.relative_to(tree).as_posix()] and "--scale-height" in
                 errors[0]["reason"], f"{what}: one error line, the absurd file, naming --scale-height")
        if what == "pt":
            c.expect({s["meta"]["file"] for s in _load_pt(out)} == {"CMU/01/01_02_poses.npz",
                                                                   "CMU/01/01_03_poses.npz"}, "the others converted")


# --- silent NaN, and arguments named -----------------------------------------------------------------------------

_NUMBERS = """
import math
import numpy as np
import torch
from amass_fast import kernels
from amass_fast.kernels import reference
from amass_fast.io.body_models import default_body_model
from amass_fast.schemas import Camera, CameraRanges, Compose, Mirror, RandomCamera, ToSchema

rest = np.asarray(default_body_model(warn=False).rest_joints(np.zeros(10)))[:22]
poses, trans = np.zeros((30, 66), np.float32), np.zeros((30, 3), np.float32)
par = reference.BODY_PARENTS
big = np.array([1.0, 0.0, 0.0, 1e39, 35.0, 1.0])
nan_trans = trans.copy()
nan_trans[4, 2] = np.nan
joints = {"motion": torch.zeros(25, 22, 3), "action": "walk", "description": "d", "meta": {}}
calls = {
    "camera distance 1e39": lambda: kernels.convert(poses, trans, rest, par, 30.0, schema="joints2d", camera=big),
    "scale 1e39": lambda: kernels.convert(poses, trans, rest, par, 30.0, schema="joints3d", scale=1e39),
    "trans NaN": lambda: kernels.convert(poses, nan_trans, rest, par, 30.0),
    "clip_scale 1e39": lambda: kernels.convert_batch(poses, trans, np.array([0, 30]), np.array([30.0]), rest[None],
                                                     par, np.zeros(1, np.int64), np.zeros(1, np.int64),
                                                     np.array([25]), schema="joints3d", window=25,
                                                     clip_scale=np.array([1e39])),
    "mirror poses [F, 30]": lambda: kernels.convert(np.zeros((30, 30), np.float32), trans, rest, par, 30.0,
                                                    mirror=True),
    "RandomCamera NaN range": lambda: RandomCamera(ranges=CameraRanges(distance_m=(math.nan, 4.0)))(joints),
    "RandomCamera reversed range": lambda: RandomCamera(ranges=CameraRanges(focal_mm=(70.0, 24.0)))(joints),
    "ToSchema camera string": lambda: ToSchema("stick12", camera="front"),
    "Mirror p string": lambda: Mirror(p="0.5"),
    "Camera distance string": lambda: Camera(distance_m="4"),
    "Compose of a string": lambda: Compose(["Mirror"]),
}
for name, call in calls.items():
    try:
        call()
        print(name + "|accepted|")
    except Exception as exc:
        print(name + "|" + type(exc).__name__ + "|" + " ".join(str(exc).split()))
"""
_NAMED = {"camera distance 1e39": "cameras", "scale 1e39": "clip_scale", "trans NaN": "trans",
          "clip_scale 1e39": "clip_scale", "mirror poses [F, 30]": "poses", "RandomCamera NaN range": "distance_m",
          "RandomCamera reversed range": "focal_mm", "ToSchema camera string": "camera", "Mirror p string": "p",
          "Camera distance string": "distance_m", "Compose of a string": "transforms[0]"}


@case(GROUP, "numbers_finite_and_named", "float32 kernels given a camera distance, scale or clip_scale of 1e39 or "
      "a NaN trans, mirror=True with poses [F, 30], transforms and cameras given NaN, reversed or string arguments: "
      "a ValueError or TypeError naming the argument, never NaN output")
def _numbers(c: Check) -> None:
    result = _run(c, "kernels and transforms", [sys.executable, "-c", _NUMBERS])
    if result is None:
        return
    rows = {line.split("|")[0]: line.split("|")[1:] for line in result[1].splitlines() if line.count("|") >= 2}
    c.expect(result[0] == 0 and "Traceback" not in result[2], f"the calls ran ({_short(result[2], 200)})")
    for name, argument in _NAMED.items():
        kind, message = rows.get(name, ["missing", ""])
        c.expect(kind in ("ValueError", "TypeError") and argument in message,
                 f"{name}: ValueError or TypeError naming {argument} (got {kind}: {_short(message, 80)})")
    c.did = f"{sum(rows.get(n, [''])[0] in ('ValueError', 'TypeError') for n in _NAMED)}/{len(_NAMED)} refused " \
            f"by name"


# --- nothing the user made is replaced ----------------------------------------------------------------------------

@case(GROUP, "user_files_not_replaced", "extract over a tree where the user changed a file (skipped, or with "
      "--force kept, reported, exit 1; replaced only with --overwrite); preview on a full disk (the old image kept whole, exit 1); demo with a "
      "backend that cannot run (nothing written)")
def _user_files(c: Check) -> None:
    from amass_fast.harness import synthetic

    tree = _tree(c.dir / "src")
    archive = synthetic.make_archive(tree, "CMU", c.dir / "CMU.tar.bz2")
    out = c.dir / "amass"
    first = _cli(c, "extract", ["extract", "--archives", str(archive), "--out", str(out)])
    if first is None or not c.expect(first[0] == 0, f"the first extract succeeds ({_short(first[2], 200)})"):
        return
    mine = next(out.rglob("*.npz"))
    mine.write_bytes(b"the user's own bytes")
    for extra, status in (([], 0), (["--force"], 1)):  # unchanged archive: skipped; --force: extracted again
        what = f"extract {' '.join(extra)}".strip()
        proc = _cli(c, what, ["extract", "--archives", str(archive), "--out", str(out), *extra])
        if proc is not None:
            c.did += f"{what}: exit {proc[0]}; "
            c.expect(proc[0] == status and "Traceback" not in proc[2], f"{what}: exit {status}, no traceback")
            c.expect(status == 0 or str(mine) in proc[2], f"{what}: the changed file named as kept")
            c.expect(mine.read_bytes() == b"the user's own bytes", f"{what}: the file kept")
    proc = _cli(c, "extract --overwrite", ["extract", "--archives", str(archive), "--out", str(out), "--force",
                                           "--overwrite"])
    c.expect(proc is not None and proc[0] == 0 and mine.read_bytes()[:2] == b"PK",
             "extract --force --overwrite: replaced with the archive's copy")
    clips = _fake_shards(c.dir / "shards")
    image = c.dir / "clip.gif"
    image.write_bytes(b"GIF89a the user's image" * 1000)
    before = image.read_bytes()
    proc = _cli(c, "preview (disk full)", ["preview", str(clips), "--out", str(image), "--overwrite"],
                limit_file=4096)
    if proc is not None:
        c.did += f"preview (disk full): exit {proc[0]}: {_short(_last_line(proc[2]), 80)}; "
        c.expect(proc[0] == 1 and "--out" in _last_line(proc[2]) and "Traceback" not in proc[2],
                 "preview (disk full): exit 1 naming --out")
        c.expect(image.read_bytes() == before, "preview (disk full): the old image kept whole")
    from amass_fast.kernels import available_backends

    if "cuda" not in available_backends():
        demo = c.dir / "demo"
        _refusal(c, "demo --backend cuda", _cli(c, "demo --backend cuda", ["demo", "--out", str(demo), "--backend",
                                                                            "cuda"]), ["--backend", "cuda"], 2)
        c.expect(not demo.exists(), "demo --backend cuda: nothing written")


# --- resume never mixes, signals stop cleanly ---------------------------------------------------------------------

@case(GROUP, "resume_without_run_json", "shards made with --schema stick12 (or --mirror), run.json and the "
      "manifest lost, --resume with other flags: exit 2 naming a shard and the flag; the shards byte-identical")
def _resume_mix(c: Check) -> None:
    tree = _tree(c.dir / "amass", files=3)
    for made, now, flag in ((["--schema", "stick12"], [], "schema"), (["--mirror"], [], "mirror")):
        out = c.dir / f"shards_{flag}"
        done = _cli(c, f"process {' '.join(made)}", ["process", "--amass-root", str(tree), "--output", str(out),
                                                     "--format", "shards", *made, *_FLAGS])
        if done is None or not c.expect(done[0] == 0, f"the first run succeeds ({_short(done[2], 200)})"):
            continue
        for name in ("run.json", "manifest.json", "shard-000002.npz"):
            (out / name).unlink()
        before = _snapshot(out)
        _refusal(c, f"--resume after {' '.join(made)}", _cli(c, "--resume", [
            "process", "--amass-root", str(tree), "--output", str(out), "--format", "shards", "--resume", *now,
            *_FLAGS]), ["shard-00000", flag, "run.json"], 2)
        c.expect(_snapshot(out) == before, f"after {' '.join(made)}: the shards unchanged")


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


class _Stop(NamedTuple):
    """How a run sent a stop signal ended."""

    returncode: int
    err: str
    after_s: float  # from the signal to the end of the run
    workers: list   # its child processes just before the signal


def _stop_mid_run(c: Check, what: str, args: list[str], ready: Callable[[], bool], signum: int) -> Optional[_Stop]:
    """Run `python -m amass_fast ARGS` (bounded in memory), send it ``signum`` once ``ready()`` holds (or it has
    run TIME_LIMIT s) and wait for it; None (a failed expectation) when it did not end within 60 s."""
    child = subprocess.Popen([sys.executable, "-m", "amass_fast", *args], env=_env(), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True, errors="replace", preexec_fn=_bounded)
    deadline = time.monotonic() + TIME_LIMIT
    while child.poll() is None and not ready() and time.monotonic() < deadline:
        time.sleep(0.01)
    workers = _children(child.pid)
    child.send_signal(signum)
    signalled = time.monotonic()
    try:
        _, err = child.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        c.expect(False, f"{what}: the run ends within 60 s of the signal")
        return None
    return _Stop(child.returncode, err, time.monotonic() - signalled, workers)


def _stopped_cleanly(c: Check, what: str, stop: _Stop, signum: int) -> None:
    """Exit status 128 + the signal's number and one last line saying so ("interrupted" for Ctrl-C's SIGINT)."""
    word = "interrupted" if signum == signal.SIGINT else signal.Signals(signum).name
    c.expect(stop.returncode == 128 + signum, f"{what}: exit status {128 + signum} (got {stop.returncode})")
    c.expect(word in _last_line(stop.err) and "Traceback" not in stop.err,
             f"{what}: one line saying {word}, no traceback")


@case(GROUP, "signals_stop_process_workers", "SIGINT, SIGTERM and SIGHUP to process --jobs 2 once a shard exists: "
      "exit 128+N with one line, no worker left alive or writing, and --resume gives the samples of an uninterrupted "
      "run")
def _signals(c: Check) -> None:
    from amass_fast.outputs import writers

    if not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists():
        c.skip("this system does not list child processes in /proc")
    tree = _tree(c.dir / "amass", files=8, seconds=(6.0, 10.0))
    reference = c.dir / "reference.pt"
    done = _cli(c, "uninterrupted", ["process", "--amass-root", str(tree), "--output", str(reference), *_FLAGS])
    if done is None or not c.expect(done[0] == 0, f"the uninterrupted run succeeds ({_short(done[2], 200)})"):
        return
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        name = signal.Signals(signum).name
        out = c.dir / f"{name}.pt"
        parts = Path(f"{out}.parts")
        args = ["process", "--amass-root", str(tree), "--output", str(out), "--backend", "reference",
                "--batch-files", "1", "--jobs", "2"]
        stop = _stop_mid_run(c, name, args, lambda: any(parts.glob(writers.SHARD_GLOB)), signum)
        if stop is None:
            continue
        time.sleep(0.5)
        alive = [w for w in stop.workers if Path(f"/proc/{w}").exists() and "zombie" not in
                 Path(f"/proc/{w}/status").read_text(errors="replace").lower()]
        shards = sorted(parts.glob(writers.SHARD_GLOB))
        time.sleep(1.0)
        c.did += f"{name}: exit {stop.returncode}, {len(stop.workers)} workers, {len(alive)} alive after; "
        if stop.returncode == 0:  # finished before the signal arrived: nothing to check for this signal
            continue
        _stopped_cleanly(c, name, stop, signum)
        c.expect(not alive, f"{name}: no pool worker left alive")
        c.expect(sorted(parts.glob(writers.SHARD_GLOB)) == shards, f"{name}: no shard written after the stop")
        again = _cli(c, f"{name} --resume", [*args, "--resume"])
        c.expect(again is not None and again[0] == 0 and out.exists()
                 and _same_samples(_load_pt(out), _load_pt(reference)),
                 f"{name}: --resume gives the samples of an uninterrupted run")


def _humanml3d_rows_setup(root: Path) -> dict:
    """A HumanML3D setup of 673 rows (24 CMU files of 28 rows, and the target clip): 1,346 clips with their
    mirrors, written in three batches, so a stop can fall between two of them."""
    from amass_fast.harness import humanml3d_synthetic as hs

    kit = next(m for m in hs.DEFAULT_MOTIONS if "WalkInCounterClockwiseCircle02" in m.source_path)
    motions = [kit] + [hs.Motion(f"./pose_data/CMU/{10 + k}/{10 + k}_01_poses.npy", 120.0, 20.0,
                                 rows=tuple((s, s + 120) for s in range(0, 280, 10))) for k in range(24)]
    return hs.write_setup(root, motions, humanact12=0, seed=1)


@case(GROUP, "signals_stop_humanml3d_and_extract", "SIGTERM to humanml3d once its first clips are written, SIGHUP "
      "to extract once its first member is: each exits 128+N at once with one line, nothing half-written under a "
      "final name, and the rerun (--resume for humanml3d) gives the files of an uninterrupted run, byte for byte")
def _signals_other_commands(c: Check) -> None:
    from amass_fast.io import atomic

    info = _humanml3d_rows_setup(c.dir / "hml")
    base = ["humanml3d", "--amass-root", str(info["amass"]), "--humanml3d", str(info["repo"]), "--body-model",
            str(info["body_models"]), "--backend", "reference"]
    whole, out = c.dir / "whole", c.dir / "stopped"
    done = _cli(c, "humanml3d uninterrupted", [*base, "--out", str(whole)])
    if done is not None and c.expect(done[0] == 0, f"the uninterrupted humanml3d succeeds ({_short(done[2], 200)})"):
        def a_row_done() -> bool:  # a row's four files (clip and mirror, joints and vectors): --resume keeps it
            return any(all((out / folder / f"{n}.npy").is_file() for n in (m.stem, m.stem[1:])
                           for folder in ("new_joints", "new_joint_vecs"))
                       for m in (out / "new_joint_vecs").glob("M*.npy"))

        stop = _stop_mid_run(c, "humanml3d", [*base, "--out", str(out)], a_row_done, signal.SIGTERM)
        if stop is not None:
            made = len(list((out / "new_joint_vecs").glob("*.npy")))
            c.did += f"humanml3d: exit {stop.returncode} {stop.after_s:.1f} s after SIGTERM with {made} clips; "
            _stopped_cleanly(c, "humanml3d", stop, signal.SIGTERM)
            c.expect(made < len(list((whole / "new_joint_vecs").glob("*.npy"))), "humanml3d: stopped before the end")
            c.expect(not list(out.rglob(atomic.GLOB)), "humanml3d: no temporary file left")
            again = _cli(c, "humanml3d --resume", [*base, "--out", str(out), "--resume"])
            c.expect(again is not None and again[0] == 0 and "already there" in again[1],
                     "humanml3d --resume: exit 0, the clips already there kept")
            c.expect(_snapshot(out) == _snapshot(whole),
                     "humanml3d --resume: every file byte-identical to the uninterrupted run's")

    rng = np.random.default_rng(4)
    members = {f"CMU/{k:02d}/{k:02d}_01_poses.npz": rng.bytes(3 << 20) for k in range(1, 7)}
    archive, tree = c.dir / "CMU.tar.bz2", c.dir / "amass"
    _write_bz2(archive, _tar_bytes(list(members.items())))

    def extracted() -> dict:
        return {rel: data for rel, data in _snapshot(tree).items() if rel.endswith(".npz")}

    extract = ["extract", "--archives", str(archive), "--out", str(tree)]
    stop = _stop_mid_run(c, "extract", extract, lambda: any(tree.rglob("*.npz")), signal.SIGHUP)
    if stop is None:
        return
    files = extracted()
    c.did += f"extract: exit {stop.returncode} {stop.after_s:.1f} s after SIGHUP with {len(files)} of 6 members; "
    if stop.returncode != 0:  # 0: it finished before the signal arrived
        _stopped_cleanly(c, "extract", stop, signal.SIGHUP)
        c.expect(len(files) < len(members), "extract: stopped at the next chunk, not at the end of the archive")
        c.expect(all(members[name] == data for name, data in files.items()), "extract: every file there is whole")
        c.expect(not list(tree.rglob(atomic.GLOB)) and not list(tree.rglob("*.tar.bz2.json")),
                 "extract: no temporary file and no 'extracted' record left")
    again = _cli(c, "extract again", extract)
    c.expect(again is not None and again[0] == 0 and extracted() == members,
             "extract again: exit 0, the whole archive extracted")


# --- documented use, and the trust boundary -----------------------------------------------------------------------

@case(GROUP, "default_collate_joints3d", "the README's DataLoader (default collate) over --format shards and .pt "
      "outputs of --schema joints3d: batches of [B, T, 22, 3] with meta collated (no None in meta)")
def _collate(c: Check) -> None:
    tree = _tree(c.dir / "amass", files=3)
    for fmt, out in (("shards", c.dir / "shards"), ("pt", c.dir / "clips.pt")):
        done = _cli(c, f"process {fmt}", ["process", "--amass-root", str(tree), "--output", str(out), "--format", fmt,
                                          "--schema", "joints3d", *_FLAGS])
        if done is None or not c.expect(done[0] == 0, f"{fmt}: the run succeeds ({_short(done[2], 200)})"):
            continue
        result = _python(c, f"DataLoader ({fmt})", f"""
from torch.utils.data import DataLoader
from amass_fast import StickClips
batch = next(iter(DataLoader(StickClips({str(out)!r}), batch_size=2)))
assert tuple(batch["motion"].shape[0::2]) == (2, 22) and batch["motion"].shape[-1] == 3, batch["motion"].shape
print("shape", tuple(batch["motion"].shape), "meta", sorted(batch["meta"]))
""")
        if result is not None:
            c.did += f"{fmt}: exit {result[0]} {_short(result[1], 80)}; "
            c.expect(result[0] == 0 and "Traceback" not in result[2],
                     f"{fmt}: default collate batches the clips ({_short(_last_line(result[2]), 160)})")


@case(GROUP, "manifest_names_outside", "a manifest naming ../elsewhere/shard-000000.npz or an absolute path (both "
      "real shards): StickClips, preview and writers.read_manifest refuse it, naming the manifest and the entry; "
      "the shard outside is not touched")
def _outside(c: Check) -> None:
    from amass_fast.outputs import writers

    elsewhere = _fake_shards(c.dir / "elsewhere", shards=1)
    outside = (elsewhere / "shard-000000.npz").read_bytes()
    for label, name in (("relative", "../elsewhere/shard-000000.npz"),
                        ("absolute", str(elsewhere / "shard-000000.npz"))):
        shards = _fake_shards(c.dir / f"shards_{label}", shards=1)
        manifest = shards / writers.MANIFEST_NAME
        data = json.loads(manifest.read_text())
        data["shards"].append({"file": name, "clips": 2})
        manifest.write_text(json.dumps(data))
        _refusal(c, f"StickClips ({label})", _python(c, f"StickClips ({label})", _read_all(shards)),
                 [str(manifest), name, "inside"], 3)
        _refusal(c, f"preview ({label})", _preview(c, f"preview ({label})", shards, c.dir / f"{label}.gif"),
                 [str(manifest), name], 1)
        _refusal(c, f"read_manifest ({label})", _python(c, f"read_manifest ({label})", f"""
from amass_fast.outputs.writers import read_manifest
read_manifest({str(shards)!r})
"""), [str(manifest), name, "inside"], 3)
    c.expect((elsewhere / "shard-000000.npz").read_bytes() == outside, "the shard outside the folder is unchanged")
