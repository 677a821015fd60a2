//! A private BER reader and definite-length writer (X.690 §8) for presentation and ACSE.
//!
//! **Why hand-written rather than asn1-rs.** asn1-rs 0.7 reads element contents in streaming
//! mode (a short element inside a complete PDU comes back as `Incomplete`), reports failures
//! without the offset of the failing element, and its recursion bound is a constant of its own,
//! not [`crate::Limits::max_ber_depth`]. Every error here must name the layer and the offset from
//! the PPDU start and respect the configured depth, and the PPDU types only need
//! tag/length/contents splitting plus INTEGER, OBJECT IDENTIFIER, OCTET STRING and BIT STRING
//! contents, so a small reader with an iterative end-of-contents search was simpler than
//! wrapping asn1-rs's error and position model. The crate therefore does not depend on asn1-rs
//! (nor on its nom-based parsers): one less dependency for users, and the depth bound and error
//! offsets are the crate's own.
//!
//! Reader rules:
//! - identifier: class, constructed bit and tag number, including the high-tag-number form
//!   (at most 4 subsequent octets, minimal);
//! - length: short form, long form with at most 4 length octets (more is a `Ber` error, never a
//!   huge number), and indefinite (`80`, constructed only) ended by end-of-contents `00 00`;
//! - a definite length is checked against what is left of the enclosing element (`Overrun`),
//!   nothing is allocated from a claimed length;
//! - nesting is bounded by `max_ber_depth`, for both descending into constructed elements and
//!   the iterative end-of-contents search of indefinite lengths (`LimitExceeded`);
//! - offsets are absolute: a [`Reader`] knows where its input starts in the PPDU.
//!
//! The writer only emits definite lengths in minimal form; sizes are computed bottom-up
//! (`*_len` functions) before anything is written, and every write checks the room left.

use bytes::BufMut;

use crate::error::{DecodeError, DecodeErrorKind, EncodeError, Layer, ensure_room};
use crate::oid::Oid;

/// Tag class (X.690 §8.1.2.2).
pub(crate) const UNIVERSAL: u8 = 0;
/// Application class.
pub(crate) const APPLICATION: u8 = 1;
/// Context-specific class.
pub(crate) const CONTEXT: u8 = 2;

/// An identifier: class, constructed bit and tag number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tag {
    pub(crate) class: u8,
    pub(crate) constructed: bool,
    pub(crate) number: u32,
}

impl Tag {
    pub(crate) const fn new(class: u8, constructed: bool, number: u32) -> Tag {
        Tag {
            class,
            constructed,
            number,
        }
    }
    /// `[n] IMPLICIT` primitive, context class.
    pub(crate) const fn ctx(number: u32) -> Tag {
        Tag::new(CONTEXT, false, number)
    }
    /// `[n]` constructed, context class.
    pub(crate) const fn ctx_cons(number: u32) -> Tag {
        Tag::new(CONTEXT, true, number)
    }
    /// `[APPLICATION n]` constructed.
    pub(crate) const fn app_cons(number: u32) -> Tag {
        Tag::new(APPLICATION, true, number)
    }
    /// Same class and number, either form.
    pub(crate) fn is(self, class: u8, number: u32) -> bool {
        self.class == class && self.number == number
    }

    pub(crate) const SEQUENCE: Tag = Tag::new(UNIVERSAL, true, 16);
    pub(crate) const SET: Tag = Tag::new(UNIVERSAL, true, 17);
    pub(crate) const INTEGER: Tag = Tag::new(UNIVERSAL, false, 2);
    pub(crate) const OID: Tag = Tag::new(UNIVERSAL, false, 6);
}

/// One decoded element, borrowed from the PPDU.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    pub(crate) tag: Tag,
    /// Offset of the identifier octet from the PPDU start.
    pub(crate) offset: usize,
    /// Offset of the first content octet from the PPDU start.
    pub(crate) content_offset: usize,
    /// Contents, without the end-of-contents octets of an indefinite length.
    pub(crate) content: &'a [u8],
    /// The whole element: identifier, length, contents (and end-of-contents).
    pub(crate) raw: &'a [u8],
    /// Nesting depth of the element (1 = outermost).
    pub(crate) depth: usize,
}

/// Which layer reports errors and how deep elements may nest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Ctx {
    pub(crate) layer: Layer,
    pub(crate) max_depth: usize,
}

impl Ctx {
    #[cold]
    #[inline(never)]
    pub(crate) fn err(&self, offset: usize, kind: DecodeErrorKind) -> DecodeError {
        DecodeError::new(self.layer, offset, kind)
    }
    #[cold]
    #[inline(never)]
    pub(crate) fn ber(&self, offset: usize, what: &'static str) -> DecodeError {
        self.err(offset, DecodeErrorKind::Ber { what })
    }
}

enum Len {
    Definite(usize),
    Indefinite,
}

/// Parses an identifier and length at the start of `bytes` (at absolute `pos`), returning the
/// tag, the length and the header size.
fn header(ctx: &Ctx, bytes: &[u8], pos: usize) -> Result<(Tag, Len, usize), DecodeError> {
    let trunc = |what, needed: usize, at: usize| {
        ctx.err(
            pos.saturating_add(at),
            DecodeErrorKind::Truncated {
                what,
                needed,
                available: bytes.len().saturating_sub(at),
            },
        )
    };
    let first = *bytes.first().ok_or_else(|| trunc("ber identifier", 1, 0))?;
    let class = first >> 6;
    let constructed = first & 0x20 != 0;
    let mut number = u32::from(first & 0x1f);
    let mut i = 1usize;
    if number == 0x1f {
        number = 0;
        loop {
            let b = *bytes.get(i).ok_or_else(|| trunc("ber tag number", 1, i))?;
            if i == 1 && b == 0x80 {
                return Err(ctx.ber(pos, "non-minimal tag number"));
            }
            if i > 4 {
                return Err(ctx.ber(pos, "tag number longer than 4 octets"));
            }
            number = (number << 7) | u32::from(b & 0x7f);
            i = i.saturating_add(1);
            if b & 0x80 == 0 {
                break;
            }
        }
    }
    let l = *bytes.get(i).ok_or_else(|| trunc("ber length", 1, i))?;
    let len_at = i;
    i = i.saturating_add(1);
    let len = if l < 0x80 {
        Len::Definite(usize::from(l))
    } else if l == 0x80 {
        if !constructed {
            return Err(ctx.ber(pos, "indefinite length on a primitive element"));
        }
        Len::Indefinite
    } else if l == 0xff {
        return Err(ctx.ber(pos.saturating_add(len_at), "reserved length octet 0xff"));
    } else {
        let n = usize::from(l & 0x7f);
        if n > 4 {
            return Err(ctx.ber(pos.saturating_add(len_at), "length of length over 4 octets"));
        }
        let octets = bytes
            .get(i..i.saturating_add(n))
            .ok_or_else(|| trunc("ber length", n.saturating_add(1), len_at))?;
        let mut v: usize = 0;
        for &b in octets {
            v = (v << 8) | usize::from(b);
        }
        i = i.saturating_add(n);
        Len::Definite(v)
    };
    Ok((
        Tag {
            class,
            constructed,
            number,
        },
        len,
        i,
    ))
}

