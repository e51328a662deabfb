"""Labels on real path spellings: flat and nested trees, SMPL+H and SMPL-X names, BABEL and HumanML3D as released,
the motion source, and the coverage report with its warnings."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from amass_fast.io import catalog
from amass_fast import cli, kernels
from amass_fast.harness import synthetic
from amass_fast.labels import Labeler, sequence_key
from amass_fast.labels.babel import label_action, babel_action_table
from amass_fast.labels.keywords import keyword_action, path_action
from amass_fast.labels.motion import ClipMotion, classify_motion
from amass_fast.labels.report import coverage_report
from amass_fast.harness.synthetic_models import skeleton

FPS = 25.0
# (archive name as in BABEL's feat_p, SMPL+H path below the archive folder) from real AMASS names.
REAL = [
    ("ACCAD", "ACCAD/Female1General_c3d/A1 - Stand_poses.npz"),
    ("ACCAD", "ACCAD/Female1Running_c3d/C24 -  side step left_poses.npz"),
    ("ACCAD", "ACCAD/Male2MartialArtsPunches_c3d/E2 -  Jab right_poses.npz"),
    ("BMLmovi", "BMLmovi/Subject_8_F_MoSh/Subject_8_F_13_poses.npz"),
    ("BMLrub", "BioMotionLab_NTroje/rub055/0020_lifting_heavy2_poses.npz"),
    ("BMLrub", "BioMotionLab_NTroje/rub011/0015_sitting1_poses.npz"),
    ("CMU", "CMU/108/108_11_poses.npz"),
    ("DFaust67", "DFaust_67/50026/50026_jumping_jacks_poses.npz"),
    ("EyesJapanDataset", "Eyes_Japan_Dataset/hamada/sitdown_standup-04-chair elbow-hamada_poses.npz"),
    ("KIT", "KIT/3/kick_high_left02_poses.npz"),
    ("MPIHDM05", "MPI_HDM05/dg/HDM_dg_05-02_02_120_poses.npz"),
    ("MPImosh", "MPI_mosh/50007/misc 1_poses.npz"),
    ("SSMsynced", "SSM_synced/20161014_50033/punch_kick_sync_poses.npz"),
    ("Transitionsmocap", "Transitions_mocap/mazen_c3d/jumpingjacks_kick_poses.npz"),
]


def smplx_name(rel: str) -> str:
    """The SMPL-X release's spelling: spaces to underscores, _stageii instead of _poses."""
    return rel.replace(" ", "_").replace("_poses.npz", "_stageii.npz")


def tree_path(archive: str, rel: str, layout: str, model: str) -> str:
    rel = smplx_name(rel) if model == "smplx" else rel
    return f"{archive}/{rel}" if layout == "nested" else rel


def test_the_catalog_holds_every_archive_folder_pair():
    for archive, folder in catalog.ARCHIVE_FOLDERS:
        assert catalog.extracted_folder(archive) == folder and catalog.extracted_folder(folder.lower()) == folder
    assert catalog.extracted_folder("BMLrub_SMPLH_G") == "BioMotionLab_NTroje"
    assert catalog.extracted_folder("rub055") is None


@pytest.mark.parametrize("layout", ["flat", "nested"])
@pytest.mark.parametrize("model", ["smplh", "smplx"])
def test_every_spelling_has_the_key_of_babel_and_humanml3d(layout, model):
    for archive, rel in REAL:
        folder, rest = rel.split("/", 1)
        babel = f"{archive}/{rel}"
        humanml3d = f"./pose_data/{rel[:-4]}.npy"
        key = sequence_key(tree_path(archive, rel, layout, model))
        assert key == sequence_key(babel) == sequence_key(humanml3d), rel
        assert key.startswith(folder.lower() + "/")
    assert sequence_key("ACCAD/Female1Running_c3d/C24 -  side step left_poses.npz") == \
        sequence_key("ACCAD/Female1Running_c3d/C24_-__side_step_left_stageii.npz") == \
        "accad/female1running_c3d/c24_-_side_step_left"
    assert sequence_key("BMLrub/rub055/x_stageii.npz") == "biomotionlab_ntroje/rub055/x"  # archive name alone


# --- BABEL in the release structure, matched in both layouts and both spellings ---------------------------------

def _label(cats, start, end, raw):
    return {"act_cat": cats, "raw_label": raw, "proc_label": raw, "seg_id": "s", "start_t": start, "end_t": end}


