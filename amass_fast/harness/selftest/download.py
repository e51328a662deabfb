from __future__ import annotations

import io
import logging
import random
import resource
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Callable, Optional


from amass_fast.harness.selftest.cases import (Check, _amass_fast, _env, _files_under, _last_line, _refused, _require_fifo,
                                               _short, case)

# --- download faults against the local test server ------------------------------------------------------------------

USER, PASSWORD = "hostile@example.org", "Hx7-not-a-real-password-%&="
_FAST = dict(backoff=0.001, timeout=5.0, progress=False)


def _served_archive(seed: int, size: int = 48_000) -> bytes:
    """A small real .tar.bz2 of random (incompressible) bytes, about `size` bytes long."""
    rng = random.Random(seed)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:bz2") as tar:
        payload = rng.randbytes(size)
        info = tarfile.TarInfo("ACCAD/Male1/trial_poses.npz")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


def _download(server, out: Path, **options):
    from amass_fast.io import download
    from amass_fast.io.credentials import Credentials

    logger = logging.getLogger("amass_fast.io.download")
    level = logger.level
    logger.setLevel(logging.ERROR)  # the retry notices are expected here: keep the table readable
    try:
        (result,) = download.download_datasets(["ACCAD"], out, Credentials(USER, PASSWORD, "test"),
                                               base_url=server.base_url, **{**_FAST, **options})
    finally:
        logger.setLevel(level)
    return result


def _leftovers(out: Path) -> list[str]:
    return sorted(n for n in _files_under(out) if n.endswith((".part", ".tmp", ".import")))


def _download_case(name: str, expect: str, mode, options: Optional[dict] = None, **server_options) -> None:
    @case("download", name, expect)
    def run(c: Check) -> None:
        from amass_fast.harness.testserver import AmassTestServer

        data = _served_archive(1)
        replacement = _served_archive(2, 60_000)
        if "change" in mode:
            server_options["replacements"] = {"ACCAD": replacement}
        with AmassTestServer({"ACCAD": data}, USER, PASSWORD, mode=mode, **server_options) as server:
            result = _download(server, c.dir, **(options or {}))
        served = server.bytes_served("ACCAD")
        wanted = replacement if "change" in mode else data
        final = c.dir / "ACCAD.tar.bz2"
        c.did = f"{result.status} after {len(served)} request(s), {sum(served)} bytes served {result.message}"
        c.expect(result.status == "downloaded", "downloaded in the end")
        c.expect(final.exists() and final.read_bytes() == wanted, "the archive is byte-identical to the server's")
        c.expect(_leftovers(c.dir) == [], "no partial file left")
        if mode == "cut":
            c.expect(sum(served) < 1.5 * len(data), "resumed: what arrived was not fetched again")


_download_case("connection_dropped_repeatedly", "3 dropped connections: resumed each time, archive identical",
               "cut", failures=3)
_download_case("server_errors_500", "three HTTP 500 answers: retried, archive identical", "error500", failures=3)
_download_case("server_ignores_range", "server answers resumes with the whole file: restarted, not glued",
               ("cut", "ignore-range"))
_download_case("file_changes_between_attempts", "the file changes size after a drop: the new file, not a mix",
               ("cut", "change"))
_download_case("slow_trickle", "1 KB every 5 ms: completes, archive identical", "trickle",
               trickle_chunk=1024, trickle_delay=0.005)


@case("download", "gives_up_then_rerun_resumes", "drops beyond --retries: failed, .part kept, exit 1; rerun resumes")
def _gives_up(c: Check) -> None:
    from amass_fast.harness.testserver import AmassTestServer

    data = _served_archive(3)
    part = c.dir / "ACCAD.tar.bz2.part"
    with AmassTestServer({"ACCAD": data}, USER, PASSWORD, mode="cut", failures=3) as server:
        first = _download(server, c.dir, retries=1)  # two attempts, both cut
        kept = part.stat().st_size if part.exists() else 0
        second = _download(server, c.dir)  # the same address, as a user's rerun
    request = server.archive_requests("ACCAD")[2]
    c.expect(first.status == "failed" and "Rerun to resume" in first.message, "failed, saying rerun to resume")
    c.expect(0 < kept < len(data), "the .part is kept")
    c.did = f"first: {first.status} ({kept} bytes kept); rerun: {second.status} from byte {request.range_start}"
    c.expect(second.status == "downloaded" and (c.dir / "ACCAD.tar.bz2").read_bytes() == data, "rerun completes")
    c.expect(request.range_start == kept, "the rerun asked only for the missing bytes")