/// Finds the end-of-contents of an indefinite-length element whose contents start at `bytes`
/// (absolute `pos`, nesting `depth`). Returns the contents length (excluding `00 00`).
/// Iterative: a level counter instead of recursion, bounded by `max_depth`.
fn indefinite_len(ctx: &Ctx, bytes: &[u8], pos: usize, depth: usize) -> Result<usize, DecodeError> {
    let mut i = 0usize;
    let mut level = 1usize;
    loop {
        let rest = bytes.get(i..).unwrap_or_default();
        let at = pos.saturating_add(i);
        if rest.is_empty() {
            return Err(ctx.err(
                at,
                DecodeErrorKind::Truncated {
                    what: "end-of-contents",
                    needed: 2,
                    available: 0,
                },
            ));
        }
        if rest.first() == Some(&0) {
            match rest.get(1) {
                Some(0) => {
                    level = level.saturating_sub(1);
                    if level == 0 {
                        return Ok(i);
                    }
                    i = i.saturating_add(2);
                    continue;
                }
                Some(_) => return Err(ctx.ber(at, "end-of-contents with non-zero length")),
                None => {
                    return Err(ctx.err(
                        at,
                        DecodeErrorKind::Truncated {
                            what: "end-of-contents",
                            needed: 2,
                            available: 1,
                        },
                    ));
                }
            }
        }
        let (_, len, hl) = header(ctx, rest, at)?;
        i = i.saturating_add(hl);
        match len {
            Len::Indefinite => {
                level = level.saturating_add(1);
                if depth.saturating_add(level) > ctx.max_depth {
                    return Err(ctx.err(
                        at,
                        DecodeErrorKind::LimitExceeded {
                            limit: "max_ber_depth",
                            max: ctx.max_depth,
                        },
                    ));
                }
            }
            Len::Definite(n) => {
                let available = bytes.len().saturating_sub(i);
                if n > available {
                    return Err(ctx.err(
                        at,
                        DecodeErrorKind::Overrun {
                            what: "ber element",
                            declared: n,
                            available,
                        },
                    ));
                }
                i = i.saturating_add(n);
            }
        }
    }
}

/// Reads consecutive elements from a complete buffer.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
    pos: usize,
    depth: usize,
    ctx: Ctx,
}

impl<'a> Reader<'a> {
    /// A reader of outermost elements over `input`, which starts at absolute offset `base`.
    pub(crate) fn new(ctx: Ctx, input: &'a [u8], base: usize) -> Self {
        Reader {
            rest: input,
            pos: base,
            depth: 1,
            ctx,
        }
    }

    /// A reader over the contents of a constructed element at `depth` (what a list stored).
    pub(crate) fn at_depth(ctx: Ctx, content: &'a [u8], base: usize, depth: usize) -> Self {
        Reader {
            rest: content,
            pos: base,
            depth,
            ctx,
        }
    }

    pub(crate) fn ctx(&self) -> Ctx {
        self.ctx
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Reads the next element.
    ///
    /// The common element (one identifier octet, a definite length in short form or as
    /// `81 xx` / `82 xx xx`, contents within the input) is read inline; anything else (high tag
    /// numbers, longer or indefinite lengths, end-of-contents, every error) goes through
    /// [`Reader::read_general`], which reads the same elements the same way.
    #[inline(always)]
    pub(crate) fn read(&mut self) -> Result<Tlv<'a>, DecodeError> {
        if let [id, l0, after @ ..] = self.rest {
            let (id, l0) = (*id, *l0);
            // Not the high-tag-number form, not end-of-contents.
            let one_octet_id = id & 0x1f != 0x1f && (id, l0) != (0, 0);
            // (contents length, header length)
            let definite = match (l0, after) {
                (0..=0x7f, _) => Some((usize::from(l0), 2usize)),
                (0x81, [l, ..]) => Some((usize::from(*l), 3)),
                (0x82, [h, l, ..]) => Some((usize::from(u16::from_be_bytes([*h, *l])), 4)),
                _ => None,
            };
            if let (true, Some((len, hl))) = (one_octet_id, definite) {
                if let Some((raw, rest)) = self.rest.split_at_checked(hl.saturating_add(len)) {
                    let start = self.pos;
                    let tlv = Tlv {
                        tag: Tag {
                            class: id >> 6,
                            constructed: id & 0x20 != 0,
                            number: u32::from(id & 0x1f),
                        },
                        offset: start,
                        content_offset: start.saturating_add(hl),
                        content: raw.get(hl..).unwrap_or_default(),
                        raw,
                        depth: self.depth,
                    };
                    self.rest = rest;
                    self.pos = start.saturating_add(raw.len());
                    return Ok(tlv);
                }
            }
        }
        self.read_general()
    }