def write_babel(folder: Path, entries: list[tuple[str, str]]) -> Path:
    """train.json (frame_ann null for half), extra_train.json (seq_anns / frame_anns lists)."""
    folder.mkdir(parents=True, exist_ok=True)
    train, extra = {}, {}
    for i, (feat_p, cat) in enumerate(entries):
        seq = {"babel_lid": f"l{i}", "anntr_id": "a", "mul_act": False, "labels": [_label([cat], None, None, cat)]}
        frame = {"babel_lid": f"f{i}", "anntr_id": "b", "mul_act": True,
                 "labels": [_label([cat], 0.0, 2.0, cat), _label(["transition"], 2.0, 3.0, "transition")]}
        if i % 3 == 2:
            extra[str(i)] = {"babel_sid": i, "feat_p": feat_p, "dur": 3.0, "seq_anns": [seq], "frame_anns": [frame]}
        else:
            train[str(i)] = {"babel_sid": i, "url": "u", "feat_p": feat_p, "dur": 3.0, "seq_ann": seq,
                             "frame_ann": frame if i % 2 else None}
    (folder / "train.json").write_text(json.dumps(train), encoding="utf-8")
    (folder / "extra_train.json").write_text(json.dumps(extra), encoding="utf-8")
    return folder


@pytest.mark.parametrize("layout", ["flat", "nested"])
@pytest.mark.parametrize("model", ["smplh", "smplx"])
def test_babel_labels_every_annotated_file_in_both_layouts(tmp_path, layout, model):
    babel = write_babel(tmp_path / "babel_v1.0_release", [(f"{a}/{r}", "kick") for a, r in REAL])
    labeler = Labeler(babel_dir=str(babel))
    paths = [tree_path(a, r, layout, model) for a, r in REAL]
    labelled = [labeler.label(p, 0.0, 25, 25, FPS) for p in paths]
    assert sum(lab.source == "babel" and lab.action == "kick" for lab in labelled) >= 0.99 * len(paths)
    text, data = coverage_report([(p, p.split("/")[0], "babel", "kick", "template") for p in paths], paths, labeler)
    assert data["annotations"][0]["found_in_tree"] == len(REAL) and not data["warnings"], text


def test_babel_unknown_or_generic_categories_read_the_free_text_label():
    table = babel_action_table()
    assert label_action({"act_cat": ["somersault"], "proc_label": "walk in a circle"}, table) == "walk"
    assert label_action({"act_cat": ["interact with/use object"], "proc_label": "drink from a mug"}, table) == "drinking"
    assert label_action({"act_cat": ["hand movements"], "proc_label": "move hands"}, table) == "idle"
    assert label_action({"act_cat": ["somersault"], "raw_label": "xyz"}, table) is None


def test_babel_spans_carry_over_in_seconds_to_an_smplx_file_with_another_rate(tmp_path):
    # The second entry has a frame_ann: run 0..2 s, transition 2..3 s of a 3 s file.
    babel = write_babel(tmp_path / "b", [("KIT/KIT/3/kick_high_left02_poses.npz", "kick"),
                                         ("CMU/CMU/62/62_11_poses.npz", "run")])
    labeler = Labeler(babel_dir=str(babel))
    # The SMPL-X file has the same 180 frames at 120 fps instead of 60: 1.5 s long, so BABEL's 2 s is 1.0 s.
    lab = labeler.label("CMU/62/62_11_stageii.npz", 0.0, 50, 50, FPS, source_fps=120.0, source_frames=180)
    assert [bool(lab.actions[i] == lab.actions[0]) for i in (0, 24, 26)] == [True, True, False]
    same = labeler.label("CMU/62/62_11_poses.npz", 0.0, 50, 50, FPS, source_fps=60.0, source_frames=180)
    assert len(set(same.actions.tolist())) == 1  # SMPL+H: 0..2 s is all "run"


# --- HumanML3D as its repository holds it ----------------------------------------------------------------------

