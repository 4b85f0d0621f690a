"""The case loop of the randomised checks (dcm2niix-differential.py, deid-preserves-conversion.py,
stats-differential.py): each case in a folder of its own under a temporary one, a case with
problems kept as ./PREFIX-N/ and printed, the rest deleted."""
import os
import shutil
import tempfile


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
