//! Finding the tabs of a line 64 bytes at a time.
//!
//! A kept event is split into 131 fields across ~2 KB; looking at one byte (or even eight) at a time,
//! or calling a search per tab, costs more than the rest of reading the line. Here each 64-byte block
//! becomes one bit mask of its tabs ([`simd::tab_masks`] for whole lines, with AVX2 where the CPU has
//! it; [`simd::tab_mask`] for the few blocks a search from either end needs), and tabs are then taken
//! from the mask a bit at a time.

use std::ops::ControlFlow;

use crate::simd::{self, BLOCK};

/// The masks of `line`'s blocks in order, with each block's offset; the last block is padded with
/// zeros, which are not tabs.
fn masks(line: &[u8]) -> impl Iterator<Item = (usize, u64)> + '_ {
    let blocks = line.chunks_exact(BLOCK);
    let tail = blocks.remainder();
    let full = blocks.enumerate().map(|(i, block)| {
        // Every chunk is BLOCK bytes long; the fallback is never taken.
        (i * BLOCK, block.try_into().map_or(0, simd::tab_mask))
    });
    let last = (!tail.is_empty()).then(|| (line.len() - tail.len(), simd::tab_mask(&simd::padded(tail))));
    full.chain(last)
}

/// The masks of `line`'s blocks from its end: blocks end where the line does, so that the search for
/// a field near the end (the filter's `event_name`, on every line) starts with a whole block instead
/// of a copy of the padded tail; the first block, if partial, is padded.
fn masks_back(line: &[u8]) -> impl Iterator<Item = (usize, u64)> + '_ {
    let blocks = line.rchunks_exact(BLOCK);
    let head = blocks.remainder();
    let full = blocks.enumerate().map(|(i, block)| {
        // Every chunk is BLOCK bytes long; the fallback is never taken.
        (line.len() - (i + 1) * BLOCK, block.try_into().map_or(0, simd::tab_mask))
    });
    let first = (!head.is_empty()).then(|| (0, simd::tab_mask(&simd::padded(head))));
    full.chain(first)
}

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
pub(crate) fn nth(line: &[u8], mut n: usize) -> Option<usize> {
    for (offset, mut mask) in masks(line) {
        let here = mask.count_ones() as usize;
        if n >= here {
            n -= here;
            continue;
        }
        for _ in 0..n {
            mask &= mask - 1;
        }
        return Some(offset + mask.trailing_zeros() as usize);
    }
    None
}

/// The position of the `n`th tab (0-based) counting from the end, if there are that many.
pub(crate) fn nth_back(line: &[u8], mut n: usize) -> Option<usize> {
    for (offset, mut mask) in masks_back(line) {
        let here = mask.count_ones() as usize;
        if n >= here {
            n -= here;
            continue;
        }
        for _ in 0..n {
            mask &= !(1 << (63 - mask.leading_zeros()));
        }
        return Some(offset + 63 - mask.leading_zeros() as usize);
    }
    None
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
                let mut found = Vec::new();
                for (offset, mask) in masks(&line) {
                    found.extend((0..64).filter(|i| mask & 1 << i != 0).map(|i| offset + i));
                }
                assert_eq!(found, expected, "{line:?}");
                let mut found_back = Vec::new();
                for (offset, mask) in masks_back(&line) {
                    found_back.extend((0..64).rev().filter(|i| mask & 1 << i != 0).map(|i| offset + i));
                }
                found_back.reverse();
                assert_eq!(found_back, expected, "from the end: {line:?}");
                assert_eq!(count(&line), expected.len());
                for n in 0..=expected.len() {
                    assert_eq!(nth(&line, n), expected.get(n).copied(), "{n} {line:?}");
                    assert_eq!(nth_back(&line, n), expected.iter().rev().nth(n).copied(), "{n} {line:?}");
                }
            }
        }
    }
}
