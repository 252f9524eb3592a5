//! A writer into a `Vec<u8>`'s spare capacity for the JSON encoder's hot
//! path: room is made once for a whole value (its worst case), then its
//! bytes are stored with no capacity check each.
//!
//! Why not `Vec::push`: every push checks the capacity, and since a byte
//! stored through a `u8` pointer may alias anything, the compiler reloads
//! the vector's length and pointer from memory after each one (about 575
//! instructions an event, callgrind). The cursor keeps them in locals, and
//! only its cold growing path touches the vector.

/// The vector being written, its buffer, and how much of it is written.
pub(super) struct Cursor<'o> {
    out: &'o mut Vec<u8>,
    base: *mut u8,
    len: usize,
    cap: usize,
}

impl<'o> Cursor<'o> {
    /// Writes after `out`'s bytes; [`Cursor::finish`] sets its length.
    #[inline(always)]
    pub(super) fn new(out: &'o mut Vec<u8>) -> Cursor<'o> {
        Cursor {
            base: out.as_mut_ptr(),
            len: out.len(),
            cap: out.capacity(),
            out,
        }
    }

    /// Makes room for `n` more bytes.
    #[inline(always)]
    pub(super) fn room(&mut self, n: usize) {
        if self.cap - self.len < n {
            (self.base, self.cap) = grow(self.out, self.len, n);
        }
    }

    /// Stores one byte; [`Cursor::room`] made room for it.
    #[inline(always)]
    pub(super) fn put(&mut self, byte: u8) {
        debug_assert!(self.len < self.cap, "no room made");
        // SAFETY: `room` was called for this byte (the caller's duty, checked
        // in debug builds), so `len < cap` and the byte is inside the buffer.
        unsafe { self.base.add(self.len).write(byte) };
        self.len += 1;
    }

    /// Stores `bytes`; [`Cursor::room`] made room for them.
    #[inline(always)]
    pub(super) fn put_slice(&mut self, bytes: &[u8]) {
        debug_assert!(self.cap - self.len >= bytes.len(), "no room made");
        // SAFETY: as in `put`, for `bytes.len()` bytes; `bytes` cannot lie in
        // the spare capacity, which nothing else can borrow.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.base.add(self.len), bytes.len())
        };
        self.len += bytes.len();
    }

    /// The spare capacity's start, for stores of whole blocks.
    ///
    /// # Safety
    /// The caller stores within the room it made with [`Cursor::room`] and
    /// then calls [`Cursor::advance`] with no more than it wrote.
    /// [`Cursor::put_slice`] for bytes of a length known only at run time
    /// and usually short (a severity word, the observed time, a number's
    /// digits): up to 32 bytes as two overlapping fixed-size copies, where
    /// `copy_nonoverlapping` of an unknown length is a `memcpy` call.
    #[inline(always)]
    pub(super) fn put_short(&mut self, bytes: &[u8]) {
        debug_assert!(self.cap - self.len >= bytes.len(), "no room made");
        let (n, src) = (bytes.len(), bytes.as_ptr());
        // SAFETY: every copy reads within `bytes` (each starts at 0 or at
        // `n - k` with `n >= k`) and writes the same offsets past `len`,
        // within the room made for `n` bytes.
        unsafe {
            let dst = self.base.add(self.len);
            match n {
                16..=32 => {
                    copy_fixed::<16>(src, dst);
                    copy_fixed::<16>(src.add(n - 16), dst.add(n - 16));
                }
                8..=15 => {
                    copy_fixed::<8>(src, dst);
                    copy_fixed::<8>(src.add(n - 8), dst.add(n - 8));
                }
                4..=7 => {
                    copy_fixed::<4>(src, dst);
                    copy_fixed::<4>(src.add(n - 4), dst.add(n - 4));
                }
                1..=3 => {
                    dst.write(src.read());
                    dst.add(n / 2).write(src.add(n / 2).read());
                    dst.add(n - 1).write(src.add(n - 1).read());
                }
                0 => {}
                _ => std::ptr::copy_nonoverlapping(src, dst, n),
            }
        }
        self.len += n;
    }

    #[inline(always)]
    pub(super) unsafe fn spare(&mut self) -> *mut u8 {
        // SAFETY: `len <= cap`, so this is inside the buffer or one past it.
        unsafe { self.base.add(self.len) }
    }

    /// Counts `n` bytes stored at [`Cursor::spare`] as written.
    ///
    /// # Safety
    /// The `n` bytes after the written ones were stored, within the room made.
    #[inline(always)]
    pub(super) unsafe fn advance(&mut self, n: usize) {
        debug_assert!(self.cap - self.len >= n, "no room made");
        self.len += n;
    }

    /// The last byte written, if any.
    #[inline(always)]
    pub(super) fn last(&self) -> Option<u8> {
        // SAFETY: bytes `[0, len)` are initialised.
        (self.len > 0).then(|| unsafe { self.base.add(self.len - 1).read() })
    }

    /// Forgets the last byte written.
    #[inline(always)]
    pub(super) fn pop(&mut self) {
        self.len = self.len.saturating_sub(1);
    }

    /// Sets the vector's length to what was written.
    #[inline(always)]
    pub(super) fn finish(self) {
        // SAFETY: bytes `[0, len)` are initialised and `len <= cap`.
        unsafe { self.out.set_len(self.len) };
    }
}

/// Grows `out`, whose first `len` bytes are written, to hold `n` more:
/// out of line, so that the cursor's fields stay in registers.
/// Copies `K` bytes, as one unaligned load and store.
///
/// # Safety
/// `src` must be readable and `dst` writable for `K` bytes.
#[inline(always)]
unsafe fn copy_fixed<const K: usize>(src: *const u8, dst: *mut u8) {
    unsafe {
        dst.cast::<[u8; K]>()
            .write_unaligned(src.cast::<[u8; K]>().read_unaligned())
    }
}

#[cold]
#[inline(never)]
fn grow(out: &mut Vec<u8>, len: usize, n: usize) -> (*mut u8, usize) {
    // SAFETY: the cursor wrote bytes `[0, len)`, within the capacity.
    unsafe { out.set_len(len) };
    out.reserve(n);
    (out.as_mut_ptr(), out.capacity())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_written_after_growing_are_all_kept() {
        let mut out = b"ab".to_vec();
        out.shrink_to_fit();
        let mut c = Cursor::new(&mut out);
        for i in 0..1000u32 {
            c.room(3);
            c.put(b'x');
            c.put_slice(&[b'0' + (i % 10) as u8, b';']);
        }
        assert_eq!(c.last(), Some(b';'));
        c.pop();
        c.room(6);
        c.put_slice(b"|vec|");
        c.put(b'!');
        c.finish();
        assert_eq!(out.len(), 2 + 3000 - 1 + 5 + 1);
        assert!(out.starts_with(b"abx0;x1;x2;"));
        assert!(out.ends_with(b"x8;x9|vec|!"));
    }

    #[test]
    fn short_bytes_are_put_whole_at_every_length() {
        let source: Vec<u8> = (0..40u8).map(|i| b'a' + i % 26).collect();
        for n in 0..=40 {
            let mut out = b"<".to_vec();
            let mut c = Cursor::new(&mut out);
            c.room(n + 1);
            c.put_short(&source[..n]);
            c.put(b'>');
            c.finish();
            let mut expected = b"<".to_vec();
            expected.extend_from_slice(&source[..n]);
            expected.push(b'>');
            assert_eq!(out, expected, "length {n}");
        }
    }
}
