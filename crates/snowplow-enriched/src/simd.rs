//! Byte classes found a block at a time: the crate's only `unsafe` code.
//!
//! The crate's hot searches, a line's end and tabs, and the end of a JSON string, are one comparison
//! per byte class over a block and one bit mask per block. On x86_64 that is SSE2 (part of the
//! baseline, so every x86_64 CPU has it), and AVX-512 or AVX2 for whole lines and whole JSON texts
//! where the CPU has them; elsewhere a plain loop the compiler vectorises.

use std::ops::ControlFlow;

/// The block of [`tab_mask`].
pub(crate) const BLOCK: usize = 64;

/// The block of [`string_stop_mask`].
const STRING_BLOCK: usize = 16;

/// Bit `i` is set when `block[i]` is a tab.
#[inline]
pub(crate) fn tab_mask(block: &[u8; BLOCK]) -> u64 {
    byte_mask(block, b'\t')
}

/// Bit `i` is set when `block[i]` is `byte`.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[inline]
fn byte_mask(block: &[u8; BLOCK], byte: u8) -> u64 {
    use std::arch::x86_64::{__m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8};
    // SAFETY: SSE2 is part of the x86_64 baseline; each unaligned load reads 16 bytes at offset 0, 16,
    // 32 or 48 of a 64-byte array.
    unsafe {
        let byte = _mm_set1_epi8(byte as i8);
        let at = |offset: usize| {
            let bytes = _mm_loadu_si128(block.as_ptr().add(offset).cast::<__m128i>());
            u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(bytes, byte)) as u16)
        };
        at(0) | at(16) << 16 | at(32) << 32 | at(48) << 48
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn byte_mask(block: &[u8; BLOCK], byte: u8) -> u64 {
    block.iter().enumerate().fold(0, |mask, (i, &b)| mask | u64::from(b == byte) << i)
}

/// Calls `each` with the offset and tab mask of every 64-byte block of `line` in order (the last block
/// padded with zeros, which are not tabs) until it breaks. Every line is passed over this way once or
/// twice, so where the CPU has AVX-512 or AVX2 (found once, see [`Kernel`]) a block is one or two
/// comparisons rather than four.
#[inline]
pub(crate) fn tab_masks(line: &[u8], each: impl FnMut(usize, u64) -> ControlFlow<()>) -> ControlFlow<()> {
    tab_masks_from::<false>(line, each)
}

/// [`tab_masks`], or with `BACK` from the line's end: the blocks then end where the line does, so that
/// the search for a field near the end (the filter's `event_name`, on every line) starts with a whole
/// block, and the first block, if partial, comes last with the bits past its end cleared. The filter's
/// search from the end crosses `derived_contexts` on every line, which took four SSE2 comparisons a
/// block before it was given these kernels.
#[inline]
pub(crate) fn tab_masks_from<const BACK: bool>(
    line: &[u8],
    each: impl FnMut(usize, u64) -> ControlFlow<()>,
) -> ControlFlow<()> {
    #[cfg(target_arch = "x86_64")]
    match Kernel::get() {
        Kernel::Avx512(cpu) => return avx512::tab_masks::<BACK>(cpu, line, each),
        Kernel::Avx2(cpu) => return avx2::tab_masks::<BACK>(cpu, line, each),
        Kernel::Baseline => {}
    }
    tab_masks_in::<BACK>(line, each, tab_mask)
}

/// How many slots past a line's last tab [`tab_positions`] may write.
pub(crate) const POSITIONS_SLACK: usize = 16;

/// Writes the position of each of `line`'s tabs, in order, from the start of `ends`, and answers how
/// many there are: `None` when there are more than `N - POSITIONS_SLACK`, and `ends` then holds
/// whatever was written. Slots past the last tab are written too, with positions nobody should read.
///
/// Splitting a kept line is writing its 130 tab positions, and one step per tab, or per four, leaves
/// the CPU guessing on every block how many steps it takes. Where the CPU has AVX-512 VBMI2 a block's
/// positions are packed together by one instruction and written sixteen at a time, so that nearly
/// every block takes one step: splitting went from 9.8–10.3% of a uniform run's time in user space to
/// 5.6–6.2% (`perf record`, three runs each).
#[inline]
pub(crate) fn tab_positions<const N: usize>(line: &[u8], ends: &mut [u32; N]) -> Option<Positions> {
    const { assert!(N >= POSITIONS_SLACK) };
    #[cfg(target_arch = "x86_64")]
    match Kernel::get() {
        Kernel::Avx512(cpu) => return avx512::tab_positions(cpu, line, ends),
        Kernel::Avx2(cpu) => return avx2::tab_positions(cpu, line, ends),
        Kernel::Baseline => {}
    }
    let tabs = tab_positions_with(line, ends, tab_mask, write_four_at_a_time)?;
    Some(Positions { tabs, ascii: false })
}

/// What [`tab_positions`] and [`line_end_and_positions`] found of a line besides the positions: how
/// many tabs it holds, and whether every byte of it was seen to be ASCII (only where the CPU has
/// AVX-512, where it costs two more instructions a block, a mask of top bits and an OR; `false`
/// elsewhere, for the fields to be checked one by one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Positions {
    pub(crate) tabs: usize,
    pub(crate) ascii: bool,
}

/// [`tab_positions`] with the block mask `mask`, and `write` writing a block's positions: called with
/// the slot for its first tab, its offset and its mask, and only when the block's tabs fit, so that
/// `write` may run up to [`POSITIONS_SLACK`] slots past its last tab.
#[inline(always)]
fn tab_positions_with<const N: usize>(
    line: &[u8],
    ends: &mut [u32; N],
    mask: impl Fn(&[u8; BLOCK]) -> u64,
    mut write: impl FnMut(&mut [u32; N], usize, usize, u64),
) -> Option<usize> {
    let mut n = 0;
    let split = tab_masks_with(
        line,
        |offset, mask| {
            let here = mask.count_ones() as usize;
            if n + here > N - POSITIONS_SLACK {
                return ControlFlow::Break(());
            }
            write(ends, n, offset, mask);
            n += here;
            ControlFlow::Continue(())
        },
        mask,
    );
    split.is_continue().then_some(n)
}

