//! Regions of interest: NIfTI label maps, DICOM SEG, RTSTRUCT; resampling onto an image grid.
