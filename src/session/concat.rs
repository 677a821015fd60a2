//! The SPDUs of one TSDU and the concatenation rules (X.225 §6.3.7, Tables 6–8).

use bytes::BufMut;

use crate::error::{DecodeError, DecodeErrorKind, EncodeError, Layer};

use super::codes::{Category, Position, SpduKind};
use super::spdu::Spdu;

/// Iterator over the SPDUs of one TSDU, enforcing the concatenation rules of X.225 §6.3.7.
///
/// ```text
///  TSDU:  [ category 1 ]                              CN, AC, RF, FN, DN, AB, AA, TD, … alone
///         [ category 0 ]                              GT or PT alone
///         [ category 0 ][ category 2 ]                basic concatenation (GT+DT, PT+AS, …)
///         [ category 0 ][ cat 2 ][ cat 2 ][ cat 2 ]   extended concatenation (at most three)
///         [ EX ]                                      expedited flow, alone
/// ```
///
/// The first SPDU resolves SI 1/25/26 as GT/AB/AA, every later one as DT/AI/AIA. DT (whose user
/// information field runs to the end of the TSDU) is necessarily the last SPDU.
///
/// Errors end the iteration; they name the offset from the start of the TSDU:
/// an empty TSDU (`Truncated`), a category-2 SPDU first or a category-0/1 SPDU after the first
/// (`BadSequence`), octets after a category-1 SPDU (`TrailingData`), more category-2 SPDUs than
/// allowed (`BadSequence`). By default up to three category-2 SPDUs are accepted (a lenient
/// receiver); [`SpduIter::extended_concatenation`]`(false)` accepts only one, for a receiver
/// that did not announce Protocol Options bit 1. Whether the right category-0 SPDU (GT or PT)
/// precedes a given category-2 SPDU is not checked: receivers accept either
/// (`docs/protocol-notes.md` §7).
///
/// Iterating allocates nothing.
#[derive(Debug, Clone)]
pub struct SpduIter<'a> {
    rest: &'a [u8],
    offset: usize,
    state: State,
    category_two: usize,
    extended: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    /// The TSDU was `01 00 01 00 …` (GT + DT without parameters): the DT is next.
    PendingDt,
    Concatenated,
    Done,
}

/// The SPDUs of one TSDU; see [`SpduIter`].
///
/// ```
/// use osi_stack::session::{spdus, SpduKind};
/// let tsdu = [0x01, 0x00, 0x01, 0x00, 0x61, 0x02, 0x30, 0x00];
/// let mut it = spdus(&tsdu);
/// assert_eq!(it.next().unwrap()?.kind(), SpduKind::Gt);
/// let dt = it.next().unwrap()?;
/// assert_eq!(dt.kind(), SpduKind::Dt);
/// assert_eq!(dt.user_information(), [0x61, 0x02, 0x30, 0x00]);
/// assert!(it.next().is_none());
/// # Ok::<(), osi_stack::DecodeError>(())
/// ```
pub fn spdus(tsdu: &[u8]) -> SpduIter<'_> {
    SpduIter {
        rest: tsdu,
        offset: 0,
        state: State::Start,
        category_two: 0,
        extended: true,
    }
}

/// Largest number of category-2 SPDUs after one category-0 SPDU (X.225 Table 8).
pub const MAX_CATEGORY_TWO: usize = 3;

impl<'a> SpduIter<'a> {
    /// Whether more than one category-2 SPDU may follow the category-0 SPDU (extended
    /// concatenation, X.225 §6.3.7.2). Default `true`.
    #[must_use]
    pub fn extended_concatenation(mut self, allowed: bool) -> Self {
        self.extended = allowed;
        self
    }

    /// Offset of the next SPDU from the start of the TSDU.
    pub const fn offset(&self) -> usize {
        self.offset
    }

    fn fail(
        &mut self,
        offset: usize,
        kind: DecodeErrorKind,
    ) -> Option<Result<Spdu<'a>, DecodeError>> {
        self.state = State::Done;
        Some(Err(DecodeError::new(Layer::Session, offset, kind)))
    }
}

impl<'a> Iterator for SpduIter<'a> {
    type Item = Result<Spdu<'a>, DecodeError>;

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        // Fast path: the GT + DT header in front of every MMS and RTSE PDU.
        match (self.state, self.rest) {
            (State::Start, [0x01, 0x00, 0x01, 0x00, ..]) => {
                self.state = State::PendingDt;
                return Some(Ok(Spdu::empty(SpduKind::Gt, &[])));
            }
            (State::PendingDt, [_, _, _, _, data @ ..]) => {
                self.state = State::Done;
                self.category_two = 1;
                self.offset = self.offset.saturating_add(self.rest.len());
                self.rest = &[];
                return Some(Ok(Spdu::empty(SpduKind::Dt, data)));
            }
            _ => {}
        }
        self.next_slow()
    }
}