/// Writes a block's tab positions four at a time from slot `at`, four slots whether or not that many
/// tabs are left: slots past the block's last tab are written again by the next block, or lie past
/// the last tab. A slot for each tab, with its own step of the loop, was more than half of the
/// instructions of splitting a line.
#[inline(always)]
fn write_four_at_a_time<const N: usize>(ends: &mut [u32; N], mut at: usize, offset: usize, mut mask: u64) {
    const AT_ONCE: usize = 4;
    const { assert!(AT_ONCE <= POSITIONS_SLACK) };
    while mask != 0 {
        // Always there: `at` stays below the slot after the block's last tab.
        let Some(slots) = ends.get_mut(at..at + AT_ONCE) else { return };
        for slot in slots {
            // A position in the line, which the caller has checked fits in 32 bits.
            *slot = (offset + mask.trailing_zeros() as usize) as u32;
            mask &= mask.wrapping_sub(1);
        }
        at += AT_ONCE;
    }
}

/// `bytes` as text when every byte is ASCII, as nearly every field is, or `None` for a full UTF-8
/// check. simdutf8 hands texts shorter than its 64-byte block to std's general check, which was 1.7% of
/// a uniform run's instructions, most of them on ids, so those are checked here. So are longer ones,
/// the entity JSON of a kept event, where the CPU has AVX-512: a block is one OR, and simdutf8, which
/// uses AVX2 at most, took twice as long (2.5–3.3% of a uniform run's time in user space, against
/// 1.2–1.4%; `perf record`, three runs each). Without AVX-512 they are left to simdutf8.
#[allow(unsafe_code)]
#[inline]
pub(crate) fn ascii_str(bytes: &[u8]) -> Option<&str> {
    let ascii = if bytes.len() < BLOCK { bytes.is_ascii() } else { long_is_ascii(bytes) };
    // SAFETY: ASCII is valid UTF-8.
    ascii.then(|| unsafe { std::str::from_utf8_unchecked(bytes) })
}

/// Whether a text of a block or more is found to be ASCII: `false`, for simdutf8 to decide, without
/// AVX-512.
#[inline]
fn long_is_ascii(bytes: &[u8]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if let Kernel::Avx512(cpu) = Kernel::get() {
        return avx512::is_ascii(cpu, bytes);
    }
    false
}

/// The last, partial block of a text (fewer than [`BLOCK`] bytes) padded with zeros, which are
/// neither tabs nor newlines and, as string stops, stand for the text's end.
#[inline(always)]
pub(crate) fn padded(tail: &[u8]) -> [u8; BLOCK] {
    let mut block = [0; BLOCK];
    block[..tail.len()].copy_from_slice(tail);
    block
}

/// The position of the first newline in `bytes`, and how many tabs come before it (all of them when
/// there is none). Every line is searched for its end and has its tabs counted (a line without exactly
/// 130 is a bad row, whatever the filter says); doing both in one pass halves the passes over a line
/// the filter drops.
#[inline]
pub(crate) fn line_end(bytes: &[u8]) -> (Option<usize>, usize) {
    #[cfg(target_arch = "x86_64")]
    match Kernel::get() {
        Kernel::Avx512(cpu) => return avx512::line_end(cpu, bytes),
        Kernel::Avx2(cpu) => return avx2::line_end(cpu, bytes),
        Kernel::Baseline => {}
    }
    line_end_with(bytes, |block| (byte_mask(block, b'\t'), byte_mask(block, b'\n')), |_, _, _, _, _| {})
}

/// [`line_end`], and where the CPU has AVX-512 VBMI2, the positions of the line's tabs written into
/// `ends` as [`tab_positions`] writes them, in the same pass, with what [`tab_positions`] answers of
/// the bytes before the line's end: `None` where it does not, and `ends` is then left as it was. The
/// positions are all there for a line of up to `N - POSITIONS_SLACK` tabs; of a line with more, whose
/// count it still answers, `ends` holds whatever was written.
///
/// A kept line's tabs are otherwise found twice: counted in the search for its end, and found again
/// when it is split, with every block read and compared again. Where a block's positions take one
/// step to write, writing them costs a line less than the second pass costs one that is split, and
/// they are written while most lines are (see [`crate::TabPositions`]). Elsewhere a block takes a step
/// for every four tabs, and writing them would cost more.
#[inline]
pub(crate) fn line_end_and_positions<const N: usize>(
    bytes: &[u8],
    ends: &mut [u32; N],
) -> Option<(Option<usize>, Positions)> {
    const { assert!(N >= POSITIONS_SLACK) };
    #[cfg(target_arch = "x86_64")]
    if let Kernel::Avx512(cpu) = Kernel::get() {
        return Some(avx512::line_end_and_positions(cpu, bytes, ends));
    }
    let _ = (bytes, ends);
    None
}

/// How far ahead of the block it searches [`line_end`] asks for the bytes of the input to be fetched.
///
/// Lines are found where the page cache holds them, so the first pass over each is a wait on memory
/// (`line_end` was 14% of a uniform run's cycles, nearly all of them on its loads), and the hardware's
/// own prefetchers stop at each 4 KiB page. Asked for two pages ahead, the next few lines are read
/// from memory while this one is mapped. Fetching a page ahead into the first-level cache took 5 to 7%
/// off a run on one thread (`cargo xtask bench`'s corpora); two pages ahead into the second-level
/// cache, which leaves the first to the mapping of the line before, took 6% more (0.186 to 0.175 s
/// uniform, 0.081 to 0.077 s realistic; 3% on two threads). 16, 32 or 64 KiB ahead did no better.
const PREFETCH_AHEAD: usize = 8192;

