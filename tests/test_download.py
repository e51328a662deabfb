"""`amass-fast download` against the local AMASS test server: resume, retries, HTML pages, secrets, imports."""
from __future__ import annotations

import bz2
import io
import logging
import os
import random
import tarfile
from pathlib import Path

import pytest

from amass_fast.io import download as dl
from amass_fast.cli import main
from amass_fast.io.credentials import Credentials, CredentialsError, resolve_credentials
from amass_fast.harness.testserver import AmassTestServer

USER = "someone@example.org"
PASSWORD = "pw-Zq9&x=1 %secret"  # characters that must survive form encoding
FAST = dict(backoff=0.001, timeout=5.0, progress=False)


def make_archive(folder: str, seed: int, size: int = 20_000) -> bytes:
    """A small real .tar.bz2 holding random 'npz-like' bytes (incompressible, so the archive is ~size bytes)."""
    rng = random.Random(seed)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:bz2") as tar:
        for i in range(2):
            payload = rng.randbytes(size // 2)
            info = tarfile.TarInfo(f"{folder}/S{seed}/trial_{i}_poses.npz")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


@pytest.fixture(scope="module")
def archives() -> dict[str, bytes]:
    return {"ACCAD": make_archive("ACCAD", 1), "SFU": make_archive("SFU", 2), "HumanEva": make_archive("HumanEva", 3)}


@pytest.fixture
def no_env_credentials(monkeypatch, tmp_path):
    for key in ("AMASS_USERNAME", "AMASS_PASSWORD", "AMASS_FAST_BASE_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))


def creds() -> Credentials:
    return Credentials(USER, PASSWORD, "test")


def fetch(server: AmassTestServer, out: Path, names, **kw):
    options = dict(FAST, **kw)
    return dl.download_datasets(names, out, creds(), base_url=server.base_url, **options)


def leftovers(out: Path) -> list[str]:
    """Partial or temporary files in the output folder."""
    return sorted(p.name for p in out.rglob("*") if p.name.endswith((".part", ".import", ".tmp", ".part.json")))


# ---------------------------------------------------------------------------------------------------- happy paths
def test_parallel_downloads_end_byte_identical(archives, tmp_path):
    with AmassTestServer(archives, USER, PASSWORD, mode="trickle", trickle_chunk=4096, trickle_delay=0.03) as server:
        results = fetch(server, tmp_path, ["ACCAD", "SFU", "HumanEva"], jobs=3)
    requests = [r for r in server.requests if r.kind == "archive"]
    assert [r.status for r in results] == ["downloaded"] * 3
    for name, data in archives.items():
        assert (tmp_path / f"{name}.tar.bz2").read_bytes() == data
    assert leftovers(tmp_path) == []
    # the three transfers overlapped in time: each started before any of them finished
    assert len(requests) == 3 and max(r.started for r in requests) < min(r.finished for r in requests)
    assert all(r.method == "POST" and r.model == "smplh" and r.gender == "gender_specific" for r in requests)


def test_model_and_gender_choose_the_address(archives, tmp_path):
    with AmassTestServer(archives, USER, PASSWORD) as server:
        results = fetch(server, tmp_path, ["SFU"], model="smplx", gender="neutral")
    (request,) = server.archive_requests("SFU")
    assert results[0].ok and (request.model, request.gender) == ("smplx", "neutral")


def test_existing_archive_is_skipped_without_asking_anything(archives, tmp_path, no_env_credentials):
    with AmassTestServer(archives, USER, PASSWORD) as server:
        fetch(server, tmp_path, ["ACCAD"])
        count = len(server.requests)
        # credentials=None: resolving them would fail here (no env, no netrc, no terminal), so none are asked for
        results = dl.download_datasets(["ACCAD"], tmp_path, None, base_url=server.base_url, **FAST)
        assert len(server.requests) == count
    assert results[0].status == "skipped" and "verified" in results[0].message


def test_existing_archive_of_another_model_is_not_taken_for_the_requested_one(archives, tmp_path):
    with AmassTestServer(archives, USER, PASSWORD) as server:
        fetch(server, tmp_path, ["ACCAD"], model="smplh")
        (result,) = fetch(server, tmp_path, ["ACCAD"], model="smplx")
    assert result.status == "failed" and "smplh/gender_specific" in result.message and "--out" in result.message


# ---------------------------------------------------------------------------------------------------- resume
def test_cut_connection_resumes_without_rereading(archives, tmp_path):
    data = archives["ACCAD"]
    with AmassTestServer(archives, USER, PASSWORD, mode="cut", failures=2, cut_fraction=0.3) as server:
        (result,) = fetch(server, tmp_path, ["ACCAD"])
    served = server.bytes_served("ACCAD")
    starts = [r.range_start for r in server.archive_requests("ACCAD")]
    assert result.status == "downloaded" and (tmp_path / "ACCAD.tar.bz2").read_bytes() == data
    first = int(len(data) * 0.3)
    second = int((len(data) - first) * 0.3)
    assert served == [first, second, len(data) - first - second]  # every byte served exactly once
    assert starts == [None, first, first + second]


def test_resume_from_a_part_left_by_an_earlier_run(archives, tmp_path):
    data = archives["SFU"]
    (tmp_path / "SFU.tar.bz2.part").write_bytes(data[:7000])
    with AmassTestServer(archives, USER, PASSWORD) as server:
        (result,) = fetch(server, tmp_path, ["SFU"])
    (request,) = server.archive_requests("SFU")
    assert result.ok and (tmp_path / "SFU.tar.bz2").read_bytes() == data
    assert (request.status, request.range_start, request.bytes_sent) == (206, 7000, len(data) - 7000)


def test_part_that_is_not_bzip2_is_discarded(archives, tmp_path):
    (tmp_path / "SFU.tar.bz2.part").write_bytes(b"<!DOCTYPE html><html>login</html>")
    with AmassTestServer(archives, USER, PASSWORD) as server:
        (result,) = fetch(server, tmp_path, ["SFU"])
    (request,) = server.archive_requests("SFU")
    assert result.ok and request.range_start is None
    assert (tmp_path / "SFU.tar.bz2").read_bytes() == archives["SFU"]


def test_server_ignoring_range_gives_a_clean_restart(archives, tmp_path):
    data = archives["HumanEva"]
    with AmassTestServer(archives, USER, PASSWORD, mode={"cut", "ignore-range"}) as server:
        (result,) = fetch(server, tmp_path, ["HumanEva"])
    statuses = [r.status for r in server.archive_requests("HumanEva")]
    assert statuses == [200, 200]
    assert result.ok and (tmp_path / "HumanEva.tar.bz2").read_bytes() == data


def test_file_changed_on_the_server_is_fetched_whole_not_glued(archives, tmp_path):
    new = make_archive("ACCAD", 99, size=26_000)
    with AmassTestServer(archives, USER, PASSWORD, mode={"cut", "change"}, replacements={"ACCAD": new}) as server:
        (result,) = fetch(server, tmp_path, ["ACCAD"])
    requests = server.archive_requests("ACCAD")
    assert result.ok and (tmp_path / "ACCAD.tar.bz2").read_bytes() == new
    # the resume asked for the rest (If-Range), and the changed file came back whole
    assert requests[1].range_start is not None and (requests[1].status, requests[1].bytes_sent) == (200, len(new))


def test_server_errors_are_retried_with_backoff(archives, tmp_path):
    with AmassTestServer(archives, USER, PASSWORD, mode="error500", failures=2) as server:
        (result,) = fetch(server, tmp_path, ["SFU"])
    statuses = [r.status for r in server.requests]
    assert statuses == [500, 500, 200] and result.ok


def test_gives_up_after_the_retries_and_keeps_nothing_under_the_final_name(archives, tmp_path):
    with AmassTestServer(archives, USER, PASSWORD, mode="error500", failures=100) as server:
        (result,) = fetch(server, tmp_path, ["SFU"], retries=2)
    assert len(server.requests) == 3
    assert result.status == "failed" and "gave up after 3 attempts" in result.message and "HTTP 500" in result.message
    assert not (tmp_path / "SFU.tar.bz2").exists()


def test_stalled_trickle_times_out_and_resumes(archives, tmp_path):
    data = archives["SFU"]
    with AmassTestServer(archives, USER, PASSWORD, mode="trickle", trickle_chunk=8192, trickle_delay=1.0) as server:
        (result,) = fetch(server, tmp_path, ["SFU"], timeout=0.3, retries=6)
    starts = [r.range_start for r in server.archive_requests("SFU")]
    assert result.ok and (tmp_path / "SFU.tar.bz2").read_bytes() == data
    assert starts == [None, 8192, 16384]  # each stall resumed where the last chunk ended


# ---------------------------------------------------------------------------------------------------- HTML pages
def run_cli(server: AmassTestServer, out: Path, *extra: str) -> int:
    return main(["download", "--base-url", server.base_url, "--out", str(out), "--backoff", "0.001", *extra])


def test_wrong_password_is_reported_with_a_non_zero_exit(archives, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AMASS_USERNAME", USER)
    monkeypatch.setenv("AMASS_PASSWORD", "not-" + PASSWORD)
    with AmassTestServer(archives, USER, PASSWORD) as server:
        status = run_cli(server, tmp_path, "--datasets", "ACCAD", "SFU")
    assert all(r.kind == "login-page" for r in server.requests) and len(server.requests) == 2  # no retries
    out = capsys.readouterr().out
    assert status == 1
    assert out.count("login page") == 2 and "password" in out and "not accepted" in out
    assert "licenses2024/ACCAD/" in out
    assert PASSWORD not in out
    assert list(tmp_path.glob("*.tar.bz2*")) == []  # no archive and no HTML kept anywhere


def test_unaccepted_licence_is_reported_per_dataset(archives, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AMASS_USERNAME", USER)
    monkeypatch.setenv("AMASS_PASSWORD", PASSWORD)
    with AmassTestServer(archives, USER, PASSWORD, accepted={"SFU"}) as server:
        status = run_cli(server, tmp_path, "--datasets", "ACCAD", "SFU")
    out = capsys.readouterr().out
    assert status == 1
    accad = next(line for line in out.splitlines() if line.startswith("ACCAD"))
    assert "failed" in accad and "licence" in accad and "https://amass.is.tue.mpg.de/download.php" in accad
    assert "SFU" in out and (tmp_path / "SFU.tar.bz2").read_bytes() == archives["SFU"]
    assert not (tmp_path / "ACCAD.tar.bz2").exists() and not (tmp_path / "ACCAD.tar.bz2.part").exists()


def test_password_never_appears_in_output_logs_files_or_urls(archives, tmp_path, monkeypatch, capsys, caplog):
    monkeypatch.setenv("AMASS_USERNAME", USER)
    monkeypatch.setenv("AMASS_PASSWORD", PASSWORD)
    caplog.set_level(logging.DEBUG)
    with AmassTestServer(archives, USER, PASSWORD, mode={"cut", "error500"}, accepted={"ACCAD", "SFU"}) as server:
        status = run_cli(server, tmp_path, "--datasets", "ACCAD", "SFU", "HumanEva", "--jobs", "2")
    assert not any(r.secret_in_url for r in server.requests)
    assert any(r.authenticated for r in server.requests)
    captured = capsys.readouterr()
    assert status == 1  # HumanEva's licence is not accepted
    assert "retrying" in caplog.text  # the log did record the faults...
    for text in (captured.out, captured.err, caplog.text):
        assert PASSWORD not in text  # ...but never the password
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path
    assert "password=" not in repr(creds()) and PASSWORD not in str(creds())


# ---------------------------------------------------------------------------------------------------- credentials
def test_credentials_come_from_environment_then_netrc_then_prompt(tmp_path, monkeypatch):
    env = {"AMASS_USERNAME": "a", "AMASS_PASSWORD": "b"}
    assert resolve_credentials("https://download.is.tue.mpg.de", environ=env) == Credentials("a", "b", "environment")

    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login nu password np\nmachine download.is.tue.mpg.de login du password dp\n")
    netrc.chmod(0o600)
    local = resolve_credentials("http://127.0.0.1:8000", environ={}, netrc_file=netrc, interactive=False)
    remote = resolve_credentials("https://download.is.tue.mpg.de", environ={}, netrc_file=netrc, interactive=False)
    assert (local.username, local.password) == ("nu", "np") and (remote.username, remote.password) == ("du", "dp")

    with pytest.raises(CredentialsError, match="AMASS_USERNAME"):
        resolve_credentials("https://x.org", environ={}, netrc_file=tmp_path / "none", interactive=False)

    monkeypatch.setattr("getpass.getpass", lambda prompt: "typed")
    prompted = resolve_credentials("https://x.org", environ={"AMASS_USERNAME": "me"},
                                   netrc_file=tmp_path / "none", interactive=True)
    assert (prompted.username, prompted.password, prompted.source) == ("me", "typed", "prompt")


def test_netrc_parse_errors_do_not_quote_the_file(tmp_path):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine x login u password hunter2 bogus\n")
    netrc.chmod(0o600)
    with pytest.raises(CredentialsError) as info:
        resolve_credentials("https://x.org", environ={}, netrc_file=netrc, interactive=False)
    assert "hunter2" not in str(info.value) and str(netrc) in str(info.value)


# ---------------------------------------------------------------------------------------------------- checks
def _end_marker_padding(data: bytes) -> int:
    """Bits of padding after the bzip2 end marker and CRC (found with string search, independently of dl)."""
    bits = format(int.from_bytes(data[-11:], "big"), "088b")
    return 88 - bits.rfind(format(0x177245385090, "048b")) - 48 - 32


def test_verify_archive(tmp_path):
    rng = random.Random(7)
    paddings = set()
    for n in range(40):
        data = bz2.compress(rng.randbytes(300 + 41 * n))
        paddings.add(_end_marker_padding(data))
        path = tmp_path / f"a{n}.tar.bz2"
        path.write_bytes(data)
        dl.verify_archive(path, expected_size=len(data), deep=True)
        for cut in (1, 4, 9):
            path.write_bytes(data[:-cut])
            with pytest.raises(dl.ArchiveCheckError, match="cut short"):
                dl.verify_archive(path)
    assert paddings == set(range(8))  # the end marker was found at every bit offset
    good = bz2.compress(rng.randbytes(5000))
    path = tmp_path / "b.tar.bz2"
    path.write_bytes(good)
    with pytest.raises(dl.ArchiveCheckError, match="announced"):
        dl.verify_archive(path, expected_size=len(good) + 1)
    corrupt = bytearray(good)
    corrupt[len(good) // 2] ^= 0xFF
    path.write_bytes(bytes(corrupt))
    dl.verify_archive(path)  # magic and end marker are intact: only --check can tell
    with pytest.raises(dl.ArchiveCheckError, match="test decompression"):
        dl.verify_archive(path, deep=True)
    path.write_bytes(b"<!DOCTYPE html><html></html>")
    with pytest.raises(dl.ArchiveCheckError, match="web page"):
        dl.verify_archive(path)


# ---------------------------------------------------------------------------------------------------- --from-dir
def test_from_dir_imports_good_archives_and_reports_bad_ones(archives, tmp_path, capsys):
    downloads, out = tmp_path / "Downloads", tmp_path / "out"
    downloads.mkdir()
    (downloads / "ACCAD_SMPLH_G.tar.bz2").write_bytes(archives["ACCAD"])
    (downloads / "SFU.tar.bz2").write_bytes(archives["SFU"][:-100])  # cut short
    (downloads / "HumanEva.tar.bz2").write_bytes(b"<html><body>Please log in</body></html>")  # saved login page
    (downloads / "notes.txt").write_text("not an archive")
    status = main(["download", "--from-dir", str(downloads), "--out", str(out)])
    text = capsys.readouterr().out
    assert status == 1
    assert (out / "ACCAD.tar.bz2").read_bytes() == archives["ACCAD"]
    assert (downloads / "ACCAD_SMPLH_G.tar.bz2").read_bytes() == archives["ACCAD"]  # the user's file stays
    lines = {line.split()[0]: line for line in text.splitlines() if line.split()}
    assert "imported" in lines["ACCAD"] and "ACCAD_SMPLH_G.tar.bz2" in lines["ACCAD"]
    assert "failed" in lines["SFU"] and "cut short" in lines["SFU"]
    assert "failed" in lines["HumanEva"] and "web page" in lines["HumanEva"]
    assert sorted(p.name for p in out.glob("*.tar.bz2*")) == ["ACCAD.tar.bz2"]
    assert leftovers(out) == []

    # naming only the good one succeeds; a second import skips it (a hard link is the same file, a copy verified)
    assert main(["download", "--from-dir", str(downloads), "--out", str(out), "--datasets", "ACCAD"]) == 0
    line = next(t for t in capsys.readouterr().out.splitlines() if t.startswith("ACCAD"))
    assert "skipped" in line and ("already in place" in line or "already there" in line)


def test_from_dir_reports_a_missing_requested_dataset(archives, tmp_path):
    (tmp_path / "CMU.tar.bz2").write_bytes(archives["SFU"])
    results = dl.import_archives(tmp_path, tmp_path / "out", [dl.catalog.get("KIT")])
    assert [(r.dataset, r.status) for r in results] == [("KIT", "failed")] and "KIT.tar.bz2" in results[0].message


def test_all_only_asks_for_datasets_offered_in_the_model(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AMASS_USERNAME", USER)
    monkeypatch.setenv("AMASS_PASSWORD", PASSWORD)
    with AmassTestServer({}, USER, PASSWORD) as server:
        status = run_cli(server, tmp_path, "--all", "--model", "smplx", "--jobs", "4", "--retries", "0")
    asked = {r.name for r in server.requests}
    assert status == 1  # the test server has none of them: 404 for each
    assert "BMLhandball" not in asked and {"CNRS", "WEIZMANN", "CMU"} <= asked and len(asked) == 23
    captured = capsys.readouterr()
    assert "BMLhandball: the catalog does not list a smplx/gender_specific archive; skipped" in captured.err
    assert "HTTP 404" in captured.out


def test_base_url_with_a_login_is_refused_without_echoing_it(tmp_path, capsys):
    status = main(["download", "--base-url", f"https://{USER}:hunter2@example.org", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == 2 and "must not hold a login" in err and "hunter2" not in err


# ---------------------------------------------------------------------------------------------------- bounds
def test_retry_policy_pauses_double_up_to_the_limit_and_refuses_negatives():
    policy = dl.RetryPolicy(retries=4, backoff=1.5, max_backoff=4.0)
    assert policy.attempts == 5
    assert [policy.delay(n) for n in range(5)] == [0.0, 1.5, 3.0, 4.0, 4.0]
    for bad in (dict(retries=-1), dict(backoff=-0.1), dict(max_backoff=-1)):
        with pytest.raises(ValueError):
            dl.RetryPolicy(**bad)


@pytest.mark.parametrize("timeout", [0, -1.0, float("inf"), float("nan"), None])
def test_downloader_refuses_a_timeout_that_could_block_forever(tmp_path, timeout):
    with pytest.raises(ValueError, match="timeout"):
        dl.Downloader(tmp_path, creds(), base_url="http://127.0.0.1:1", timeout=timeout)


def test_open_regular_refuses_a_fifo_without_blocking(tmp_path):
    fifo = tmp_path / "CMU.tar.bz2"
    os.mkfifo(fifo)
    with pytest.raises(dl.NotRegularFileError, match="pipe"):
        dl.open_regular(fifo)
    with pytest.raises(dl.ArchiveCheckError, match=str(fifo)):
        dl.verify_archive(fifo)


def test_import_temporaries_are_fixed_length_and_cleaned(archives, tmp_path):
    downloads, out = tmp_path / "d", tmp_path / "out"
    downloads.mkdir()
    (downloads / "ACCAD.tar.bz2").write_bytes(archives["ACCAD"])
    out.mkdir()
    left = out / ".amf-00000000-00000000.tmp"  # a killed run's temporary of another name stays (not ours)
    left.write_bytes(b"x")
    from amass_fast.io import atomic

    stale = Path(atomic.temporary_name(out / "ACCAD.tar.bz2"))
    stale.write_bytes(b"half")
    (result,) = dl.import_archives(downloads, out)
    assert result.status == "imported" and not stale.exists() and left.exists()
