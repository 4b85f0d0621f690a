"""Regenerates the legacy converted enhanced fixtures of this folder (run once; tests never call
Python). A tiny classic PET series (3 slices of 8x8, Bq/ml, DecayCorrection START) and a tiny
classic DWI series (2 slices x b = 0 / 800) are written with pydicom, then converted by highdicom's
LegacyConvertedEnhancedPETImage / LegacyConvertedEnhancedMRImage (PS3.3 A.72: the classic
attributes its converter places in no functional group go to the Unassigned Shared / Per-Frame
Converted Attributes Sequences). Values are known: PET stored value 100*k + 10*row + col with
RescaleSlope 2 (k = slice); injection 10:00:00 of 370 MBq F-18 (half-life 6586.2 s), series start
11:00:00, weight 70 kg. Usage: python make_fixtures.py (needs pydicom 3, highdicom 0.28, numpy).
"""
import os

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, PositronEmissionTomographyImageStorage, MRImageStorage
from highdicom.legacy import LegacyConvertedEnhancedPETImage, LegacyConvertedEnhancedMRImage

ROOT = "1.2.826.0.1.3680043.10.999.77"
N = 8


def classic(sop_class, modality, series, k, pixels):
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = f"{ROOT}.{series}.{k + 1}"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyInstanceUID = f"{ROOT}.1"
    ds.SeriesInstanceUID = f"{ROOT}.{series}"
    ds.FrameOfReferenceUID = f"{ROOT}.9"
    ds.PatientID, ds.PatientName, ds.PatientSex = "LC-01", "LC^Phantom", "M"
    ds.PatientBirthDate, ds.StudyID, ds.AccessionNumber = "", "1", ""
    ds.ReferringPhysicianName, ds.StudyDate, ds.StudyTime = "", "20240102", "100000"
    ds.SeriesDate, ds.SeriesTime = "20240102", "110000"
    ds.AcquisitionDate, ds.AcquisitionTime, ds.ContentDate, ds.ContentTime = "20240102", "110000", "20240102", "110000"
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber = modality, series, k + 1
    ds.Manufacturer = "SIEMENS"
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [2, 2]
    ds.SliceThickness = 4
    ds.Rows = ds.Columns = N
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit, ds.PixelRepresentation = 15, 0
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    return ds


def pet():
    out = []
    r, c = np.mgrid[0:N, 0:N]
    for k in range(3):
        ds = classic(PositronEmissionTomographyImageStorage, "PT", 3, k, 100 * k + 10 * r + c)
        ds.ImagePositionPatient = [-8, -8, 4 * k]
        ds.RescaleSlope, ds.RescaleIntercept = 2, 0
        ds.Units, ds.DecayCorrection, ds.CorrectedImage = "BQML", "START", ["ATTN", "DECY"]
        ds.PatientWeight, ds.PatientSize = 70, 1.75
        ds.ActualFrameDuration, ds.FrameReferenceTime, ds.DecayFactor = 120000, 0, 1
        ds.SeriesType, ds.CountsSource = ["STATIC", "IMAGE"], "EMISSION"
        ds.NumberOfSlices, ds.ImageIndex = 3, k + 1
        rp = Dataset()
        rp.Radiopharmaceutical = "PSMA"
        rp.RadiopharmaceuticalStartTime = "100000"
        rp.RadionuclideTotalDose = 370000000
        rp.RadionuclideHalfLife = 6586.2
        ds.RadiopharmaceuticalInformationSequence = Sequence([rp])
        out.append(ds)
    return out


def dwi():
    out = []
    r, c = np.mgrid[0:N, 0:N]
    n = 0
    for b in (0, 800):
        for k in range(2):
            ds = classic(MRImageStorage, "MR", 6, n, 1000 - b // 2 + 10 * r + c + k)
            n += 1
            ds.ImagePositionPatient = [-8, -8, 4 * k]
            ds.ScanningSequence, ds.SequenceVariant, ds.MRAcquisitionType = "EP", "SK", "2D"
            ds.EchoTime, ds.RepetitionTime, ds.MagneticFieldStrength = 80, 4000, 1.5
            ds.DiffusionBValue = float(b)
            ds.DiffusionGradientOrientation = [0.0, 0.0, 0.0] if b == 0 else [1.0, 0.0, 0.0]
            ds.ImageType = ["ORIGINAL", "PRIMARY", "DIFFUSION", "NONE"]
            out.append(ds)
    return out


def pet_as(series, manufacturer):
    """The `pet()` series again as series number `series` of `manufacturer`."""
    out = []
    for ds in pet():
        ds.SeriesInstanceUID = f"{ROOT}.{series}"
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = f"{ROOT}.{series}.{ds.InstanceNumber}"
        ds.SeriesNumber, ds.Manufacturer = series, manufacturer
        out.append(ds)
    return out


def pet_ge():
    """GE-style, reprocessed: SeriesTime 13:00:00 after the acquisition (11:00:00), the true
    reference in GE's private PET block (0009,100D) = 11:00:00; FrameReferenceTime 0 of a 120 s
    frame, so the back-computation QIBA allows without it would be about 60 s later."""
    out = pet_as(4, "GE MEDICAL SYSTEMS")
    for ds in out:
        ds.SeriesTime = "130000"
        ds.private_block(0x0009, "GEMS_PETD_01", create=True).add_new(0x0D, "DT", "20240102110000")
    return out


def pet_philips():
    """Philips-style: Units CNTS, SUV scale factor (7053,1000) 0.000321 and activity
    concentration scale factor (7053,1009) 1.25 in the private block "Philips PET Private Group"."""
    out = pet_as(5, "Philips Medical Systems")
    for ds in out:
        ds.Units = "CNTS"
        block = ds.private_block(0x7053, "Philips PET Private Group", create=True)
        block.add_new(0x00, "DS", "0.000321")
        block.add_new(0x09, "DS", "1.25")
    return out


def adc():
    """A scanner's ADC map (ImageType DERIVED\\PRIMARY\\DIFFUSION\\ADC, no b-value), which highdicom
    converts with NONE as ImageType's fourth value: only SeriesDescription still says ADC."""
    out = []
    r, c = np.mgrid[0:N, 0:N]
    for k in range(2):
        ds = classic(MRImageStorage, "MR", 7, k, 1500 + 10 * r + c + k)
        ds.ImagePositionPatient = [-8, -8, 4 * k]
        ds.ScanningSequence, ds.SequenceVariant, ds.MRAcquisitionType = "EP", "SK", "2D"
        ds.EchoTime, ds.RepetitionTime, ds.MagneticFieldStrength = 80, 4000, 1.5
        ds.ImageType = ["DERIVED", "PRIMARY", "DIFFUSION", "ADC"]
        ds.SeriesDescription = "ep2d_diff_ADC"
        out.append(ds)
    return out


for name, series, cls in (("pet", pet(), LegacyConvertedEnhancedPETImage), ("dwi", dwi(), LegacyConvertedEnhancedMRImage),
                          ("pet-ge", pet_ge(), LegacyConvertedEnhancedPETImage),
                          ("pet-philips", pet_philips(), LegacyConvertedEnhancedPETImage),
                          ("adc", adc(), LegacyConvertedEnhancedMRImage)):
    lc = cls(series, series_instance_uid=f"{ROOT}.{100 + series[0].SeriesNumber}",
             series_number=100 + series[0].SeriesNumber,
             sop_instance_uid=f"{ROOT}.{100 + series[0].SeriesNumber}.1", instance_number=1)
    os.makedirs(name, exist_ok=True)
    lc.save_as(f"{name}/lc.dcm", enforce_file_format=True)
