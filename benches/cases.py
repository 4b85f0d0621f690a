"""The case loop of the randomised checks (dcm2niix-differential.py, deid-preserves-conversion.py,
stats-differential.py): each case in a folder of its own under a temporary one, a case with
problems kept as ./PREFIX-N/ and printed, the rest deleted. Also the distinctive random tokens
the de-identification checks plant (deid-profile-differential.py, phi-anywhere.py), and a random
rotation (nifti-conventions.py, other-writers.py)."""
import os
import shutil
import tempfile

# Value representations of text, where the de-identification checks plant identifiers.
TEXT_VRS = {"LO", "SH", "ST", "LT", "UT", "UC", "CS", "PN", "AE", "UR"}
# Attributes whose values identify the patient, a person or a place: ancilla cleans their values
# out of the same file's descriptors (PN attributes count as well).
IDENTIFYING = {"PatientID", "OtherPatientIDs", "IssuerOfPatientID", "MedicalRecordLocator",
               "AdmissionID", "ServiceEpisodeID", "AccessionNumber", "StudyID",
               "PatientAddress", "PatientTelephoneNumbers", "InstitutionName",
               "InstitutionAddress", "StationName", "DeviceSerialNumber", "RequestedProcedureID",
               "PerformedProcedureStepID", "ScheduledProcedureStepID",
               "PlacerOrderNumberImagingServiceRequest", "FillerOrderNumberImagingServiceRequest",
               "PersonAddress", "PersonTelephoneNumbers", "ReferringPhysicianAddress",
               "ReferringPhysicianTelephoneNumbers", "RegionOfResidence",
               "PatientInstitutionResidence"}


def keep(case, prefix, i, title, problems):
    """Keep a case with problems as ./PREFIX-I/ and print them."""
    kept = f"{prefix}-{i}"
    shutil.rmtree(kept, ignore_errors=True)
    shutil.copytree(case, kept)
    print(f"case {i}: {title}")
    for problem in problems:
        print(f"    {problem}")


def run(cases, prefix, one_case):
    """Run `one_case(i, folder, work)` for i in 0..cases; it returns (title, problems), or None
    to skip the case. `work` is the temporary folder around the cases (for files they share).
    Returns the number of cases with problems."""
    work = tempfile.mkdtemp()
    failed = 0
    try:
        for i in range(cases):
            case = os.path.join(work, f"c{i}")
            os.makedirs(case)
            result = one_case(i, case, work)
            if result is not None and result[1]:
                failed += 1
                keep(case, prefix, i, *result)
            shutil.rmtree(case)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return failed


def unique_token(rng, used, n=None, alpha=False):
    """A random token not in `used` (compared lower-cased; added to it): a capital letter, then
    capitals (and, unless `alpha`, digits 2-9, at least one of them), `n` characters in all
    (8-10 when None). No 0/O or 1/I, so a token never reads as another."""
    chars = "ABCDEFGHJKLMNPQRSTUVWXYZ" + ("" if alpha else "23456789")
    while True:
        n2 = n or rng.randint(8, 10)
        t = rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") + "".join(
            rng.choice(chars) for _ in range(n2 - 1))
        if not alpha and not any(c.isdigit() for c in t):
            continue
        if t.lower() not in used:
            used.add(t.lower())
            return t


def rotation(rng):
    """A uniformly random rotation (from a unit quaternion); `rng` is a numpy Generator."""
    import numpy as np  # only the checks that turn grids need numpy
    a, b, c, d = (q := rng.normal(size=4)) / np.linalg.norm(q)
    return np.array([
        [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
        [2 * (b * c + a * d), a * a - b * b + c * c - d * d, 2 * (c * d - a * b)],
        [2 * (b * d - a * c), 2 * (c * d + a * b), a * a - b * b - c * c + d * d],
    ])