def write_humanml3d(root: Path, rels: list[str], zipped: bool) -> Path:
    """index.csv at the repository root; captions in HumanML3D/texts.zip (or unzipped in HumanML3D/texts/)."""
    (root / "HumanML3D").mkdir(parents=True)
    rows = ["source_path,start_frame,end_frame,new_name",
            "./pose_data/humanact12/humanact12/P11G01R02F1812T1847A0402.npy,0,-1,999999.npy"]
    texts = {"999999": "not amass#x#0.0#0.0\n"}
    for i, rel in enumerate(rels):
        rows.append(f"./pose_data/{rel[:-4]}.npy,0,60,{i:06d}.npy")  # HumanML3D frames 0..60: 3 s after the trim
        texts[f"{i:06d}"] = f"a person number {i} moves#a/DET person/NOUN#0.0#0.0\n"
    (root / "index.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    if zipped:
        with zipfile.ZipFile(root / "HumanML3D" / "texts.zip", "w") as archive:
            for name, text in texts.items():
                archive.writestr(f"texts/{name}.txt", text)
    else:
        (root / "HumanML3D" / "texts").mkdir()
        for name, text in texts.items():
            (root / "HumanML3D" / "texts" / f"{name}.txt").write_text(text, encoding="utf-8")
    return root


@pytest.mark.parametrize("layout", ["flat", "nested"])
@pytest.mark.parametrize("model", ["smplh", "smplx"])
@pytest.mark.parametrize("zipped", [True, False])
@pytest.mark.parametrize("given", ["root", "HumanML3D"])
def test_humanml3d_captions_in_both_layouts_from_the_zip_or_the_folder(tmp_path, layout, model, zipped, given):
    repo = write_humanml3d(tmp_path / "HumanML3D-main", [r for _, r in REAL], zipped)
    labeler = Labeler(humanml3d_dir=str(repo if given == "root" else repo / "HumanML3D"))
    labeler.check()
    got = []
    for i, (archive, rel) in enumerate(REAL):
        # A clip inside the annotated span (after the dataset's trim: MPI_HDM05 and Eyes_Japan_Dataset cut 3 s).
        trim = 3.0 if rel.startswith(("MPI_HDM05", "Eyes_Japan_Dataset")) else 0.0
        lab = labeler.label(tree_path(archive, rel, layout, model), trim + 0.5, 25, 25, FPS)
        got.append(lab.description_source == "humanml3d" and f"number {i} " in lab.description)
    assert sum(got) >= 0.95 * len(REAL)


def test_humanml3d_folder_without_index_names_what_to_pass(tmp_path):
    (tmp_path / "wrong").mkdir()
    with pytest.raises(FileNotFoundError, match="index.csv.*--humanml3d"):
        Labeler(humanml3d_dir=str(tmp_path / "wrong")).check()


# --- keywords from real names ----------------------------------------------------------------------------------

@pytest.mark.parametrize("path, action", [
    ("Transitions_mocap/mazen_c3d/jumpingjacks_kick_poses.npz", "jump"),
    ("Transitions_mocap/mazen_c3d/turntwist_longjump_poses.npz", "jump"),
    ("Eyes_Japan_Dataset/hamada/sitdown_standup-04-chair elbow-hamada_poses.npz", "sit"),
    ("SFU/0018/0018_TipToe001_poses.npz", "walk"),
    ("SFU/0005/0005_Stomping001_poses.npz", "walk"),
    ("BioMotionLab_NTroje/rub056/0030_scamper_poses.npz", "run"),
    ("HumanEva/S1/Box_1_poses.npz", "fight"),
    ("DFaust_67/50026/50026_jumping_jacks_poses.npz", "jump"),
    ("MPI_mosh/50004/simple_crouch_poses.npz", "kneel"),
    ("BMLmovi/Subject_8_F_MoSh/Subject_8_F_13_poses.npz", None),
    # an action word at either end of a compound that names nothing else
    ("Transitions_mocap/mazen_c3d/walksideways_jumpinplace_poses.npz", "walk"),
    ("Transitions_mocap/mazen_c3d/jumpinplace_walkbackwards_poses.npz", "jump"),
    ("Transitions_mocap/mazen_c3d/airkick_stand_poses.npz", "kick"),
    ("Transitions_mocap/mazen_c3d/devishdance_kick_poses.npz", "dance"),
    ("SFU/0018/0018_Catwalk001_poses.npz", "walk"),
    ("ACCAD/s011/walkdog_poses.npz", "walk"),
])
def test_keywords_of_real_names(path, action):
    assert path_action(path) == action


@pytest.mark.parametrize("text", ["closing umbrella", "roadrunner (human subject)", "pressing a button"])
def test_words_that_only_look_like_compounds_name_nothing(text):
    """CMU descriptions: "closing" is not "clo" + "sing", "roadrunner" not a runner, "pressing" not "press" + "sing"."""
    assert keyword_action([text]) is None


# --- the motion source -----------------------------------------------------------------------------------------

SRC_FPS = 120.0


def clip_motion(kind: str, seconds: float = 4.0, seed: int = 0) -> ClipMotion:
    """A synthetic motion of ``kind`` converted by the package's own kernels, root resampled at the clip times."""
    rng = np.random.default_rng(seed)
    frames = int(seconds * SRC_FPS)
    body, trans = synthetic.motion_curves(kind if kind in synthetic.MOTIONS else "idle", frames, SRC_FPS, rng)
    body = body.reshape(frames, 22, 3)
    bends = {"sit": (-1.57, 1.57), "kneel": (-2.2, 2.5)}  # hip flexion (thigh forward = -x), knee flexion
    if kind in bends:
        body[:, 1:3, :] = 0.0
        body[:, 1:3, 0] = bends[kind][0]
        body[:, 4:6, :] = 0.0
        body[:, 4:6, 0] = bends[kind][1]
    if kind == "lie":
        body[:, 0] = 0.0  # without AMASS's Z-up turn the body lies along the ground
    parents, rest = skeleton("smplh")
    stick = np.asarray(kernels.convert(body.reshape(frames, 66).astype(np.float32), trans.astype(np.float32),
                                       rest, parents, SRC_FPS, FPS))
    times, src_times = np.arange(len(stick)) / FPS, np.arange(frames) / SRC_FPS
    root = np.stack([np.interp(times, src_times, trans[:, i]) for i in range(3)], axis=1)
    return ClipMotion(stick.astype(np.float32), root)


@pytest.mark.parametrize("kind, action", [("idle", "stand"), ("walk", "walk"), ("run", "run"), ("jump", "jump"),
                                          ("wave", "wave"), ("sit", "sit"), ("kneel", "kneel"), ("lie", "lie_down")])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_motion_source_classifies_synthetic_motions(kind, action, seed):
    assert classify_motion(clip_motion(kind, seed=seed), FPS).action == action


def test_motion_descriptions_say_what_was_measured():
    walk = classify_motion(clip_motion("walk"), FPS)
    speed = walk.measures["speed_mps"]
    assert 1.0 < speed < 1.6 and f"about {speed:.1f} m/s" in walk.description


def test_motion_labels_only_clips_no_other_source_labels(tmp_path):
    walking = clip_motion("walk")
    n = len(walking.stick)
    unnamed = Labeler().label("BMLmovi/Subject_8_F_MoSh/Subject_8_F_13_poses.npz", 0.0, n, n, FPS, motion=walking)
    assert (unnamed.source, unnamed.action, unnamed.description_source) == ("motion", "walk", "motion")
    assert "m/s" in unnamed.description
    babel = write_babel(tmp_path / "b", [("BMLmovi/BMLmovi/Subject_8_F_MoSh/Subject_8_F_13_poses.npz", "sit")])
    annotated = Labeler(babel_dir=str(babel)).label("BMLmovi/Subject_8_F_MoSh/Subject_8_F_13_poses.npz", 0.0, n, n,
                                                    FPS, motion=walking)
    assert (annotated.source, annotated.action) == ("babel", "sit")  # a real annotation always wins
    named = Labeler().label("KIT/3/kick_high_left02_poses.npz", 0.0, n, n, FPS, motion=walking)
    assert (named.source, named.action) == ("keywords", "kick")


# --- the labels command ----------------------------------------------------------------------------------------

def make_tree(root: Path, layout: str = "flat") -> list[str]:
    paths = [tree_path(a, r, layout, "smplh") for a, r in REAL[:6]]
    for rel in paths:
        synthetic.write_sequence(root / rel, seconds=2.0, fps=60.0)
    return paths


def test_labels_warns_when_humanml3d_matches_nothing(tmp_path, capsys):
    root = tmp_path / "amass"
    make_tree(root)
    wrong = write_humanml3d(tmp_path / "other", ["KIT/3/walking_slow01_poses.npz"], zipped=True)
    assert cli.main(["labels", "--amass-root", str(root), "--humanml3d", str(wrong)]) == 0
    out = capsys.readouterr().out
    assert "warning: HumanML3D" in out and "matches no file of the tree" in out and "wrong folder" in out


def test_labels_json_reports_coverage_per_source_dataset_and_annotation(tmp_path, capsys):
    root = tmp_path / "amass"
    paths = make_tree(root, "nested")
    babel = write_babel(tmp_path / "babel", [(f"{a}/{r}", "walk") for a, r in REAL[:3]])
    assert cli.main(["labels", "--amass-root", str(root), "--babel", str(babel), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    (annotation,) = data["annotations"]
    assert annotation["found_in_tree"] == 3 and annotation["tree_files_covered"] == 3
    assert annotation["tree_files"] == len(paths) and data["label_sources"]["babel"] == 3  # 2 s: one clip each
    assert set(data["datasets"]) == {"ACCAD", "BMLmovi", "BioMotionLab_NTroje"}
    assert data["actions"]["walk"] >= 3 and data["warnings"] == []


def test_labels_accepts_a_linked_dataset_folder(tmp_path, capsys):
    real = tmp_path / "real"
    make_tree(real)
    root = tmp_path / "amass"
    root.mkdir()
    (root / "ACCAD").symlink_to(real / "ACCAD", target_is_directory=True)
    assert cli.main(["labels", "--amass-root", str(root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["datasets"]["ACCAD"]


@pytest.mark.parametrize("flag", ["--window", "--fps", "--stride"])
def test_labels_flags_out_of_range_exit_2_naming_the_flag(tmp_path, capsys, flag):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["labels", "--amass-root", str(tmp_path), flag, "0"])
    assert exit_info.value.code == 2 and f"argument {flag}" in capsys.readouterr().err
