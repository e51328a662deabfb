"""`amass-fast selftest --hostile`: the table, --json, and a non-zero exit when a case fails."""
import json

from amass_fast.selftest import cases as hostile
from amass_fast.cli import main


def test_selftest_prints_a_table_and_exits_zero(capsys):
    assert main(["selftest", "--hostile", "--groups", "models"]) == 0
    out = capsys.readouterr().out
    for c in hostile.cases(["models"]):
        assert c.name in out
    assert f"{len(hostile.cases(['models']))} passed, 0 failed" in out


def test_selftest_json(capsys):
    assert main(["selftest", "--hostile", "--groups", "models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == [c.name for c in hostile.cases(["models"])]
    assert all(r["status"] == "pass" and r["did"] for r in rows)


def test_selftest_fails_when_a_case_fails(monkeypatch, capsys):
    def broken(check):
        check.did = "accepted a broken file"
        check.expect(False, "a FormatError")

    monkeypatch.setattr(hostile, "CASES", [hostile.Case("models", "always_fails", "an error", broken)])
    assert main(["selftest", "--hostile", "--groups", "models"]) == 1
    captured = capsys.readouterr()
    assert "always_fails" in captured.out and "FAILED: a FormatError" in captured.out
    assert "always_fails" in captured.err


def test_selftest_needs_a_check(capsys):
    assert main(["selftest"]) == 2
    assert "--hostile" in capsys.readouterr().err


def test_a_crashing_case_is_a_failure(tmp_path):
    def crashes(check):
        raise RuntimeError("boom")

    result = hostile.run_case(hostile.Case("files", "crash", "no crash", crashes), tmp_path)
    assert result.status == "fail" and "RuntimeError: boom" in result.problems[0]
