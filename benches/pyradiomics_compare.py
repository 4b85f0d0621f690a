"""Run pyradiomics on the same images and masks as `ancilla features` and compare (used by
benches/pyradiomics.sh). Prints the pyradiomics wall time and, per shared feature, the largest
relative difference over the ROIs. Feature map (IBSI tag → pyradiomics name); IBSI's kurtosis is
excess kurtosis, pyradiomics' is not (+3)."""
import csv
import sys
import time

import SimpleITK as sitk  # noqa: F401  (pyradiomics reads through it)
from radiomics import featureextractor
import logging

logging.getLogger("radiomics").setLevel(logging.ERROR)

SHARED = {
    "morph_volume": ("shape_MeshVolume", 0.0),
    "morph_vol_approx": ("shape_VoxelVolume", 0.0),
    "morph_area_mesh": ("shape_SurfaceArea", 0.0),
    "morph_sphericity": ("shape_Sphericity", 0.0),
    "morph_diam": ("shape_Maximum3DDiameter", 0.0),
    "morph_pca_elongation": ("shape_Elongation", 0.0),
    "morph_pca_flatness": ("shape_Flatness", 0.0),
    "stat_mean": ("firstorder_Mean", 0.0),
    "stat_median": ("firstorder_Median", 0.0),
    "stat_min": ("firstorder_Minimum", 0.0),
    "stat_max": ("firstorder_Maximum", 0.0),
    "stat_p10": ("firstorder_10Percentile", 0.0),
    "stat_p90": ("firstorder_90Percentile", 0.0),
    "stat_iqr": ("firstorder_InterquartileRange", 0.0),
    "stat_range": ("firstorder_Range", 0.0),
    "stat_mad": ("firstorder_MeanAbsoluteDeviation", 0.0),
    "stat_rmad": ("firstorder_RobustMeanAbsoluteDeviation", 0.0),
    "stat_var": ("firstorder_Variance", 0.0),
    "stat_skew": ("firstorder_Skewness", 0.0),
    "stat_kurt": ("firstorder_Kurtosis", -3.0),
    "stat_energy": ("firstorder_Energy", 0.0),
    "stat_rms": ("firstorder_RootMeanSquared", 0.0),
}


def box_mask(labels_path, out_path):
    """Label 1 = the bounding box of labels 1 and 2 grown by 3 voxels: a region with tumour,
    kidney and background in it, so the intensity statistics are not those of a uniform region."""
    import numpy as np

    img = sitk.ReadImage(labels_path)
    a = sitk.GetArrayFromImage(img)
    idx = np.argwhere((a == 1) | (a == 2))
    lo = np.maximum(idx.min(axis=0) - 3, 0)
    hi = np.minimum(idx.max(axis=0) + 4, a.shape)
    b = np.zeros(a.shape, dtype=np.uint8)
    b[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = 1
    out = sitk.GetImageFromArray(b)
    out.CopyInformation(img)
    sitk.WriteImage(out, out_path)


def main():
    if sys.argv[1] == "box":
        box_mask(sys.argv[2], sys.argv[3])
        return
    # args: ancilla_csv image mask label=name... [image mask label=name...] separated by "--"
    ours_csv = sys.argv[1]
    jobs, cur = [], []
    for a in sys.argv[2:] + ["--"]:
        if a == "--":
            if cur:
                jobs.append(cur)
            cur = []
        else:
            cur.append(a)
    ours = {}
    with open(ours_csv) as f:
        for row in csv.DictReader(f):
            ours[(row["image"], row["roi"], row["feature"])] = float(row["value"] or "nan")
    settings = {"binWidth": 0.25, "additionalInfo": False}
    ex = featureextractor.RadiomicsFeatureExtractor(**settings)
    ex.disableAllFeatures()
    ex.enableFeatureClassByName("shape")
    ex.enableFeatureClassByName("firstorder")
    results = []
    elapsed = 0.0  # the timed ROIs: all but the comparison-only "box"
    for job in jobs:
        image_kind, image, mask, labels = job[0], job[1], job[2], job[3:]
        for lab in labels:
            n, name = lab.split("=")
            t0 = time.perf_counter()
            r = ex.execute(image, mask, label=int(n))
            if name != "box":
                elapsed += time.perf_counter() - t0
            results.append((image_kind, name, r))
    print(f"pyradiomics_seconds {elapsed:.3f}")
    worst = {}
    for image_kind, roi, r in results:
        for ibsi, (py, shift) in SHARED.items():
            a = ours.get((image_kind, roi, ibsi))
            py = "original_" + py
            if a is None or py not in r:
                continue
            # Skewness and kurtosis of a uniform region (variance 0) are conventions, not values
            # (ancilla 0, pyradiomics 0 before its shift): not compared.
            if ibsi in ("stat_skew", "stat_kurt") and ours.get((image_kind, roi, "stat_var")) == 0.0:
                continue
            b = float(r[py]) + shift
            rel = abs(a - b) / max(abs(b), 1e-12)
            key = ibsi
            if rel >= worst.get(key, (-1,))[0]:
                worst[key] = (rel, image_kind, roi, a, b)
    for k in SHARED:
        if k in worst:
            rel, img, roi, a, b = worst[k]
            print(f"{k:22s} max rel diff {rel:.2e}  ({img}/{roi}: ancilla {a:.6g}, pyradiomics {b:.6g})")


main()
