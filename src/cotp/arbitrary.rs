//! `arbitrary::Arbitrary` for TPDUs (feature `arbitrary`), for structured fuzzing: every value
//! generated is one the encoder accepts unless its header exceeds 254 octets, and decodes back
//! to itself when it encodes.

use arbitrary::{Arbitrary, Result, Unstructured};

use crate::cotp::{
    Ack, ClassOption, Connect, Data, DataFormat, Disconnect, DisconnectConfirm, DisconnectReason,
    Error, ExpeditedAck, Params, RejectCause, Tpdu, TpduKind,
};

/// A variable part: arbitrary bytes that happen to be well formed, else none.
fn params<'a>(u: &mut Unstructured<'a>, kind: TpduKind) -> Result<Params<'a>> {
    let raw: &'a [u8] = u.arbitrary()?;
    Ok(match kind {
        // In a CR or CC a code with bits 8–7 = 00 starts the header data (RDP), so the
        // parameters must hold none.
        TpduKind::Cr | TpduKind::Cc => match Params::parse_with_trailer(kind, raw) {
            Ok((p, [])) => p,
            _ => Params::EMPTY,
        },
        _ => Params::parse(kind, raw).unwrap_or(Params::EMPTY),
    })
}

fn format(u: &mut Unstructured<'_>) -> Result<DataFormat> {
    Ok(if u.arbitrary()? {
        DataFormat::Extended
    } else {
        DataFormat::Normal
    })
}

impl<'a> Arbitrary<'a> for Tpdu<'a> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.int_in_range(0u8..=9)? {
            0 | 1 => {
                let kind = if u.arbitrary()? {
                    TpduKind::Cr
                } else {
                    TpduKind::Cc
                };
                let params = params(u, kind)?;
                // RDP-style data starts with an octet that cannot begin a parameter.
                let header_data: &'a [u8] = u.arbitrary()?;
                let header_data = match header_data.first() {
                    Some(b) if b & 0xc0 == 0 => header_data,
                    _ => &[],
                };
                let c = Connect {
                    cdt: u.int_in_range(0..=15)?,
                    dst_ref: u.arbitrary()?,
                    src_ref: u.arbitrary()?,
                    class_option: ClassOption(u.arbitrary()?),
                    params,
                    header_data,
                    user_data: u.arbitrary()?,
                };
                if kind == TpduKind::Cr {
                    Tpdu::Cr(c)
                } else {
                    Tpdu::Cc(c)
                }
            }
            2 => Tpdu::Dr(Disconnect {
                dst_ref: u.arbitrary()?,
                src_ref: u.arbitrary()?,
                reason: DisconnectReason(u.arbitrary()?),
                params: params(u, TpduKind::Dr)?,
                user_data: u.arbitrary()?,
            }),
            3 => Tpdu::Dc(DisconnectConfirm {
                dst_ref: u.arbitrary()?,
                src_ref: u.arbitrary()?,
                params: params(u, TpduKind::Dc)?,
            }),
            4 | 5 => {
                let ed = u.arbitrary::<bool>()?;
                let kind = if ed { TpduKind::Ed } else { TpduKind::Dt };
                let format = match u.int_in_range(0u8..=2)? {
                    0 => DataFormat::Short,
                    1 => DataFormat::Normal,
                    _ => DataFormat::Extended,
                };
                let short = format == DataFormat::Short;
                let nr: u32 = u.arbitrary()?;
                let d = Data {
                    format,
                    roa: !ed && u.arbitrary()?,
                    dst_ref: if short { None } else { Some(u.arbitrary()?) },
                    eot: u.arbitrary()?,
                    nr: if format == DataFormat::Extended {
                        nr & 0x7fff_ffff
                    } else {
                        nr & 0x7f
                    },
                    params: if short {
                        Params::EMPTY
                    } else {
                        params(u, kind)?
                    },
                    user_data: u.arbitrary()?,
                };
                if ed { Tpdu::Ed(d) } else { Tpdu::Dt(d) }
            }
            6 | 7 => {
                let format = format(u)?;
                let ext = format == DataFormat::Extended;
                let ak = u.arbitrary::<bool>()?;
                let kind = if ak { TpduKind::Ak } else { TpduKind::Rj };
                let a = Ack {
                    format,
                    dst_ref: u.arbitrary()?,
                    nr: if ext {
                        u.arbitrary()?
                    } else {
                        u32::from(u.arbitrary::<u8>()?)
                    },
                    cdt: if ext {
                        u.arbitrary()?
                    } else {
                        u.int_in_range(0..=15)?
                    },
                    params: params(u, kind)?,
                };
                if ak { Tpdu::Ak(a) } else { Tpdu::Rj(a) }
            }
            8 => {
                let format = format(u)?;
                Tpdu::Ea(ExpeditedAck {
                    format,
                    dst_ref: u.arbitrary()?,
                    nr: if format == DataFormat::Extended {
                        u.arbitrary()?
                    } else {
                        u32::from(u.arbitrary::<u8>()?)
                    },
                    params: params(u, TpduKind::Ea)?,
                })
            }
            _ => Tpdu::Er(Error {
                dst_ref: u.arbitrary()?,
                cause: RejectCause(u.arbitrary()?),
                params: params(u, TpduKind::Er)?,
            }),
        })
    }
}
