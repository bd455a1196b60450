//! Files read through a mapping of their pages: no copy into the process and no fresh
//! memory (the kernel clears each fresh page first, about 1 ms a megabyte on the machine
//! of the benchmarks), with the pages let go behind a pass so that a pass over a file of
//! gigabytes holds a window of it.

/// The bytes of a file: mapped (no copy, no fresh memory), or made in memory (a key file
/// made from a published CSV).
pub(crate) enum Bytes {
    Mapped(memmap2::Mmap),
    Made(Vec<u8>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Made(v) => v,
        }
    }
}

impl Bytes {
    /// The first `len` bytes, in order, handed to `each` a step at a time, a mapped file's
    /// pages let go behind the pass.
    pub(crate) fn pass_over(&self, len: usize, mut each: impl FnMut(&[u8])) {
        let mut pass = Pass::over(self);
        for (k, chunk) in self[..len.min(self.len())].chunks(Pass::STEP).enumerate() {
            each(chunk);
            pass.reached((k + 1) * Pass::STEP);
        }
    }

    /// The sha256 of the bytes, in hex.
    pub(crate) fn sha256(&self) -> String {
        use sha2::Digest;
        let mut sha = sha2::Sha256::new();
        self.pass_over(self.len(), |chunk| sha.update(chunk));
        crate::config::hex(&sha.finalize())
    }
}

/// Bytes read in one pass from start to end: a mapped file's pages are let go as the
/// pass leaves them behind, so the pass holds a window of the file in memory, not the
/// file (a 10M-row publication's key file is 400 MB, its input CSV 1.1 GB; the kernel
/// keeps the pages in its cache, and the next pass maps them again from there).
pub(crate) struct Pass<'a> {
    bytes: &'a Bytes,
    /// Let go up to here.
    done: usize,
}

impl<'a> Pass<'a> {
    /// Let go in steps of this many bytes: 2 MB (steps of 8 MB held up to twice that of
    /// the file at once: at 10M rows, 15 MB of the change report's peak over the previous
    /// key file, 10 MB of ingest's over the input, for no time a 1M-row run shows).
    pub(crate) const STEP: usize = 2 << 20;

    pub(crate) fn over(bytes: &'a Bytes) -> Pass<'a> {
        Pass { bytes, done: 0 }
    }

    /// What to let go when done with everything before `at`, having let go up to `done`,
    /// of `len` bytes: whole steps, never past the end (past it lies other memory).
    fn step(done: usize, at: usize, len: usize) -> Option<usize> {
        let upto = at.min(len) / Self::STEP * Self::STEP;
        (upto > done).then_some(upto)
    }

    /// Done with everything before `at`.
    pub(crate) fn reached(&mut self, at: usize) {
        if at < self.done + Self::STEP {
            return;
        }
        let Some(upto) = Self::step(self.done, at, self.bytes.len()) else {
            return;
        };
        #[cfg(unix)]
        if let Bytes::Mapped(m) = self.bytes {
            // SAFETY: the mapping is of a file opened read-only and shared (not private,
            // not anonymous): pages let go are read again from the file when next
            // touched; the callers let go only what no reader of the mapping is still
            // reading (see the mappings' own SAFETY notes on files changed in place), and
            // any later read of the range maps it again
            let _ = unsafe {
                m.unchecked_advise_range(
                    memmap2::UncheckedAdvice::DontNeed,
                    self.done,
                    upto - self.done,
                )
            };
        }
        self.done = upto;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pass_lets_go_whole_steps_and_never_past_the_end() {
        let step = Pass::STEP;
        // not a whole step yet; one; the rest of a step past what is let go
        assert_eq!(Pass::step(0, step - 1, 10 * step), None);
        assert_eq!(Pass::step(0, step + 5, 10 * step), Some(step));
        assert_eq!(Pass::step(step, step + 5, 10 * step), None);
        // at or past the end: up to the last whole step inside it, not beyond
        assert_eq!(Pass::step(0, 3 * step, 2 * step + 100), Some(2 * step));
        assert_eq!(Pass::step(step, usize::MAX, step + 100), None);
        assert_eq!(Pass::step(0, 4 * step, 4 * step), Some(4 * step));
    }
}
