//! Byte search over blocks: line ends and lone CRs 64 bytes at a time
//! with portable SIMD (`wide`: SSE2 on x86-64, NEON, or plain words), and
//! single bytes in short slices eight bytes at a time.
//!
//! SIP and SDP lines are short (20 to 80 bytes) and the values searched
//! inside them shorter still, too short for a search call (`memchr`) to
//! pay for its setup every time. One pass that turns a block into bit
//! masks, then reads every match from them, does better.

use wide::u8x16;

const ONES: u64 = 0x0101_0101_0101_0101;
const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
/// The bytes a [`LineEnds`] block holds.
const BLOCK: usize = 64;

/// Bit 7 of each byte of the result is set where `word`'s byte is `byte`
/// (exact: no false positives, unlike the classic borrow trick).
#[inline]
fn mask(word: u64, byte: u8) -> u64 {
    let y = word ^ (ONES * u64::from(byte));
    !(((y & LOW7).wrapping_add(LOW7)) | y | LOW7)
}

/// Bit `i` of the results is set where byte `i` of `block` is LF (first)
/// or, when `CR`, CR (second; zero otherwise).
#[inline]
fn lf_cr_masks<const CR: bool>(block: &[u8; BLOCK]) -> (u64, u64) {
    let (lf, cr) = (u8x16::splat(b'\n'), u8x16::splat(b'\r'));
    let (mut lfs, mut crs) = (0u64, 0u64);
    for (i, part) in block.chunks_exact(16).enumerate() {
        let v = u8x16::new(part.try_into().unwrap_or([0; 16]));
        // move_mask sets the low 16 bits only.
        lfs |= u64::from(v.cmp_eq(lf).move_mask() as u16) << (16 * i);
        if CR {
            crs |= u64::from(v.cmp_eq(cr).move_mask() as u16) << (16 * i);
        }
    }
    (lfs, crs)
}

/// Eight bytes at `at` as a little-endian word (the caller keeps `at + 8`
/// within `s`).
#[inline]
pub(crate) fn word_at(s: &[u8], at: usize) -> u64 {
    match s.get(at..at + 8) {
        Some(w) => u64::from_le_bytes(w.try_into().unwrap_or([0; 8])),
        None => 0,
    }
}

/// The offset of the first `byte` in `hay`.
#[inline]
pub(crate) fn find(byte: u8, hay: &[u8]) -> Option<usize> {
    find_any([byte], hay)
}

/// The offset of the first byte of `hay` that is `a` or `b`.
#[inline]
pub(crate) fn find_either(a: u8, b: u8, hay: &[u8]) -> Option<usize> {
    find_any([a, b], hay)
}

/// The offset of the first byte of `hay` that is one of `needles`.
#[inline]
pub(crate) fn find_any<const N: usize>(needles: [u8; N], hay: &[u8]) -> Option<usize> {
    if hay.len() >= 16 {
        // Sixteen bytes at a time; the last step overlaps the one before
        // rather than being padded (a padded load costs a copy).
        let splats = needles.map(u8x16::splat);
        let mut at = 0;
        loop {
            let at_block = at.min(hay.len() - 16);
            let block: [u8; 16] = hay[at_block..at_block + 16].try_into().unwrap_or([0; 16]);
            let v = u8x16::new(block);
            let hits = splats
                .iter()
                .fold(u8x16::splat(0), |acc, &n| acc | v.cmp_eq(n));
            let m = hits.move_mask();
            if m != 0 {
                return Some(at_block + m.trailing_zeros() as usize);
            }
            at += 16;
            if at >= hay.len() {
                return None;
            }
        }
    }
    if hay.len() < 8 {
        return hay.iter().position(|x| needles.contains(x));
    }
    let hits = |w: u64| needles.iter().fold(0, |acc, &n| acc | mask(w, n));
    let m = hits(word_at(hay, 0));
    if m != 0 {
        return Some((m.trailing_zeros() / 8) as usize);
    }
    let last = hay.len() - 8;
    let m = hits(word_at(hay, last));
    (m != 0).then(|| last + (m.trailing_zeros() / 8) as usize)
}

