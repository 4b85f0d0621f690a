#!/usr/bin/env python3
"""Damage phantom files one byte at a time and look for the subject's identifiers in what
`ancilla deid` releases (DICOM PS3.15 Annex E: nothing identifying may leave).

Each case copies one file of a one-subject phantom (a PET, a DWI and a T2 slice: nested
sequences, private blocks, fake PHI in every header), overwrites 1 to 5 bytes of its header
(tags, VRs, lengths, values) with random bytes or with ones that make VR codes, de-identifies it
alone and searches every byte of the release for the original identifiers (names and each of
their parts, IDs, birth date, institution, station, serial number, addresses, accession, UIDs).
Also reported: runs that end in a panic (the process, or a file's "internal error").

Usage: benches/deid-damage.py [CASES] [SEED]   (default 300, 1)
Needs pydicom (pip install pydicom) and a release build (ANCILLA_BIN, default
target/release/ancilla). A leak copies the damaged input to ./deid-damage-leak-N.dcm.
"""
import glob
import os
import random
import shutil
import subprocess
import sys
import tempfile
import warnings

import pydicom

warnings.simplefilter("ignore")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("ANCILLA_BIN", os.path.join(ROOT, "target/release/ancilla"))
IDENTIFYING = {"PatientID", "PatientBirthDate", "InstitutionName", "InstitutionAddress",
               "PatientAddress", "StationName", "DeviceSerialNumber", "AccessionNumber",
               "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID",
               "FrameOfReferenceUID", "OtherPatientIDs", "PatientTelephoneNumbers"}


def identifiers(paths):
    """The identifying values of the files, as bytes (5 characters or more)."""
    found = set()
    for path in paths:
        for e in pydicom.dcmread(path).iterall():
            if not e.value:
                continue
            if e.VR == "PN":
                parts = str(e.value).replace("^", " ").split()
                found.update(p for p in parts if len(p) > 3)
            elif e.keyword in IDENTIFYING:
                found.add(str(e.value))
    return [f.encode() for f in found if len(f) >= 5]


def main():
    cases = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    work = tempfile.mkdtemp()
    try:
        subprocess.run([BIN, "--quiet", "phantom", "--out", f"{work}/ph", "--subjects", "1",
                        "--seed", "3"], check=True, capture_output=True)
        export = f"{work}/ph/site-export"
        sources = [sorted(glob.glob(f"{export}/**/{series}/*.dcm", recursive=True))[0]
                   for series in ("003_PET_WB_AC", "006_ep2d_diff", "004_t2_haste_ax_obl")]
        phi = identifiers(sources)
        originals = {s: open(s, "rb").read() for s in sources}
        released = leaks = panics = 0
        for case in range(cases):
            source = rng.choice(sources)
            data = bytearray(originals[source])
            header_end = data.rfind(b"\xe0\x7f\x10\x00") + 12
            for _ in range(rng.randint(1, 5)):
                at = rng.randint(132, header_end)
                data[at] = rng.choice([rng.randint(0, 255), 0, 0xFF] + list(b"UNSQ"))
            case_dir = f"{work}/case"
            shutil.rmtree(case_dir, ignore_errors=True)
            os.makedirs(f"{case_dir}/in")
            with open(f"{case_dir}/in/f.dcm", "wb") as f:
                f.write(bytes(data))
            run = subprocess.run(
                [BIN, "--quiet", "deid", f"{case_dir}/in", "--out", f"{case_dir}/out",
                 "--key", f"{work}/ph/key.bin", "--subjects",
                 f"{work}/ph/clinical/subject_map.csv"], capture_output=True)
            if b"internal error" in run.stderr or run.returncode > 3:
                panics += 1
                print(f"case {case}: internal error (exit {run.returncode})")
            for path in glob.glob(f"{case_dir}/out/**/*", recursive=True):
                if not os.path.isfile(path):
                    continue
                body = open(path, "rb").read()
                hits = [p.decode(errors="replace") for p in phi if p in body]
                released += path.endswith(".dcm")
                if hits:
                    leaks += 1
                    shutil.copy(f"{case_dir}/in/f.dcm", f"deid-damage-leak-{case}.dcm")
                    print(f"case {case}: {os.path.basename(path)} holds {len(hits)} identifier(s)")
        print(f"{cases} damaged files, {released} released, {leaks} with an identifier, "
              f"{panics} internal errors")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
