//! Raw DER slicing, for the bytes a signature covers (a certificate's `tbsCertificate` must be
//! verified as received, not as re-encoded).

/// Splits the DER element at the start of `input` into (tag, whole element, rest).
pub(crate) fn split_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, after_tag) = input.split_first()?;
    let (&first, after_len) = after_tag.split_first()?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let count = usize::from(first & 0x7f);
        // Lengths over 4 bytes exceed anything this crate accepts; 0 is indefinite (BER).
        if count == 0 || count > 4 || after_len.len() < count {
            return None;
        }
        let len = after_len[..count]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, 2 + count)
    };
    let end = header.checked_add(len)?;
    if input.len() < end {
        return None;
    }
    Some((tag, &input[..end], &input[end..]))
}

/// The contents of the DER element at the start of `input` (without its tag and length).
pub(crate) fn contents(element: &[u8]) -> Option<&[u8]> {
    let first = *element.get(1)?;
    let header = if first < 0x80 {
        2
    } else {
        2 + usize::from(first & 0x7f)
    };
    element.get(header..)
}

/// The elements inside a constructed element, each as (tag, whole element).
pub(crate) fn children(element: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    let mut rest = contents(element)?;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let (tag, child, after) = split_element(rest)?;
        out.push((tag, child));
        rest = after;
    }
    Some(out)
}

/// The exact bytes of the first element inside the outer SEQUENCE of `der`: for a certificate,
/// the `tbsCertificate` its issuer signed.
pub(crate) fn first_inner_element(der: &[u8]) -> Option<&[u8]> {
    let (tag, outer, _) = split_element(der)?;
    if tag != 0x30 {
        return None;
    }
    let (_, inner, _) = split_element(contents(outer)?)?;
    Some(inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_short_and_long_lengths() {
        let short = [0x04, 0x02, 0xaa, 0xbb, 0xcc];
        let (tag, element, rest) = split_element(&short).unwrap();
        assert_eq!((tag, element, rest), (0x04, &short[..4], &short[4..]));
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend(std::iter::repeat_n(7u8, 0x80));
        assert_eq!(split_element(&long).unwrap().1.len(), 0x83);
    }

    #[test]
    fn refuses_truncated_and_indefinite() {
        assert!(split_element(&[0x30, 0x05, 0x01]).is_none());
        assert!(split_element(&[0x30, 0x80, 0x00, 0x00]).is_none());
        assert!(split_element(&[0x30, 0x85, 1, 1, 1, 1, 1]).is_none());
        assert!(split_element(&[]).is_none());
        assert!(first_inner_element(&[0x04, 0x00]).is_none());
    }

    #[test]
    fn finds_the_first_inner_element() {
        let der = [0x30, 0x06, 0x30, 0x01, 0x05, 0x02, 0x01, 0x00];
        assert_eq!(first_inner_element(&der).unwrap(), &[0x30, 0x01, 0x05]);
    }
}