/// True when `name` spells `canonical` up to ASCII case; `canonical` is
/// letters and bytes below `@` only (a header name, a media type), so a
/// letter may differ only in its case bit and the others not at all.
#[inline]
pub(crate) fn eq_name(name: &[u8], canonical: &[u8]) -> bool {
    let n = name.len();
    if n != canonical.len() {
        return false;
    }
    // Letters have bit 6 set, the others not: moved onto the case bit, it
    // says which differences to ignore.
    let differs = |a: u64, want: u64| (a ^ want) & !((want & (ONES * 0x40)) >> 1) != 0;
    // A short name is read as two overlapping loads of 2 or 4 bytes.
    let pair = |width: usize| {
        let load = |s: &[u8], at: usize| -> u64 {
            let b = s.get(at..at + width).unwrap_or_default();
            b.iter().rev().fold(0, |w, &x| w << 8 | u64::from(x))
        };
        !differs(load(name, 0), load(canonical, 0))
            && !differs(load(name, n - width), load(canonical, n - width))
    };
    match n {
        0 => return true,
        1 => return !differs(u64::from(name[0]), u64::from(canonical[0])),
        2..=3 => return pair(2),
        4..=7 => return pair(4),
        _ => {}
    }
    let mut at = 0;
    loop {
        let at_word = at.min(n - 8);
        if differs(word_at(name, at_word), word_at(canonical, at_word)) {
            return false;
        }
        at += 8;
        if at >= n {
            return true;
        }
    }
}

/// Iterator over the offsets of every LF in a buffer, in order; with `CR`
/// (a SIP head) it also notes, without a branch, whether a CR that no LF
/// follows was among the bytes it has read.
#[derive(Debug, Clone)]
pub(crate) struct LineEnds<'a, const CR: bool> {
    buf: &'a [u8],
    /// Offset of the block `mask` was computed from.
    base: usize,
    mask: u64,
    /// Offset of the next block to load.
    next: usize,
    /// 1 when the last block read ended with a CR.
    cr_last: u64,
    /// Non-zero once a lone CR was read.
    lone_cr: u64,
}

impl<'a, const CR: bool> LineEnds<'a, CR> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        LineEnds {
            buf,
            base: 0,
            mask: 0,
            next: 0,
            cr_last: 0,
            lone_cr: 0,
        }
    }

    /// The first CR before `end` that is not followed by an LF, provided
    /// the iterator has read that far (it has once it yielded an LF at or
    /// after `end - 1`, or ended).
    ///
    /// A CR is only allowed right before an LF: some stacks read a lone CR
    /// as a line break, so it could smuggle a header past a reader that
    /// does not.
    pub(crate) fn lone_cr_before(&self, end: usize) -> Option<usize> {
        if self.lone_cr == 0 {
            return None;
        }
        // Rare (an attack or a broken peer): find it again, bytewise.
        let head = self.buf.get(..end).unwrap_or(self.buf);
        memchr::memchr_iter(b'\r', head).find(|&i| self.buf.get(i + 1) != Some(&b'\n'))
    }

    #[inline]
    fn load_next(&mut self) {
        let rest = &self.buf[self.next..];
        let (lfs, crs) = match rest.get(..BLOCK) {
            Some(b) => lf_cr_masks::<CR>(b.try_into().unwrap_or(&[0; BLOCK])),
            None => {
                let mut b = [0u8; BLOCK];
                b[..rest.len()].copy_from_slice(rest);
                lf_cr_masks::<CR>(&b)
            }
        };
        // A CR needs an LF in the byte after it: in this block, or for the
        // last byte of the previous block, in this block's first byte.
        // Past the buffer's end the padding is zeros, so a CR in the last
        // byte of a short block counts as lone, as it should.
        self.lone_cr |= (crs & !(1 << 63) & !(lfs >> 1)) | (self.cr_last & !lfs & 1);
        self.cr_last = crs >> 63;
        self.base = self.next;
        self.next += BLOCK;
        self.mask = lfs;
    }
}

