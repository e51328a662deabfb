"""Labels through `amass-fast process`: files no annotation, CMU description or name keyword labels are labelled
from their motion; the run ends with the coverage report; an annotation folder that matches nothing is a warning
(exit status unchanged). Real BMLmovi / BioMotionLab names (BMLmovi's say nothing of the action)."""
import json

import torch

from amass_fast.harness import synthetic
from amass_fast.cli import main

FAST = ["--jobs", "1", "--backend", "cpp"]
# Real BMLmovi names: subject and take only, so only the motion can say what happens.
UNNAMED = {"walk": "BMLmovi/Subject_8_F_MoSh/Subject_8_F_13_poses.npz",
           "run": "BMLmovi/Subject_86_F_MoSh/Subject_86_F_13_poses.npz",
           "jump": "BMLmovi/Subject_11_F_MoSh/Subject_11_F_2_poses.npz",
           "idle": "BMLmovi/Subject_12_F_MoSh/Subject_12_F_7_poses.npz"}
MEASURED = {"walk": "walk", "run": "run", "jump": "jump", "idle": "stand"}


def _tree(root):
    for i, (motion, rel) in enumerate(UNNAMED.items()):
        synthetic.write_sequence(root / rel, motion=motion, seconds=4.0, fps=120.0, seed=i)
    synthetic.write_sequence(root / "BioMotionLab_NTroje/rub011/0015_sitting1_poses.npz", motion="wave",
                             seconds=4.0, fps=120.0)
    return root


def test_unnamed_files_are_labelled_from_their_motion(tmp_path, capsys):
    root = _tree(tmp_path / "amass")
    out = tmp_path / "clips.pt"
    assert main(["process", "--amass-root", str(root), "--output", str(out), *FAST]) == 0
    printed = capsys.readouterr().out
    samples = {s["meta"]["file"]: s for s in torch.load(out, weights_only=True)}
    for motion, rel in UNNAMED.items():
        sample = samples[rel]
        assert sample["meta"]["label_source"] == "motion", rel
        assert sample["action"] == MEASURED[motion], (rel, sample["action"], sample["description"])
        assert sample["meta"]["description_source"] == "motion"
    assert "m/s" in samples[UNNAMED["walk"]]["description"]
    sitting = samples["BioMotionLab_NTroje/rub011/0015_sitting1_poses.npz"]
    assert (sitting["meta"]["label_source"], sitting["action"]) == ("keywords", "sit")  # the name wins
    assert "action from" in printed and "motion" in printed and "BMLmovi" in printed and "actions:" in printed


def test_a_wrong_annotation_folder_is_a_warning_and_the_run_still_succeeds(tmp_path, capsys):
    root = _tree(tmp_path / "amass")
    wrong = tmp_path / "HumanML3D"
    (wrong / "HumanML3D").mkdir(parents=True)
    (wrong / "index.csv").write_text("source_path,start_frame,end_frame,new_name\n"
                                     "./pose_data/KIT/3/walking_slow01_poses.npy,0,60,000000.npy\n")
    (wrong / "HumanML3D" / "texts").mkdir()
    (wrong / "HumanML3D" / "texts" / "000000.txt").write_text("a person walks#x#0.0#0.0\n")
    out = tmp_path / "clips.pt"
    assert main(["process", "--amass-root", str(root), "--output", str(out), "--humanml3d", str(wrong),
                 *FAST]) == 0
    captured = capsys.readouterr()
    assert "warning: HumanML3D" in captured.out and "matches no file of the tree" in captured.out
    assert "warning: HumanML3D" in captured.err  # also on stderr, for a scripted run
    record = json.loads((tmp_path / "clips.pt.run.json").read_text())
    assert record["counts"]["clips"] == len(torch.load(out, weights_only=True))


def test_the_motion_is_measured_only_for_clips_no_other_source_labels():
    from amass_fast.labels import Labeler

    calls = []

    def measured():
        calls.append(1)
        raise AssertionError("not needed: the CMU index labels this clip")

    lab = Labeler().label("CMU/02/02_01_poses.npz", 0.0, 10, 10, 25.0, motion=measured)
    assert lab.source == "cmu" and not calls
