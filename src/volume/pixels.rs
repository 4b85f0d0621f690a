//! Pixel decoding.