def _download_env(c: Check, password: str = PASSWORD) -> dict:
    return {"AMASS_USERNAME": USER, "AMASS_PASSWORD": password, "NETRC": str(c.dir / "no-netrc"),
            "AMASS_FAST_BASE_URL": ""}


def _download_args(server, out: Path, *datasets: str) -> list[str]:
    return ["download", "--datasets", *(datasets or ["ACCAD"]), "--out", str(out), "--base-url", server.base_url,
            "--retries", "1", "--backoff", "0.01", "--timeout", "5"]


@case("download", "wrong_credentials", "login page instead of the archive: says the login failed, exit 1, "
      "the password appears nowhere (output, files)")
def _wrong_credentials(c: Check) -> None:
    from amass_fast.harness.testserver import AmassTestServer

    wrong = "Wr0ng-pass-word-9911"
    with AmassTestServer({"ACCAD": _served_archive(4)}, USER, PASSWORD) as server:
        proc = _amass_fast(_download_args(server, c.dir / "out"), env=_download_env(c, wrong))
    output = proc.stdout + proc.stderr
    stored = b"".join(p.read_bytes() for p in (c.dir / "out").rglob("*") if p.is_file())
    line = proc.stdout.splitlines()[2] if proc.stdout.count("\n") > 2 else output
    c.did = f"exit {proc.returncode}: {_short(line, 150)}"
    c.expect(proc.returncode == 1, "exit status 1")
    c.expect("password" in output and "not accepted" in output, "says the username or password was not accepted")
    c.expect(wrong not in output and wrong.encode() not in stored, "the password is not printed or stored")
    c.expect(not (c.dir / "out" / "ACCAD.tar.bz2").exists(), "no archive under the final name")
    c.expect(not any(r.secret_in_url for r in server.requests), "the password never went into a URL")


def _limit_file_size(limit: int) -> Callable[[], None]:
    def apply() -> None:  # in the child: writes past `limit` fail with EFBIG instead of killing it (SIGXFSZ)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


@case("download", "disk_full", "the file system refuses writes mid-download: clear error naming the .part, "
      "exit 1, .part kept; rerun with space resumes")
def _disk_full(c: Check) -> None:
    from amass_fast.harness.testserver import AmassTestServer

    data = _served_archive(5)
    out = c.dir / "out"
    with AmassTestServer({"ACCAD": data}, USER, PASSWORD) as server:
        proc = _amass_fast(_download_args(server, out), env=_download_env(c), preexec_fn=_limit_file_size(16_384))
        part = out / "ACCAD.tar.bz2.part"
        kept = part.stat().st_size if part.exists() else 0
        again = _amass_fast(_download_args(server, out), env=_download_env(c))
    output = proc.stdout + proc.stderr
    line = output.splitlines()[2] if output.count("\n") > 2 else output
    c.did = f"exit {proc.returncode} with {kept} bytes kept: {_short(line, 120)}; rerun exit {again.returncode}"
    c.expect(proc.returncode == 1, "exit status 1")
    c.expect("ACCAD.tar.bz2.part" in output and "rerun to resume" in output, "names the file and says to rerun")
    c.expect(0 < kept <= 16_384, "the bytes written before the error are kept")
    c.expect(again.returncode == 0 and (out / "ACCAD.tar.bz2").read_bytes() == data, "the rerun completes")
    c.expect(server.archive_requests("ACCAD")[-1].range_start == kept, "the rerun resumed from the .part")


@case("download", "stop_signals_then_rerun", "SIGINT, SIGTERM and SIGHUP mid-download of two archives with --jobs "
      "2: exit 128+N at once with one line, each .part kept, no final name; the rerun resumes each from its .part")
