//! Finding the tabs of a line 64 bytes at a time.
//!
//! A kept event is split into 131 fields across ~2 KB; looking at one byte (or even eight) at a time,
//! or calling a search per tab, costs more than the rest of reading the line. Here each 64-byte block
//! becomes one bit mask of its tabs ([`simd::tab_masks`] for whole lines, with AVX2 where the CPU has
//! it), and tabs are then counted or taken from the mask a bit at a time.

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
                let _ = simd::tab_masks(&line, |offset, mask| {
                    found.extend((0..64).filter(|i| mask & 1 << i != 0).map(|i| offset + i));
                    ControlFlow::Continue(())
                });
                assert_eq!(found, expected, "{line:?}");
                assert_eq!(count(&line), expected.len());
            }
        }
    }
}
