//! De-identification on the encoded bytes: the profile of [`super::apply`] (PS3.15 Annex E,
//! Table E.1-1 under the study's options) applied element by element to a Part-10 file in
//! explicit VR little endian (PS3.5 §7.1.2; native or encapsulated Pixel Data, §A.4), without
//! building dicom-rs's in-memory object. Kept values are copied as their bytes; only values that
//! change are decoded and encoded again, in the file's character set (default repertoire,
//! ISO_IR 100 or ISO_IR 192).
//!
//! Its output is, byte for byte, what the object path (`apply::transform`, then dicom-rs's
//! writer) makes of the same file: sequences and items of undefined length, values padded to an
//! even length, and the same counts. A file it does not take on — another transfer syntax or
//! character set, elements out of order, an odd length, a value the object path would read
//! otherwise than as its bytes — is declined ([`Decline`]) and left to the object path, never
//! guessed at.

use std::borrow::Cow;
use std::collections::HashSet;

use dicom_core::{Tag, VR};
use dicom_dictionary_std::tags;
use dicom_encoding::transfer_syntax::{Endianness, TransferSyntaxIndex};

use super::apply::{self, Cleaning, Context};
use super::clean;
use super::options::Action;
use super::verify::{is_creator, note_uid};

const UNDEFINED: u32 = u32::MAX;
const ITEM: Tag = Tag(0xFFFE, 0xE000);
const ITEM_END: Tag = Tag(0xFFFE, 0xE00D);
const SEQUENCE_END: Tag = Tag(0xFFFE, 0xE0DD);
/// Deeper nesting is left to the object path (the length check allows 64 levels).
const MAX_DEPTH: usize = 64;
/// Explicit VR little endian, the native syntax this path takes besides the encapsulated ones.
const EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1";

/// The file is left to the object path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decline;

type Taken<T> = Result<T, Decline>;

fn declined<T>(v: Option<T>) -> Taken<T> {
    v.ok_or(Decline)
}

/// The character sets whose text this path decodes and encodes itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Charset {
    /// The default repertoire: ASCII only here.
    Default,
    /// ISO_IR 100.
    Latin1,
    /// ISO_IR 192.
    Utf8,
}

struct Element<'a> {
    tag: Tag,
    vr: VR,
    /// Where its header starts in the file.
    at: usize,
    value: Value<'a>,
}