    /// Reads the next element, whatever its form (see [`Reader::read`]).
    #[inline(never)]
    fn read_general(&mut self) -> Result<Tlv<'a>, DecodeError> {
        let ctx = self.ctx;
        let start = self.pos;
        if self.rest.first() == Some(&0) && self.rest.get(1) == Some(&0) {
            return Err(ctx.ber(start, "unexpected end-of-contents"));
        }
        let (tag, len, hl) = header(&ctx, self.rest, start)?;
        let after = self.rest.get(hl..).unwrap_or_default();
        let content_offset = start.saturating_add(hl);
        let (content_len, total) = match len {
            Len::Definite(n) => {
                if n > after.len() {
                    return Err(ctx.err(
                        start,
                        DecodeErrorKind::Overrun {
                            what: "ber element",
                            declared: n,
                            available: after.len(),
                        },
                    ));
                }
                (n, hl.saturating_add(n))
            }
            Len::Indefinite => {
                let n = indefinite_len(&ctx, after, content_offset, self.depth)?;
                (n, hl.saturating_add(n).saturating_add(2))
            }
        };
        let content = after.get(..content_len).unwrap_or_default();
        let raw = self.rest.get(..total).unwrap_or_default();
        self.rest = self.rest.get(total..).unwrap_or_default();
        self.pos = self.pos.saturating_add(total);
        Ok(Tlv {
            tag,
            offset: start,
            content_offset,
            content,
            raw,
            depth: self.depth,
        })
    }

    /// The next element if it is in the forms of [`quick_tlv`]: (identifier, contents,
    /// absolute offset of the contents); the reader moves past it.
    #[inline(always)]
    pub(crate) fn read_quick(&mut self) -> Option<(u8, &'a [u8], usize)> {
        let (id, hl, content, rest) = quick_tlv(self.rest)?;
        let at = self.pos;
        self.pos = at.saturating_add(self.rest.len().wrapping_sub(rest.len()));
        self.rest = rest;
        Some((id, content, at.saturating_add(hl)))
    }

    /// Nesting depth of the elements this reader reads.
    pub(crate) fn depth(&self) -> usize {
        self.depth
    }

    /// The tag of the next element, if any and readable.
    pub(crate) fn peek_tag(&self) -> Option<Tag> {
        header(&self.ctx, self.rest, self.pos)
            .ok()
            .map(|(t, _, _)| t)
    }

    /// Reads the next element if its class and number match (either form).
    pub(crate) fn next_if(
        &mut self,
        class: u8,
        number: u32,
    ) -> Result<Option<Tlv<'a>>, DecodeError> {
        // A one-octet identifier names the tag without parsing the header twice. Reading an
        // element whose header then proves malformed fails here, where peeking would have
        // answered "no" and left the same failing read to the caller's next step.
        let matches = match self.rest.first() {
            Some(&id) if id & 0x1f != 0x1f => id >> 6 == class && u32::from(id & 0x1f) == number,
            _ => self.peek_tag().is_some_and(|t| t.is(class, number)),
        };
        if matches {
            self.read().map(Some)
        } else {
            Ok(None)
        }
    }

    /// Reads the next element, which must have class and number as given.
    pub(crate) fn expect(
        &mut self,
        class: u8,
        number: u32,
        what: &'static str,
    ) -> Result<Tlv<'a>, DecodeError> {
        if self.rest.is_empty() {
            return Err(self.ctx.err(self.pos, DecodeErrorKind::Missing { what }));
        }
        let tlv = self.read()?;
        if !tlv.tag.is(class, number) {
            return Err(self.ctx.err(tlv.offset, DecodeErrorKind::Missing { what }));
        }
        Ok(tlv)
    }

    /// Fails with `TrailingData` unless everything was read.
    pub(crate) fn finish(&self, what: &'static str) -> Result<(), DecodeError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(self.ctx.err(
                self.pos,
                DecodeErrorKind::TrailingData {
                    what,
                    len: self.rest.len(),
                },
            ))
        }
    }
}

/// A reader over the contents of constructed `tlv`, one level deeper.
pub(crate) fn children<'a>(ctx: Ctx, tlv: &Tlv<'a>) -> Result<Reader<'a>, DecodeError> {
    if !tlv.tag.constructed {
        return Err(ctx.ber(
            tlv.offset,
            "primitive element where a constructed one is required",
        ));
    }
    let depth = tlv.depth.saturating_add(1);
    if depth > ctx.max_depth {
        return Err(ctx.err(
            tlv.offset,
            DecodeErrorKind::LimitExceeded {
                limit: "max_ber_depth",
                max: ctx.max_depth,
            },
        ));
    }
    Ok(Reader::at_depth(
        ctx,
        tlv.content,
        tlv.content_offset,
        depth,
    ))
}

/// Checks that `input` is a run of well-formed BER elements, constructed ones down to their
/// leaves, nested at most `limits.max_ber_depth` deep (presentation layer errors). For octets a
/// layer passes on without reading them (the `[1]` SET of an X.410-1984-mode CP).
pub(crate) fn check_elements(input: &[u8], limits: &crate::Limits) -> Result<(), DecodeError> {
    fn walk(mut r: Reader<'_>) -> Result<(), DecodeError> {
        while !r.is_empty() {
            let t = r.read()?;
            if t.tag.constructed {
                walk(children(r.ctx(), &t)?)?;
            }
        }
        Ok(())
    }
    let ctx = Ctx {
        layer: Layer::Presentation,
        max_depth: limits.max_ber_depth,
    };
    walk(Reader::new(ctx, input, 0))
}

/// One BER element in the forms that [`Reader::read`] takes without its general path, plus
/// three-octet lengths (which the general path reads to the same value): a one-octet
/// identifier (not the high-tag-number form, not end-of-contents) and a definite length in at
/// most three octets, within `b`. Returns (identifier, header length,
/// contents, what follows). The step of the one-pass decoders (`Cp::decode`,
/// `UserData::decode`, `Apdu::decode`): whatever it does not take, they hand to their general
/// decoder, which reads the same element the same way or names the fault.
#[inline(always)]
pub(crate) fn quick_tlv(b: &[u8]) -> Option<(u8, usize, &[u8], &[u8])> {
    let [id, l0, after @ ..] = b else {
        return None;
    };
    if id & 0x1f == 0x1f || (*id, *l0) == (0, 0) {
        return None;
    }
    let (hl, content, rest) = quick_length(*l0, after)?;
    Some((*id, hl, content, rest))
}

/// [`quick_tlv`] of an element whose identifier must be `want` (a one-octet identifier, not
/// `00`): (header length, contents, what follows), `None` for any other identifier.
#[inline(always)]
pub(crate) fn quick_tlv_of(b: &[u8], want: u8) -> Option<(usize, &[u8], &[u8])> {
    debug_assert!(want & 0x1f != 0x1f && want != 0);
    match b {
        [id, l0, after @ ..] if *id == want => quick_length(*l0, after),
        _ => None,
    }
}

/// A definite length in at most three octets (first octet `l0`, then `after`) and the contents
/// it delimits: (header length with a one-octet identifier, contents, what follows). Three
/// length octets carry a P-DATA value of 64 KiB or more; the general reader reads every one of
/// these lengths to the same value.
#[inline(always)]
fn quick_length(l0: u8, after: &[u8]) -> Option<(usize, &[u8], &[u8])> {
    let (len, hl, body) = match (l0, after) {
        (0..=0x7f, _) => (usize::from(l0), 2usize, after),
        (0x81, [l, body @ ..]) => (usize::from(*l), 3, body),
        (0x82, [h, l, body @ ..]) => (usize::from(u16::from_be_bytes([*h, *l])), 4, body),
        (0x83, [a, h, l, body @ ..]) => (
            usize::from(*a) << 16 | usize::from(u16::from_be_bytes([*h, *l])),
            5,
            body,
        ),
        _ => return None,
    };
    let (content, rest) = body.split_at_checked(len)?;
    Some((hl, content, rest))
}

