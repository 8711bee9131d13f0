//! Comparing tokens: edit distance over optional letters, equivalence, prefixes, and the
//! pairing of one side's tokens with the other's.

use super::*;

/// Edit distances at or above this are all alike: nothing here tolerates two edits.
pub(super) const FAR: u8 = 2;

/// The last row of the edit-distance table between `a` and `b`, where skipping an optional
/// letter costs nothing: `row[j]` is the distance from all of `a` to `b[..j]`. `None` once
/// every alignment needs [`FAR`] edits: a row's minimum never decreases further down, so
/// most unrelated names are dismissed after a letter or two.
pub(super) fn last_row(a: &[Ch], b: &[Ch]) -> Option<Vec<u8>> {
    let cost = |ch: &Ch| u8::from(!ch.optional);
    let mut prev: Vec<u8> = Vec::with_capacity(b.len() + 1);
    prev.push(0);
    for ch in b {
        let last = prev.last().copied().unwrap_or(0);
        prev.push(last.saturating_add(cost(ch)));
    }
    let mut row = vec![0u8; b.len() + 1];
    for ca in a {
        row[0] = prev[0].saturating_add(cost(ca));
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j].saturating_add(u8::from(ca.c != cb.c));
            let skip_a = prev[j + 1].saturating_add(cost(ca));
            let skip_b = row[j].saturating_add(cost(cb));
            row[j + 1] = substitute.min(skip_a).min(skip_b);
        }
        std::mem::swap(&mut prev, &mut row);
        if prev.iter().all(|&d| d >= FAR) {
            return None;
        }
    }
    Some(prev)
}

/// Edit distance, saturating at [`FAR`].
pub(super) fn distance(a: &Token, b: &Token) -> u8 {
    last_row(&a.chars, &b.chars)
        .and_then(|row| row.last().copied())
        .map_or(FAR, |d| d.min(FAR))
}

pub(super) fn equivalent(a: &Token, b: &Token) -> bool {
    distance(a, b) == 0
}

/// `doc` (cut short by truncation) equals the start of `dir`.
pub(super) fn is_prefix(doc: &Token, dir: &Token) -> bool {
    last_row(&doc.chars, &dir.chars).is_some_and(|row| row.contains(&0))
}

/// Which folding two equivalent tokens needed, if any.
pub(super) fn fold_note(a: &Token, b: &Token) -> Option<NameNote> {
    if !a.plain().eq(b.plain()) || a.fold.max(b.fold) == Fold::Transliterated {
        Some(NameNote::TransliterationEquivalent)
    } else if a.fold.max(b.fold) == Fold::Marks {
        Some(NameNote::DiacriticsIgnored)
    } else {
        None
    }
}

/// Maximum bipartite matching (Kuhn's algorithm) on an adjacency matrix: for each left
/// vertex, its right partner. At most 12×12 here.
pub(super) fn matching(adj: &[Vec<bool>], right: usize) -> Vec<Option<usize>> {
    pub(super) fn augment(
        u: usize,
        adj: &[Vec<bool>],
        seen: &mut [bool],
        pair_left: &mut [Option<usize>],
        pair_right: &mut [Option<usize>],
    ) -> bool {
        for v in 0..pair_right.len() {
            if adj[u].get(v).copied().unwrap_or(false) && !seen[v] {
                seen[v] = true;
                let free = match pair_right[v] {
                    None => true,
                    Some(w) => augment(w, adj, seen, pair_left, pair_right),
                };
                if free {
                    pair_left[u] = Some(v);
                    pair_right[v] = Some(u);
                    return true;
                }
            }
        }
        false
    }
    let mut pair_left = vec![None; adj.len()];
    let mut pair_right = vec![None; right];
    for u in 0..adj.len() {
        let mut seen = vec![false; right];
        augment(u, adj, &mut seen, &mut pair_left, &mut pair_right);
    }
    pair_left
}
