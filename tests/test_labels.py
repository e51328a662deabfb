"""Labels and descriptions from BABEL, CMU, keywords and HumanML3D, on small files in their real formats."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from amass_fast import cli, labels
from amass_fast.labels import ACTION_TYPES, Labeler, coverage_table, main_action, sequence_key

ROOT = Path(__file__).resolve().parents[1]
FPS = 25.0
WINDOW = 250


def _seg(cats, start, end, raw="x"):
    return {"act_cat": cats, "raw_label": raw, "proc_label": raw, "seg_id": f"s{start}", "start_t": start, "end_t": end}


def _entry(sid, feat_p, dur, frame_labels=None, seq_labels=None):
    """A BABEL train/val entry as released (babel_v1.0_release/train.json)."""
    return {
        "babel_sid": sid, "url": f"https://babel-renders.s3.eu-central-1.amazonaws.com/{sid:06d}.mp4",
        "feat_p": feat_p, "dur": dur,
        "seq_ann": {"babel_lid": f"l{sid}", "anntr_id": "a1", "mul_act": True,
                    "labels": [{"act_cat": c, "raw_label": "y", "proc_label": "y", "seg_id": "q"}
                               for c in (seq_labels or [])]},
        "frame_ann": None if frame_labels is None else {"babel_lid": f"f{sid}", "anntr_id": "a2", "mul_act": True,
                                                        "labels": frame_labels},
    }


@pytest.fixture
def babel_dir(tmp_path):
    folder = tmp_path / "babel_v1.0_release"
    folder.mkdir()
    train = {
        "7": _entry(7, "CMU/CMU/01/01_01_poses.npz", 12.0, seq_labels=[["walk"]], frame_labels=[
            _seg(["walk"], 0.0, 4.0), _seg(["run"], 4.0, 8.0),
            _seg(["hand movements", "wave"], 3.0, 5.0),  # overlaps walk and run; more specific, shorter: wins
            _seg(["t pose"], 8.0, 11.0), _seg(["somersault"], 11.0, 12.0),  # not a category: seq_ann fallback
        ]),
    }
    val = {"9": _entry(9, "KIT/KIT/3/kick_high_left02_poses.npz", 5.0, seq_labels=[["stand"], ["jump"]])}
    kick = {"act_cat": ["kick"], "raw_label": "k", "proc_label": "k", "seg_id": "e"}
    extra = {"11": {"babel_sid": 11, "feat_p": "ACCAD/ACCAD/Female1Walking_c3d/B3 - walk1_poses.npz", "dur": 6.0,
                    "seq_anns": [{"babel_lid": "e", "anntr_id": "a3", "mul_act": False, "labels": [kick]}],
                    "frame_anns": [{"babel_lid": "g", "anntr_id": "a4", "mul_act": True,
                                    "labels": [_seg(["sit"], 0.0, 3.0), _seg(["dance"], 3.0, 6.0)]}]}}
    for name, data in (("train.json", train), ("val.json", val), ("extra_train.json", extra)):
        (folder / name).write_text(json.dumps(data), encoding="utf-8")
    return folder


@pytest.fixture
def humanml3d_dir(tmp_path):
    folder = tmp_path / "HumanML3D"
    (folder / "texts").mkdir(parents=True)
    (folder / "index.csv").write_text(
        "source_path,start_frame,end_frame,new_name\n"
        "./pose_data/CMU/01/01_01_poses.npy,0,100,000000.npy\n"       # 0 .. 5 s
        "./pose_data/CMU/01/01_01_poses.npy,100,240,000001.npy\n"     # 5 .. 12 s
        "./pose_data/humanact12/humanact12/P11G01R02F1812T1847A0402.npy,0,50,000002.npy\n"
        "./pose_data/MPI_HDM05/bd/HDM_bd_01-01_01_120_poses.npy,0,40,000003.npy\n"  # 3 s trim: 3 .. 5 s
        "./pose_data/SSM_synced/20160330_03333/punch_kick_sync_poses.npy,0,60,000004.npy\n",
        encoding="utf-8")
    texts = {
        "000000": ["a person jumps forward.#a/DET person/NOUN jump/VERB forward/ADV#0.0#0.0"],
        "000001": ["someone climbs up a ladder#someone/PRON climb/VERB up/ADP a/DET ladder/NOUN#0.0#0.0",
                   "the person waves with the left hand#the/DET person/NOUN wave/VERB#1.0#2.0"],
        "000002": ["humanact12 caption#x#0.0#0.0"],
        "000003": ["a man walks in a circle#a/DET man/NOUN walk/VERB#0.0#nan"],
        "000004": ["a person punches and kicks#a/DET person/NOUN punch/VERB#0.0#0.0"],
    }
    for name, lines in texts.items():
        (folder / "texts" / f"{name}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def names(actions) -> list[str]:
    return [ACTION_TYPES[a] for a in actions]


# --- tables and helpers -----------------------------------------------------------------------------------------

def test_babel_table_maps_every_release_category_onto_action_types():
    table = labels.babel_action_table()
    release = (ROOT / "tests" / "data" / "babel_release_categories.txt").read_text(encoding="utf-8").split("\n")
    assert set(filter(None, release)) == set(table) and len(table) == 272
    assert set(table.values()) <= set(ACTION_TYPES)
    for category, action in {"walk": "walk", "stand": "stand", "jog": "run", "throw": "throwing", "kick": "kick",
                             "dribble": "dribbling", "hand movements": "idle", "flail arms": "idle"}.items():
        assert table[category] == action


def test_cmu_table_has_trials_and_subjects_without_uninformative_rows():
    table = labels.cmu_descriptions()
    assert table["1_1"] == "playground - forward jumps, turn around"
    assert table["144_33"] == "Walking"
    assert table["122"] == "Varying Height and Length Steps"
    assert "122_1" not in table  # "clean" says nothing
    assert "74_9" not in table   # "Unknown"
    assert sum("_" in k for k in table) > 2000


def test_every_action_has_a_template():
    rng = np.random.default_rng(0)
    for action in ACTION_TYPES:
        assert re.fullmatch(r"[A-Z][^.]+\.", labels.template_description(action, rng)), action


@pytest.mark.parametrize("path", [
    "CMU/CMU/01/01_01_poses.npz", "CMU/01/01_01_poses.npz", "./pose_data/CMU/01/01_01_poses.npy",
    "cmu/01/01_01_stageii.npz", "CMU\\01\\01_01_poses.npz",
])
def test_sequence_key_matches_the_same_motion_across_sources(path):
    assert sequence_key(path) == "cmu/01/01_01"


def test_sequence_key_matches_old_and_new_dataset_folder_names():
    assert sequence_key("BMLrub/rub001/0001_treadmill_norm_stageii.npz") == \
        sequence_key("BioMotionLab_NTroje/BioMotionLab_NTroje/rub001/0001_treadmill_norm_poses.npz")
    assert sequence_key("HDM05/bd/HDM_bd_01_120_stageii.npz") == sequence_key("MPI_HDM05/bd/HDM_bd_01_120_poses.npz")


def test_main_action_is_most_frequent_and_ties_go_to_the_earliest():
    assert main_action(np.array([3, 5, 5, 3, 7])) == 3
    assert main_action(np.array([5, 3, 5, 3, 7])) == 5
    assert main_action(np.array([1, 2, 2])) == 2


# --- action sources -----------------------------------------------------------------------------------------------

def test_babel_frame_segments_give_per_frame_actions(babel_dir):
    labeler = Labeler(babel_dir=str(babel_dir))
    # 200 valid frames from 2 s: 2..10 s, then 50 padded frames.
    lab = labeler.label("CMU/01/01_01_poses.npz", 2.0, 200, WINDOW, FPS)
    assert lab.source == "babel"
    assert lab.actions.dtype == np.int64 and lab.actions.shape == (WINDOW,)
    expected = ["walk"] * 25 + ["wave"] * 50 + ["run"] * 75 + ["stand"] * 50 + ["stand"] * 50
    assert names(lab.actions) == expected
    assert lab.action == "run"  # 75 frames, the most among the 200 valid ones


def test_babel_uncovered_frames_take_the_sequence_label(babel_dir):
    lab = Labeler(babel_dir=str(babel_dir)).label("CMU/01/01_01_poses.npz", 10.0, 50, 50, FPS)
    assert names(lab.actions) == ["stand"] * 25 + ["walk"] * 25  # 11..12 s has no known category


def test_babel_matches_smplx_names_and_case(babel_dir):
    labeler = Labeler(babel_dir=str(babel_dir))
    a = labeler.label("CMU/01/01_01_poses.npz", 0.0, 100, 100, FPS)
    b = labeler.label("cmu/01/01_01_stageii.npz", 0.0, 100, 100, FPS)
    assert b.source == "babel" and names(b.actions) == names(a.actions)


def test_babel_sequence_only_labels_and_extra_files(babel_dir):
    labeler = Labeler(babel_dir=str(babel_dir))
    kit = labeler.label("KIT/3/kick_high_left02_poses.npz", 0.0, 100, WINDOW, FPS)
    assert kit.source == "babel" and kit.action == "jump"  # seq_ann: jump is more specific than stand
    assert set(names(kit.actions)) == {"jump"}
    accad = labeler.label("ACCAD/Female1Walking_c3d/B3 - walk1_poses.npz", 2.0, 50, 50, FPS)
    assert accad.source == "babel"  # the extra file's frame_anns beat its seq_anns and the "walk" keyword
    assert names(accad.actions) == ["sit"] * 25 + ["dance"] * 25


def test_cmu_description_labels_files_babel_does_not_cover(babel_dir):
    lab = Labeler(babel_dir=str(babel_dir)).label("CMU/02/02_03_poses.npz", 0.0, 250, WINDOW, FPS)
    assert (lab.source, lab.action) == ("cmu", "run")  # "run/jog"
    assert lab.description == "Run/jog." and lab.description_source == "cmu"
    assert set(names(lab.actions)) == {"run"}


def test_cmu_falls_back_to_the_subject_description():
    lab = Labeler().label("CMU/122/122_01_poses.npz", 0.0, 250, WINDOW, FPS)  # trial "clean"
    assert (lab.source, lab.action) == ("cmu", "walk")  # subject: "Varying Height and Length Steps"
    assert lab.description == "Varying height and length steps."


def test_cmu_descriptions_become_sentences():
    assert labels.cmu_sentence("playground - forward jumps, turn around") == "Playground: forward jumps, turn around."
    assert labels.cmu_sentence("Front_Kicking001") == "Front kicking."
    assert labels.cmu_sentence("A stumbles into B (2 subjects - subject A)") == \
        "A stumbles into B (2 subjects: subject A)."


@pytest.mark.parametrize("path, action", [
    ("MPI_HDM05/bd/HDM_bd_walkRightCircle4StepsRstart_001_120_poses.npz", "walk"),
    ("HDM05/bd/HDM_bd_lieDownFloor_001_120_stageii.npz", "lie_down"),
    ("KIT/3/kick_high_left02_poses.npz", "kick"),
    ("TotalCapture/s1/walking2_poses.npz", "walk"),
    ("TotalCapture/s1/freestyle3_poses.npz", "dance"),
    ("TotalCapture/s1/rom1_poses.npz", "idle"),
    ("ACCAD/Male2MartialArtsKicks_c3d/G8 - roundhouse right_poses.npz", "kick"),
    ("ACCAD/Male2MartialArtsStances_c3d/D3 - Defensive stance_poses.npz", "fight_stance"),
    ("Eyes_Japan_Dataset/hamada/accident-03-dodge-hamada_poses.npz", "dodge"),
    ("SFU/0005/0005_Jogging001_poses.npz", "run"),
    ("BMLhandball/S01_Expert/Trial_upper_left_right_014_poses.npz", "throwing"),
    ("BioMotionLab_NTroje/rub001/0001_treadmill_norm_poses.npz", "walk"),
])
def test_keywords_in_names_folders_and_datasets(path, action):
    lab = Labeler().label(path, 0.0, 250, WINDOW, FPS)
    assert (lab.source, lab.action) == ("keywords", action)
    assert lab.description_source == "template"


def test_no_source_gives_idle():
    for path in ("BMLmovi/Subject_1_F_MoSh/Subject_1_F_1_poses.npz", "CMU/02/02_06_poses.npz"):
        lab = Labeler().label(path, 0.0, 10, WINDOW, FPS)
        assert (lab.source, lab.action) == ("idle", "idle")
        assert not lab.actions.any()


# --- descriptions -------------------------------------------------------------------------------------------------

def test_humanml3d_caption_of_the_overlapping_span(humanml3d_dir):
    labeler = Labeler(humanml3d_dir=str(humanml3d_dir))
    first = labeler.label("CMU/01/01_01_poses.npz", 0.0, 100, WINDOW, FPS)  # 0..4 s: span 000000
    assert (first.description, first.description_source) == ("A person jumps forward.", "humanml3d")
    late = labeler.label("CMU/01/01_01_poses.npz", 10.0, 25, WINDOW, FPS)  # 10..11 s: the 6..7 s caption misses
    assert late.description == "Someone climbs up a ladder."
    # 6..7 s meets both of 000001's captions; the choice depends on the seed only.
    seen = {Labeler(humanml3d_dir=str(humanml3d_dir), seed=s).label("CMU/01/01_01_poses.npz", 6.0, 25, WINDOW, FPS)
            .description for s in range(16)}
    assert seen == {"Someone climbs up a ladder.", "The person waves with the left hand."}


def test_humanml3d_trims_and_falls_back(humanml3d_dir):
    labeler = Labeler(humanml3d_dir=str(humanml3d_dir))
    # HDM05 spans start after HumanML3D's 3 s cut: frames 0..40 are 3..5 s.
    before = labeler.label("MPI_HDM05/bd/HDM_bd_01-01_01_120_poses.npz", 0.0, 50, WINDOW, FPS)  # 0..2 s
    assert before.description_source == "template"
    inside = labeler.label("MPI_HDM05/bd/HDM_bd_01-01_01_120_poses.npz", 3.0, 50, WINDOW, FPS)
    assert inside.description == "A man walks in a circle."
    # No HumanML3D caption for this CMU file: its CMU description.
    cmu = labeler.label("CMU/02/02_03_poses.npz", 0.0, 250, WINDOW, FPS)
    assert (cmu.description, cmu.description_source) == ("Run/jog.", "cmu")


def test_humanml3d_uses_the_source_rate_when_given(humanml3d_dir):
    labeler = Labeler(humanml3d_dir=str(humanml3d_dir))
    path = "SSM/20160330_03333/punch_kick_sync_stageii.npz"
    # Frames 0..60: 0..3 s at 20 fps; a 59.99999 fps file was strided by int(2.99) = 2, so really 0..2 s.
    assert labeler.label(path, 2.2, 20, WINDOW, FPS).description_source == "humanml3d"
    assert labeler.label(path, 2.2, 20, WINDOW, FPS, source_fps=59.99999).description_source == "template"


def test_template_descriptions_are_deterministic_per_seed():
    path = "KIT/3/kick_high_left02_poses.npz"
    a = Labeler(seed=1).label(path, 10.0, 250, WINDOW, FPS).description
    assert a == Labeler(seed=1).label(path, 10.0, 250, WINDOW, FPS).description
    texts = {Labeler(seed=s).label(path, 10.0, 250, WINDOW, FPS).description for s in range(16)}
    assert len(texts) > 1 and all("kicks" in t for t in texts)


def test_descriptions_do_not_depend_on_the_process_hash_seed():
    code = ("from amass_fast.labels import Labeler; "
            "print(Labeler(seed=3).label('KIT/3/kick_high_left02_poses.npz', 4.0, 250, 250, 25.0).description)")
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": str(h), "PYTHONPATH": str(ROOT)}).stdout
               for h in (1, 2)}
    assert len(outputs) == 1
    here = Labeler(seed=3).label("KIT/3/kick_high_left02_poses.npz", 4.0, 250, 250, FPS).description
    assert outputs.pop().strip() == here


def test_missing_annotation_folders_name_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="train.json"):
        Labeler(babel_dir=str(tmp_path)).label("CMU/01/01_01_poses.npz", 0.0, 10, 10, FPS)
    with pytest.raises(FileNotFoundError, match="index.csv"):
        Labeler(humanml3d_dir=str(tmp_path)).label("CMU/01/01_01_poses.npz", 0.0, 10, 10, FPS)


# --- coverage -----------------------------------------------------------------------------------------------------

def test_coverage_table_rows_counts_and_percentages():
    table = coverage_table({"babel": 3, "keywords": 1})
    rows = {line.split()[0]: line.split()[1:] for line in table.splitlines()[1:]}
    assert list(rows) == ["babel", "cmu", "keywords", "motion", "idle", "total"]
    assert rows["babel"] == ["3", "75.0"] and rows["cmu"] == ["0", "0.0"] and rows["total"] == ["4", "100.0"]
    assert "0.0" in coverage_table({})  # no clips: no division by zero


def test_labels_command_prints_the_coverage_without_converting(tmp_path, babel_dir, capsys):
    from amass_fast.harness import synthetic

    root = tmp_path / "amass"
    # 5 s at 60 fps -> 125 frames at 25 fps -> windows of 100: one full, one padded tail = 2 clips per file.
    for rel in ("CMU/01/01_01_poses.npz", "CMU/02/02_03_poses.npz", "KIT/3/kick_high_left02_poses.npz",
                "BMLmovi/Subject_1_F_MoSh/Subject_1_F_1_poses.npz"):
        synthetic.write_sequence(root / rel, seconds=5.0, fps=60.0)
    synthetic.write_shape(root / "BMLmovi/Subject_1_F_MoSh/shape.npz", np.zeros(16))
    rc = cli.main(["labels", "--amass-root", str(root), "--window", "100", "--babel", str(babel_dir)])
    out = capsys.readouterr().out
    assert rc == 0
    actions, descriptions = ({line.split()[0]: line.split()[1:] for line in table.splitlines()}
                             for table in out.strip().split("\n\n")[:2])
    # KIT/3/kick_high_left02 is in BABEL's val.json, so: babel 4, cmu 2, keywords 0, idle 2.
    assert actions["babel"] == ["4", "50.0"] and actions["cmu"] == ["2", "25.0"]
    assert actions["keywords"] == ["0", "0.0"] and actions["idle"] == ["2", "25.0"] and actions["total"][0] == "8"
    # CMU descriptions for the two CMU files, templates for the rest.
    assert descriptions["cmu"][0] == "4" and descriptions["template"][0] == "4"


def test_labels_command_explains_missing_folders_without_a_traceback(tmp_path, capsys, monkeypatch):
    from amass_fast.harness import synthetic

    monkeypatch.chdir(tmp_path)
    assert cli.main(["labels"]) == 2  # default root data/amass, as in process: not there
    assert "data/amass: no such folder" in capsys.readouterr().err
    root = tmp_path / "amass"
    synthetic.write_sequence(root / "CMU/01/01_01_poses.npz", seconds=5.0, fps=60.0)
    assert cli.main(["labels", "--amass-root", str(root), "--babel", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("amass-fast labels:") and "train.json" in err and "Traceback" not in err
    assert cli.main(["labels", "--amass-root", str(root), "--humanml3d", str(tmp_path)]) == 2
    assert "index.csv" in capsys.readouterr().err


def test_labels_command_counts_clips_as_process_does_with_short_drop(tmp_path, capsys):
    from amass_fast.harness import synthetic

    root = tmp_path / "amass"
    synthetic.write_sequence(root / "CMU/01/01_01_poses.npz", seconds=5.0, fps=60.0)  # 125 frames at 25 fps
    totals = {}
    for short in ("pad", "drop"):
        assert cli.main(["labels", "--amass-root", str(root), "--window", "100", "--short", short]) == 0
        actions = capsys.readouterr().out.split("\n\n")[0]
        totals[short] = int(next(line.split()[1] for line in actions.splitlines() if line.startswith("total")))
    assert totals == {"pad": 2, "drop": 1}  # one full window; the 25-frame tail is padded or dropped