enum Value<'a> {
    Bytes(&'a [u8]),
    Items(Vec<Vec<Element<'a>>>),
    /// Encapsulated Pixel Data: its items (offset table and fragments), without the delimiter.
    Encapsulated(&'a [u8]),
}

/// A file read for this path: its data set as elements over the file's bytes.
pub struct File<'a> {
    bytes: &'a [u8],
    elements: Vec<Element<'a>>,
    charset: Charset,
    pub transfer_syntax: String,
    /// MediaStorageSOPInstanceUID of the file meta group (trailing NULs removed).
    pub media_sop_instance: String,
}

fn u16_at(b: &[u8], at: usize) -> Taken<u16> {
    let s = declined(b.get(at..at.checked_add(2).ok_or(Decline)?))?;
    Ok(u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], at: usize) -> Taken<u32> {
    let s = declined(b.get(at..at.checked_add(4).ok_or(Decline)?))?;
    Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn tag_at(b: &[u8], at: usize) -> Taken<Tag> {
    Ok(Tag(u16_at(b, at)?, u16_at(b, at + 2)?))
}

/// VRs with a 4-byte length after two reserved bytes (PS3.5 Table 7.1-1).
fn long_length(vr: VR) -> bool {
    matches!(
        vr,
        VR::OB
            | VR::OD
            | VR::OF
            | VR::OL
            | VR::OV
            | VR::OW
            | VR::SQ
            | VR::SV
            | VR::UC
            | VR::UN
            | VR::UR
            | VR::UT
            | VR::UV
    )
}

/// VRs dicom-rs reads as text (the others as numbers or bytes).
fn is_text(vr: VR) -> bool {
    crate::ingest::values::is_text_vr(vr)
}

/// VRs always in the default repertoire, whatever the data set's character set (PS3.5 §6.1.2.3).
fn default_repertoire(vr: VR) -> bool {
    matches!(
        vr,
        VR::AE | VR::AS | VR::CS | VR::DA | VR::DS | VR::DT | VR::IS | VR::TM | VR::UI | VR::UR
    )
}

/// An explicit VR element header at `at`: tag, VR, length and where the value starts.
fn element_header(b: &[u8], at: usize) -> Taken<(Tag, VR, u32, usize)> {
    let tag = tag_at(b, at)?;
    let code = declined(b.get(at + 4..at + 6))?;
    let vr = declined(VR::from_binary([code[0], code[1]]))?;
    if long_length(vr) {
        Ok((tag, vr, u32_at(b, at + 8)?, at + 12))
    } else {
        Ok((tag, vr, u32::from(u16_at(b, at + 6)?), at + 8))
    }
}

/// Where a data set ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    /// At this byte (an item of defined length).
    At(usize),
    /// At an item delimiter.
    Delimited,
    /// At the end of the file.
    File,
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn data_set(&mut self, end: End, depth: usize) -> Taken<Vec<Element<'a>>> {
        let mut out: Vec<Element<'a>> = Vec::new();
        loop {
            match end {
                End::At(e) if self.pos >= e => {
                    return if self.pos == e { Ok(out) } else { Err(Decline) };
                }
                End::File if self.pos >= self.b.len() => return Ok(out),
                _ => {}
            }
            let at = self.pos;
            let tag = tag_at(self.b, at)?;
            if tag == ITEM_END && end == End::Delimited {
                self.pos = at + 8;
                return Ok(out);
            }
            // Delimiters elsewhere, a file meta element in the data set, and elements out of
            // order (dicom-rs would sort them, and keep the last of two) are not taken on.
            if tag.group() == 0xFFFE
                || tag.group() == 0x0002
                || out.last().is_some_and(|l| l.tag >= tag)
                || (tag == tags::SPECIFIC_CHARACTER_SET && depth > 0)
            {
                return Err(Decline);
            }
            let (_, vr, len, value_at) = element_header(self.b, at)?;
            self.pos = value_at;
            let value = if vr == VR::SQ {
                Value::Items(self.items(len, depth + 1)?)
            } else if len == UNDEFINED {
                if tag != tags::PIXEL_DATA || !matches!(vr, VR::OB | VR::OW) {
                    return Err(Decline);
                }
                self.encapsulated()?
            } else {
                // A public attribute of unknown VR may be read otherwise by dicom-rs; an odd
                // length is padded by its writer.
                if (vr == VR::UN && tag.group() % 2 == 0) || len % 2 == 1 {
                    return Err(Decline);
                }
                let end = value_at.checked_add(len as usize).ok_or(Decline)?;
                let v = declined(self.b.get(value_at..end))?;
                self.pos = end;
                Value::Bytes(v)
            };
            out.push(Element { tag, vr, at, value });
        }
    }

    fn items(&mut self, len: u32, depth: usize) -> Taken<Vec<Vec<Element<'a>>>> {
        if depth > MAX_DEPTH {
            return Err(Decline);
        }
        let end = if len == UNDEFINED {
            None
        } else {
            Some(self.pos.checked_add(len as usize).ok_or(Decline)?)
        };
        let mut items = Vec::new();
        loop {
            if let Some(e) = end {
                if self.pos >= e {
                    return if self.pos == e {
                        Ok(items)
                    } else {
                        Err(Decline)
                    };
                }
            }
            let tag = tag_at(self.b, self.pos)?;
            let item_len = u32_at(self.b, self.pos + 4)?;
            self.pos += 8;
            if tag == SEQUENCE_END && end.is_none() {
                return Ok(items);
            }
            if tag != ITEM {
                return Err(Decline);
            }
            let set = if item_len == UNDEFINED {
                self.data_set(End::Delimited, depth)?
            } else {
                let e = self.pos.checked_add(item_len as usize).ok_or(Decline)?;
                self.data_set(End::At(e), depth)?
            };
            items.push(set);
        }
    }

    fn encapsulated(&mut self) -> Taken<Value<'a>> {
        let start = self.pos;
        loop {
            let tag = tag_at(self.b, self.pos)?;
            let len = u32_at(self.b, self.pos + 4)?;
            if tag == SEQUENCE_END {
                let items = &self.b[start..self.pos];
                self.pos += 8;
                return Ok(Value::Encapsulated(items));
            }
            if tag != ITEM || len == UNDEFINED {
                return Err(Decline);
            }
            let end = (self.pos + 8).checked_add(len as usize).ok_or(Decline)?;
            if end > self.b.len() {
                return Err(Decline);
            }
            self.pos = end;
        }
    }
}