/// Asks for the cache line holding `at` to be fetched into the second-level cache. A prefetch is only
/// a hint: it never faults, whatever the address, so `at` may lie past the input.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[inline(always)]
fn prefetch(at: *const u8) {
    use std::arch::x86_64::{_MM_HINT_T1, _mm_prefetch};
    // SAFETY: a prefetch reads nothing the program sees and never faults.
    unsafe { _mm_prefetch::<_MM_HINT_T1>(at.cast()) }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn prefetch(_: *const u8) {}

/// [`line_end`] with `masks` giving a block's tab and newline masks, and `each` called with every
/// block's offset, the block itself and the mask of its bytes that are the line's (all of them but in
/// the last), its tabs up to the line's end, and how many tabs came before it, in order.
#[inline(always)]
fn line_end_with(
    bytes: &[u8],
    masks: impl Fn(&[u8; BLOCK]) -> (u64, u64),
    mut each: impl FnMut(usize, &[u8; BLOCK], u64, u64, usize),
) -> (Option<usize>, usize) {
    // The bytes below a block's first newline: the bits under its lowest set bit.
    let below = |newline: u64| newline.wrapping_sub(1) & !newline;
    let (mut tabs, mut offset) = (0, 0);
    let (blocks, tail) = bytes.as_chunks::<BLOCK>();
    for block in blocks {
        prefetch(block.as_ptr().wrapping_add(PREFETCH_AHEAD));
        let (tab, newline) = masks(block);
        if newline != 0 {
            let within = below(newline);
            let tab = tab & within;
            each(offset, block, within, tab, tabs);
            return (Some(offset + newline.trailing_zeros() as usize), tabs + tab.count_ones() as usize);
        }
        each(offset, block, u64::MAX, tab, tabs);
        tabs += tab.count_ones() as usize;
        offset += BLOCK;
    }
    // The rest is searched padded with zeros, which are neither.
    let tail = padded(tail);
    let (tab, newline) = masks(&tail);
    let (end, within) = match newline {
        0 => (None, u64::MAX),
        _ => (Some(offset + newline.trailing_zeros() as usize), below(newline)),
    };
    let tab = tab & within;
    each(offset, &tail, within, tab, tabs);
    (end, tabs + tab.count_ones() as usize)
}

/// The [`string_stop_mask`]s of `bytes` into `masks` (cleared first), 64 bytes to a word, the last
/// word padded with set bits (stops). A JSON text's strings are then passed over by following bits,
/// with no load of the text's bytes in the way: each string's end is where the next token starts, so
/// the scanner waits on every search it makes, and searching 16 bytes at a time from each opening
/// quote put a load, three comparisons and a mask in each wait.
///
/// Answers whether every stop is a quote (the text holds no backslash or control character, as
/// nearly all entity JSON does): a string then ends at its next stop, with no need to look at it.
#[inline]
pub(crate) fn stop_masks(bytes: &[u8], masks: &mut Vec<u64>) -> bool {
    #[cfg(target_arch = "x86_64")]
    match Kernel::get() {
        Kernel::Avx512(cpu) => return avx512::stop_masks(cpu, bytes, masks),
        Kernel::Avx2(cpu) => return avx2::stop_masks(cpu, bytes, masks),
        Kernel::Baseline => {}
    }
    stop_masks_with(bytes, masks, stop_mask, |block| byte_mask(block, b'"'))
}

/// [`string_stop_mask`] of a whole block, a quarter at a time.
#[inline]
fn stop_mask(block: &[u8; BLOCK]) -> u64 {
    let (quarters, _) = block.as_chunks::<STRING_BLOCK>();
    quarters.iter().rev().fold(0, |mask, quarter| mask << STRING_BLOCK | u64::from(string_stop_mask(quarter)))
}

/// [`stop_masks`] with `mask` giving a block's mask and `quotes` its quotes.
#[inline(always)]
fn stop_masks_with(
    bytes: &[u8],
    masks: &mut Vec<u64>,
    mask: impl Fn(&[u8; BLOCK]) -> u64,
    quotes: impl Fn(&[u8; BLOCK]) -> u64,
) -> bool {
    let (blocks, tail) = bytes.as_chunks::<BLOCK>();
    masks.clear();
    masks.reserve(blocks.len() + 1);
    // The stops that are not quotes.
    let mut others = 0;
    masks.extend(blocks.iter().map(|block| {
        let stops = mask(block);
        others |= stops & !quotes(block);
        stops
    }));
    // A partial last block is read as the text's last 64 bytes, shifted down, rather than copied out
    // and padded (a copy for each text scanned); only a text shorter than a block is copied.
    let last = match bytes.last_chunk::<BLOCK>() {
        _ if tail.is_empty() => u64::MAX,
        Some(block) => {
            let (stops, quotes) = (mask(block) >> (BLOCK - tail.len()), quotes(block) >> (BLOCK - tail.len()));
            others |= stops & !quotes;
            stops | u64::MAX << tail.len()
        }
        None => {
            let block = padded(tail);
            let stops = mask(&block);
            // The padding's zeros are stops, but not the text's.
            others |= stops & !quotes(&block) & !(u64::MAX << tail.len());
            stops
        }
    };
    masks.push(last);
    others == 0
}

/// The tab masks this CPU computes best. Asking the CPU's features on every call was five lookups a
/// line, one or two lines at a time, where this is one load.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
enum Kernel {
    Avx512(avx512::Avx512),
    Avx2(avx2::Avx2),
    Baseline,
}

#[cfg(target_arch = "x86_64")]
impl Kernel {
    #[inline]
    fn get() -> Kernel {
        static KERNEL: std::sync::OnceLock<Kernel> = std::sync::OnceLock::new();
        *KERNEL.get_or_init(|| match (avx512::detect(), avx2::detect()) {
            (Some(cpu), _) => Kernel::Avx512(cpu),
            (None, Some(cpu)) => Kernel::Avx2(cpu),
            (None, None) => Kernel::Baseline,
        })
    }
}

/// [`tab_masks`] with the block mask `mask`.
#[inline(always)]
fn tab_masks_with(
    line: &[u8],
    mut each: impl FnMut(usize, u64) -> ControlFlow<()>,
    mask: impl Fn(&[u8; BLOCK]) -> u64,
) -> ControlFlow<()> {
    let blocks = line.chunks_exact(BLOCK);
    let tail = blocks.remainder();
    for (i, block) in blocks.enumerate() {
        // Every chunk is BLOCK bytes long; the fallback is never taken.
        each(i * BLOCK, block.try_into().map_or(0, &mask))?;
    }
    if !tail.is_empty() {
        // A partial last block is read as the line's last 64 bytes, shifted down, rather than copied
        // out and padded: the copy cost a call to memset and one to memcpy for every line split, and
        // the comparison then waited for the copy's bytes. Only a line shorter than a block is copied.
        let last = match line.last_chunk::<BLOCK>() {
            Some(last) => mask(last) >> (BLOCK - tail.len()),
            None => mask(&padded(tail)),
        };
        each(line.len() - tail.len(), last)?;
    }
    ControlFlow::Continue(())
}

/// [`tab_masks_with`], or (`BACK`) [`tab_masks_back_with`].
#[inline(always)]
fn tab_masks_in<const BACK: bool>(
    line: &[u8],
    each: impl FnMut(usize, u64) -> ControlFlow<()>,
    mask: impl Fn(&[u8; BLOCK]) -> u64,
) -> ControlFlow<()> {
    if BACK { tab_masks_back_with(line, each, mask) } else { tab_masks_with(line, each, mask) }
}

/// [`tab_masks_from`] from the end, with the block mask `mask`.
#[inline(always)]
fn tab_masks_back_with(
    line: &[u8],
    mut each: impl FnMut(usize, u64) -> ControlFlow<()>,
    mask: impl Fn(&[u8; BLOCK]) -> u64,
) -> ControlFlow<()> {
    let (head, blocks) = line.as_rchunks::<BLOCK>();
    for (i, block) in blocks.iter().rev().enumerate() {
        each(line.len() - (i + 1) * BLOCK, mask(block))?;
    }
    if !head.is_empty() {
        // As in `tab_masks_with`, a partial block is read as the line's first 64 bytes where the line
        // has that many, its bits past the block cleared, rather than copied out and padded.
        let first = match line.first_chunk::<BLOCK>() {
            Some(first) => mask(first) & !(u64::MAX << head.len()),
            None => mask(&padded(head)),
        };
        each(0, first)?;
    }
    ControlFlow::Continue(())
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod avx2 {
    use std::ops::ControlFlow;

    use super::BLOCK;

    /// Proof that the CPU has AVX2, and POPCNT and BMI1 beside it (every AVX2 CPU does): the loops over
    /// the masks count and take bits, which the x86_64 baseline does in a dozen instructions each. Only
    /// [`detect`] makes one, so the code that needs the features checks nothing again.
    #[derive(Clone, Copy)]
    pub(super) struct Avx2(());

    #[inline]
    pub(super) fn detect() -> Option<Avx2> {
        let found = std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("popcnt")
            && std::is_x86_feature_detected!("bmi1");
        found.then_some(Avx2(()))
    }

    /// [`super::tab_masks_from`] compiled for AVX2, POPCNT and BMI1, so that the block masks inline into
    /// the loop, and the caller's use of each mask with them.
    #[inline]
    pub(super) fn tab_masks<const BACK: bool>(
        _: Avx2,
        line: &[u8],
        each: impl FnMut(usize, u64) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        #[target_feature(enable = "avx2,popcnt,bmi1")]
        fn run<const BACK: bool>(line: &[u8], each: impl FnMut(usize, u64) -> ControlFlow<()>) -> ControlFlow<()> {
            super::tab_masks_in::<BACK>(line, each, |block| tab_mask(block))
        }
        // SAFETY: the CPU has the features, as an `Avx2` proves.
        unsafe { run::<BACK>(line, each) }
    }

    /// [`super::tab_positions`] compiled for AVX2, POPCNT and BMI1 (see [`tab_masks`]).
    #[inline]
    pub(super) fn tab_positions<const N: usize>(_: Avx2, line: &[u8], ends: &mut [u32; N]) -> Option<super::Positions> {
        #[target_feature(enable = "avx2,popcnt,bmi1")]
        fn run<const N: usize>(line: &[u8], ends: &mut [u32; N]) -> Option<super::Positions> {
            let tabs = super::tab_positions_with(line, ends, |block| tab_mask(block), super::write_four_at_a_time)?;
            Some(super::Positions { tabs, ascii: false })
        }
        // SAFETY: the CPU has the features, as an `Avx2` proves.
        unsafe { run(line, ends) }
    }

    /// [`super::line_end`] compiled for AVX2, POPCNT and BMI1 (see [`tab_masks`]).
    #[inline]
    pub(super) fn line_end(_: Avx2, bytes: &[u8]) -> (Option<usize>, usize) {
        #[target_feature(enable = "avx2,popcnt,bmi1")]
        fn run(bytes: &[u8]) -> (Option<usize>, usize) {
            super::line_end_with(bytes, |block| (byte_mask(block, b'\t'), byte_mask(block, b'\n')), |_, _, _, _, _| {})
        }
        // SAFETY: the CPU has the features, as an `Avx2` proves.
        unsafe { run(bytes) }
    }

    /// Bit `i` is set when `block[i]` is a tab.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn tab_mask(block: &[u8; BLOCK]) -> u64 {
        byte_mask(block, b'\t')
    }

    /// [`super::stop_masks`] compiled for AVX2.
    #[inline]
    pub(super) fn stop_masks(_: Avx2, bytes: &[u8], masks: &mut Vec<u64>) -> bool {
        #[target_feature(enable = "avx2")]
        fn run(bytes: &[u8], masks: &mut Vec<u64>) -> bool {
            super::stop_masks_with(bytes, masks, |block| stop_mask(block), |block| byte_mask(block, b'"'))
        }
        // SAFETY: the CPU has the features, as an `Avx2` proves.
        unsafe { run(bytes, masks) }
    }

    /// [`super::string_stop_mask`] of a whole block.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn stop_mask(block: &[u8; BLOCK]) -> u64 {
        use std::arch::x86_64::{
            __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_min_epu8, _mm256_movemask_epi8, _mm256_or_si256,
            _mm256_set1_epi8,
        };
        // SAFETY: each unaligned load reads 32 bytes at offset 0 or 32 of a 64-byte array.
        let half = |offset: usize| unsafe {
            let bytes = _mm256_loadu_si256(block.as_ptr().add(offset).cast::<__m256i>());
            let quote = _mm256_cmpeq_epi8(bytes, _mm256_set1_epi8(b'"' as i8));
            let backslash = _mm256_cmpeq_epi8(bytes, _mm256_set1_epi8(b'\\' as i8));
            let control = _mm256_cmpeq_epi8(_mm256_min_epu8(bytes, _mm256_set1_epi8(0x1F)), bytes);
            u64::from(_mm256_movemask_epi8(_mm256_or_si256(_mm256_or_si256(quote, backslash), control)) as u32)
        };
        half(0) | half(32) << 32
    }

    /// Bit `i` is set when `block[i]` is `byte`.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn byte_mask(block: &[u8; BLOCK], byte: u8) -> u64 {
        use std::arch::x86_64::{
            __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_set1_epi8,
        };
        let byte = _mm256_set1_epi8(byte as i8);
        // SAFETY: each unaligned load reads 32 bytes at offset 0 or 32 of a 64-byte array.
        let half = |offset: usize| unsafe {
            let bytes = _mm256_loadu_si256(block.as_ptr().add(offset).cast::<__m256i>());
            u64::from(_mm256_movemask_epi8(_mm256_cmpeq_epi8(bytes, byte)) as u32)
        };
        half(0) | half(32) << 32
    }
}

