"""Build amass_fast/data/cmu_descriptions.tsv from the CMU motion-capture index (B. Hahne's full file listing).

    python tools/make_cmu_table.py /work/shared/data/cmu-mocap-index.txt amass_fast/data/cmu_descriptions.tsv

The index lists subjects ("Subject #1 (climb, swing, hang on playground equipment)") and trials
("01_01<TAB>playground - forward jumps, turn around"). The table keeps what amass_fast.labels needs, one row each:

    1<TAB>climb, swing, hang on playground equipment       a subject: its number, its description
    1_1<TAB>playground - forward jumps, turn around        a trial: subject_trial without zero padding

Trial descriptions that say nothing about the motion ("Unknown", "clean", "90_10.amc", "bad AMC", a bare number)
are left out, so the labeler falls back to the subject's description for them.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

_SUBJECT = re.compile(r"^Subject #(\d+)\s*\((.*)\)\s*$")
_TRIAL = re.compile(r"^(\d+)_(\d+)\t(.*)$")
_UNINFORMATIVE = re.compile(r"^(unknown|clean(ed)?|bad amc|[\d_]+\.amc|[\d\s.,-]*)$", re.IGNORECASE)


def parse_index(text: str) -> list[tuple[str, str]]:
    """(key, description) rows: subjects as "7", trials as "7_12", in the order of the index."""
    rows = []
    for line in text.splitlines():
        line = line.strip("\r\n")
        if m := _SUBJECT.match(line.strip()):
            rows.append((str(int(m.group(1))), " ".join(m.group(2).split())))
        elif m := _TRIAL.match(line):
            description = " ".join(m.group(3).replace("\t", " ").split())
            if not _UNINFORMATIVE.match(description):
                rows.append((f"{int(m.group(1))}_{int(m.group(2))}", description))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index", type=Path, help="cmu-mocap-index.txt")
    parser.add_argument("out", type=Path, help="the .tsv to write")
    args = parser.parse_args(argv)
    rows = parse_index(args.index.read_text(encoding="utf-8"))
    header = ("# CMU motion-capture descriptions, from B. Hahne's cmu-mocap-index.txt (v1.00, 2008); written by\n"
              "# tools/make_cmu_table.py. Rows: subject<TAB>description, or subject_trial<TAB>description.\n")
    args.out.write_text(header + "".join(f"{key}\t{text}\n" for key, text in rows), encoding="utf-8")
    print(f"{args.out}: {sum('_' in k for k, _ in rows)} trials, {sum('_' not in k for k, _ in rows)} subjects")
    return 0


if __name__ == "__main__":
    sys.exit(main())
