//! Parsers for the values of `osi connect` and `osi listen` flags. A value that does not parse
//! is a usage error (exit status 2), reported by clap with the flag it belongs to.

use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use osi_stack::address::{PSel, SSel, TSel};
use osi_stack::association::{Selector, Service};
use osi_stack::oid::OwnedOid;
use osi_stack::presentation::ContextId;

/// Octets given as hex on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hex(pub Vec<u8>);

/// Hex digits (either case, no separators) to octets.
pub fn octets(s: &str) -> Result<Vec<u8>, String> {
    let digits = s.as_bytes();
    if digits.len() % 2 != 0 {
        return Err(format!("odd number of hex digits ({})", digits.len()));
    }
    let value = |i: usize, d: u8| -> Result<u8, String> {
        char::from(d)
            .to_digit(16)
            .and_then(|v| u8::try_from(v).ok())
            .ok_or_else(|| format!("invalid hex digit {:?} at position {i}", char::from(d)))
    };
    digits
        .chunks(2)
        .enumerate()
        .map(|(i, pair)| match pair {
            [hi, lo] => Ok((value(i * 2, *hi)? << 4) | value(i * 2 + 1, *lo)?),
            _ => Err("odd number of hex digits".to_owned()),
        })
        .collect()
}

/// Non-empty hex.
pub fn hex(s: &str) -> Result<Hex, String> {
    let v = octets(s)?;
    if v.is_empty() {
        return Err("empty: give at least one octet".to_owned());
    }
    Ok(Hex(v))
}

fn selector_octets(s: &str) -> Result<Vec<u8>, String> {
    let v = octets(s)?;
    if v.is_empty() {
        return Err("empty selector: leave the flag out to send none".to_owned());
    }
    Ok(v)
}

/// A T-selector in hex.
pub fn tsel(s: &str) -> Result<TSel, String> {
    TSel::new(&selector_octets(s)?).map_err(|e| e.to_string())
}

/// An S-selector in hex.
pub fn ssel(s: &str) -> Result<SSel, String> {
    SSel::new(&selector_octets(s)?).map_err(|e| e.to_string())
}

/// A P-selector in hex.
pub fn psel(s: &str) -> Result<PSel, String> {
    PSel::new(&selector_octets(s)?).map_err(|e| e.to_string())
}

/// An object identifier in dotted decimal.
pub fn oid(s: &str) -> Result<OwnedOid, String> {
    OwnedOid::from_str(s).map_err(|e| format!("{s:?} is not an object identifier: {e}"))
}

/// Seconds, fractions allowed, more than zero.
pub fn seconds(s: &str) -> Result<Duration, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if v.is_nan() || v <= 0.0 {
        return Err("must be more than 0 seconds".to_owned());
    }
    Duration::try_from_secs_f64(v).map_err(|e| format!("{s:?}: {e}"))
}

/// Seconds as [`seconds`], or 0 (the caller's "never").
pub fn seconds_or_zero(s: &str) -> Result<Duration, String> {
    if s.parse::<f64>().is_ok_and(|v| v == 0.0) {
        return Ok(Duration::ZERO);
    }
    seconds(s)
}

/// A number of octets: a plain integer, or one with a binary suffix (`K`/`KiB`, `M`/`MiB`,
/// `G`/`GiB`, any case), more than zero.
pub fn byte_count(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, suffix) = t.split_at(split);
    let n: usize = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a number of octets"))?;
    let shift = match suffix.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        other => {
            return Err(format!(
                "unknown size suffix {other:?} (K, M, G or KiB, MiB, GiB)"
            ));
        }
    };
    let v = n
        .checked_mul(1usize << shift)
        .ok_or_else(|| format!("{s:?} is too large"))?;
    if v == 0 {
        return Err("must be more than 0 octets".to_owned());
    }
    Ok(v)
}

/// A TPDU size in octets: 128 to 8192.
pub fn tpdu_size(s: &str) -> Result<usize, String> {
    let v: usize = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if !(128..=8192).contains(&v) {
        return Err("must be from 128 to 8192 octets (X.224 sizes; others round down)".to_owned());
    }
    Ok(v)
}

/// Splits `KEY=VALUE` at the first `=`.
fn pair<'a>(s: &'a str, what: &str) -> Result<(&'a str, &'a str), String> {
    s.split_once('=')
        .ok_or_else(|| format!("{s:?} is not {what}"))
}

/// A presentation-context-identifier: odd, 3..=127 (1 is ACSE's; X.226 §6.2.2.7, §8.2).
fn context_id(s: &str) -> Result<ContextId, String> {
    let id: i64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a presentation context identifier"))?;
    if id < 3 || id % 2 == 0 {
        return Err(format!(
            "presentation context {id}: the initiator's identifiers are odd, and 1 is ACSE's"
        ));
    }
    ContextId::new(id).ok_or_else(|| {
        format!("presentation context {id}: identifiers are at most 127 (X.226 §8.2)")
    })
}

/// `--context ID=ABSTRACT_OID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextArg {
    /// Presentation-context-identifier.
    pub id: ContextId,
    /// Abstract syntax.
    pub abstract_syntax: OwnedOid,
}

/// Parses `ID=ABSTRACT_OID`.
pub fn context(s: &str) -> Result<ContextArg, String> {
    let (id, o) = pair(s, "ID=ABSTRACT_OID")?;
    Ok(ContextArg {
        id: context_id(id)?,
        abstract_syntax: oid(o)?,
    })
}

/// `--send CTX=HEX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendArg {
    /// Presentation context (`None`: a TSDU of `--transport-only`).
    pub context: Option<ContextId>,
    /// The value (one BER element).
    pub value: Vec<u8>,
}

