"""The AMASS catalog: names, folders, sets, URLs and the `amass-fast datasets` table."""
from __future__ import annotations

import json

import pytest

from amass_fast.io import catalog
from amass_fast.cli import main

EXPECTED_NAMES = [
    "ACCAD", "BMLhandball", "BMLmovi", "BMLrub", "CMU", "CNRS", "DanceDB", "DFaust", "EKUT", "EyesJapanDataset",
    "GRAB", "HDM05", "HUMAN4D", "HumanEva", "KIT", "MoSh", "PosePrior", "SFU", "SOMA", "SSM", "TCDHands",
    "TotalCapture", "Transitions", "WEIZMANN",
]


def test_every_amass_dataset_is_listed_once():
    assert list(catalog.ALL) == EXPECTED_NAMES
    assert len({d.folder for d in catalog.DATASETS}) == len(EXPECTED_NAMES)


@pytest.mark.parametrize("name, folder", [
    ("PosePrior", "MPI_Limits"), ("HDM05", "MPI_HDM05"), ("BMLrub", "BioMotionLab_NTroje"),
    ("MoSh", "MPI_mosh"), ("SSM", "SSM_synced"), ("TCDHands", "TCD_handMocap"), ("DFaust", "DFaust_67"),
    ("EyesJapanDataset", "Eyes_Japan_Dataset"), ("Transitions", "Transitions_mocap"), ("CMU", "CMU"),
])
def test_archives_extract_to_their_old_folder_names(name, folder):
    assert catalog.get(name).folder == folder
    assert catalog.by_folder(folder).name == name


def test_by_folder_maps_every_folder_back_and_refuses_strangers():
    for dataset in catalog.DATASETS:
        assert catalog.by_folder(dataset.folder) is dataset
    assert catalog.by_folder("my_own_mocap") is None


@pytest.mark.parametrize("text, name", [
    ("cmu", "CMU"), ("CMU_SMPLH_G", "CMU"), ("accad.tar.bz2", "ACCAD"), ("ACCAD-SMPLX-N.tar.bz2", "ACCAD"),
    ("BioMotionLab_NTroje", "BMLrub"), ("eyes_japan_dataset", "EyesJapanDataset"), ("mpi_hdm05", "HDM05"),
    ("SSM_synced_SMPLX_G.tar.bz2", "SSM"), ("humaneva", "HumanEva"),
])
def test_get_accepts_names_folders_and_download_file_names(text, name):
    assert catalog.get(text).name == name


def test_unknown_name_raises_with_a_suggestion():
    with pytest.raises(KeyError) as info:
        catalog.get("CMX")
    message = str(info.value)
    assert "CMX" in message and "Did you mean CMU" in message and "amass-fast datasets" in message


@pytest.mark.parametrize("filename, expected", [
    ("CMU.tar.bz2", ("CMU", None, None)),
    ("CMU_SMPLH_G.tar.bz2", ("CMU", "smplh", "gender_specific")),
    ("KIT_SMPLX_N.tar.bz2", ("KIT", "smplx", "neutral")),
    ("DFaust_67_SMPLX_G.tar.bz2", ("DFaust", "smplx", "gender_specific")),
])
def test_parse_archive_name(filename, expected):
    dataset, model, gender = catalog.parse_archive_name(filename)
    assert (dataset.name, model, gender) == expected


def test_archive_url_follows_the_amass_protocol():
    url = catalog.archive_url("https://download.is.tue.mpg.de/", "cmu_smplh_g", "smplx", "neutral")
    assert url == ("https://download.is.tue.mpg.de/download.php?domain=amass&resume=1"
                   "&sfile=amass_per_dataset/smplx/neutral/mosh_results/CMU.tar.bz2")
    with pytest.raises(ValueError, match="model"):
        catalog.archive_url("https://x", "CMU", "smpl")
    with pytest.raises(ValueError, match="gender"):
        catalog.archive_url("https://x", "CMU", "smplh", "male")


def test_sets_keep_the_seed_promises():
    assert catalog.RECOMMENDED == ("CMU", "BMLmovi", "ACCAD", "HDM05", "TotalCapture")
    assert set(catalog.SUBSET) <= set(catalog.ALL) and set(catalog.RECOMMENDED) <= set(catalog.ALL)
    # --subset is small: every member with a known size is under 150 MB, and far below the recommended set.
    for name in catalog.SUBSET:
        size = catalog.get(name).approx_size("smplh")
        assert size is None or size < 150e6, name
    subset_known, _ = catalog.total_size(catalog.SUBSET)
    recommended_known, _ = catalog.total_size(catalog.RECOMMENDED)
    assert subset_known < 500e6 < recommended_known


def test_facts_are_plausible_and_unknowns_stay_unknown():
    variants = {catalog.SMPLH_G, catalog.SMPLX_G, catalog.SMPLX_N}
    for d in catalog.DATASETS:
        assert d.offered and set(d.offered) <= variants, d.name
        assert all(0 < f <= 250.0 for f in d.fps), d.name
        assert d.motion_files is None or d.motion_files > 0
        for size in (d.approx_size_smplh, d.size_smplx_g):
            assert size is None or 1e6 < size < 2e10, d.name
        assert d.licence_url.startswith("https://amass.is.tue.mpg.de/")
    assert catalog.get("SSM").fps == (120.00005, 59.99999)  # non-integer rates kept exactly
    assert catalog.get("WEIZMANN").approx_size("smplh") is None
    assert catalog.get("ACCAD").approx_size("smplx") == 495_538_986
    assert not catalog.get("BMLhandball").offers("smplx")


def test_datasets_command_prints_the_table(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    for d in catalog.DATASETS:
        assert d.name in out and d.folder in out
    assert "recommended" in out and "--subset" in out
    line = next(l for l in out.splitlines() if l.startswith("SSM "))
    assert "59.99999" in line and "13.5 MB" in line


def test_datasets_command_json(capsys):
    assert main(["datasets", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [e["name"] for e in data["datasets"]] == EXPECTED_NAMES
    cmu = next(e for e in data["datasets"] if e["name"] == "CMU")
    assert cmu["folder"] == "CMU" and cmu["archive"] == "CMU.tar.bz2" and cmu["recommended"] is True
    assert cmu["motion_files"] == 2082 and cmu["fps"] == [120.0, 60.0]
    assert data["subset"] == list(catalog.SUBSET)
