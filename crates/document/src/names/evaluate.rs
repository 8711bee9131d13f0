//! Evaluating one reading of the record against the document: surnames, the first given
//! name, then the middle names, each with the notes that explain the verdict.

use super::*;

pub(super) struct DocTokens {
    pub(super) surname: Vec<Token>,
    pub(super) given: Vec<Token>,
    pub(super) truncated: bool,
}

impl DocTokens {
    /// Truncation cuts the end of the MRZ name field, so only the last given name can be
    /// short. (A field holding only a surname has no given name to match anyway.)
    pub(super) fn given_may_be_cut(&self, index: usize) -> bool {
        self.truncated && index + 1 == self.given.len()
    }
}

#[derive(Debug, Default)]
pub(super) struct Notes(pub(super) Vec<NameNote>);

impl Notes {
    pub(super) fn push(&mut self, note: NameNote) {
        if !self.0.contains(&note) {
            self.0.push(note);
        }
    }
    pub(super) fn push_opt(&mut self, note: Option<NameNote>) {
        if let Some(note) = note {
            self.push(note);
        }
    }
}

pub(super) struct ReadingScore {
    pub(super) verdict: NameVerdict,
    pub(super) score: f32,
    pub(super) notes: Notes,
}

/// Per-token credits for the score, on both sides.
pub(super) struct Credits {
    pub(super) doc_surname: Vec<f32>,
    pub(super) doc_given: Vec<f32>,
    pub(super) dir_family: Vec<f32>,
    pub(super) dir_given: Vec<f32>,
}

