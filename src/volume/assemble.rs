//! DICOM series → volumes.