/// Tabs with AVX-512 (BW): a 64-byte block is one load and one comparison straight into a bit mask,
/// where AVX2 takes two of each and a shift. 2-3% less wall time on one thread on the realistic corpus
/// (`perf stat`, three alternating pairs), where most lines are only counted and sent on.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod avx512 {
    use std::ops::ControlFlow;

    use super::BLOCK;

    /// Proof that the CPU has AVX-512 BW, POPCNT and BMI1 (see [`super::avx2::Avx2`]), and is not one
    /// of the first AVX-512 CPUs (Skylake-SP, Cascade Lake), whose cores lower their clock for 512-bit
    /// instructions: those lack VBMI, which every later one (Intel from Ice Lake, AMD from Zen 4) has,
    /// and VBMI2 with it, whose byte packing [`tab_positions`] uses.
    #[derive(Clone, Copy)]
    pub(super) struct Avx512(());

    #[inline]
    pub(super) fn detect() -> Option<Avx512> {
        let found = std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vbmi")
            && std::is_x86_feature_detected!("avx512vbmi2")
            && super::avx2::detect().is_some();
        found.then_some(Avx512(()))
    }

    /// [`super::tab_masks_from`] compiled for AVX-512, POPCNT and BMI1 (see
    /// [`super::avx2::tab_masks`]).
    #[inline]
    pub(super) fn tab_masks<const BACK: bool>(
        _: Avx512,
        line: &[u8],
        each: impl FnMut(usize, u64) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        #[target_feature(enable = "avx512bw,popcnt,bmi1")]
        fn run<const BACK: bool>(line: &[u8], each: impl FnMut(usize, u64) -> ControlFlow<()>) -> ControlFlow<()> {
            super::tab_masks_in::<BACK>(line, each, |block| tab_mask(block))
        }
        // SAFETY: the CPU has the features, as an `Avx512` proves.
        unsafe { run::<BACK>(line, each) }
    }

    /// [`super::tab_positions`] with AVX-512 VBMI2: a block's tab positions are packed into the low
    /// bytes of a vector at once (`vpcompressb`), then widened and written sixteen at a time, so that a
    /// block takes one step unless it holds more than sixteen tabs.
    #[inline]
    pub(super) fn tab_positions<const N: usize>(
        _: Avx512,
        line: &[u8],
        ends: &mut [u32; N],
    ) -> Option<super::Positions> {
        #[target_feature(enable = "avx512bw,avx512vbmi2,popcnt,bmi1")]
        fn run<const N: usize>(line: &[u8], ends: &mut [u32; N]) -> Option<super::Positions> {
            // Every block read holds only the line's bytes, or zeros past a short line's end.
            let high = std::cell::Cell::new(0);
            let tabs = super::tab_positions_with(
                line,
                ends,
                |block| {
                    high.set(high.get() | high_mask(block));
                    tab_mask(block)
                },
                |ends, at, offset, mask| {
                    write_positions(ends, at, offset, mask);
                },
            )?;
            Some(super::Positions { tabs, ascii: high.get() == 0 })
        }
        // SAFETY: the CPU has the features, as an `Avx512` proves.
        unsafe { run(line, ends) }
    }

    /// [`super::line_end_and_positions`] with AVX-512 VBMI2: [`super::line_end`]'s pass, each block's
    /// tab positions written as [`tab_positions`] writes them.
    #[inline]
    pub(super) fn line_end_and_positions<const N: usize>(
        _: Avx512,
        bytes: &[u8],
        ends: &mut [u32; N],
    ) -> (Option<usize>, super::Positions) {
        #[target_feature(enable = "avx512bw,avx512vbmi2,popcnt,bmi1")]
        fn run<const N: usize>(bytes: &[u8], ends: &mut [u32; N]) -> (Option<usize>, super::Positions) {
            let mut high = 0;
            let (end, tabs) = super::line_end_with(
                bytes,
                |block| (byte_mask(block, b'\t'), byte_mask(block, b'\n')),
                |offset, block, within, tabs, before| {
                    high |= high_mask(block) & within;
                    // Blocks without a tab (most of an entity field's) write nothing; past the room in
                    // `ends`, tabs are only counted.
                    if tabs != 0 && before + tabs.count_ones() as usize <= N - super::POSITIONS_SLACK {
                        write_positions(ends, before, offset, tabs);
                    }
                },
            );
            (end, super::Positions { tabs, ascii: high == 0 })
        }
        // SAFETY: the CPU has the features, as an `Avx512` proves.
        unsafe { run(bytes, ends) }
    }

    /// Writes the positions of a block's tabs (`mask`, the block at `offset`) from slot `at`, sixteen
    /// slots at a time: packed into the low bytes of a vector at once (`vpcompressb`), then widened.
    /// Slots past the block's last tab are written too, up to [`super::POSITIONS_SLACK`] of them.
    #[target_feature(enable = "avx512bw,avx512vbmi2,popcnt,bmi1")]
    #[inline]
    fn write_positions<const N: usize>(ends: &mut [u32; N], at: usize, offset: usize, mask: u64) {
        use std::arch::x86_64::{
            __m512i, _mm512_add_epi32, _mm512_alignr_epi32, _mm512_castsi512_si128, _mm512_cvtepu8_epi32,
            _mm512_maskz_compress_epi8, _mm512_set1_epi32, _mm512_setzero_si512, _mm512_storeu_si512,
        };
        /// Byte `i` is `i`.
        const INDICES: [u8; BLOCK] = {
            let mut indices = [0; BLOCK];
            let mut i = 0;
            while i < BLOCK {
                indices[i] = i as u8;
                i += 1;
            }
            indices
        };
        let indices = load(&INDICES);
        let here = mask.count_ones() as usize;
        // The offsets in the block of its tabs, in order, in the low bytes.
        let mut packed = _mm512_maskz_compress_epi8(mask, indices);
        // Positions past 32 bits wrap; the callers do not use them (see `split` and `Line::first_in`).
        let offset = _mm512_set1_epi32(offset as i32);
        let mut done = 0;
        loop {
            let positions = _mm512_add_epi32(_mm512_cvtepu8_epi32(_mm512_castsi512_si128(packed)), offset);
            // Always there: `done` is 0 or below `here`, and the callers leave the slack after the last
            // tab.
            let Some(slots) = ends.get_mut(at + done..at + done + 16) else { return };
            // SAFETY: the unaligned store writes the sixteen slots of `slots`.
            unsafe { _mm512_storeu_si512(slots.as_mut_ptr().cast::<__m512i>(), positions) };
            done += 16;
            if done >= here {
                break;
            }
            // The next sixteen offsets down to the low bytes.
            packed = _mm512_alignr_epi32::<4>(_mm512_setzero_si512(), packed);
        }
    }

    /// Whether every byte of `bytes` is ASCII: their bytes ORed together 64 at a time, the last block
    /// read as the text's last 64 bytes.
    #[inline]
    pub(super) fn is_ascii(_: Avx512, bytes: &[u8]) -> bool {
        #[target_feature(enable = "avx512bw")]
        fn run(bytes: &[u8]) -> bool {
            use std::arch::x86_64::{_mm512_movepi8_mask, _mm512_or_si512};
            let Some(last) = bytes.last_chunk::<BLOCK>() else {
                return bytes.is_ascii();
            };
            let (blocks, _) = bytes.as_chunks::<BLOCK>();
            _mm512_movepi8_mask(blocks.iter().fold(load(last), |all, block| _mm512_or_si512(all, load(block)))) == 0
        }
        // SAFETY: the CPU has the features, as an `Avx512` proves.
        unsafe { run(bytes) }
    }

    /// [`super::line_end`] compiled for AVX-512, POPCNT and BMI1 (see [`super::avx2::tab_masks`]).
    #[inline]
    pub(super) fn line_end(_: Avx512, bytes: &[u8]) -> (Option<usize>, usize) {
        #[target_feature(enable = "avx512bw,popcnt,bmi1")]
        fn run(bytes: &[u8]) -> (Option<usize>, usize) {
            super::line_end_with(bytes, |block| (byte_mask(block, b'\t'), byte_mask(block, b'\n')), |_, _, _, _, _| {})
        }
        // SAFETY: the CPU has the features, as an `Avx512` proves.
        unsafe { run(bytes) }
    }

    /// Bit `i` is set when `block[i]` is a tab.
    #[target_feature(enable = "avx512bw")]
    #[inline]
    fn tab_mask(block: &[u8; BLOCK]) -> u64 {
        byte_mask(block, b'\t')
    }

    /// Bit `i` is set when `block[i]` is `byte`.
    #[target_feature(enable = "avx512bw")]
    #[inline]
    fn byte_mask(block: &[u8; BLOCK], byte: u8) -> u64 {
        use std::arch::x86_64::{_mm512_cmpeq_epi8_mask, _mm512_set1_epi8};
        _mm512_cmpeq_epi8_mask(load(block), _mm512_set1_epi8(byte as i8))
    }

    /// Bit `i` is set when `block[i]` is not ASCII (its top bit is set).
    #[target_feature(enable = "avx512bw")]
    #[inline]
    fn high_mask(block: &[u8; BLOCK]) -> u64 {
        std::arch::x86_64::_mm512_movepi8_mask(load(block))
    }

    /// The 64 bytes of a block as one vector.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn load(block: &[u8; BLOCK]) -> std::arch::x86_64::__m512i {
        use std::arch::x86_64::{__m512i, _mm512_loadu_si512};
        // SAFETY: the unaligned load reads the 64 bytes of the array.
        unsafe { _mm512_loadu_si512(block.as_ptr().cast::<__m512i>()) }
    }

    /// [`super::stop_masks`] compiled for AVX-512.
    #[inline]
    pub(super) fn stop_masks(_: Avx512, bytes: &[u8], masks: &mut Vec<u64>) -> bool {
        #[target_feature(enable = "avx512bw")]
        fn run(bytes: &[u8], masks: &mut Vec<u64>) -> bool {
            super::stop_masks_with(bytes, masks, |block| stop_mask(block), |block| byte_mask(block, b'"'))
        }
        // SAFETY: the CPU has the features, as an `Avx512` proves.
        unsafe { run(bytes, masks) }
    }

    /// [`super::string_stop_mask`] of a whole block.
    #[target_feature(enable = "avx512bw")]
    #[inline]
    fn stop_mask(block: &[u8; BLOCK]) -> u64 {
        use std::arch::x86_64::{_mm512_cmpeq_epi8_mask, _mm512_cmple_epu8_mask, _mm512_set1_epi8};
        let bytes = load(block);
        _mm512_cmpeq_epi8_mask(bytes, _mm512_set1_epi8(b'"' as i8))
            | _mm512_cmpeq_epi8_mask(bytes, _mm512_set1_epi8(b'\\' as i8))
            | _mm512_cmple_epu8_mask(bytes, _mm512_set1_epi8(0x1F))
    }
}