/// Read `bytes` (a whole Part-10 file whose DICM code is at `magic_at`) for this path.
pub fn read(bytes: &[u8], magic_at: usize) -> Taken<File<'_>> {
    // The file meta group: explicit VR little endian, its length as the group length says.
    let start = magic_at + 4;
    let mut pos = start;
    let (mut transfer_syntax, mut media_sop_instance, mut group_length) = (None, None, None);
    while tag_at(bytes, pos).is_ok_and(|t| t.group() == 0x0002) {
        let (tag, _, len, value_at) = element_header(bytes, pos)?;
        let end = value_at.checked_add(len as usize).ok_or(Decline)?;
        let value = declined(bytes.get(value_at..end))?;
        let text = || -> Taken<String> {
            let t = std::str::from_utf8(value).map_err(|_| Decline)?;
            Ok(t.trim_end_matches('\0').to_string())
        };
        match tag {
            tags::FILE_META_INFORMATION_GROUP_LENGTH => group_length = Some(u32_at(value, 0)?),
            tags::TRANSFER_SYNTAX_UID => transfer_syntax = Some(text()?.trim().to_string()),
            tags::MEDIA_STORAGE_SOP_INSTANCE_UID => media_sop_instance = Some(text()?),
            _ => {}
        }
        pos = end;
    }
    let after_length_element = start + 12;
    if group_length.map(|g| after_length_element + g as usize) != Some(pos) {
        return Err(Decline);
    }
    let transfer_syntax = declined(transfer_syntax)?;
    let syntax =
        declined(dicom_transfer_syntax_registry::TransferSyntaxRegistry.get(&transfer_syntax))?;
    let taken = transfer_syntax == EXPLICIT_VR_LE
        || (syntax.is_encapsulated_pixel_data() && syntax.endianness() == Endianness::Little);
    if !taken {
        return Err(Decline);
    }
    let mut reader = Reader { b: bytes, pos };
    let elements = reader.data_set(End::File, 0)?;
    let mut file = File {
        bytes,
        elements,
        charset: Charset::Default,
        transfer_syntax,
        media_sop_instance: declined(media_sop_instance)?,
    };
    if let Some(code) = file.top_text(tags::SPECIFIC_CHARACTER_SET)? {
        let mut codes = code.split('\\').map(str::trim).filter(|s| !s.is_empty());
        file.charset = match (codes.next(), codes.next()) {
            (None | Some("ISO_IR 6"), None) => Charset::Default,
            (Some("ISO_IR 100"), None) => Charset::Latin1,
            (Some("ISO_IR 192"), None) => Charset::Utf8,
            _ => return Err(Decline),
        };
    }
    Ok(file)
}