impl<const CR: bool> Iterator for LineEnds<'_, CR> {
    type Item = usize;
    #[inline(always)]
    fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            if self.next >= self.buf.len() {
                // A CR ending a buffer that ends on a block boundary.
                self.lone_cr |= self.cr_last;
                return None;
            }
            self.load_next();
        }
        let i = self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        Some(self.base + i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte value, with LFs and CRs (alone and before LFs) at
    /// irregular places, so that they fall on every word position.
    fn sample() -> Vec<u8> {
        let mut buf = Vec::new();
        for i in 0..300u32 {
            buf.push((i * 7 % 256) as u8);
            if i % 13 == 0 || i % 17 == 0 {
                buf.push(b'\n');
            }
            if i % 11 == 0 {
                buf.extend_from_slice(b"\r\n");
            }
        }
        buf.extend_from_slice(b"\n\n\x0b\x0a\x8a");
        buf
    }

    #[test]
    fn finds_every_lf_and_nothing_else() {
        let buf = sample();
        for start in 0..9 {
            let b = &buf[start..];
            let want: Vec<usize> = b
                .iter()
                .enumerate()
                .filter(|(_, &c)| c == b'\n')
                .map(|(i, _)| i)
                .collect();
            let got: Vec<usize> = LineEnds::<true>::new(b).collect();
            let plain: Vec<usize> = LineEnds::<false>::new(b).collect();
            assert_eq!(plain, want, "start {start}");
            assert_eq!(got, want, "start {start}");
        }
        assert_eq!(LineEnds::<true>::new(b"").count(), 0);
        assert_eq!(LineEnds::<true>::new(b"abc").count(), 0);
    }

    #[test]
    fn notes_the_first_lone_cr() {
        let lone = |b: &[u8]| {
            let mut it = LineEnds::<true>::new(b);
            it.by_ref().count();
            it.lone_cr_before(b.len())
        };
        let buf = sample();
        // The sample's own CRs (from i * 7 % 256 == 13) are lone.
        let first = buf
            .iter()
            .enumerate()
            .position(|(i, &c)| c == b'\r' && buf.get(i + 1) != Some(&b'\n'));
        assert_eq!(lone(&buf), first);
        let clean = b"ab\r\ncd\r\n\r\nefgh\r\nijklmnopq\r\n".repeat(6);
        for at in 0..clean.len() {
            // A clean buffer, with one lone CR put at every block position.
            let mut b = clean.clone();
            assert_eq!(lone(&b), None);
            b.insert(at, b'\r');
            let want = (0..b.len()).find(|&i| b[i] == b'\r' && b.get(i + 1) != Some(&b'\n'));
            assert_eq!(lone(&b), want, "CR inserted at {at}");
        }
        assert_eq!(lone(b"abcdefg\r"), Some(7));
        assert_eq!(lone(b"abcdefg\r\n"), None);
        let mut edge = vec![b'a'; 63];
        edge.push(b'\r');
        assert_eq!(lone(&edge), Some(63));
        edge.push(b'\n');
        assert_eq!(lone(&edge), None);
        assert_eq!(lone(b"\r"), Some(0));
        // Only what was read counts, and only before the bound.
        let mut it = LineEnds::<true>::new(b"a\r\n\r\nbody\rin the same block");
        assert_eq!(it.nth(1), Some(4));
        assert_eq!(it.lone_cr_before(5), None);
        assert_eq!(it.lone_cr_before(20), Some(9));
    }

    #[test]
    fn names_compare_up_to_case_only() {
        assert!(eq_name(b"content-LENGTH", b"Content-Length"));
        assert!(eq_name(b"proxy-authorization", b"Proxy-Authorization"));
        assert!(eq_name(b"V", b"Via"[..1].as_ref()));
        assert!(!eq_name(b"Content\rLength", b"Content-Length"));
        assert!(!eq_name(b"Content-Lengtx", b"Content-Length"));
        assert!(!eq_name(b"Proxy-Authorizatio", b"Proxy-Authorization"));
        assert!(!eq_name(b"Proxy-Authorizatiom", b"Proxy-Authorization"));
        // `@` and `` ` `` differ from `A` and `a` in more than the case bit.
        assert!(!eq_name(b"@llow", b"Allow"));
        assert!(!eq_name(b"`llow", b"Allow"));
    }

    #[test]
    fn find_matches_position() {
        let buf = sample();
        for needle in [b':', b'\n', 0, 0xff, b'x'] {
            for start in 0..12 {
                for end in [start, start + 3, start + 8, start + 17, buf.len()] {
                    let hay = &buf[start..end];
                    assert_eq!(
                        find(needle, hay),
                        hay.iter().position(|&b| b == needle),
                        "{needle} in {start}..{end}"
                    );
                    assert_eq!(
                        find_either(needle, b'"', hay),
                        hay.iter().position(|&b| b == needle || b == b'"'),
                        "{needle} or quote in {start}..{end}"
                    );
                    assert_eq!(
                        find_any([needle, b'\r', b'\n'], hay),
                        hay.iter()
                            .position(|&b| [needle, b'\r', b'\n'].contains(&b)),
                        "{needle}, CR or LF in {start}..{end}"
                    );
                }
            }
        }
    }
}
