//! Line ends (`\n`) of a buffer, found eight bytes at a time.
//!
//! SIP and SDP lines are short (20 to 80 bytes), too short for a vector
//! search to pay for its setup on every line; a word-at-a-time scan that
//! yields every LF of a word from one mask does better, in safe code.

const LF: u64 = 0x0a0a_0a0a_0a0a_0a0a;
const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// Bit 7 of each byte of the result is set where `word`'s byte is LF
/// (exact: no false positives, unlike the classic borrow trick).
fn lf_mask(word: u64) -> u64 {
    let y = word ^ LF;
    !(((y & LOW7).wrapping_add(LOW7)) | y | LOW7)
}

/// Iterator over the offsets of every LF in a buffer, in order.
#[derive(Debug, Clone)]
pub(crate) struct LineEnds<'a> {
    buf: &'a [u8],
    /// Offset of the word `mask` was computed from.
    base: usize,
    mask: u64,
    /// Offset of the next word to load.
    next: usize,
}

impl<'a> LineEnds<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        LineEnds {
            buf,
            base: 0,
            mask: 0,
            next: 0,
        }
    }
}

impl Iterator for LineEnds<'_> {
    type Item = usize;
    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            if self.next >= self.buf.len() {
                return None;
            }
            let rest = &self.buf[self.next..];
            let word = match rest.get(..8) {
                Some(w) => u64::from_le_bytes(w.try_into().unwrap_or([0; 8])),
                None => {
                    let mut w = [0u8; 8];
                    w[..rest.len()].copy_from_slice(rest);
                    u64::from_le_bytes(w)
                }
            };
            self.base = self.next;
            self.next += 8;
            self.mask = lf_mask(word);
        }
        let i = (self.mask.trailing_zeros() / 8) as usize;
        self.mask &= self.mask - 1;
        Some(self.base + i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_lf_and_nothing_else() {
        let mut buf = Vec::new();
        for i in 0..300u32 {
            // Every byte value, with LFs at irregular places.
            buf.push((i * 7 % 256) as u8);
            if i % 13 == 0 || i % 17 == 0 {
                buf.push(b'\n');
            }
        }
        buf.extend_from_slice(b"\n\n\x0b\x0a\x8a");
        for start in 0..9 {
            let b = &buf[start..];
            let want: Vec<usize> = b
                .iter()
                .enumerate()
                .filter(|(_, &c)| c == b'\n')
                .map(|(i, _)| i)
                .collect();
            let got: Vec<usize> = LineEnds::new(b).collect();
            assert_eq!(got, want, "start {start}");
        }
        assert_eq!(LineEnds::new(b"").count(), 0);
        assert_eq!(LineEnds::new(b"abc").count(), 0);
    }
}
