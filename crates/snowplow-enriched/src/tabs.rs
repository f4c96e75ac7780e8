//! Finding the tabs of a line 64 bytes at a time.
//!
//! A kept event is split into 131 fields across ~2 KB; looking at one byte (or even eight) at a time,
//! or calling a search per tab, costs more than the rest of reading the line. Here each 64-byte block
//! becomes one bit mask of its tabs ([`simd::tab_masks`], or [`simd::tab_masks_from`] from the end,
//! with AVX-512 or AVX2 where the CPU has them), and tabs are then taken from the mask a bit at a time.

use std::ops::ControlFlow;

use crate::simd;

/// How many tabs `line` holds.
pub(crate) fn count(line: &[u8]) -> usize {
    let mut tabs = 0;
    let _ = simd::tab_masks(line, |_, mask| {
        tabs += mask.count_ones() as usize;
        ControlFlow::Continue(())
    });
    tabs
}

/// The position of the `n`th tab (0-based) counting from the start, if there are that many.
pub(crate) fn nth(line: &[u8], n: usize) -> Option<usize> {
    nth_from::<false>(line, n)
}

/// The position of the `n`th tab (0-based) counting from the end, if there are that many.
pub(crate) fn nth_back(line: &[u8], n: usize) -> Option<usize> {
    nth_from::<true>(line, n)
}

/// The `n`th tab counting from the start, or with `BACK` from the end: the blocks come in that order,
/// and within the block that holds it the tab is taken from the low end of its mask or the high.
#[inline(always)]
fn nth_from<const BACK: bool>(line: &[u8], mut n: usize) -> Option<usize> {
    let mut found = None;
    let _ = simd::tab_masks_from::<BACK>(line, |offset, mut mask| {
        let here = mask.count_ones() as usize;
        if n >= here {
            n -= here;
            return ControlFlow::Continue(());
        }
        for _ in 0..n {
            mask &= if BACK { !(1 << (63 - mask.leading_zeros())) } else { mask - 1 };
        }
        let bit = if BACK { 63 - mask.leading_zeros() } else { mask.trailing_zeros() };
        found = Some(offset + bit as usize);
        ControlFlow::Break(())
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_a_byte_by_byte_search() {
        // Bytes next to a tab in value, and with the high bit set, around every block boundary.
        let alphabet = [b'\t', b'\t', 0x08, 0x0A, 0x89, 0x00, 0xFF, b'a'];
        let mut state = 7u32;
        for len in 0..200 {
            for _ in 0..20 {
                let line: Vec<u8> = (0..len)
                    .map(|_| {
                        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                        alphabet[(state >> 29) as usize]
                    })
                    .collect();
                let expected: Vec<usize> =
                    line.iter().enumerate().filter(|(_, b)| **b == b'\t').map(|(i, _)| i).collect();
                assert_eq!(count(&line), expected.len());
                for n in 0..=expected.len() {
                    assert_eq!(nth(&line, n), expected.get(n).copied(), "{n} {line:?}");
                    assert_eq!(nth_back(&line, n), expected.iter().rev().nth(n).copied(), "{n} {line:?}");
                }
            }
        }
    }
}