impl<'a> File<'a> {
    /// A value's text as dicom-rs decodes it.
    fn text<'b>(&self, vr: VR, b: &'b [u8]) -> Taken<Cow<'b, str>> {
        if b.is_ascii() {
            // ASCII bytes are valid UTF-8.
            return std::str::from_utf8(b)
                .map(Cow::Borrowed)
                .map_err(|_| Decline);
        }
        match (self.charset, default_repertoire(vr)) {
            (Charset::Latin1, false) => Ok(Cow::Owned(b.iter().map(|&c| char::from(c)).collect())),
            (Charset::Utf8, false) => std::str::from_utf8(b)
                .map(Cow::Borrowed)
                .map_err(|_| Decline),
            _ => Err(Decline),
        }
    }

    /// Text encoded as dicom-rs's writer encodes it, appended to `out`.
    fn encode_text(&self, vr: VR, s: &str, out: &mut Vec<u8>) -> Taken<()> {
        if s.is_ascii() {
            out.extend_from_slice(s.as_bytes());
            return Ok(());
        }
        match (self.charset, default_repertoire(vr)) {
            (Charset::Latin1, false) => {
                for c in s.chars() {
                    out.push(u8::try_from(u32::from(c)).map_err(|_| Decline)?);
                }
                Ok(())
            }
            (Charset::Utf8, false) => {
                out.extend_from_slice(s.as_bytes());
                Ok(())
            }
            _ => Err(Decline),
        }
    }

    /// The text of a top-level attribute, if present.
    fn top_text(&self, tag: Tag) -> Taken<Option<Cow<'a, str>>> {
        let Ok(i) = self.elements.binary_search_by_key(&tag, |e| e.tag) else {
            return Ok(None);
        };
        let e = &self.elements[i];
        match e.value {
            Value::Bytes(b) if is_text(e.vr) => self.text(e.vr, b).map(Some),
            _ => Err(Decline),
        }
    }

    /// A top-level attribute's text, trimmed as `ingest::header::str_of` trims it; empty when
    /// absent.
    pub fn attribute(&self, tag: Tag) -> Taken<String> {
        Ok(self
            .top_text(tag)?
            .map(|t| {
                t.trim_matches(|c: char| c == '\0' || c.is_whitespace())
                    .to_string()
            })
            .unwrap_or_default())
    }

    /// The identifying values (what [`clean::identifiers`] is made of: [`clean::Notes`]) and
    /// the UIDs ([`super::verify::uids_of`]) of the data set, at every depth.
    pub fn notes_and_uids(&self) -> Taken<(clean::Notes, HashSet<String>)> {
        let mut notes = clean::Notes::default();
        let mut uids = HashSet::new();
        self.collect(&self.elements, &mut notes, &mut uids)?;
        Ok((notes, uids))
    }

    fn collect(
        &self,
        elements: &[Element],
        notes: &mut clean::Notes,
        uids: &mut HashSet<String>,
    ) -> Taken<()> {
        for e in elements {
            match &e.value {
                Value::Items(items) => {
                    for item in items {
                        self.collect(item, notes, uids)?;
                    }
                }
                Value::Bytes(b) => {
                    let kind = clean::identifying(e.tag, e.vr);
                    if kind.is_none() && e.vr != VR::UI {
                        continue;
                    }
                    if !is_text(e.vr) {
                        return Err(Decline);
                    }
                    let text = self.text(e.vr, b)?;
                    for s in text.split('\\') {
                        if let Some(kind) = kind {
                            notes.add(kind, s);
                        }
                        if e.vr == VR::UI {
                            note_uid(s, uids);
                        }
                    }
                }
                Value::Encapsulated(_) => {}
            }
        }
        Ok(())
    }

    /// The de-identified data set, appended to `out` (explicit VR little endian), with `set` —
    /// encoded top-level elements in tag order — put in place of any attribute of the same tag.
    /// Native Pixel Data that ends the file and is kept is not copied: its header offset is
    /// returned, and the caller writes the file's bytes from there as they are.
    pub fn transform(
        &self,
        ctx: &mut Context,
        set: &[(Tag, Vec<u8>)],
        out: &mut Vec<u8>,
    ) -> Taken<Option<usize>> {
        let mut pending = set.iter().peekable();
        let mut creators = Vec::new();
        let last = self.elements.len().saturating_sub(1);
        for (i, e) in self.elements.iter().enumerate() {
            while let Some((_, bytes)) = pending.next_if(|(t, _)| *t < e.tag) {
                out.extend_from_slice(bytes);
            }
            // Carried over unchecked, so only as the object path carries it: native Pixel Data of
            // a binary VR (one of another VR is checked as the text it claims to be).
            let tail = i == last
                && e.tag == tags::PIXEL_DATA
                && matches!(e.vr, VR::OB | VR::OW)
                && matches!(e.value, Value::Bytes(v) if v.as_ptr_range().end == self.bytes.as_ptr_range().end)
                && apply::action_for(e.tag, e.vr, &ctx.options) == Action::K;
            if tail {
                ctx.counts.action(Action::K);
                pending
                    .by_ref()
                    .for_each(|(_, bytes)| out.extend_from_slice(bytes));
                return Ok(Some(e.at));
            }
            let before = out.len();
            self.element(e, ctx, &mut creators, out)?;
            if let Some((_, bytes)) = pending.next_if(|(t, _)| *t == e.tag) {
                // Replaced (counted under its action all the same, as the object path counts it).
                out.truncate(before);
                out.extend_from_slice(bytes);
            }
        }
        pending.for_each(|(_, bytes)| out.extend_from_slice(bytes));
        Ok(None)
    }

    fn data_set(&self, elements: &[Element], ctx: &mut Context, out: &mut Vec<u8>) -> Taken<()> {
        let mut creators = Vec::new();
        for e in elements {
            self.element(e, ctx, &mut creators, out)?;
        }
        Ok(())
    }

    /// One element under the profile, as `apply::transform` treats it.
    fn element(
        &self,
        e: &Element,
        ctx: &mut Context,
        creators: &mut Vec<(Tag, String)>,
        out: &mut Vec<u8>,
    ) -> Taken<()> {
        let (tag, vr) = (e.tag, e.vr);
        if tag.group() % 2 == 1 {
            if is_creator(tag) {
                let Value::Bytes(b) = e.value else {
                    return Err(Decline);
                };
                if !is_text(vr) {
                    return Err(Decline);
                }
                let name = self.text(vr, b)?;
                creators.push((tag, name.trim().trim_end_matches('\0').to_string()));
            }
            if let Some(kind) = apply::reduced_kind(tag, |t| apply::creator_in(creators, t)) {
                let Value::Bytes(b) = e.value else {
                    return Err(Decline);
                };
                let reduced = apply::reduced_value(kind, b, ctx);
                ctx.counts.private(reduced.is_some());
                if let Some(r) = reduced {
                    header(out, tag, vr, u32::try_from(r.len()).map_err(|_| Decline)?)?;
                    out.extend_from_slice(&r);
                }
                return Ok(());
            }
            let safe = apply::on_safe_list(tag, |t| apply::creator_in(creators, t));
            let unread = !matches!(e.value, Value::Items(_))
                && apply::is_safe_sequence(tag, |t| apply::creator_in(creators, t));
            let valued = match &e.value {
                Value::Bytes(b) => {
                    apply::safe_value(tag, vr, |t| apply::creator_in(creators, t), b)
                }
                _ => true,
            };
            if ctx.options.retain_safe_private && safe && !unread && valued {
                ctx.counts.private(true);
                if let Value::Items(items) = &e.value {
                    // A safe private sequence: its items go through the profile too.
                    self.sequence(tag, items, ctx, out)?;
                } else if apply::shifted_private(tag, vr, |t| apply::creator_in(creators, t)) {
                    let days = ctx.date_offset_days;
                    self.rewrite(e, out, |v| apply::shift_dt(v, days).unwrap_or_default())?;
                } else {
                    self.copy(e, out)?;
                }
            } else {
                ctx.counts.private(false);
            }
            return Ok(());
        }
        // A public attribute that came as UN: the object path reads it by its dictionary VR.
        if vr == VR::UN {
            return Err(Decline);
        }
        let action = apply::action_for(tag, vr, &ctx.options);
        ctx.counts.action(action);
        let uids = ctx.uids;
        match (action, &e.value) {
            (Action::X, _) => {}
            (Action::Z, Value::Items(_)) => self.sequence(tag, &[], ctx, out)?,
            // As apply's dummy_sequence: as many items, each empty.
            (Action::D, Value::Items(items)) => {
                let empty: Vec<Vec<Element>> = items.iter().map(|_| Vec::new()).collect();
                self.sequence(tag, &empty, ctx, out)?
            }
            (_, Value::Items(items)) => self.sequence(tag, items, ctx, out)?,
            (_, Value::Encapsulated(items)) => {
                // dicom-rs writes encapsulated Pixel Data as OB, its items as they were.
                header(out, tag, VR::OB, UNDEFINED)?;
                out.extend_from_slice(items);
                header_item(out, SEQUENCE_END, 0);
            }
            (Action::Z, _) => header(out, tag, vr, 0)?,
            (Action::D, _) => {
                if !is_text(vr) {
                    return Err(Decline);
                }
                let dummy = apply::dummy_text(vr, ctx);
                self.string(out, tag, vr, &dummy)?;
            }
            (Action::U | Action::K, _) if vr == VR::UI => self.rewrite(e, out, |u| uids.map(u))?,
            // The object path would write a UID attribute of another VR as UI.
            (Action::U, _) => return Err(Decline),
            (Action::K, _) => self.copy(e, out)?,
            (Action::C, _) => {
                let days = ctx.date_offset_days;
                let ids = ctx.identifiers;
                match apply::cleaning(vr) {
                    Cleaning::ShiftDate => {
                        self.rewrite(e, out, |v| apply::shift_da(v, days).unwrap_or_default())?
                    }
                    Cleaning::ShiftDateTime => {
                        self.rewrite(e, out, |v| apply::shift_dt(v, days).unwrap_or_default())?
                    }
                    Cleaning::Descriptor => {
                        self.rewrite(e, out, |v| clean::clean_descriptor(v, ids))?
                    }
                    Cleaning::Empty => header(out, tag, vr, 0)?,
                    Cleaning::Uid => self.rewrite(e, out, |u| uids.map(u))?,
                    Cleaning::CapAge => self.rewrite(e, out, apply::cap_age)?,
                    Cleaning::Keep => self.copy(e, out)?,
                }
            }
        }
        Ok(())
    }

    /// A sequence of undefined length, each item transformed (as dicom-rs writes one).
    fn sequence(
        &self,
        tag: Tag,
        items: &[Vec<Element>],
        ctx: &mut Context,
        out: &mut Vec<u8>,
    ) -> Taken<()> {
        header(out, tag, VR::SQ, UNDEFINED)?;
        for item in items {
            header_item(out, ITEM, UNDEFINED);
            self.data_set(item, ctx, out)?;
            header_item(out, ITEM_END, 0);
        }
        header_item(out, SEQUENCE_END, 0);
        Ok(())
    }

    /// A kept element: its header as dicom-rs writes it, its value as it was.
    fn copy(&self, e: &Element, out: &mut Vec<u8>) -> Taken<()> {
        let Value::Bytes(b) = e.value else {
            return Err(Decline);
        };
        // dicom-rs decodes text and encodes it again: only bytes that survive that unchanged are
        // copied.
        if is_text(e.vr) && !b.is_ascii() {
            let same = match (self.charset, default_repertoire(e.vr)) {
                (Charset::Latin1, false) => true,
                (Charset::Utf8, false) => std::str::from_utf8(b).is_ok(),
                _ => false,
            };
            if !same {
                return Err(Decline);
            }
        }
        header(
            out,
            e.tag,
            e.vr,
            u32::try_from(b.len()).map_err(|_| Decline)?,
        )?;
        out.extend_from_slice(b);
        Ok(())
    }

    /// A text element with each of its values (split at `\`) replaced by `f`.
    fn rewrite(&self, e: &Element, out: &mut Vec<u8>, f: impl Fn(&str) -> String) -> Taken<()> {
        let Value::Bytes(b) = e.value else {
            return Err(Decline);
        };
        if !is_text(e.vr) {
            return Err(Decline);
        }
        let text = self.text(e.vr, b)?;
        let values: Vec<String> = text.split('\\').map(f).collect();
        self.string(out, e.tag, e.vr, &values.join("\\"))
    }

    /// A text element (padded to an even length: NUL for UIDs, a space otherwise).
    fn string(&self, out: &mut Vec<u8>, tag: Tag, vr: VR, text: &str) -> Taken<()> {
        let at = out.len();
        header(out, tag, vr, 0)?;
        let value_at = out.len();
        self.encode_text(vr, text, out)?;
        if (out.len() - value_at) % 2 == 1 {
            out.push(if vr == VR::UI { 0 } else { b' ' });
        }
        let len = out.len() - value_at;
        if long_length(vr) {
            let len = u32::try_from(len).map_err(|_| Decline)?;
            out[at + 8..at + 12].copy_from_slice(&len.to_le_bytes());
        } else {
            let len = u16::try_from(len).map_err(|_| Decline)?;
            out[at + 6..at + 8].copy_from_slice(&len.to_le_bytes());
        }
        Ok(())
    }

    /// Encoded top-level elements to put into the data set: text values (in its character set)
    /// and code sequences (items of CodeValue, CodingSchemeDesignator "DCM", CodeMeaning).
    pub fn text_element(&self, tag: Tag, vr: VR, text: &str) -> Taken<(Tag, Vec<u8>)> {
        let mut out = Vec::new();
        self.string(&mut out, tag, vr, text)?;
        Ok((tag, out))
    }

    pub fn code_sequence(&self, tag: Tag, codes: &[(&str, &str)]) -> Taken<(Tag, Vec<u8>)> {
        let mut out = Vec::new();
        header(&mut out, tag, VR::SQ, UNDEFINED)?;
        for (value, meaning) in codes {
            header_item(&mut out, ITEM, UNDEFINED);
            self.string(&mut out, tags::CODE_VALUE, VR::SH, value)?;
            self.string(&mut out, tags::CODING_SCHEME_DESIGNATOR, VR::SH, "DCM")?;
            self.string(&mut out, tags::CODE_MEANING, VR::LO, meaning)?;
            header_item(&mut out, ITEM_END, 0);
        }
        header_item(&mut out, SEQUENCE_END, 0);
        Ok((tag, out))
    }
}