/// Bit `i` is set when `block[i]` ends a run of plain JSON string bytes: a quote, a backslash or a
/// control character (below 0x20), which a JSON string may not hold unescaped.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[inline]
fn string_stop_mask(block: &[u8; STRING_BLOCK]) -> u32 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    // SAFETY: SSE2 is part of the x86_64 baseline; the unaligned load reads the 16 bytes of the array.
    unsafe {
        let bytes = _mm_loadu_si128(block.as_ptr().cast::<__m128i>());
        let quote = _mm_cmpeq_epi8(bytes, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(bytes, _mm_set1_epi8(b'\\' as i8));
        // An unsigned minimum: a byte at most 0x1F equals its minimum with 0x1F.
        let control = _mm_cmpeq_epi8(_mm_min_epu8(bytes, _mm_set1_epi8(0x1F)), bytes);
        u32::from(_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) as u16)
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn string_stop_mask(block: &[u8; STRING_BLOCK]) -> u32 {
    block.iter().enumerate().fold(0, |mask, (i, &b)| mask | u32::from(is_string_stop(b)) << i)
}

/// The byte class of [`string_stop_mask`], one byte at a time.
#[cfg(any(test, not(target_arch = "x86_64")))]
#[inline]
fn is_string_stop(b: u8) -> bool {
    b == b'"' || b == b'\\' || b < 0x20
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_agree_with_byte_by_byte_tests() {
        let mut block = [0u8; BLOCK];
        for first in 0..=255u8 {
            for (i, b) in block.iter_mut().enumerate() {
                *b = first.wrapping_add((i * 37) as u8);
            }
            let tabs = block.iter().enumerate().fold(0u64, |m, (i, &b)| m | u64::from(b == b'\t') << i);
            assert_eq!(tab_mask(&block), tabs);
            #[cfg(target_arch = "x86_64")]
            if let Some(cpu) = avx2::detect() {
                let _ = avx2::tab_masks::<false>(cpu, &block, |_, mask| {
                    assert_eq!(mask, tabs, "AVX2 {block:?}");
                    ControlFlow::Continue(())
                });
            }
            #[cfg(target_arch = "x86_64")]
            if let Some(cpu) = avx512::detect() {
                let _ = avx512::tab_masks::<false>(cpu, &block, |_, mask| {
                    assert_eq!(mask, tabs, "AVX-512 {block:?}");
                    ControlFlow::Continue(())
                });
            }
            let head: &[u8; STRING_BLOCK] = block[..STRING_BLOCK].try_into().unwrap_or(&[0; STRING_BLOCK]);
            let stops = head.iter().enumerate().fold(0u32, |m, (i, &b)| m | u32::from(is_string_stop(b)) << i);
            assert_eq!(string_stop_mask(head), stops, "{head:?}");
        }
    }

    #[test]
    fn stop_masks_agree_with_byte_by_byte_tests_on_every_kernel() {
        let mut state = 5u32;
        for len in (0..200).chain([255, 256, 257, 1000]) {
            // Any bytes, and text whose only stops are quotes.
            for lowest in [0x08, b' '] {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                        match (state >> 16) as u8 % 0x60 + lowest {
                            b'\\' if lowest == b' ' => b'"',
                            b => b,
                        }
                    })
                    .collect();
                // Bits past the end are set: the padding is zeros, control characters.
                let expected: Vec<u64> = (0..len / BLOCK + 1)
                    .map(|w| {
                        (0..BLOCK).fold(0, |m, i| {
                            m | u64::from(bytes.get(w * BLOCK + i).is_none_or(|&b| is_string_stop(b))) << i
                        })
                    })
                    .collect();
                let plain = !bytes.iter().any(|&b| b == b'\\' || b < b' ');
                // The second kind of text is the one the scanner reads without looking at its stops.
                assert!(plain || lowest != b' ');
                // Into a buffer that held a longer text's masks, as a thread's spare buffer does.
                let masks = |fill: &dyn Fn(&mut Vec<u64>) -> bool| {
                    let mut masks = vec![0; 40];
                    let plain = fill(&mut masks);
                    (masks, plain)
                };
                let expected = (expected, plain);
                assert_eq!(masks(&|m| stop_masks(&bytes, m)), expected, "{bytes:?}");
                let sse2 = masks(&|m| stop_masks_with(&bytes, m, stop_mask, |block| byte_mask(block, b'"')));
                assert_eq!(sse2, expected, "SSE2 {bytes:?}");
                #[cfg(target_arch = "x86_64")]
                if let Some(cpu) = avx2::detect() {
                    assert_eq!(masks(&|m| avx2::stop_masks(cpu, &bytes, m)), expected, "AVX2 {bytes:?}");
                }
                #[cfg(target_arch = "x86_64")]
                if let Some(cpu) = avx512::detect() {
                    assert_eq!(masks(&|m| avx512::stop_masks(cpu, &bytes, m)), expected, "AVX-512 {bytes:?}");
                }
            }
        }
    }

    /// What a splitter calls with each block's offset and tab mask.
    type Each<'a> = &'a mut dyn FnMut(usize, u64) -> ControlFlow<()>;

    #[test]
    fn tab_positions_agree_with_a_byte_by_byte_search_on_every_kernel() {
        // Lines of every length around block boundaries, so that the last block is partial at every
        // length and whole on the edges.
        let mut state = 7u32;
        for len in (0..200).chain([255, 256, 257, 1000]) {
            for _ in 0..10 {
                let line: Vec<u8> = (0..len)
                    .map(|_| {
                        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                        [b'\t', b'a', 0x08, 0x89, 0x00][(state >> 16) as usize % 5]
                    })
                    .collect();
                let expected: Vec<usize> = (0..len).filter(|&i| line[i] == b'\t').collect();
                let positions = |split: &dyn Fn(Each<'_>) -> ControlFlow<()>| {
                    let mut found = Vec::new();
                    let _ = split(&mut |offset, mut mask| {
                        while mask != 0 {
                            found.push(offset + mask.trailing_zeros() as usize);
                            mask &= mask - 1;
                        }
                        ControlFlow::Continue(())
                    });
                    found
                };
                assert_eq!(positions(&|each| tab_masks_with(&line, each, tab_mask)), expected, "{line:?}");
                assert_eq!(positions(&|each| tab_masks(&line, each)), expected, "{line:?}");
                // From the end: the same tabs, the blocks in the other order.
                let back = |split: &dyn Fn(Each<'_>) -> ControlFlow<()>| {
                    let mut found = positions(split);
                    found.sort_unstable();
                    found
                };
                assert_eq!(back(&|each| tab_masks_back_with(&line, each, tab_mask)), expected, "back {line:?}");
                assert_eq!(back(&|each| tab_masks_from::<true>(&line, each)), expected, "back {line:?}");
                #[cfg(target_arch = "x86_64")]
                if let Some(cpu) = avx2::detect() {
                    assert_eq!(
                        positions(&|each| avx2::tab_masks::<false>(cpu, &line, each)),
                        expected,
                        "AVX2 {line:?}"
                    );
                    let back = back(&|each| avx2::tab_masks::<true>(cpu, &line, each));
                    assert_eq!(back, expected, "AVX2 back {line:?}");
                }
                #[cfg(target_arch = "x86_64")]
                if let Some(cpu) = avx512::detect() {
                    assert_eq!(
                        positions(&|each| avx512::tab_masks::<false>(cpu, &line, each)),
                        expected,
                        "AVX-512 {line:?}"
                    );
                    let back = back(&|each| avx512::tab_masks::<true>(cpu, &line, each));
                    assert_eq!(back, expected, "AVX-512 back {line:?}");
                }
            }
        }
    }

    #[test]
    fn tab_positions_are_written_in_order_up_to_the_limit_on_every_kernel() {
        /// Room for 130 tabs, as an event has.
        const N: usize = 130 + POSITIONS_SLACK;
        let mut state = 3u32;
        // Lines up to 300 bytes, with tabs rare to nearly every byte, so that blocks hold from none to
        // 64 of them and lines from a few to more than fit.
        for len in (0..300).chain([1000, 4000]) {
            for density in [1, 4, 8, 12, 15] {
                let line: Vec<u8> = (0..len)
                    .map(|_| {
                        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                        if (state >> 16) % 16 < density { b'\t' } else { b'a' }
                    })
                    .collect();
                let expected: Vec<u32> = (0..len).filter(|&i| line[i] == b'\t').map(|i| i as u32).collect();
                let fits = expected.len() <= N - POSITIONS_SLACK;
                let check = |name: &str, split: &dyn Fn(&mut [u32; N]) -> Option<usize>| {
                    // Over slots that hold other positions, as a reused array would.
                    let mut ends = [u32::MAX; N];
                    match split(&mut ends) {
                        Some(n) => {
                            assert!(fits, "{name}: {} tabs taken, {line:?}", expected.len());
                            assert_eq!(ends[..n], expected, "{name} {line:?}");
                        }
                        None => assert!(!fits, "{name}: {} tabs refused, {line:?}", expected.len()),
                    }
                };
                check("dispatched", &|ends| tab_positions(&line, ends).map(|found| found.tabs));
                check("SSE2", &|ends| tab_positions_with(&line, ends, tab_mask, write_four_at_a_time));
                #[cfg(target_arch = "x86_64")]
                if let Some(cpu) = avx2::detect() {
                    check("AVX2", &|ends| avx2::tab_positions(cpu, &line, ends).map(|found| found.tabs));
                }
                #[cfg(target_arch = "x86_64")]
                if let Some(cpu) = avx512::detect() {
                    check("AVX-512", &|ends| avx512::tab_positions(cpu, &line, ends).map(|found| found.tabs));
                }
            }
        }
    }

    #[test]
    fn a_line_is_seen_to_be_ascii_unless_a_byte_of_its_own_is_not() {
        // Lines of up to three blocks and a few bytes, each followed by a newline and the next line,
        // with a byte that is not ASCII at every position of either, then nowhere.
        for len in (0..140).chain([191, 192, 193]) {
            let line: Vec<u8> = (0..len).map(|i| if i % 7 == 3 { b'\t' } else { b'a' }).collect();
            let buf = [&line[..], b"\nb\tc\n"].concat();
            // Every position but the newline's.
            for at in (0..buf.len()).filter(|&at| at != len).map(Some).chain([None]) {
                let mut buf = buf.clone();
                let mut line = line.clone();
                if let Some(at) = at {
                    buf[at] = 0xc3;
                    if let Some(byte) = line.get_mut(at) {
                        *byte = 0xc3;
                    }
                }
                let own = at.is_none_or(|at| at > len);
                // Only the AVX-512 kernels look; elsewhere no line is seen to be ASCII.
                #[cfg(target_arch = "x86_64")]
                let looks = avx512::detect().is_some();
                #[cfg(not(target_arch = "x86_64"))]
                let looks = false;
                let mut ends = [0; 64];
                if let Some((end, found)) = line_end_and_positions(&buf, &mut ends) {
                    assert_eq!(end, Some(len));
                    assert_eq!(found.ascii, own, "{len} {at:?}");
                }
                let split = tab_positions(&line, &mut ends).unwrap();
                assert_eq!(split.ascii, own && looks, "{len} {at:?}");
            }
        }
    }

    #[test]
    fn ascii_is_told_from_any_other_byte_at_every_position() {
        #[cfg(target_arch = "x86_64")]
        let avx512 = avx512::detect();
        for len in (0..200).chain([255, 256, 257, 1000]) {
            let mut bytes = vec![0x7F; len];
            // Long text is taken as ASCII only by the AVX-512 check, and otherwise left to simdutf8.
            #[cfg(target_arch = "x86_64")]
            assert_eq!(ascii_str(&bytes).is_some(), len < BLOCK || avx512.is_some(), "{len}");
            for at in 0..len {
                bytes[at] = 0x80;
                assert!(ascii_str(&bytes).is_none(), "{len} {at}");
                #[cfg(target_arch = "x86_64")]
                if let Some(cpu) = avx512 {
                    assert!(!avx512::is_ascii(cpu, &bytes), "AVX-512 {len} {at}");
                }
                bytes[at] = 0x7F;
            }
            #[cfg(target_arch = "x86_64")]
            if let Some(cpu) = avx512 {
                assert!(avx512::is_ascii(cpu, &bytes), "AVX-512 {len}");
            }
        }
    }

    #[test]
    fn line_ends_agree_with_a_byte_by_byte_search_on_every_kernel() {
        // Tabs, newlines and their neighbours at every offset around block boundaries, in buffers that
        // end inside a block and on its edge.
        let alphabet = [b'\t', b'\t', b'\n', 0x08, 0x0A, 0x0B, 0x89, 0x00, 0xFF, b'a', b'a', b'a'];
        let mut state = 11u32;
        for len in (0..200).chain([255, 256, 257, 1000]) {
            for _ in 0..20 {
                let buf: Vec<u8> = (0..len)
                    .map(|_| {
                        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                        // Newlines rarer than tabs, so that lines span blocks.
                        match alphabet[(state >> 16) as usize % alphabet.len()] {
                            b'\n' if state >> 28 != 0 => b'x',
                            b => b,
                        }
                    })
                    .collect();
                let end = buf.iter().position(|&b| b == b'\n');
                let tabs = buf[..end.unwrap_or(len)].iter().filter(|&&b| b == b'\t').count();
                let baseline =
                    line_end_with(&buf, |block| (byte_mask(block, b'\t'), byte_mask(block, b'\n')), |_, _, _, _, _| {});
                assert_eq!(baseline, (end, tabs), "{buf:?}");
                assert_eq!(line_end(&buf), (end, tabs), "{buf:?}");
                #[cfg(target_arch = "x86_64")]
                if let Some(cpu) = avx2::detect() {
                    assert_eq!(avx2::line_end(cpu, &buf), (end, tabs), "AVX2 {buf:?}");
                }
                #[cfg(target_arch = "x86_64")]
                if let Some(cpu) = avx512::detect() {
                    assert_eq!(avx512::line_end(cpu, &buf), (end, tabs), "AVX-512 {buf:?}");
                }
            }
        }
    }

    #[test]
    fn line_ends_and_positions_agree_with_a_byte_by_byte_search() {
        // Room for 20 positions: lines with fewer tabs, as many, and more (which are only counted), with
        // up to 64 tabs in a block and the newline anywhere in one.
        const N: usize = 20 + POSITIONS_SLACK;
        let mut state = 5u32;
        for len in (0..140).chain([191, 192, 193, 600]) {
            for tab_odds in [1, 3, 16] {
                let buf: Vec<u8> = (0..len)
                    .map(|_| {
                        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                        match (state >> 16) % (tab_odds * 40) {
                            0 => b'\n',
                            n if n % tab_odds == 0 => b'\t',
                            _ => b'a',
                        }
                    })
                    .collect();
                let (end, tabs) = line_end(&buf);
                let expected: Vec<u32> = buf[..end.unwrap_or(len)]
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| **b == b'\t')
                    .map(|(i, _)| i as u32)
                    .collect();
                let mut ends = [u32::MAX; N];
                match line_end_and_positions(&buf, &mut ends) {
                    Some((found_end, found)) => {
                        assert_eq!((found_end, found.tabs), (end, tabs), "{buf:?}");
                        if tabs <= N - POSITIONS_SLACK {
                            assert_eq!(ends[..tabs], expected, "{buf:?}");
                        }
                    }
                    // Only where the CPU has no AVX-512, and then nothing is written.
                    None => {
                        #[cfg(target_arch = "x86_64")]
                        assert!(avx512::detect().is_none());
                        assert_eq!(ends, [u32::MAX; N]);
                    }
                }
            }
        }
    }
}