impl Credits {
    pub(super) fn score(&self, doc: &DocTokens, family: &[Token], given: &[Token]) -> f32 {
        let sides = [
            (&self.doc_surname, &doc.surname[..]),
            (&self.doc_given, &doc.given[..]),
            (&self.dir_family, family),
            (&self.dir_given, given),
        ];
        let (mut got, mut total) = (0.0f32, 0.0f32);
        for (credits, tokens) in sides {
            for (credit, token) in credits.iter().zip(tokens) {
                let letters = token.letters() as f32;
                got += credit * letters;
                total += letters;
            }
        }
        if total > 0.0 {
            (got / total).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }
}

pub(super) fn evaluate(
    doc: &DocTokens,
    family: &[Token],
    given: &[Token],
    allow_swap: bool,
) -> ReadingScore {
    let mut notes = Notes::default();
    let mut credits = Credits {
        doc_surname: vec![0.0; doc.surname.len()],
        doc_given: vec![0.0; doc.given.len()],
        dir_family: vec![0.0; family.len()],
        dir_given: vec![0.0; given.len()],
    };
    let surname_ok = compare_surnames(
        &doc.surname,
        family,
        &mut credits.doc_surname,
        &mut credits.dir_family,
        &mut notes,
    );
    let given_level = compare_given(
        doc,
        given,
        &mut credits.doc_given,
        &mut credits.dir_given,
        &mut notes,
    );
    let verdict = if surname_ok {
        given_level
    } else {
        NameVerdict::Mismatch
    };
    let score = credits.score(doc, family, given);

    if verdict == NameVerdict::Mismatch && allow_swap {
        // Family and given name swapped in a record that states which is which: the person
        // may well be the same, but a person has to say so.
        let swapped = evaluate(doc, given, family, false);
        if swapped.verdict == NameVerdict::Match {
            let mut notes = Notes::default();
            notes.push(NameNote::OrderSwapped);
            for note in swapped.notes.0 {
                notes.push(note);
            }
            return ReadingScore {
                verdict: NameVerdict::Partial,
                score: swapped.score,
                notes,
            };
        }
    }
    ReadingScore {
        verdict,
        score,
        notes,
    }
}

/// Whether the surname rule holds; notes and credits either way.
pub(super) fn compare_surnames(
    doc: &[Token],
    dir: &[Token],
    doc_credit: &mut [f32],
    dir_credit: &mut [f32],
    notes: &mut Notes,
) -> bool {
    let adj: Vec<Vec<bool>> = dir
        .iter()
        .map(|f| doc.iter().map(|s| equivalent(s, f)).collect())
        .collect();
    let pairs = matching(&adj, doc.len());
    let mut folds = Notes::default();
    for (j, pair) in pairs.iter().enumerate() {
        if let Some(i) = *pair {
            doc_credit[i] = 1.0;
            dir_credit[j] = 1.0;
            folds.push_opt(fold_note(&doc[i], &dir[j]));
        }
    }
    if !dir.is_empty() && pairs.iter().all(Option::is_some) {
        notes.push(NameNote::SurnameMatched);
        if dir.len() < doc.len() {
            notes.push(NameNote::CompoundSurnameSubset);
        }
        for note in folds.0 {
            notes.push(note);
        }
        return true;
    }
    let (doc_joined, dir_joined) = (Token::joined(doc), Token::joined(dir));
    if !dir.is_empty() && equivalent(&doc_joined, &dir_joined) {
        doc_credit.fill(1.0);
        dir_credit.fill(1.0);
        notes.push(NameNote::SurnameMatched);
        notes.push(NameNote::SeparatorDifference);
        notes.push_opt(fold_note(&doc_joined, &dir_joined));
        return true;
    }
    notes.push(NameNote::SurnameMismatch);
    if pairs.iter().any(Option::is_some) {
        notes.push(NameNote::SurnamePartialOverlap);
    }
    false
}

/// How the first given names relate. A hyphenated first name (`Jean-Pierre`) is one name:
/// all its parts must be there, or a father `JEAN` would match his son's account.
pub(super) enum First {
    /// Equal, possibly across separators: tokens consumed on each side.
    Equal {
        doc_used: usize,
        dir_used: usize,
        joined: bool,
        fold: Option<NameNote>,
    },
    /// The document's given names end, truncated, inside the directory's first name. `short`
    /// when all that is left is a prefix of fewer than 3 letters: no better than an initial.
    TruncatedPrefix {
        doc_used: usize,
        dir_used: usize,
        short: bool,
    },
    Initial,
    /// The first `used` tokens on each side differ by one edit.
    OneEdit {
        used: usize,
    },
    /// The directory's first name is the document's given names `at..at + len`.
    OrderDiffers {
        at: usize,
        len: usize,
    },
    Different,
}

/// Tokens in the hyphenated group that starts `tokens`.
pub(super) fn group_len(tokens: &[Token]) -> usize {
    let linked = tokens.len().saturating_sub(1);
    1 + tokens[..linked]
        .iter()
        .take_while(|t| t.hyphen_after)
        .count()
}

pub(super) fn first_given(doc: &DocTokens, dir: &[Token]) -> First {
    let d = &doc.given;
    let (Some(d1), Some(r1)) = (d.first(), dir.first()) else {
        return First::Different;
    };
    if initial_of(d1, r1) {
        // Also when both are the same single letter: an initial identifies no one.
        return First::Initial;
    }
    let (doc_group, dir_group) = (group_len(d), group_len(dir));
    let k = doc_group.max(dir_group);
    let both_have = d.len() >= k && dir.len() >= k;
    if both_have && (0..k).all(|i| equivalent(&d[i], &dir[i])) {
        return First::Equal {
            doc_used: k,
            dir_used: k,
            joined: false,
            fold: (0..k).find_map(|i| fold_note(&d[i], &dir[i])),
        };
    }
    // `JEANPIERRE` against `Jean-Pierre`, or the other way round: whole groups only.
    for doc_used in doc_group..=d.len().min(doc_group + 2) {
        for dir_used in dir_group..=dir.len().min(dir_group + 2) {
            if doc_used == dir_used {
                continue;
            }
            let (a, b) = (
                Token::joined(&d[..doc_used]),
                Token::joined(&dir[..dir_used]),
            );
            if equivalent(&a, &b) {
                return First::Equal {
                    doc_used,
                    dir_used,
                    joined: true,
                    fold: fold_note(&a, &b),
                };
            }
        }
    }
    // The MRZ field ran out inside the first name: what is left must be its start.
    if doc.truncated && d.len() <= k && dir.len() >= k {
        let last = d.len() - 1;
        if (0..last).all(|i| equivalent(&d[i], &dir[i])) && is_prefix(&d[last], &dir[last]) {
            return First::TruncatedPrefix {
                doc_used: d.len(),
                dir_used: k,
                short: last == 0 && d1.letters() < MIN_TRUNCATED_PREFIX,
            };
        }
    }
    if both_have {
        let (a, b) = (Token::joined(&d[..k]), Token::joined(&dir[..k]));
        if a.letters() >= MIN_ONE_EDIT_LETTERS && distance(&a, &b) == 1 {
            return First::OneEdit { used: k };
        }
    }
    // Only in this direction: the document lists every given name, so the directory may
    // use a later one as the name the person goes by, but a directory first name missing
    // from the document is someone else's.
    let len = dir_group;
    let later = (doc_group..d.len())
        .find(|&at| at + len <= d.len() && (0..len).all(|i| equivalent(&d[at + i], &dir[i])));
    if let Some(at) = later {
        return First::OrderDiffers { at, len };
    }
    First::Different
}

/// The verdict the given names allow (Match, Partial or Mismatch), with notes and credits.
pub(super) fn compare_given(
    doc: &DocTokens,
    dir: &[Token],
    doc_credit: &mut [f32],
    dir_credit: &mut [f32],
    notes: &mut Notes,
) -> NameVerdict {
    if doc.given.is_empty() || dir.is_empty() {
        notes.push(NameNote::GivenNameMissing);
        notes.push(NameNote::GivenNameMismatch);
        return NameVerdict::Mismatch;
    }
    let d = &doc.given;
    let mut doc_rest: Vec<usize> = (1..d.len()).collect();
    let mut dir_rest: Vec<usize> = (1..dir.len()).collect();

    let verdict = match first_given(doc, dir) {
        First::Equal {
            doc_used,
            dir_used,
            joined,
            fold,
        } => {
            doc_credit[..doc_used].fill(1.0);
            dir_credit[..dir_used].fill(1.0);
            doc_rest = (doc_used..d.len()).collect();
            dir_rest = (dir_used..dir.len()).collect();
            notes.push(NameNote::GivenNameMatched);
            if joined {
                notes.push(NameNote::SeparatorDifference);
            }
            notes.push_opt(fold);
            NameVerdict::Match
        }
        First::TruncatedPrefix {
            doc_used,
            dir_used,
            short,
        } => {
            // Complete tokens fully, the cut one for the share it kept, the lost ones not.
            let last = doc_used - 1;
            doc_credit[..doc_used].fill(1.0);
            dir_credit[..last].fill(1.0);
            dir_credit[last] = share(d[last].letters(), dir[last].letters());
            doc_rest.clear();
            dir_rest = (dir_used..dir.len()).collect();
            notes.push(NameNote::TruncatedPrefixMatch);
            if short {
                notes.push(NameNote::InitialOnly);
                NameVerdict::Partial
            } else {
                notes.push(NameNote::GivenNameMatched);
                NameVerdict::Match
            }
        }
        First::Initial => {
            doc_credit[0] = share(1, d[0].letters());
            dir_credit[0] = share(1, dir[0].letters());
            notes.push(NameNote::InitialOnly);
            NameVerdict::Partial
        }
        First::OneEdit { used } => {
            let kept = |tokens: &[Token]| {
                let letters: usize = tokens.iter().map(Token::letters).sum();
                share(letters.saturating_sub(1), letters)
            };
            doc_credit[..used].fill(kept(&d[..used]));
            dir_credit[..used].fill(kept(&dir[..used]));
            doc_rest = (used..d.len()).collect();
            dir_rest = (used..dir.len()).collect();
            notes.push(NameNote::OneEditDifference);
            NameVerdict::Partial
        }
        First::OrderDiffers { at, len } => {
            doc_credit[at..at + len].fill(1.0);
            dir_credit[..len].fill(1.0);
            doc_rest = (0..d.len())
                .filter(|i| !(at..at + len).contains(i))
                .collect();
            dir_rest = (len..dir.len()).collect();
            notes.push(NameNote::GivenNameOrderDiffers);
            NameVerdict::Partial
        }
        First::Different => {
            notes.push(NameNote::GivenNameMismatch);
            NameVerdict::Mismatch
        }
    };

    let mut middle = Notes::default();
    let conflict = compare_middles(
        doc,
        dir,
        &doc_rest,
        &dir_rest,
        doc_credit,
        dir_credit,
        &mut middle,
    );
    if verdict == NameVerdict::Mismatch {
        // Middle names of a different person explain nothing; they only count in the score.
        return verdict;
    }
    for note in middle.0 {
        notes.push(note);
    }
    if conflict {
        NameVerdict::Partial
    } else {
        verdict
    }
}

/// Pairs the remaining given names; returns whether both sides keep unpaired ones.
pub(super) fn compare_middles(
    doc: &DocTokens,
    dir: &[Token],
    doc_rest: &[usize],
    dir_rest: &[usize],
    doc_credit: &mut [f32],
    dir_credit: &mut [f32],
    notes: &mut Notes,
) -> bool {
    // Strong pairs (equal names) first, so that an initial cannot take a full name's
    // partner.
    let strong: Vec<Vec<bool>> = doc_rest
        .iter()
        .map(|&i| {
            dir_rest
                .iter()
                .map(|&j| {
                    let (a, b) = (&doc.given[i], &dir[j]);
                    !a.is_initial() && !b.is_initial() && equivalent(a, b)
                })
                .collect()
        })
        .collect();
    let mut pairs = matching(&strong, dir_rest.len());
    let mut dir_taken = vec![false; dir_rest.len()];
    for (p, pair) in pairs.iter().enumerate() {
        if let Some(q) = *pair {
            dir_taken[q] = true;
            doc_credit[doc_rest[p]] = 1.0;
            dir_credit[dir_rest[q]] = 1.0;
            notes.push_opt(fold_note(&doc.given[doc_rest[p]], &dir[dir_rest[q]]));
        }
    }

    let weak: Vec<Vec<bool>> = doc_rest
        .iter()
        .enumerate()
        .map(|(p, &i)| {
            dir_rest
                .iter()
                .enumerate()
                .map(|(q, &j)| {
                    let (a, b) = (&doc.given[i], &dir[j]);
                    pairs[p].is_none()
                        && !dir_taken[q]
                        && (initial_of(a, b) || (doc.given_may_be_cut(i) && is_prefix(a, b)))
                })
                .collect()
        })
        .collect();
    let weak_pairs = matching(&weak, dir_rest.len());
    for (p, pair) in weak_pairs.iter().enumerate() {
        if let Some(q) = *pair {
            let (i, j) = (doc_rest[p], dir_rest[q]);
            let (a, b) = (&doc.given[i], &dir[j]);
            if initial_of(a, b) {
                // One letter of each matched: all of the initial, a share of the name.
                notes.push(NameNote::MiddleNameInitial);
                doc_credit[i] = share(1, a.letters());
                dir_credit[j] = share(1, b.letters());
            } else {
                notes.push(NameNote::TruncatedPrefixMatch);
                doc_credit[i] = 1.0;
                dir_credit[j] = share(a.letters(), b.letters());
            }
            pairs[p] = Some(q);
            dir_taken[q] = true;
        }
    }

    let doc_unpaired = pairs.iter().any(Option::is_none);
    let dir_unpaired = dir_taken.iter().any(|taken| !taken);
    match (doc_unpaired, dir_unpaired) {
        (true, true) => {
            notes.push(NameNote::MiddleNameMismatch);
            true
        }
        (true, false) => {
            notes.push(NameNote::MiddleNameAbsentInDirectory);
            false
        }
        (false, true) => {
            // The document carries the legal name; a middle name only the directory has
            // is what tells a parent from a child who share first and family name (mother
            // `ANNA`, daughter `Anna Karin`). Unless the MRZ cut the field short, that
            // needs a person to look.
            notes.push(NameNote::MiddleNameAbsentInDocument);
            !doc.truncated
        }
        (false, false) => false,
    }
}

/// `part` letters out of `whole`, capped at 1: a score credit.
pub(super) fn share(part: usize, whole: usize) -> f32 {
    (part as f32 / whole.max(1) as f32).min(1.0)
}

/// One of the two is a single letter, the other's initial.
pub(super) fn initial_of(a: &Token, b: &Token) -> bool {
    (a.is_initial() || b.is_initial()) && a.initial() == b.initial()
}