/// The value of INTEGER contents that [`integer`] accepts (1 to 8 octets), `None` where it
/// fails: the same computation without its error reports.
#[inline(always)]
pub(crate) fn trusted_int(c: &[u8]) -> Option<i64> {
    if c.is_empty() || c.len() > 8 {
        return None;
    }
    let mut v: i64 = if c.first().is_some_and(|b| b & 0x80 != 0) {
        -1
    } else {
        0
    };
    for &b in c {
        v = (v << 8) | i64::from(b);
    }
    Some(v)
}

/// The value of BIT STRING contents that [`bits`] accepts, `None` where it fails.
#[inline(always)]
pub(crate) fn quick_bits(c: &[u8]) -> Option<u32> {
    let (&unused, data) = c.split_first()?;
    if unused > 7 || (data.is_empty() && unused != 0) {
        return None;
    }
    Some(bits_value(data))
}

/// The first 32 named bits of a BIT STRING's data octets, bit n (bit 0 = most significant bit
/// of the first octet) at `1 << n`.
#[inline(always)]
fn bits_value(data: &[u8]) -> u32 {
    let mut v = 0u32;
    for (i, &b) in data.iter().take(4).enumerate() {
        v |= u32::from(b.reverse_bits()).wrapping_shl((i as u32).wrapping_mul(8));
    }
    v
}

/// The `quick` reader of `seq_of!` lists that have none: every element goes to `trusted`.
#[inline(always)]
pub(crate) fn no_quick<T>(_: &Ctx, _: u8, _: &[u8], _: usize, _: usize) -> Option<T> {
    None
}

/// The contents of a primitive element.
pub(crate) fn primitive<'a>(
    ctx: &Ctx,
    tlv: &Tlv<'a>,
    what: &'static str,
) -> Result<&'a [u8], DecodeError> {
    if tlv.tag.constructed {
        return Err(ctx.ber(tlv.offset, what));
    }
    Ok(tlv.content)
}

/// INTEGER (or ENUMERATED) contents as `i64` (X.690 §8.3).
pub(crate) fn integer(ctx: &Ctx, tlv: &Tlv<'_>) -> Result<i64, DecodeError> {
    let c = primitive(ctx, tlv, "constructed integer")?;
    if c.is_empty() {
        return Err(ctx.ber(tlv.offset, "empty integer"));
    }
    if c.len() > 8 {
        return Err(ctx.ber(tlv.offset, "integer longer than 8 octets"));
    }
    let mut v: i64 = if c.first().is_some_and(|b| b & 0x80 != 0) {
        -1
    } else {
        0
    };
    for &b in c {
        v = (v << 8) | i64::from(b);
    }
    Ok(v)
}

/// OBJECT IDENTIFIER contents (X.690 §8.19).
pub(crate) fn oid<'a>(ctx: &Ctx, tlv: &Tlv<'a>) -> Result<Oid<'a>, DecodeError> {
    let c = primitive(ctx, tlv, "constructed object identifier")?;
    Oid::new(c).map_err(|_| ctx.ber(tlv.offset, "invalid object identifier"))
}

/// BIT STRING contents as a set of the first 32 named bits, bit n (X.680 numbering: bit 0 is
/// the most significant bit of the first octet) at `1 << n`. Later bits are ignored.
pub(crate) fn bits(ctx: &Ctx, tlv: &Tlv<'_>) -> Result<u32, DecodeError> {
    let c = primitive(ctx, tlv, "constructed bit string")?;
    let (&unused, data) = c
        .split_first()
        .ok_or_else(|| ctx.ber(tlv.offset, "empty bit string"))?;
    if unused > 7 || (data.is_empty() && unused != 0) {
        return Err(ctx.ber(tlv.offset, "invalid bit string unused-bit count"));
    }
    Ok(bits_value(data))
}

/// Checks a string type's contents in either form (X.690 §8.7.3, §8.23): a primitive element
/// is its own single segment; a constructed one must hold only elements of the same universal
/// tag `number` (primitive or again constructed, within `max_depth`). After this check,
/// [`Segments`] over the contents cannot fail.
pub(crate) fn check_string_segments(
    ctx: &Ctx,
    tlv: &Tlv<'_>,
    number: u32,
    what: &'static str,
) -> Result<(), DecodeError> {
    if !tlv.tag.constructed {
        return Ok(());
    }
    let mut r = children(*ctx, tlv)?;
    while !r.is_empty() {
        let seg = r.read()?;
        if !seg.tag.is(UNIVERSAL, number) {
            return Err(ctx.ber(seg.offset, what));
        }
        check_string_segments(ctx, &seg, number, what)?;
    }
    Ok(())
}

/// The primitive segments of a constructed string's contents, checked before by
/// [`check_string_segments`], in order. A flat scan: the header of a constructed segment is
/// stepped over (its contents follow it directly) and end-of-contents octets are skipped, so
/// no stack is needed whatever the nesting.
#[derive(Debug, Clone)]
pub(crate) struct Segments<'a> {
    rest: &'a [u8],
}

impl<'a> Segments<'a> {
    pub(crate) fn new(content: &'a [u8]) -> Self {
        Segments { rest: content }
    }
}

