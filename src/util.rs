//! Small helpers shared by the machines.

use bytes::Bytes;

/// `part` as a `Bytes` sharing `whole`'s buffer when `part` lies inside `whole` (no copy), a
/// copy otherwise. The machines hand out values decoded from a received TSDU this way; the copy
/// is the safe answer should a decoder ever return a slice of another buffer (where
/// [`Bytes::slice_ref`] would panic).
pub(crate) fn sub(whole: &Bytes, part: &[u8]) -> Bytes {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize);
    match start {
        Some(s)
            if s.checked_add(part.len())
                .is_some_and(|end| end <= whole.len()) =>
        {
            whole.slice(s..s.saturating_add(part.len()))
        }
        _ => Bytes::copy_from_slice(part),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_is_shared_outside_is_copied() {
        let whole = Bytes::from_static(b"hello world");
        let part = sub(&whole, &whole[6..]);
        assert_eq!(&part[..], b"world");
        assert_eq!(part.as_ptr(), whole[6..].as_ptr());
        let other = [1u8, 2, 3];
        assert_eq!(&sub(&whole, &other)[..], &other);
        assert!(sub(&whole, &whole[11..]).is_empty());
    }
}