def _stop_signals(c: Check) -> None:
    from amass_fast.harness.testserver import AmassTestServer

    served = {"ACCAD": _served_archive(6, 200_000), "SFU": _served_archive(7, 200_000)}
    env = {**_env(), **_download_env(c)}
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        name = signal.Signals(signum).name
        out = c.dir / name
        parts = [out / f"{d}.tar.bz2.part" for d in served]
        # 2 KB every 50 ms each: about 5 s per archive, so a loaded machine still stops them mid-way.
        with AmassTestServer(served, USER, PASSWORD, mode="trickle", trickle_chunk=2048,
                             trickle_delay=0.05) as server:
            args = [*_download_args(server, out, *served), "--jobs", "2"]
            child = subprocess.Popen([sys.executable, "-m", "amass_fast", *args], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and child.poll() is None:
                if all(p.exists() and p.stat().st_size > 20_000 for p in parts):
                    break
                time.sleep(0.02)
            child.send_signal(signum)
            signalled = time.monotonic()
            _, err = child.communicate(timeout=60)
            after = time.monotonic() - signalled
            kept = [p.stat().st_size if p.exists() else 0 for p in parts]
            finals = [d for d in served if (out / f"{d}.tar.bz2").exists()]
            server.modes = {"normal"}  # the rerun at full speed, from the same address
            again = _amass_fast(args, env=_download_env(c))
        resumed_at = [server.archive_requests(d)[-1].range_start for d in served]
        c.did += (f"{name}: exit {child.returncode} {after:.1f} s after the signal with {kept} bytes kept; rerun "
                  f"exit {again.returncode} from bytes {resumed_at}; ")
        c.expect(not finals, f"{name}: no archive under its final name after the stop")
        c.expect(child.returncode == 128 + signum, f"{name}: exit status {128 + signum} (got {child.returncode})")
        c.expect(after < 10, f"{name}: the transfers stop at their next chunk, not at their end")
        word = "interrupted" if signum == signal.SIGINT else f"stopped by {name}"
        c.expect(word in _last_line(err) and "Traceback" not in err, f"{name}: one line saying {word!r}")
        c.expect(all(0 < k < len(served["ACCAD"]) for k in kept), f"{name}: each .part is kept")
        c.expect(again.returncode == 0 and all((out / f"{d}.tar.bz2").read_bytes() == data
                                               for d, data in served.items()), f"{name}: the rerun completes")
        c.expect(resumed_at == kept, f"{name}: the rerun resumed each archive from its .part")


# --- bad flags, paths, names and special files: refused before any work -------------------------------------------

def _user_archive(folder: Path, name: str, seed: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(_served_archive(seed, 4_000))
    return path


@case("download", "bad_numeric_flags", "--timeout -1 / 0, --retries -1, --backoff nan, --jobs huge: exit 2 naming "
      "the flag, before any request or file")
def _bad_flags(c: Check) -> None:
    from amass_fast.harness.testserver import AmassTestServer

    out = c.dir / "out"
    bad = [("--timeout", "-1"), ("--timeout", "0"), ("--retries", "-1"), ("--backoff", "nan"),
           ("--jobs", "100000000"), ("--jobs", "0"), ("--retries", "many")]
    with AmassTestServer({"ACCAD": _served_archive(7)}, USER, PASSWORD) as server:
        runs = {f"{flag} {value}": _amass_fast([*_download_args(server, out), flag, value], env=_download_env(c))
                for flag, value in bad}
    for what, proc in runs.items():
        _refused(c, what, proc, [f"argument {what.split()[0]}"])
    c.expect(not server.requests, "no request was sent")
    c.expect(not out.exists(), "nothing was written")


@case("download", "out_is_a_file", "--out names a file (or a path under one): exit 2 naming it, before any work; "
      "the file is untouched")
def _out_is_a_file(c: Check) -> None:
    downloads = c.dir / "Downloads"
    _user_archive(downloads, "ACCAD.tar.bz2", 8)
    target = c.dir / "archives.bin"
    target.write_bytes(b"precious")
    runs = [_amass_fast(["download", "--from-dir", str(downloads), "--out", str(out)], env=_download_env(c))
            for out in (target, target / "sub")]
    c.did = "; ".join(f"exit {p.returncode}: {_short(p.stderr, 90)}" for p in runs)
    for proc in runs:
        c.expect(proc.returncode == 2 and "--out" in proc.stderr and str(target) in proc.stderr and
                 "not a folder" in proc.stderr, "exit 2; the message names --out and the file")
    c.expect(target.read_bytes() == b"precious", "the file is untouched")


@case("download", "unknown_dataset_names", "--datasets CMU nope zzz: exit 2 naming nope and zzz and listing the "
      "valid names; nothing fetched (CMU is not fetched without the others)")
def _unknown_names(c: Check) -> None:
    from amass_fast.io import catalog
    from amass_fast.harness.testserver import AmassTestServer

    out = c.dir / "out"
    with AmassTestServer({"CMU": _served_archive(9)}, USER, PASSWORD) as server:
        args = [a for a in _download_args(server, out) if a != "ACCAD"]
        args[args.index("--datasets") + 1:args.index("--datasets") + 1] = ["CMU", "nope", "zzz"]
        proc = _amass_fast(args, env=_download_env(c))
    c.did = f"exit {proc.returncode}: {_short(proc.stderr, 140)}"
    c.expect(proc.returncode == 2, "exit status 2")
    c.expect("'nope'" in proc.stderr and "'zzz'" in proc.stderr, "every unknown name is given")
    c.expect(all(name in proc.stderr for name in catalog.ALL), "the valid names are listed")
    c.expect(not server.requests and not out.exists(), "nothing was fetched or written")


@case("download", "special_files_in_from_dir", "--from-dir holding a fifo named CMU.tar.bz2: listed as skipped, "
      "never opened (no blocking); the real archive beside it imported; a fifo as --from-dir: exit 2")
def _special_from_dir(c: Check) -> None:
    import os

    _require_fifo(c)
    downloads, out = c.dir / "Downloads", c.dir / "out"
    accad = _user_archive(downloads, "ACCAD.tar.bz2", 10)
    os.mkfifo(downloads / "CMU.tar.bz2")
    os.mkfifo(c.dir / "pipe")
    proc = _amass_fast(["download", "--from-dir", str(downloads), "--out", str(out)], env=_download_env(c), timeout=60)
    pipe = _amass_fast(["download", "--from-dir", str(c.dir / "pipe"), "--out", str(out)], env=_download_env(c),
                       timeout=60)
    c.did = f"exit {proc.returncode}: {_short(proc.stderr, 100)}; fifo as --from-dir: exit {pipe.returncode}"
    c.expect(proc.returncode == 0 and (out / "ACCAD.tar.bz2").read_bytes() == accad.read_bytes(),
             "the real archive is imported")
    c.expect("CMU.tar.bz2" in proc.stderr and "pipe" in proc.stderr and "skipped" in proc.stderr,
             "the fifo is named and said to be skipped")
    c.expect(not (out / "CMU.tar.bz2").exists(), "nothing imported for the fifo")
    c.expect(pipe.returncode == 2 and "--from-dir" in pipe.stderr, "a fifo as --from-dir: exit 2 naming the flag")


@case("download", "silent_server", "a server that accepts the request and never answers: each attempt ends at "
      "--timeout, then the dataset fails (exit 1) saying to rerun; nothing blocks")
def _silent(c: Check) -> None:
    from amass_fast.harness.testserver import AmassTestServer

    out = c.dir / "out"
    with AmassTestServer({"ACCAD": _served_archive(11)}, USER, PASSWORD, mode="silent") as server:
        args = _download_args(server, out)
        args[args.index("--timeout") + 1] = "0.5"
        started = time.monotonic()
        proc = _amass_fast(args, env=_download_env(c), timeout=60)
        seconds = time.monotonic() - started
    c.did = f"exit {proc.returncode} after {seconds:.1f} s and {len(server.requests)} request(s)"
    c.expect(proc.returncode == 1, "exit status 1")
    c.expect(len(server.requests) == 2, "two attempts (--retries 1)")
    c.expect("gave up" in proc.stdout and "timed out" in proc.stdout, "says it gave up after timeouts")
    c.expect(not (out / "ACCAD.tar.bz2").exists(), "no archive under the final name")