/// An explicit VR little endian element header.
fn header(out: &mut Vec<u8>, tag: Tag, vr: VR, len: u32) -> Taken<()> {
    out.extend_from_slice(&tag.group().to_le_bytes());
    out.extend_from_slice(&tag.element().to_le_bytes());
    out.extend_from_slice(&vr.to_bytes());
    if long_length(vr) {
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&len.to_le_bytes());
    } else {
        out.extend_from_slice(&u16::try_from(len).map_err(|_| Decline)?.to_le_bytes());
    }
    Ok(())
}

/// An item, item delimiter or sequence delimiter header.
fn header_item(out: &mut Vec<u8>, tag: Tag, len: u32) {
    out.extend_from_slice(&tag.group().to_le_bytes());
    out.extend_from_slice(&tag.element().to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::value::PrimitiveValue;
    use dicom_core::DataElement;
    use dicom_object::InMemDicomObject;

    /// A Part-10 file of a few attributes in `ts`, written by dicom-rs.
    fn file(ts: &str, charset: &str, name: &str) -> Vec<u8> {
        let mut o = InMemDicomObject::new_empty();
        for (tag, vr, v) in [
            (tags::SPECIFIC_CHARACTER_SET, VR::CS, charset),
            (tags::SOP_INSTANCE_UID, VR::UI, "1.2.3.4"),
            (tags::PATIENT_NAME, VR::PN, name),
            (tags::PATIENT_ID, VR::LO, "MRN-778812"),
        ] {
            o.put(DataElement::new(tag, vr, PrimitiveValue::from(v)));
        }
        let meta = dicom_object::meta::FileMetaTableBuilder::new()
            .transfer_syntax(ts)
            .media_storage_sop_class_uid("1.2.840.10008.5.1.4.1.1.128")
            .media_storage_sop_instance_uid("1.2.3.4");
        let mut bytes = Vec::new();
        o.with_meta(meta)
            .expect("meta")
            .write_all(&mut bytes)
            .expect("encoded");
        bytes
    }

    /// Where `needle` starts in `hay`.
    fn find(hay: &[u8], needle: &[u8]) -> usize {
        hay.windows(needle.len())
            .position(|w| w == needle)
            .expect("present")
    }

    #[test]
    fn latin1_and_utf8_names_are_read_as_their_character_set_says() {
        let latin1 = file(EXPLICIT_VR_LE, "ISO_IR 100", "M\u{fc}ller^Hans");
        assert!(
            latin1.windows(2).any(|w| w == [b'M', 0xFC]),
            "encoded in Latin-1"
        );
        let f = read(&latin1, 128).expect("taken");
        let (notes, uids) = f.notes_and_uids().expect("identifiers");
        let found = notes.found();
        assert!(found.personal.contains(&"M\u{fc}ller".to_string()));
        assert!(found.personal.contains(&"MRN-778812".to_string()));
        assert!(uids.contains("1.2.3.4"));
        assert_eq!(f.attribute(tags::PATIENT_ID), Ok("MRN-778812".into()));
        let utf8 = file(EXPLICIT_VR_LE, "ISO_IR 192", "\u{17d}i\u{17e}ek^Ana");
        let f = read(&utf8, 128).expect("taken");
        let found = f.notes_and_uids().expect("identifiers").0.found();
        assert!(found.personal.contains(&"\u{17d}i\u{17e}ek".to_string()));
    }

    #[test]
    fn what_the_object_path_would_read_otherwise_is_declined() {
        // Implicit VR, and a character set with code extensions.
        assert!(read(&file("1.2.840.10008.1.2", "", "Doe^J"), 128).is_err());
        assert!(read(&file(EXPLICIT_VR_LE, "ISO 2022 IR 87", "Doe^J"), 128).is_err());
        // Non-ASCII text without a character set.
        let mut b = file(EXPLICIT_VR_LE, "", "Doe^Jo");
        let at = find(&b, b"Doe^Jo");
        b[at + 1] = 0xF6;
        let f = read(&b, 128).expect("read");
        assert!(f.notes_and_uids().is_err());
        // Two elements out of order: PatientID's tag written as (0008,0001), after (0010,0010).
        let mut b = file(EXPLICIT_VR_LE, "", "Doe^J");
        let at = find(&b, &[0x10, 0x00, 0x20, 0x00, b'L', b'O']);
        b[at..at + 4].copy_from_slice(&[0x08, 0x00, 0x01, 0x00]);
        assert!(read(&b, 128).is_err());
        // An odd length (dicom-rs pads it when it writes the value again).
        let mut b = file(EXPLICIT_VR_LE, "", "Doe^J");
        let at = find(&b, &[0x10, 0x00, 0x20, 0x00, b'L', b'O']);
        let len = u16::from_le_bytes([b[at + 6], b[at + 7]]);
        b[at + 6..at + 8].copy_from_slice(&(len - 1).to_le_bytes());
        b.remove(at + 8 + len as usize - 1);
        assert!(read(&b, 128).is_err());
        // A cut file.
        let b = file(EXPLICIT_VR_LE, "", "Doe^J");
        assert!(read(&b[..b.len() - 3], 128).is_err());
        // The control: the same file whole is taken.
        assert!(read(&b, 128).is_ok());
    }
}