/// Parses `CTX=HEX`, or plain `HEX` (no context: a TSDU of `--transport-only`).
pub fn send(s: &str) -> Result<SendArg, String> {
    if !s.contains('=') {
        return Ok(SendArg {
            context: None,
            value: hex(s)?.0,
        });
    }
    let (c, h) = pair(s, "CTX=HEX")?;
    Ok(SendArg {
        context: Some(context_id(c)?),
        value: hex(h)?.0,
    })
}

/// `--reply REQUEST=RESPONSE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyArg {
    /// The P-DATA value to answer.
    pub request: Vec<u8>,
    /// The answer.
    pub response: Vec<u8>,
}

/// Parses `REQUEST_HEX=RESPONSE_HEX`.
pub fn reply(s: &str) -> Result<ReplyArg, String> {
    let (q, a) = pair(s, "REQUEST_HEX=RESPONSE_HEX")?;
    Ok(ReplyArg {
        request: hex(q)?.0,
        response: hex(a)?.0,
    })
}

/// One selector of `--service`: `-` none, `*` any, else hex.
fn service_selector<S>(
    s: &str,
    make: impl Fn(&str) -> Result<S, String>,
) -> Result<Selector<S>, String> {
    match s {
        "-" => Ok(Selector::Absent),
        "*" => Ok(Selector::Any),
        h => make(h).map(Selector::Is),
    }
}

/// Parses `NAME:TSEL:SSEL:PSEL`.
pub fn service(s: &str) -> Result<Service, String> {
    let parts: Vec<&str> = s.split(':').collect();
    let [name, t, ss, p] = parts.as_slice() else {
        return Err(format!("{s:?} is not NAME:TSEL:SSEL:PSEL"));
    };
    if name.is_empty() {
        return Err("the service needs a name".to_owned());
    }
    Ok(Service::new(*name)
        .with_tsel(service_selector(t, tsel).map_err(|e| format!("t-selector: {e}"))?)
        .with_ssel(service_selector(ss, ssel).map_err(|e| format!("s-selector: {e}"))?)
        .with_psel(service_selector(p, psel).map_err(|e| format!("p-selector: {e}"))?))
}

/// `--session-requirements HEX`: the X.225 Session User Requirements bit string (PI 20), one
/// or two octets of hex.
pub fn session_requirements(
    s: &str,
) -> Result<osi_stack::session::SessionUserRequirements, String> {
    let v = octets(s)?;
    let value = match v.as_slice() {
        [lo] => u16::from(*lo),
        [hi, lo] => u16::from_be_bytes([*hi, *lo]),
        _ => return Err("give one or two octets of hex (e.g. 0249)".to_owned()),
    };
    Ok(osi_stack::session::SessionUserRequirements(value))
}

/// `--allow-calling NAME=IP`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowArg {
    /// The service.
    pub service: String,
    /// The peer address it accepts.
    pub ip: IpAddr,
}

/// Parses `NAME=IP`.
pub fn allow(s: &str) -> Result<AllowArg, String> {
    let (name, ip) = pair(s, "NAME=IP")?;
    Ok(AllowArg {
        service: name.to_owned(),
        ip: ip
            .parse()
            .map_err(|_| format!("{ip:?} is not an IP address"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(octets("00aB"), Ok(vec![0, 0xab]));
        assert!(octets("0").is_err());
        assert!(octets("zz").is_err());
        assert!(octets("é0").is_err());
        assert!(hex("").is_err());
        assert!(tsel("").is_err());
        assert_eq!(context("3=1.0.9506.2.1").map(|c| c.id.get()), Ok(3));
        assert!(context("129=1.0.9506.2.1").is_err());
        assert!(context("1=1.0.9506.2.1").is_err());
        assert!(context("4=1.0.9506.2.1").is_err());
        assert!(context("3=x").is_err());
        assert!(send("3=").is_err());
        assert_eq!(
            send("0a0b").map(|s| (s.context, s.value)),
            Ok((None, vec![10, 11]))
        );
        assert_eq!(send("5=a000").map(|s| s.value), Ok(vec![0xa0, 0]));
        assert!(seconds("0").is_err());
        assert!(seconds("NaN").is_err());
        assert!(seconds("-1").is_err());
        assert!(seconds("1e300").is_err());
        assert_eq!(seconds("0.5"), Ok(Duration::from_millis(500)));
        assert!(tpdu_size("64").is_err());
        let s = service("a:41:-:*").unwrap();
        assert_eq!(s.name, "a");
        assert!(s.tsel.matches(Some(&[0x41])));
        assert!(s.ssel.matches(None) && !s.ssel.matches(Some(&[1])));
        assert!(s.psel.matches(Some(&[1])));
        assert!(service("a:41:-").is_err());
        assert!(service(":41:-:-").is_err());
        assert!(allow("a=127.0.0.1").is_ok());
        assert!(allow("a=localhost").is_err());
        assert!(reply("8b00=8c00").is_ok());
        assert_eq!(byte_count("1024"), Ok(1024));
        assert_eq!(byte_count("16MiB"), Ok(16 << 20));
        assert_eq!(byte_count("2k"), Ok(2048));
        assert!(byte_count("0").is_err());
        assert!(byte_count("1x").is_err());
        assert!(byte_count("99999999999G").is_err());
        assert_eq!(seconds_or_zero("0"), Ok(Duration::ZERO));
        assert_eq!(seconds_or_zero("1.5"), Ok(Duration::from_millis(1500)));
        assert!(seconds_or_zero("-1").is_err());
        assert_eq!(session_requirements("0249").map(|r| r.0), Ok(0x0249));
        assert_eq!(session_requirements("02").map(|r| r.0), Ok(2));
        assert!(session_requirements("").is_err());
        assert!(session_requirements("000249").is_err());
    }
}