impl<'a> Iterator for Segments<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        const SCAN: Ctx = Ctx {
            layer: Layer::Rtse,
            max_depth: usize::MAX,
        };
        loop {
            if self.rest.is_empty() {
                return None;
            }
            if self.rest.starts_with(&[0, 0]) {
                self.rest = self.rest.get(2..).unwrap_or_default();
                continue;
            }
            let Ok((tag, len, hl)) = header(&SCAN, self.rest, 0) else {
                // Unreachable for checked contents; end the iteration rather than loop.
                self.rest = &[];
                return None;
            };
            let after = self.rest.get(hl..).unwrap_or_default();
            match (tag.constructed, len) {
                (true, _) => self.rest = after,
                (false, Len::Definite(n)) => {
                    let seg = after.get(..n);
                    self.rest = after.get(n..).unwrap_or_default();
                    if seg.is_none() {
                        self.rest = &[];
                    }
                    return seg;
                }
                (false, Len::Indefinite) => {
                    self.rest = &[];
                    return None;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Writer

fn tag_len(tag: Tag) -> usize {
    if tag.number < 31 {
        1
    } else {
        let bits = 32usize.saturating_sub(tag.number.leading_zeros() as usize);
        1usize.saturating_add(bits.div_ceil(7))
    }
}

fn length_len(len: usize) -> usize {
    if len < 0x80 {
        1
    } else {
        let bytes = (usize::BITS as usize)
            .saturating_sub(len.leading_zeros() as usize)
            .div_ceil(8);
        1usize.saturating_add(bytes)
    }
}

/// Size of a whole element with `content_len` content octets.
pub(crate) fn tlv_len(tag: Tag, content_len: usize) -> usize {
    tag_len(tag)
        .saturating_add(length_len(content_len))
        .saturating_add(content_len)
}

/// Writes an identifier and a definite length.
pub(crate) fn put_header<B: BufMut + ?Sized>(
    layer: Layer,
    buf: &mut B,
    tag: Tag,
    content_len: usize,
) -> Result<(), EncodeError> {
    let tl = tag_len(tag);
    let ll = length_len(content_len);
    ensure_room(layer, buf, tl.saturating_add(ll))?;
    let id = (tag.class << 6) | if tag.constructed { 0x20 } else { 0 };
    if tag.number < 31 {
        buf.put_u8(id | tag.number as u8);
    } else {
        buf.put_u8(id | 0x1f);
        let n = tl.saturating_sub(1);
        for i in (0..n).rev() {
            let shift = u32::try_from(i.saturating_mul(7)).unwrap_or(0);
            let b = (tag.number.checked_shr(shift).unwrap_or(0) & 0x7f) as u8;
            buf.put_u8(if i == 0 { b } else { b | 0x80 });
        }
    }
    if content_len < 0x80 {
        buf.put_u8(content_len as u8);
    } else {
        let n = ll.saturating_sub(1);
        buf.put_u8(0x80 | n as u8);
        for i in (0..n).rev() {
            let shift = u32::try_from(i.saturating_mul(8)).unwrap_or(0);
            buf.put_u8((content_len.checked_shr(shift).unwrap_or(0) & 0xff) as u8);
        }
    }
    Ok(())
}

/// Writes raw octets.
pub(crate) fn put_raw<B: BufMut + ?Sized>(
    layer: Layer,
    buf: &mut B,
    bytes: &[u8],
) -> Result<(), EncodeError> {
    ensure_room(layer, buf, bytes.len())?;
    buf.put_slice(bytes);
    Ok(())
}

/// Writes a primitive element.
pub(crate) fn put_prim<B: BufMut + ?Sized>(
    layer: Layer,
    buf: &mut B,
    tag: Tag,
    content: &[u8],
) -> Result<(), EncodeError> {
    put_header(layer, buf, tag, content.len())?;
    put_raw(layer, buf, content)
}

/// Minimal two's-complement content octets of an INTEGER, in a fixed array with its used length.
fn int_octets(v: i64) -> ([u8; 8], usize) {
    let bytes = v.to_be_bytes();
    let mut start = 0usize;
    while start < 7 {
        let (a, b) = (
            bytes.get(start).copied().unwrap_or(0),
            bytes.get(start.saturating_add(1)).copied().unwrap_or(0),
        );
        if (a == 0 && b & 0x80 == 0) || (a == 0xff && b & 0x80 != 0) {
            start = start.saturating_add(1);
        } else {
            break;
        }
    }
    (bytes, start)
}

/// Size of an INTEGER element.
pub(crate) fn int_len(tag: Tag, v: i64) -> usize {
    let (_, start) = int_octets(v);
    tlv_len(tag, 8usize.saturating_sub(start))
}

/// Writes an INTEGER element.
pub(crate) fn put_int<B: BufMut + ?Sized>(
    layer: Layer,
    buf: &mut B,
    tag: Tag,
    v: i64,
) -> Result<(), EncodeError> {
    let (bytes, start) = int_octets(v);
    put_prim(layer, buf, tag, bytes.get(start..).unwrap_or_default())
}

/// Minimal BIT STRING contents for a bit set (see [`bits`]): unused count, then octets.
fn bit_octets(v: u32) -> ([u8; 5], usize) {
    let mut out = [0u8; 5];
    if v == 0 {
        return (out, 1);
    }
    let highest = 31u32.saturating_sub(v.leading_zeros());
    // `v.reverse_bits()` puts bit 0 at the MSB, which is exactly the wire order.
    let wire = v.reverse_bits().to_be_bytes();
    let nbits = highest.saturating_add(1);
    let noctets = nbits.div_ceil(8) as usize;
    let unused = (noctets as u32).saturating_mul(8).saturating_sub(nbits) as u8;
    if let Some(first) = out.first_mut() {
        *first = unused;
    }
    for i in 0..noctets {
        if let (Some(dst), Some(src)) = (out.get_mut(i.saturating_add(1)), wire.get(i)) {
            *dst = *src;
        }
    }
    (out, noctets.saturating_add(1))
}

/// Size of a BIT STRING element.
pub(crate) fn bits_len(tag: Tag, v: u32) -> usize {
    tlv_len(tag, bit_octets(v).1)
}

/// Writes a BIT STRING element.
pub(crate) fn put_bits<B: BufMut + ?Sized>(
    layer: Layer,
    buf: &mut B,
    tag: Tag,
    v: u32,
) -> Result<(), EncodeError> {
    let (o, n) = bit_octets(v);
    put_prim(layer, buf, tag, o.get(..n).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CTX: Ctx = Ctx {
        layer: Layer::Presentation,
        max_depth: 32,
    };

    #[test]
    fn definite_and_indefinite() {
        let b = [
            0x30, 0x80, 0x02, 0x01, 0x05, 0xa0, 0x80, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
        ];
        let mut r = Reader::new(CTX, &b, 10);
        let t = r.read().unwrap();
        assert_eq!(t.tag, Tag::SEQUENCE);
        assert_eq!(t.content, &b[2..9]);
        assert_eq!(t.raw, &b[..11]);
        let mut c = children(CTX, &t).unwrap();
        assert_eq!(integer(&CTX, &c.read().unwrap()).unwrap(), 5);
        let inner = c.read().unwrap();
        assert_eq!(inner.content_offset, 17);
        assert!(inner.content.is_empty());
        assert!(c.is_empty());
        assert_eq!(r.read().unwrap().offset, 21);
    }

    #[test]
    fn errors() {
        let e = Reader::new(CTX, &[0x30, 0x85, 1, 1, 1, 1, 1], 0)
            .read()
            .unwrap_err();
        assert_eq!(
            *e.kind(),
            DecodeErrorKind::Ber {
                what: "length of length over 4 octets"
            }
        );
        let e = Reader::new(CTX, &[0x30, 0x80, 0x02, 0x00], 3)
            .read()
            .unwrap_err();
        assert_eq!(e.offset(), 7);
        assert!(e.is_truncated());
        let e = Reader::new(CTX, &[0x30, 0x05, 0x02], 0).read().unwrap_err();
        assert!(matches!(
            e.kind(),
            DecodeErrorKind::Overrun { declared: 5, .. }
        ));
        let deep: Vec<u8> = std::iter::repeat_n([0x30u8, 0x80], 40).flatten().collect();
        let e = Reader::new(CTX, &deep, 0).read().unwrap_err();
        assert!(matches!(e.kind(), DecodeErrorKind::LimitExceeded { .. }));
        let e = Reader::new(CTX, &[0x04, 0x80, 0, 0], 0).read().unwrap_err();
        assert!(matches!(e.kind(), DecodeErrorKind::Ber { .. }));
    }

    type Outcome<'a> = (
        Result<(Tag, usize, usize, &'a [u8], &'a [u8], usize), DecodeError>,
        &'a [u8],
        usize,
    );

    fn outcome<'a>(
        r: &mut Reader<'a>,
        read: fn(&mut Reader<'a>) -> Result<Tlv<'a>, DecodeError>,
    ) -> Outcome<'a> {
        let t = read(r).map(|t| (t.tag, t.offset, t.content_offset, t.content, t.raw, t.depth));
        (t, r.rest, r.pos)
    }

    #[test]
    fn fast_read_agrees_with_the_general_one() {
        // Every identifier and first length octet, with a few following octets and tails.
        let follow: [&[u8]; 6] = [
            &[],
            &[0x00],
            &[0x01],
            &[0x00, 0x03],
            &[0x02, 0x00],
            &[0xff, 0xff],
        ];
        let mut b = Vec::new();
        for id in 0..=255u8 {
            for l0 in 0..=255u8 {
                for f in follow {
                    for tail in [0usize, 1, 2, 300] {
                        b.clear();
                        b.extend_from_slice(&[id, l0]);
                        b.extend_from_slice(f);
                        b.resize(b.len() + tail, 0);
                        let mut fast = Reader::new(CTX, &b, 7);
                        let mut general = Reader::new(CTX, &b, 7);
                        assert_eq!(
                            outcome(&mut fast, Reader::read),
                            outcome(&mut general, Reader::read_general),
                            "{b:02x?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn next_if_agrees_with_peek_then_read() {
        // As peeking the tag and then reading, except that a matching identifier octet whose
        // header is malformed fails at once, with the error the caller's next read would give.
        let follow: [&[u8]; 5] = [
            &[],
            &[0x01, 0x00],
            &[0x81, 0x01, 0x00],
            &[0x80, 0x00, 0x00],
            &[0x85],
        ];
        for id in 0..=255u8 {
            for f in follow {
                let mut b = vec![id];
                b.extend_from_slice(f);
                let own = (id >> 6, u32::from(id & 0x1f));
                for (class, number) in [(UNIVERSAL, 2), (UNIVERSAL, 6), (CONTEXT, 0), own] {
                    let mut new = Reader::new(CTX, &b, 0);
                    let mut old = Reader::new(CTX, &b, 0);
                    let got = new.next_if(class, number);
                    let want = match old.peek_tag() {
                        Some(t) if t.is(class, number) => old.read().map(Some),
                        _ => Ok(None),
                    };
                    match (&got, &want) {
                        (Err(e), Ok(None)) => assert_eq!(Some(e), old.read().err().as_ref()),
                        _ => assert_eq!(
                            format!("{got:?} {:?}", new.rest),
                            format!("{want:?} {:?}", old.rest),
                            "{b:02x?}"
                        ),
                    }
                }
            }
        }
    }

    #[test]
    fn high_tags_and_writer() {
        let mut out = Vec::new();
        let tag = Tag::new(CONTEXT, true, 300);
        put_header(Layer::Acse, &mut out, tag, 200).unwrap();
        assert_eq!(out.len(), tlv_len(tag, 200) - 200);
        out.extend(std::iter::repeat_n(0u8, 200));
        let t = Reader::new(CTX, &out, 0).read().unwrap();
        assert_eq!(t.tag, tag);
        assert_eq!(t.content.len(), 200);
        for v in [0i64, 1, -1, 127, 128, -128, -129, 30, i64::MAX, i64::MIN] {
            let mut o = Vec::new();
            put_int(Layer::Acse, &mut o, Tag::INTEGER, v).unwrap();
            assert_eq!(o.len(), int_len(Tag::INTEGER, v));
            let t = Reader::new(CTX, &o, 0).read().unwrap();
            assert_eq!(integer(&CTX, &t).unwrap(), v);
        }
        for v in [0u32, 1, 2, 3, 0x80, 0x1fff, u32::MAX] {
            let mut o = Vec::new();
            put_bits(Layer::Acse, &mut o, Tag::ctx(0), v).unwrap();
            assert_eq!(o.len(), bits_len(Tag::ctx(0), v));
            let t = Reader::new(CTX, &o, 0).read().unwrap();
            assert_eq!(bits(&CTX, &t).unwrap(), v);
        }
        let mut o = Vec::new();
        put_bits(Layer::Acse, &mut o, Tag::ctx(0), 1).unwrap();
        assert_eq!(o, [0x80, 0x02, 0x07, 0x80]);
        let mut small = [0u8; 2];
        assert!(put_int(Layer::Acse, &mut &mut small[..], Tag::INTEGER, 1000).is_err());
    }
}

/// Storage of a `SEQUENCE OF` list type: encoded contents (already checked when the enclosing
/// PDU was decoded) or a caller's slice for encoding.
///
/// `C` is what a decoded list may keep of its first element ([`FirstCache`]): nothing (`()`),
/// or, for a list declared `first C`, where a one-pass decoder found it, so that iterating
/// hands it out without reading it again.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SeqRepr<'a, T, C = ()> {
    Encoded {
        content: &'a [u8],
        base: usize,
        depth: usize,
        ctx: Ctx,
        first: C,
    },
    Slice(&'a [T]),
}

/// What a decoded `SEQUENCE OF` keeps of its first element (see [`SeqRepr`]).
pub(crate) trait FirstCache<'a, T>: Copy {
    /// Nothing kept.
    const NONE: Self;
    /// The kept element, rebuilt from the list's contents, and where the next one starts
    /// (`(None, 0)` when nothing was kept).
    fn get(self, content: &'a [u8]) -> (Option<T>, usize);
}

impl<T> FirstCache<'_, T> for () {
    const NONE: Self = ();
    #[inline(always)]
    fn get(self, _: &[u8]) -> (Option<T>, usize) {
        (None, 0)
    }
}

/// Defines a public, borrowed `SEQUENCE OF` list type and its iterator. `$decode(&Ctx, &Tlv)`
/// decodes one element, `$len(&item)` gives its encoded size and `$encode(&item, &mut buf)`
/// writes it. The element type is `$item<'a>` (it borrows from the input), or, written
/// `copy T`, a plain `Copy` type `T` such as an integer code.
///
/// Written `$item, $decode, trusted $trusted, quick $quick, …`, iterating a decoded list reads
/// each element with `$trusted(&Ctx, &Tlv)` instead of `$decode`: the elements were checked by
/// `$decode` when the list was decoded, so `$trusted` may take the common shape without
/// repeating the checks (it must give the value `$decode` gives, and hand anything else to
/// `$decode`). Before that, an element in the forms of [`quick_tlv`] is given to
/// `$quick(&Ctx, identifier, contents, contents offset, depth)`, which may answer from the
/// contents alone (the value `$decode` gives) or `None` to leave it to `$trusted`.
macro_rules! seq_of {
    ($(#[$m:meta])* $list:ident, $iter:ident, copy $item:ty, $decode:path, $len:path, $encode:path) => {
        $crate::ber::seq_of!(@list $(#[$m])* $list, $iter, $item, [()], $decode, $decode, $crate::ber::no_quick, $len, $encode);
    };
    ($(#[$m:meta])* $list:ident, $iter:ident, first $cache:ty, $item:ident, $decode:path, trusted $trusted:path, quick $quick:path, $len:path, $encode:path) => {
        $crate::ber::seq_of!(@list $(#[$m])* $list, $iter, $item<'a>, [$cache], $decode, $trusted, $quick, $len, $encode);
    };
    ($(#[$m:meta])* $list:ident, $iter:ident, $item:ident, $decode:path, trusted $trusted:path, quick $quick:path, $len:path, $encode:path) => {
        $crate::ber::seq_of!(@list $(#[$m])* $list, $iter, $item<'a>, [()], $decode, $trusted, $quick, $len, $encode);
    };
    ($(#[$m:meta])* $list:ident, $iter:ident, $item:ident, $decode:path, $len:path, $encode:path) => {
        $crate::ber::seq_of!(@list $(#[$m])* $list, $iter, $item<'a>, [()], $decode, $decode, $crate::ber::no_quick, $len, $encode);
    };
    (@list $(#[$m:meta])* $list:ident, $iter:ident, $item:ty, [$cache:ty], $decode:path, $trusted:path, $quick:path, $len:path, $encode:path) => {
        $(#[$m])*
        ///
        /// Decoded lists borrow the encoded elements (checked once when the PDU was decoded);
        /// lists to encode are built with `from_slice`. Equality compares the elements.
        #[derive(Clone, Copy)]
        pub struct $list<'a> {
            repr: $crate::ber::SeqRepr<'a, $item, $cache>,
        }

        impl<'a> $list<'a> {
            /// A list of the given elements, for encoding.
            pub const fn from_slice(items: &'a [$item]) -> Self {
                $list { repr: $crate::ber::SeqRepr::Slice(items) }
            }

            /// The elements, in order.
            #[inline]
            pub fn iter(&self) -> $iter<'a> {
                match self.repr {
                    $crate::ber::SeqRepr::Encoded { content, base, depth, ctx, first } => {
                        let (first, end) =
                            <$cache as $crate::ber::FirstCache<'a, $item>>::get(first, content);
                        $iter {
                            slice: &[],
                            first,
                            reader: Some($crate::ber::Reader::at_depth(
                                ctx,
                                content.get(end..).unwrap_or_default(),
                                base.saturating_add(end),
                                depth,
                            )),
                        }
                    }
                    $crate::ber::SeqRepr::Slice(s) => $iter { slice: s, first: None, reader: None },
                }
            }

            /// The number of elements.
            pub fn len(&self) -> usize {
                self.iter().count()
            }

            /// Whether the list has no elements.
            pub fn is_empty(&self) -> bool {
                match self.repr {
                    // Every element of a decoded list was checked when it was decoded: it has
                    // one iff it has contents.
                    $crate::ber::SeqRepr::Encoded { content, .. } => content.is_empty(),
                    $crate::ber::SeqRepr::Slice(s) => s.is_empty(),
                }
            }

            /// A decoded list over `content` (first octet at absolute `base`, elements at
            /// `depth`), whose elements the caller checked as `decode` does.
            #[allow(dead_code)]
            pub(crate) const fn checked(
                content: &'a [u8],
                base: usize,
                depth: usize,
                ctx: $crate::ber::Ctx,
            ) -> Self {
                $list {
                    repr: $crate::ber::SeqRepr::Encoded {
                        content,
                        base,
                        depth,
                        ctx,
                        first: <$cache as $crate::ber::FirstCache<'a, $item>>::NONE,
                    },
                }
            }

            /// Where a decoded list's elements are: (contents address and length, base,
            /// depth), for tests comparing two decoders.
            #[cfg(test)]
            #[allow(dead_code)]
            pub(crate) fn encoded_parts(&self) -> Option<(usize, usize, usize, usize)> {
                match self.repr {
                    $crate::ber::SeqRepr::Encoded { content, base, depth, .. } => {
                        Some((content.as_ptr() as usize, content.len(), base, depth))
                    }
                    $crate::ber::SeqRepr::Slice(_) => None,
                }
            }

            /// Decodes and checks every element of constructed `tlv`, at most `max` of them.
            #[allow(dead_code)]
            pub(crate) fn decode(
                ctx: &$crate::ber::Ctx,
                tlv: &$crate::ber::Tlv<'a>,
                max: Option<(&'static str, usize)>,
            ) -> Result<Self, $crate::error::DecodeError> {
                let mut r = $crate::ber::children(*ctx, tlv)?;
                let mut n = 0usize;
                while !r.is_empty() {
                    let t = r.read()?;
                    $decode(ctx, &t)?;
                    n = n.saturating_add(1);
                    if let Some((limit, m)) = max {
                        if n > m {
                            return Err(ctx.err(
                                t.offset,
                                $crate::error::DecodeErrorKind::LimitExceeded { limit, max: m },
                            ));
                        }
                    }
                }
                Ok($list {
                    repr: $crate::ber::SeqRepr::Encoded {
                        content: tlv.content,
                        base: tlv.content_offset,
                        depth: tlv.depth.saturating_add(1),
                        ctx: *ctx,
                        first: <$cache as $crate::ber::FirstCache<'a, $item>>::NONE,
                    },
                })
            }

            /// A list of the elements at the start of an arbitrary byte string that decode, at
            /// most `max` of them, cut before the first that does not (feature `arbitrary`):
            /// the list borrows that prefix of the fuzzer input, as a decoded list borrows its
            /// PDU, and holds only valid elements.
            #[cfg(feature = "arbitrary")]
            #[allow(dead_code)]
            pub(crate) fn arbitrary_prefix(
                u: &mut ::arbitrary::Unstructured<'a>,
                layer: $crate::Layer,
                max: usize,
            ) -> ::arbitrary::Result<Self> {
                let raw: &'a [u8] = u.arbitrary()?;
                let ctx = $crate::arb::ctx(layer);
                let depth = $crate::arb::LIST_DEPTH;
                let mut r = $crate::ber::Reader::at_depth(ctx, raw, 0, depth);
                let (mut end, mut n) = (0usize, 0usize);
                while n < max && !r.is_empty() {
                    let Ok(t) = r.read() else { break };
                    if $decode(&ctx, &t).is_err() {
                        break;
                    }
                    end = r.pos();
                    n = n.saturating_add(1);
                }
                Ok($list {
                    repr: $crate::ber::SeqRepr::Encoded {
                        content: raw.get(..end).unwrap_or_default(),
                        base: 0,
                        depth,
                        ctx,
                        first: <$cache as $crate::ber::FirstCache<'a, $item>>::NONE,
                    },
                })
            }

            /// Size of the encoded elements (the list's content octets).
            #[allow(dead_code)]
            pub(crate) fn content_len(&self) -> usize {
                self.iter().fold(0usize, |acc, i| acc.saturating_add($len(&i)))
            }

            /// Writes the elements.
            #[allow(dead_code)]
            pub(crate) fn encode_content<B: bytes::BufMut + ?Sized>(
                &self,
                buf: &mut B,
            ) -> Result<(), $crate::error::EncodeError> {
                for i in self.iter() {
                    $encode(&i, buf)?;
                }
                Ok(())
            }
        }

        impl Default for $list<'_> {
            fn default() -> Self {
                $list::from_slice(&[])
            }
        }

        impl PartialEq for $list<'_> {
            fn eq(&self, other: &Self) -> bool {
                self.iter().eq(other.iter())
            }
        }

        impl Eq for $list<'_> {}

        impl core::fmt::Debug for $list<'_> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_list().entries(self.iter()).finish()
            }
        }

        impl<'a> IntoIterator for &$list<'a> {
            type Item = $item;
            type IntoIter = $iter<'a>;
            fn into_iter(self) -> $iter<'a> {
                self.iter()
            }
        }

        #[doc = concat!("Iterator over a [`", stringify!($list), "`].")]
        #[derive(Debug, Clone)]
        pub struct $iter<'a> {
            slice: &'a [$item],
            first: Option<$item>,
            reader: Option<$crate::ber::Reader<'a>>,
        }

        impl<'a> $iter<'a> {
            /// The next element read from the encoded list (out of line: the kept first
            /// element and slices are handed out inline): by `$quick` where it takes the
            /// element, else by [`Self::read_trusted`].
            #[inline(never)]
            fn read_next(&mut self) -> Option<$item> {
                let r = self.reader.as_mut()?;
                if r.is_empty() {
                    return None;
                }
                let ctx = r.ctx();
                let mut q = r.clone();
                if let Some((id, content, at)) = q.read_quick() {
                    if let Some(v) = $quick(&ctx, id, content, at, q.depth()) {
                        *r = q;
                        return Some(v);
                    }
                }
                self.read_trusted()
            }

            /// The next element, read as a [`Tlv`]($crate::ber::Tlv) and given to `$trusted`.
            #[inline(never)]
            fn read_trusted(&mut self) -> Option<$item> {
                let r = self.reader.as_mut()?;
                let ctx = r.ctx();
                match r.read().and_then(|t| $trusted(&ctx, &t)) {
                    Ok(v) => Some(v),
                    Err(_) => {
                        self.reader = Some($crate::ber::Reader::at_depth(ctx, &[], 0, 0));
                        None
                    }
                }
            }
        }

        impl<'a> Iterator for $iter<'a> {
            type Item = $item;
            #[inline(always)]
            fn next(&mut self) -> Option<$item> {
                if let Some(first) = self.first.take() {
                    return Some(first);
                }
                match &self.reader {
                    None => {
                        let (first, rest) = self.slice.split_first()?;
                        self.slice = rest;
                        Some(*first)
                    }
                    Some(r) if r.is_empty() => None,
                    Some(_) => self.read_next(),
                }
            }
        }
    };
}
pub(crate) use seq_of;

/// Defines an open integer code: a newtype over `i64` with named constants.
macro_rules! int_code {
    ($(#[$m:meta])* $name:ident { $($(#[$cm:meta])* $c:ident = $v:expr),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub i64);
        impl $name {
            $($(#[$cm])* pub const $c: $name = $name($v);)*

            /// The name of a known value as its constant is spelt (`REASON_NOT_SPECIFIED`),
            /// `None` for a value this crate does not know.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($v => Some(stringify!($c)),)*
                    _ => None,
                }
            }
        }
        impl core::fmt::Display for $name {
            /// The standard's name in lowercase with hyphens (`reason-not-specified`) followed
            /// by the value in parentheses, or the bare value when it is not a known one.
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                match self.name() {
                    Some(n) => {
                        for c in n.chars() {
                            core::fmt::Write::write_char(
                                f,
                                if c == '_' { '-' } else { c.to_ascii_lowercase() },
                            )?;
                        }
                        write!(f, "({})", self.0)
                    }
                    None => write!(f, "{}", self.0),
                }
            }
        }
    };
}
pub(crate) use int_code;

/// Defines a named-bit set: a newtype over `u32`, ASN.1 bit n at `1 << n`.
macro_rules! bit_set {
    ($(#[$m:meta])* $name:ident { $($(#[$cm:meta])* $c:ident = $v:expr),* $(,)? }) => {
        $(#[$m])*
        ///
        /// Bit n of the ASN.1 BIT STRING (bit 0 = most significant bit of the first content octet)
        /// is `1 << n`; bits past 31 are ignored on decoding.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name(pub u32);
        impl $name {
            $($(#[$cm])* pub const $c: $name = $name(1 << $v);)*
            /// Whether every bit of `other` is set here.
            pub const fn contains(self, other: $name) -> bool {
                self.0 & other.0 == other.0
            }
        }
    };
}
pub(crate) use bit_set;

/// Single-octet mutations of `base` (and its truncations) for the tests that hold a one-pass
/// decoder against its general decoder: every octet replaced by values that change a tag's
/// class, form or number, a length's form, or a value's sign.
#[cfg(test)]
pub(crate) fn mutations(base: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![base.to_vec()];
    for n in 0..base.len() {
        out.push(base.get(..n).unwrap_or_default().to_vec());
    }
    for (i, &b) in base.iter().enumerate() {
        for m in [
            0x00,
            0x01,
            0x02,
            0x06,
            0x30,
            0x7f,
            0x80,
            0x81,
            0x82,
            0x83,
            0x1f,
            0xff,
            b ^ 0x20,
            b ^ 0x40,
            b ^ 0x80,
            b.wrapping_add(1),
            b.wrapping_sub(1),
        ] {
            let mut x = base.to_vec();
            if let Some(o) = x.get_mut(i) {
                *o = m;
            }
            out.push(x);
        }
    }
    out
}