impl<'a> SpduIter<'a> {
    #[inline(always)]
    fn next_slow(&mut self) -> Option<Result<Spdu<'a>, DecodeError>> {
        let position = match self.state {
            State::Done | State::PendingDt => return None,
            State::Start => {
                if self.rest.is_empty() {
                    return self.fail(
                        0,
                        DecodeErrorKind::Truncated {
                            what: "tsdu",
                            needed: 2,
                            available: 0,
                        },
                    );
                }
                Position::First
            }
            State::Concatenated => {
                if self.rest.is_empty() {
                    self.state = State::Done;
                    return None;
                }
                Position::Concatenated
            }
        };
        let start = self.offset;
        let (spdu, rest) = match Spdu::decode_at(self.rest, position) {
            Ok(v) => v,
            Err(e) => {
                self.state = State::Done;
                return Some(Err(e.shifted(start)));
            }
        };
        let used = self.rest.len().saturating_sub(rest.len());
        self.offset = start.saturating_add(used);
        self.rest = rest;
        let category = spdu.kind().category();
        match (position, category) {
            (Position::First, Category::Zero) => self.state = State::Concatenated,
            (Position::First, Category::One | Category::Expedited) => {
                if !rest.is_empty() {
                    return self.fail(
                        self.offset,
                        DecodeErrorKind::TrailingData {
                            what: spdu.kind().abbreviation(),
                            len: rest.len(),
                        },
                    );
                }
                self.state = State::Done;
            }
            (Position::First, Category::Two) => {
                return self.fail(
                    start,
                    DecodeErrorKind::BadSequence {
                        what: "category 2 spdu not preceded by give tokens or please tokens",
                    },
                );
            }
            (Position::Concatenated, Category::Two) => {
                self.category_two = self.category_two.saturating_add(1);
                let max = if self.extended { MAX_CATEGORY_TWO } else { 1 };
                if self.category_two > max {
                    return self.fail(
                        start,
                        DecodeErrorKind::BadSequence {
                            what: if self.extended {
                                "more than three category 2 spdus concatenated"
                            } else {
                                "extended concatenation not allowed"
                            },
                        },
                    );
                }
            }
            (Position::Concatenated, _) => {
                return self.fail(
                    start,
                    DecodeErrorKind::BadSequence {
                        what: "category 0 or 1 spdu concatenated after give tokens or please tokens",
                    },
                );
            }
        }
        Some(Ok(spdu))
    }
}

impl core::iter::FusedIterator for SpduIter<'_> {}

/// Octets [`encode_tsdu`] writes for `spdus`.
pub fn tsdu_len(spdus: &[Spdu<'_>]) -> usize {
    spdus
        .iter()
        .fold(0usize, |n, s| n.saturating_add(s.encoded_len()))
}

/// Writes several SPDUs one after the other as one TSDU (for instance `[GT, DT]`). The order and
/// categories are the caller's responsibility; nothing is written if `buf` is too small.
pub fn encode_tsdu<B: BufMut + ?Sized>(spdus: &[Spdu<'_>], buf: &mut B) -> Result<(), EncodeError> {
    crate::error::ensure_room(Layer::Session, buf, tsdu_len(spdus))?;
    for s in spdus {
        s.encode(buf)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::SpduKind;

    fn kinds(tsdu: &[u8]) -> Result<Vec<SpduKind>, DecodeError> {
        spdus(tsdu).map(|r| r.map(|s| s.kind())).collect()
    }

    #[test]
    fn shared_codes_by_position() {
        assert_eq!(
            kinds(&[1, 0, 1, 0, 9]).unwrap(),
            [SpduKind::Gt, SpduKind::Dt]
        );
        assert_eq!(kinds(&[1, 0]).unwrap(), [SpduKind::Gt]);
        assert_eq!(
            kinds(&[2, 0, 0x19, 0]).unwrap(),
            [SpduKind::Pt, SpduKind::Ai]
        );
        assert_eq!(
            kinds(&[2, 0, 0x1a, 0]).unwrap(),
            [SpduKind::Pt, SpduKind::Aia]
        );
        assert_eq!(kinds(&[0x1a, 0]).unwrap(), [SpduKind::Aa]);
        assert_eq!(
            kinds(&[
                1, 0, 0x2d, 3, 0x29, 1, 1, 0x31, 3, 0x2a, 1, 0x31, 1, 0, 0xaa
            ])
            .unwrap(),
            [SpduKind::Gt, SpduKind::As, SpduKind::Mip, SpduKind::Dt]
        );
    }

    #[test]
    fn rules_enforced() {
        let e = kinds(&[0x1a, 0, 1, 0]).unwrap_err();
        assert!(matches!(
            e.kind(),
            DecodeErrorKind::TrailingData { len: 2, .. }
        ));
        assert_eq!(e.offset(), 2);
        let e = kinds(&[0x2d, 0]).unwrap_err();
        assert!(matches!(e.kind(), DecodeErrorKind::BadSequence { .. }));
        let e = kinds(&[1, 0, 0x0d, 0]).unwrap_err();
        assert!(matches!(e.kind(), DecodeErrorKind::BadSequence { .. }));
        assert_eq!(e.offset(), 2);
        let e = kinds(&[1, 0, 2, 0]).unwrap_err();
        assert!(matches!(e.kind(), DecodeErrorKind::BadSequence { .. }));
        let e = kinds(&[]).unwrap_err();
        assert!(e.is_truncated());
        let four = [1, 0, 0x2d, 0, 0x2d, 0, 0x2d, 0, 1, 0];
        assert!(kinds(&four).is_err());
        assert!(kinds(&four[..8]).is_ok());
        let basic: Result<Vec<_>, _> = spdus(&four[..6]).extended_concatenation(false).collect();
        assert!(basic.is_err());
        // Error offsets are from the TSDU start.
        let e = kinds(&[1, 0, 1, 5, 0x14]).unwrap_err();
        assert_eq!(e.offset(), 4);
    }
}
