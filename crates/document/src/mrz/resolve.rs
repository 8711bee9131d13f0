//! From OCR output to the most probable reading the check digits accept.
//!
//! Two sources of knowledge fix OCR errors here. The layout says which class of character
//! each position holds, which undoes the classic confusions (`O`/`0`, `B`/`8`, ...) where,
//! and only where, one side of the confusion cannot occur. The check digits then choose
//! between the remaining alternatives of the fields they protect. Nothing else is guessed:
//! every character of the result is a candidate the OCR offered (or its class-mapped form),
//! save one letter-digit look-alike swap in a document number (see [`settle_twins`]),
//! which is reported as unoffered and leaves the reading uncertain. Every character
//! chosen over the OCR's first choice is reported (`Mrz::corrections`).

use super::layout::{checks, detect, unknown_format, Class, Grid, Layout, Pos, Span, FILLER};
use super::{is_mrz_char, parse_mrz, Mrz, MrzError, MrzField};
use crate::date::Date;

/// Positions searched per check digit: the least confident ones.
const MAX_UNCERTAIN: usize = 4;
/// Alternatives tried per searched position, best first (so at most 3^4 = 81 readings per
/// check digit).
const MAX_ALTERNATIVES: usize = 3;
/// An alternative four times less likely than the best reading is not a misread the OCR
/// was unsure of: with enough of those one of them satisfies a mod-10 check digit by
/// chance. Worse, a digit changed on a card (without recomputing its check digit) would be
/// "corrected" back into a valid reading, and the change never flagged. Measured on
/// generated cards with one digit changed (docs/documents.md): at 0.01 a fifth of the
/// passports photographed at the moderate level were "corrected", at 0.1 one in twelve.
const MIN_RELATIVE_PROBABILITY: f32 = 0.25;
/// A correction as a whole (all its substitutions together) must be at least this likely
/// relative to the reading the OCR preferred.
const MIN_CORRECTION_LIKELIHOOD: f64 = 0.25;

/// A position's candidates, in class, most probable first.
type Candidates = Vec<(u8, f32)>;

/// Plain-text class correction: in digit positions letters that OCR confuses with digits
/// become those digits, in letter positions the reverse. Document numbers and optional data
/// may hold both, so they are left alone, as is everything when the lines match no format.
pub fn correct_by_class(lines: &[&str]) -> Vec<String> {
    let lines: Vec<&str> = lines.iter().map(|l| l.trim()).collect();
    let lengths: Vec<usize> = lines.iter().map(|l| l.chars().count()).collect();
    let first = lines
        .first()
        .and_then(|l| l.bytes().next())
        .unwrap_or(FILLER);
    let layout = detect(&lengths)
        .ok()
        .and_then(|kind| Layout::of(kind, Class::Letter.correct(first).unwrap_or(first)));
    let Some(layout) = layout else {
        return lines.iter().map(|l| (*l).to_owned()).collect();
    };
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            line.chars()
                .enumerate()
                .map(|(j, c)| {
                    u8::try_from(c)
                        .ok()
                        .and_then(|b| layout.class_at((i, j)).correct(b))
                        .map_or(c, char::from)
                })
                .collect()
        })
        .collect()
}

/// Reads an MRZ from OCR output: `lines[line][position]` lists `(character, probability)`
/// candidates, best first. Candidates are first corrected by the class of their position
/// (see [`correct_by_class`]); then for each check digit the most probable combination of
/// alternatives at the least confident positions that verifies is chosen, the composite
/// last. When none verifies the most probable reading stays and the parse reports the
/// failed check digit.
pub fn resolve_mrz(lines: &[Vec<Vec<(char, f32)>>], today: Date) -> Result<Mrz, MrzError> {
    let lengths: Vec<usize> = lines.iter().map(Vec::len).collect();
    if !(2..=3).contains(&lines.len()) {
        return Err(unknown_format(&lengths));
    }
    for (i, line) in lines.iter().enumerate() {
        for (j, position) in line.iter().enumerate() {
            let (line, column) = (i + 1, j + 1);
            match position.first() {
                None => return Err(MrzError::NoCandidates { line, column }),
                Some(&(found, _)) if !position.iter().any(|&(c, _)| is_mrz_char(c)) => {
                    return Err(MrzError::InvalidCharacter {
                        line,
                        column,
                        found,
                    });
                }
                Some(_) => {}
            }
        }
    }
    let kind = detect(&lengths)?;
    let code = lines
        .first()
        .and_then(|l| l.first())
        .map(|p| classify(p, Class::Letter));
    let first = code
        .as_ref()
        .and_then(|c| c.first())
        .map_or(FILLER, |c| c.0);
    let layout = Layout::of(kind, first).ok_or_else(|| unknown_format(&lengths))?;

    let candidates: Vec<Vec<Candidates>> = lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            line.iter()
                .enumerate()
                .map(|(j, p)| classify(p, layout.class_at((i, j))))
                .collect()
        })
        .collect();
    let mut grid = Grid::new(
        candidates
            .iter()
            .map(|line| {
                line.iter()
                    .map(|p| p.first().map_or(FILLER, |c| c.0))
                    .collect()
            })
            .collect(),
    );

    let fields: Vec<MrzField> = checks(layout, &grid).iter().map(|c| c.field).collect();
    for &field in fields.iter().filter(|&&f| f != MrzField::Composite) {
        search(layout, &candidates, &mut grid, field, &[]);
    }
    // The composite only settles what no check digit of its own protects: a field whose own
    // check failed is better reported than bent to satisfy the composite.
    let settled: Vec<Pos> = checks(layout, &grid)
        .into_iter()
        .filter(|c| c.field != MrzField::Composite)
        .flat_map(|c| c.covered.into_iter().chain([c.at]))
        .collect();
    search(
        layout,
        &candidates,
        &mut grid,
        MrzField::Composite,
        &settled,
    );

    settle_twins(layout, &mut grid);
    settle_name_fillers(layout, &candidates, &mut grid);
    for span in [layout.issuer, layout.nationality] {
        settle_code(span, &candidates, &mut grid);
    }

    let text = grid.lines();
    let refs: Vec<&str> = text.iter().map(String::as_str).collect();
    let mut mrz = parse_mrz(&refs, today)?;
    mrz.corrections = corrections(lines, &candidates, &grid);
    mrz.uncertain = uncertain_names(layout, lines, &candidates, &grid);
    mrz.name_alternatives = name_alternatives(layout, lines, &grid, &mrz.uncertain);
    mrz.uncertain
        .extend(blind_doubts(layout, lines, &candidates, &grid));
    // A correction to a character the recognizer never offered (a look-alike swap) is not
    // the image's evidence but a guess the check digit happened to accept.
    mrz.uncertain
        .extend(
            mrz.corrections
                .iter()
                .filter(|c| !c.offered)
                .map(|c| super::UncertainChar {
                    line: c.line,
                    column: c.column,
                    read: c.chosen,
                    alternative: c.read,
                }),
        );
    // An issuer or nationality has no check digit: a character changed from what was read
    // (a digit mapped to its look-alike letter) is confirmed only by making a known code.
    // Changed into an unknown one, it is a guess (a specimen printing `132` there would
    // silently become `ISZ`), except a `0` taken for `O`: OCR-B draws the two nearly
    // alike, so a `0` read in a field of letters is the letter (`uncertain_names` does
    // not count that pair either).
    for span in [layout.issuer, layout.nationality] {
        if super::codes::is_known_code(&grid.text(span)) {
            continue;
        }
        for (line, col) in span.positions() {
            let Some(&(read, _)) = lines
                .get(line)
                .and_then(|l| l.get(col))
                .and_then(|p| p.first())
            else {
                continue;
            };
            let chosen = grid.get((line, col));
            if u8::try_from(read).ok() != Some(chosen) && (read, chosen) != ('0', b'O') {
                mrz.uncertain.push(super::UncertainChar {
                    line: line + 1,
                    column: col + 1,
                    read: char::from(chosen),
                    alternative: read,
                });
            }
        }
    }
    Ok(mrz)
}

/// Every position where the reading is not the recognizer's first choice: what it read
/// there, what was chosen, and whether the recognizer offered the chosen character (or a
/// character its position's class maps to it).
fn corrections(
    read_as: &[Vec<Vec<(char, f32)>>],
    candidates: &[Vec<Candidates>],
    grid: &Grid,
) -> Vec<super::Correction> {
    let mut out = Vec::new();
    for (line, (raw, classified)) in read_as.iter().zip(candidates).enumerate() {
        for (col, (raw, classified)) in raw.iter().zip(classified).enumerate() {
            let chosen = grid.get((line, col));
            let Some(&(read, _)) = raw.first() else {
                continue;
            };
            if u8::try_from(read).ok() == Some(chosen) {
                continue;
            }
            out.push(super::Correction {
                line: line + 1,
                column: col + 1,
                read,
                chosen: char::from(chosen),
                offered: classified.iter().any(|c| c.0 == chosen),
            });
        }
    }
    out
}

/// Where the names were read with another character nearly as likely: one the recognizer
/// offered as itself (a letter or the filler, not a digit the class maps to a letter) at
/// least [`MIN_RELATIVE_PROBABILITY`] as likely as the one read, the bar below which an
/// alternative is not a doubt of the recognizer's but noise. Nothing else decides such a
/// position: names have no check digit, and a letter read for a filler (`<` and `K` look
/// alike in some printings of OCR-B) or for another letter gives another valid name.
/// Digits do not count: OCR-B draws `0` and `O`, `5` and `S` nearly alike, so a round or
/// S-shaped letter often has its digit twin close behind without the letter being in
/// doubt (ICAO's UTO strip read `D` with `0` a third as likely). The fillers after the
/// names' end ([`names_end`]) are settled by the layout and not asked.
fn uncertain_names(
    layout: &Layout,
    read_as: &[Vec<Vec<(char, f32)>>],
    candidates: &[Vec<Candidates>],
    grid: &Grid,
) -> Vec<super::UncertainChar> {
    let positions: Vec<Pos> = layout.names.positions().collect();
    let end = names_end(&positions, grid).map_or(positions.len(), |e| e.run_start + 1);
    // The document code's second character (a letter or the filler, `P<` or `PA`) has no
    // check digit either and suffers the same filler-for-letter misread.
    let code_letter = layout.document_code.positions().nth(1);
    positions
        .iter()
        .take(end)
        .chain(code_letter.as_ref())
        .filter_map(|&(line, col)| {
            let read = char::from(grid.get((line, col)));
            let p_read = candidates
                .get(line)
                .and_then(|l| l.get(col))?
                .iter()
                .find(|c| char::from(c.0) == read)
                .map_or(0.0, |c| c.1);
            let &(alternative, _) = read_as.get(line)?.get(col)?.iter().find(|&&(c, p)| {
                c != read
                    && (c.is_ascii_uppercase() || c == '<')
                    && p >= p_read * MIN_RELATIVE_PROBABILITY
            })?;
            Some(super::UncertainChar {
                line: line + 1,
                column: col + 1,
                read,
                alternative,
            })
        })
        .collect()
}

/// Where a check digit cannot tell what was read from the recognizer's runner-up: an
/// ICAO check digit sums values (`<` 0, `0`-`9`, `A`-`Z` 10-35) times 7, 3, 1 modulo 10, so
/// two characters whose values differ by a multiple of 10 (`<`, `0`, `A`, `K`, `U`; `P` and
/// `F`; `8`, `I` and `S`; `5` and `Z`; ...) satisfy every check digit, the composite
/// included, equally. A protected position read with such an alternative at least
/// [`MIN_RELATIVE_PROBABILITY`] as likely (the bar of [`uncertain_names`]) is as unprotected
/// as a name's: the check digits that verify say nothing about which of the two is printed.
/// Dates hold digits only, whose values all differ, so this is the document number's and
/// the optional data's doubt (a generated passport's `PTGPVJX4S6`, read `FTGPVJX4S6` with
/// `P` close behind, verified).
fn blind_doubts(
    layout: &Layout,
    read_as: &[Vec<Vec<(char, f32)>>],
    candidates: &[Vec<Candidates>],
    grid: &Grid,
) -> Vec<super::UncertainChar> {
    let value = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'Z' => Some((c - b'A' + 10) % 10),
        FILLER => Some(0),
        _ => None,
    };
    let mut protected: Vec<Pos> = checks(layout, grid)
        .into_iter()
        .flat_map(|c| c.covered.into_iter().chain([c.at]))
        .collect();
    protected.sort_unstable();
    protected.dedup();
    protected
        .into_iter()
        .filter_map(|(line, col)| {
            let read = grid.get((line, col));
            let offered = candidates.get(line)?.get(col)?;
            let p_read = offered.iter().find(|c| c.0 == read).map_or(0.0, |c| c.1);
            let &(alternative, _) = offered.iter().find(|&&(c, p)| {
                c != read && value(c) == value(read) && p >= p_read * MIN_RELATIVE_PROBABILITY
            })?;
            // Reported as the recognizer offered it: the `O` it read in a date, not the
            // `0` the position's class makes of it.
            let class = layout.class_at((line, col));
            let &(offered_as, _) = read_as.get(line)?.get(col)?.iter().find(|&&(c, _)| {
                u8::try_from(c)
                    .ok()
                    .and_then(|b| class.correct(b))
                    .is_some_and(|b| b == alternative)
            })?;
            Some(super::UncertainChar {
                line: line + 1,
                column: col + 1,
                read: char::from(read),
                alternative: offered_as,
            })
        })
        .collect()
}

/// Every other letter or filler the recognizer offered at a position of the names, below
/// the bar of [`uncertain_names`] (those are not repeated here), the likeliest relative to
/// the character read first. They do not make the reading uncertain: the recognizer was
/// sure enough. They are what the printed names may still choose among when the reading
/// is uncertain anyway ([`super::settle_names_by_printed`]): OCR-B's filler read as a
/// confident `K` is the commonest misread of real specimens' names.
fn name_alternatives(
    layout: &Layout,
    read_as: &[Vec<Vec<(char, f32)>>],
    grid: &Grid,
    uncertain: &[super::UncertainChar],
) -> Vec<super::UncertainChar> {
    let mut found: Vec<(f32, super::UncertainChar)> = Vec::new();
    for (line, col) in layout.names.positions() {
        let read = char::from(grid.get((line, col)));
        let Some(offered) = read_as.get(line).and_then(|l| l.get(col)) else {
            continue;
        };
        let p_read = offered
            .iter()
            .find(|c| c.0 == read)
            .map_or(f32::MIN_POSITIVE, |c| c.1.max(f32::MIN_POSITIVE));
        for &(alternative, p) in offered {
            let listed = uncertain
                .iter()
                .any(|u| (u.line, u.column, u.alternative) == (line + 1, col + 1, alternative));
            if alternative != read
                && (alternative.is_ascii_uppercase() || alternative == '<')
                && !listed
            {
                let doubt = super::UncertainChar {
                    line: line + 1,
                    column: col + 1,
                    read,
                    alternative,
                };
                found.push((p / p_read, doubt));
            }
        }
    }
    found.sort_by(|a, b| b.0.total_cmp(&a.0));
    found.into_iter().map(|(_, d)| d).collect()
}

/// Where the names end: the first run of three fillers after a letter (a single `<` parts
/// names, `<<` the surname from the given names, so three say nothing follows).
struct NamesEnd {
    /// Index (in the names' positions) of the run's first filler.
    run_start: usize,
    /// Index of the first position after the run's third filler.
    after_run: usize,
}

fn names_end(positions: &[Pos], grid: &Grid) -> Option<NamesEnd> {
    let (mut run, mut letters) = (0usize, false);
    for (k, &pos) in positions.iter().enumerate() {
        if grid.get(pos) == FILLER {
            run += 1;
            if letters && run >= 3 {
                return Some(NamesEnd {
                    run_start: k + 1 - run,
                    after_run: k + 1,
                });
            }
        } else {
            letters = true;
            run = 0;
        }
    }
    None
}

/// Once three fillers in a row follow a letter, the names are over and the rest of the
/// field is filler (a single `<` parts names, `<<` the surname from the given names): a
/// later position the OCR thought might be a filler is one. Names have no check digit, so
/// without this a smudge at the end of the zone read as a letter would stand.
fn settle_name_fillers(layout: &Layout, candidates: &[Vec<Candidates>], grid: &mut Grid) {
    let positions: Vec<Pos> = layout.names.positions().collect();
    let Some(end) = names_end(&positions, grid) else {
        return;
    };
    for &(line, col) in positions.get(end.after_run..).unwrap_or_default() {
        let offered = candidates
            .get(line)
            .and_then(|l| l.get(col))
            .is_some_and(|c| usable(c).iter().any(|&(ch, _)| ch == FILLER));
        if offered {
            grid.set((line, col), FILLER);
        }
    }
}

/// An issuer or nationality that is not a known code was misread: the most probable known
/// code among the alternatives replaces it. With none among them, the reading stays.
fn settle_code(span: Span, candidates: &[Vec<Candidates>], grid: &mut Grid) {
    if super::codes::is_known_code(&grid.text(span)) {
        return;
    }
    let options: Vec<&[(u8, f32)]> = span
        .positions()
        .map(|(line, col)| {
            candidates
                .get(line)
                .and_then(|l| l.get(col))
                .map_or(&[][..], |c| usable(c))
        })
        .collect();
    let mut best: Option<(Vec<u8>, f32)> = None;
    let mut stack: Vec<(Vec<u8>, f32)> = vec![(Vec::new(), 1.0)];
    while let Some((prefix, p)) = stack.pop() {
        let Some(choices) = options.get(prefix.len()) else {
            let code = String::from_utf8_lossy(&prefix).into_owned();
            if super::codes::is_known_code(&code) && best.as_ref().is_none_or(|b| p > b.1) {
                best = Some((prefix, p));
            }
            continue;
        };
        for &(c, q) in choices.iter() {
            let mut next = prefix.clone();
            next.push(c);
            stack.push((next, p * q));
        }
    }
    if let Some((code, _)) = best {
        grid.put(span, &code);
    }
}

/// The candidates of one position that the class admits, mapped where the class requires
/// it, merged (an `O` read in a date supports the `0` read there) and sorted. When the class
/// admits none the alphabet's candidates stay as read, so the parse can report the field.
fn classify(position: &[(char, f32)], class: Class) -> Candidates {
    let mrz = || {
        position.iter().filter_map(|&(c, p)| {
            u8::try_from(c)
                .ok()
                .filter(|_| is_mrz_char(c))
                .map(|b| (b, p))
        })
    };
    let mut out = merge(mrz().filter_map(|(b, p)| class.correct(b).map(|m| (m, p))));
    if out.is_empty() {
        out = merge(mrz());
    }
    // Stable, so equally probable candidates keep the OCR's order.
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out
}

/// Letters and digits OCR-B draws nearly alike. The recognizer is often sure of the wrong
/// one of a pair (it reads `0` as `O` in a document number with 95% confidence), and in a
/// field that may hold either, nothing but the check digits can tell them apart.
const TWINS: [(u8, u8); 5] = [
    (b'0', b'O'),
    (b'1', b'I'),
    (b'2', b'Z'),
    (b'5', b'S'),
    (b'8', b'B'),
];

fn twin(c: u8) -> Option<u8> {
    TWINS.iter().find_map(|&(a, b)| match c {
        x if x == a => Some(b),
        x if x == b => Some(a),
        _ => None,
    })
}

/// A field that may hold letters and digits and still fails its check digit: swaps one
/// character for its look-alike when that makes the field's check digit and the composite
/// verify, breaks no check digit that verified, and is the only swap that would. Never one
/// digit for another, so a digit changed on the card stays flagged.
///
/// The swap is a guess, not the image's evidence: the composite weighs the document
/// number exactly as the number's own check digit does, so it adds none, and when the
/// number was misread some other way a look-alike swap verifies by chance one time in
/// ten per look-alike character (as the German ID card specimen's `T22000129`, read
/// `T22ODD129`, verified without any swap). So the swap is reported as a correction the
/// recognizer never offered, which makes the reading `mrz_uncertain` ([`corrections`]):
/// the reading shown is the one the check digits accept, and the card is asked for again
/// rather than believed.
fn settle_twins(layout: &Layout, grid: &mut Grid) {
    let before = checks(layout, grid);
    let valid_before: Vec<MrzField> = before
        .iter()
        .filter(|c| c.result(grid).valid)
        .map(|c| c.field)
        .collect();
    if !before.iter().any(|c| c.field == MrzField::Composite) {
        return;
    }
    for check in before.iter().filter(|c| c.field != MrzField::Composite) {
        if check.result(grid).valid {
            continue;
        }
        let mut fixes = Vec::new();
        for &pos in &check.covered {
            if layout.class_at(pos) != Class::Any {
                continue;
            }
            let Some(swapped) = twin(grid.get(pos)) else {
                continue;
            };
            let mut trial = grid.clone();
            trial.set(pos, swapped);
            let after = checks(layout, &trial);
            let verifies =
                |f: MrzField| after.iter().any(|c| c.field == f && c.result(&trial).valid);
            if verifies(check.field)
                && verifies(MrzField::Composite)
                && valid_before.iter().all(|&f| verifies(f))
            {
                fixes.push(trial);
            }
        }
        if let [only] = fixes.as_slice() {
            *grid = only.clone();
        }
    }
}

fn merge(candidates: impl Iterator<Item = (u8, f32)>) -> Candidates {
    let mut out: Candidates = Vec::new();
    for (c, p) in candidates {
        // Whatever the OCR sends, NaN ranks last and sums stay finite.
        let p = if p.is_finite() {
            p.clamp(0.0, 1.0)
        } else {
            0.0
        };
        match out.iter_mut().find(|e| e.0 == c) {
            Some(e) => e.1 += p,
            None => out.push((c, p)),
        }
    }
    out
}

/// The alternatives worth trying at a position.
fn usable(candidates: &[(u8, f32)]) -> &[(u8, f32)] {
    let top = candidates.first().map_or(0.0, |c| c.1);
    let n = candidates
        .iter()
        .take(MAX_ALTERNATIVES)
        .take_while(|c| c.1 >= top * MIN_RELATIVE_PROBABILITY)
        .count();
    candidates.get(..n).unwrap_or_default()
}

/// Makes `field`'s check digit verify with the most probable combination of alternatives at
/// its least confident positions, outside `frozen`, that breaks no check digit that
/// verified before; leaves `grid` alone when there is none.
fn search(
    layout: &Layout,
    candidates: &[Vec<Candidates>],
    grid: &mut Grid,
    field: MrzField,
    frozen: &[Pos],
) {
    let before = checks(layout, grid);
    let Some(target) = before.iter().find(|c| c.field == field) else {
        return;
    };
    if target.result(grid).valid {
        return;
    }
    let kept: Vec<MrzField> = before
        .iter()
        .filter(|c| c.result(grid).valid)
        .map(|c| c.field)
        .collect();

    let at = |(line, col): Pos| {
        candidates
            .get(line)
            .and_then(|l| l.get(col))
            .map_or(&[][..], |c| usable(c))
    };
    let mut uncertain: Vec<(Pos, &[(u8, f32)])> = target
        .covered
        .iter()
        .chain([&target.at])
        .filter(|p| !frozen.contains(p))
        .map(|&p| (p, at(p)))
        .filter(|(_, alts)| alts.len() > 1)
        .collect();
    let margin = |alts: &[(u8, f32)]| match alts {
        [a, b, ..] => a.1 - b.1,
        _ => f32::INFINITY,
    };
    uncertain.sort_by(|a, b| margin(a.1).total_cmp(&margin(b.1)));
    uncertain.truncate(MAX_UNCERTAIN);

    let log = |p: f32| f64::from(p.max(f32::MIN_POSITIVE)).ln();
    let mut best: Option<(f64, Grid)> = None;
    let mut choice = vec![0usize; uncertain.len()];
    // An odometer over the alternatives; the all-best reading is the one that failed.
    while advance(&mut choice, &uncertain) {
        let mut trial = grid.clone();
        let mut score = 0.0;
        for (&(pos, alts), &k) in uncertain.iter().zip(&choice) {
            if let (Some(&(c, p)), Some(&(_, top))) = (alts.get(k), alts.first()) {
                trial.set(pos, c);
                score += log(p) - log(top);
            }
        }
        if score < MIN_CORRECTION_LIKELIHOOD.ln() || best.as_ref().is_some_and(|(s, _)| *s >= score)
        {
            continue;
        }
        let after = checks(layout, &trial);
        let verifies = |f: MrzField| after.iter().any(|c| c.field == f && c.result(&trial).valid);
        if verifies(field) && kept.iter().all(|&f| verifies(f)) {
            best = Some((score, trial));
        }
    }
    if let Some((_, trial)) = best {
        *grid = trial;
    }
}

/// Steps `choice` to the next combination; `false` once all have been seen.
fn advance(choice: &mut [usize], uncertain: &[(Pos, &[(u8, f32)])]) -> bool {
    for (k, (_, alts)) in choice.iter_mut().zip(uncertain) {
        *k += 1;
        if *k < alts.len() {
            return true;
        }
        *k = 0;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mrz::check_digit;
    use crate::mrz::tests::{doubt, today, TD1, TD3};

    /// Every position certain: the characters of `lines`, probability 1.
    fn certain(lines: &[&str]) -> Vec<Vec<Vec<(char, f32)>>> {
        lines
            .iter()
            .map(|l| l.chars().map(|c| vec![(c, 1.0)]).collect())
            .collect()
    }

    fn set(ocr: &mut [Vec<Vec<(char, f32)>>], line: usize, column: usize, alts: &[(char, f32)]) {
        if let Some(p) = ocr.get_mut(line - 1).and_then(|l| l.get_mut(column - 1)) {
            *p = alts.to_vec();
        }
    }

    #[test]
    fn certain_input_reads_as_parse_does() {
        for lines in [&TD1[..], &TD3[..]] {
            let resolved = resolve_mrz(&certain(lines), today()).unwrap();
            assert_eq!(resolved, parse_mrz(lines, today()).unwrap());
        }
    }

    #[test]
    fn letter_read_in_a_date_becomes_the_digit() {
        let mut ocr = certain(&TD3);
        // Birth date 740812: the second `0`, read as `O`.
        set(&mut ocr, 2, 16, &[('O', 0.9), ('Q', 0.1)]);
        let mrz = resolve_mrz(&ocr, today()).unwrap();
        assert_eq!(mrz.lines, TD3);
        assert!(mrz.all_check_digits_valid());
    }

    #[test]
    fn digit_read_in_a_name_becomes_the_letter() {
        let mut ocr = certain(&TD1);
        // ERIKSSON's `S` read as `5` and `R` kept; ANNA's `A` read as `4`.
        set(&mut ocr, 3, 5, &[('5', 0.7), ('S', 0.3)]);
        set(&mut ocr, 3, 11, &[('4', 0.8)]);
        let mrz = resolve_mrz(&ocr, today()).unwrap();
        assert_eq!(mrz.lines, TD1);
        assert_eq!(mrz.fields.surname.as_deref(), Some("ERIKSSON"));
    }

    #[test]
    fn eight_read_for_b_in_a_name_is_corrected() {
        let lines = ["P<UTOBERG<<BO<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<", TD3[1]];
        let mut ocr = certain(&lines);
        set(&mut ocr, 1, 6, &[('8', 0.6), ('B', 0.4)]);
        set(&mut ocr, 1, 12, &[('8', 0.95)]);
        let mrz = resolve_mrz(&ocr, today()).unwrap();
        assert_eq!(mrz.fields.surname.as_deref(), Some("BERG"));
        assert_eq!(mrz.fields.given_names.as_deref(), Some("BO"));
    }

    #[test]
    fn check_digit_decides_between_swapped_alternatives() {
        let mut ocr = certain(&TD3);
        // L898902C3: the OCR prefers `B` over `8` in an alphanumeric position, which no
        // class can settle; the check digit can.
        set(&mut ocr, 2, 2, &[('B', 0.55), ('8', 0.45)]);
        set(&mut ocr, 2, 8, &[('O', 0.6), ('C', 0.4)]);
        let mrz = resolve_mrz(&ocr, today()).unwrap();
        assert_eq!(mrz.fields.document_number.as_deref(), Some("L898902C3"));
        assert!(mrz.all_check_digits_valid());
    }

    #[test]
    fn check_digit_itself_may_be_the_misread() {
        let mut ocr = certain(&TD3);
        // Expiry check `9` read as `8` first.
        set(&mut ocr, 2, 28, &[('8', 0.6), ('9', 0.4)]);
        let mrz = resolve_mrz(&ocr, today()).unwrap();
        assert_eq!(mrz.lines, TD3);
    }

    #[test]
    fn composite_decides_unprotected_optional_data() {
        let mut ocr = certain(&TD1);
        // TD1 optional data has no check digit of its own, only the composite. (Not `K`
        // for `<`: K weighs 20, which no mod-10 check digit can tell from filler.)
        set(&mut ocr, 2, 19, &[('E', 0.6), ('<', 0.4)]);
        let mrz = resolve_mrz(&ocr, today()).unwrap();
        assert_eq!(mrz.lines, TD1);
        assert!(mrz.all_check_digits_valid());
    }

    #[test]
    fn without_a_verifying_candidate_the_failure_is_reported() {
        let mut ocr = certain(&TD3);
        // Alternatives for the document number's `2` none of which verifies, even with
        // one of the number's characters swapped for its look-alike.
        let number = "L898902C3";
        let verifies = |n: &str| {
            check_digit(n) == Some(6)
                || (0..n.len()).any(|i| {
                    twin(n.as_bytes()[i]).is_some_and(|t| {
                        let mut b = n.as_bytes().to_vec();
                        b[i] = t;
                        check_digit(&String::from_utf8_lossy(&b)) == Some(6)
                    })
                })
        };
        let wrong: Vec<(char, f32)> = ('A'..='Z')
            .chain('0'..='9')
            .filter(|&c| !verifies(&format!("{}{c}{}", &number[..5], &number[6..])))
            .take(3)
            .zip([0.5, 0.3, 0.2])
            .collect();
        set(&mut ocr, 2, 6, &wrong);
        let mrz = resolve_mrz(&ocr, today()).unwrap();
        let top = wrong.first().map(|w| w.0).unwrap();
        assert_eq!(mrz.fields.document_number, Some(format!("L8989{top}2C3")));
        assert_eq!(mrz.failed_check_digits(), ["document_number", "composite"]);
    }

    #[test]
    fn negligible_alternatives_are_not_tried() {
        let mut ocr = certain(&TD3);
        set(&mut ocr, 2, 2, &[('B', 0.999), ('8', 0.0001)]);
        let mrz = resolve_mrz(&ocr, today()).unwrap();
        assert_eq!(mrz.failed_check_digits(), ["document_number", "composite"]);
    }

    #[test]
    fn a_confidently_read_wrong_digit_is_not_corrected_away() {
        // A birth date digit changed on the card: the OCR reads the printed digit with
        // confidence and offers the original only as a faint alternative. Restoring it
        // would verify every check digit, and hide the change.
        let mut ocr = certain(&TD3);
        set(&mut ocr, 2, 18, &[('2', 0.92), ('1', 0.08)]);
        let mrz = resolve_mrz(&ocr, today()).unwrap();
        assert_eq!(mrz.failed_check_digits(), ["birth_date", "composite"]);
        // Two substitutions each plausible alone but unlikely together are not made either.
        let mut ocr = certain(&TD3);
        set(&mut ocr, 2, 2, &[('3', 0.83), ('8', 0.17)]);
        set(&mut ocr, 2, 8, &[('G', 0.83), ('C', 0.17)]);
        let mrz = resolve_mrz(&ocr, today()).unwrap();
        assert_eq!(mrz.failed_check_digits(), ["document_number", "composite"]);
    }

    #[test]
    fn two_look_alike_swaps_that_both_verify_are_ambiguous_and_not_made() {
        // Find a misread of L898902C3 that two different single swaps would both fix.
        let number = b"L898902C3";
        for pos in 0..number.len() {
            for c in (b'A'..=b'Z').chain(b'0'..=b'9') {
                let mut read = number.to_vec();
                read[pos] = c;
                let fixes = (0..read.len())
                    .filter(|&i| {
                        twin(read[i]).is_some_and(|t| {
                            let mut b = read.clone();
                            b[i] = t;
                            check_digit(&String::from_utf8_lossy(&b)) == Some(6)
                        })
                    })
                    .count();
                if check_digit(&String::from_utf8_lossy(&read)) == Some(6) || fixes < 2 {
                    continue;
                }
                let mut ocr = certain(&TD3);
                set(&mut ocr, 2, pos + 1, &[(char::from(c), 1.0)]);
                let mrz = resolve_mrz(&ocr, today()).unwrap();
                assert_eq!(
                    mrz.failed_check_digits(),
                    ["document_number", "composite"],
                    "{}",
                    String::from_utf8_lossy(&read)
                );
                return;
            }
        }
        panic!("no ambiguous misread found");
    }

    #[test]
    fn a_letter_read_for_its_look_alike_digit_in_a_document_number_is_corrected() {
        // L898902C3: the 0 read as O with confidence, no alternative offered. The swap
        // makes the check digits agree, and is reported as the guess it is.
        let mut ocr = certain(&TD3);
        set(&mut ocr, 2, 6, &[('O', 0.97), ('C', 0.01)]);
        let mrz = resolve_mrz(&ocr, today()).unwrap();
        assert_eq!(mrz.fields.document_number.as_deref(), Some("L898902C3"));
        assert!(mrz.all_check_digits_valid());
        let swap = crate::mrz::Correction {
            line: 2,
            column: 6,
            read: 'O',
            chosen: '0',
            offered: false,
        };
        assert_eq!(mrz.corrections, [swap]);
        assert_eq!(mrz.uncertain, [doubt(2, 6, '0', 'O')]);
        // Misread some other way (a 2 for the 8, nothing else offered), a swap elsewhere
        // in the number can satisfy the check digit by chance; before swaps were reported
        // this read as a valid `L89S902C3`-like number. Now it is never trusted.
        let mut ocr = certain(&TD3);
        set(&mut ocr, 2, 1, &[('2', 1.0)]);
        let mrz = resolve_mrz(&ocr, today()).unwrap();
        assert!(
            !mrz.all_check_digits_valid() || !mrz.uncertain.is_empty(),
            "{mrz:?}"
        );
        // A digit read for another digit is not a look-alike: no correction.
        let mut ocr = certain(&TD3);
        set(&mut ocr, 2, 6, &[('3', 0.97)]);
        let mrz = resolve_mrz(&ocr, today()).unwrap();
        assert_eq!(mrz.failed_check_digits(), ["document_number", "composite"]);
    }

    #[test]
    fn out_of_class_candidates_are_dropped_or_kept_when_alone() {
        let mut ocr = certain(&TD3);
        // `X` cannot be a digit: the `2` behind it wins. `K` alone stays, to be reported.
        set(&mut ocr, 2, 14, &[('X', 0.9), ('7', 0.1)]);
        set(&mut ocr, 2, 15, &[('K', 0.9)]);
        let mrz = resolve_mrz(&ocr, today()).unwrap();
        assert_eq!(mrz.lines[1].get(13..15), Some("7K"));
        assert_eq!(mrz.fields.birth_date, None);
    }

    #[test]
    fn alphanumeric_positions_are_never_mapped() {
        let mut ocr = certain(&TD3);
        set(&mut ocr, 2, 1, &[('1', 1.0)]);
        let mrz = resolve_mrz(&ocr, today()).unwrap();
        assert_eq!(mrz.fields.document_number.as_deref(), Some("1898902C3"));
    }

    #[test]
    fn bad_probabilities_do_not_panic() {
        let mut ocr = certain(&TD3);
        set(
            &mut ocr,
            2,
            2,
            &[('B', f32::NAN), ('8', f32::INFINITY), ('3', -1.0)],
        );
        set(&mut ocr, 2, 3, &[('9', 0.0), ('8', 0.0)]);
        assert!(resolve_mrz(&ocr, today()).is_ok());
    }

    #[test]
    fn search_is_bounded() {
        // Every position doubtful among five candidates: still a few hundred readings per
        // check digit, not 5^44.
        let ocr: Vec<Vec<Vec<(char, f32)>>> = TD3
            .iter()
            .map(|l| {
                l.chars()
                    .map(|c| vec![(c, 0.3), ('1', 0.2), ('7', 0.2), ('A', 0.2), ('<', 0.1)])
                    .collect()
            })
            .collect();
        let start = std::time::Instant::now();
        assert!(resolve_mrz(&ocr, today()).is_ok());
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn malformed_candidate_lists_are_errors() {
        let mut ocr = certain(&TD3);
        set(&mut ocr, 2, 3, &[]);
        let err = resolve_mrz(&ocr, today()).unwrap_err();
        assert_eq!(err, MrzError::NoCandidates { line: 2, column: 3 });
        assert_eq!(err.code(), "mrz_no_candidates");

        set(&mut ocr, 2, 3, &[('a', 0.5), ('é', 0.5)]);
        let err = resolve_mrz(&ocr, today()).unwrap_err();
        assert_eq!(
            err,
            MrzError::InvalidCharacter {
                line: 2,
                column: 3,
                found: 'a'
            }
        );

        let short = certain(&[TD3[0], &TD3[1][..43]]);
        assert_eq!(
            resolve_mrz(&short, today()).unwrap_err().code(),
            "mrz_wrong_length"
        );
        assert_eq!(
            resolve_mrz(&[], today()).unwrap_err().code(),
            "mrz_unknown_format"
        );
        let one = certain(&TD3[..1]);
        assert_eq!(
            resolve_mrz(&one, today()).unwrap_err().code(),
            "mrz_unknown_format"
        );
    }

    #[test]
    fn plain_text_correction_follows_the_classes() {
        let damaged = [
            "P<UT0ERIK55ON<<ANNA<MAR1A<<<<<<<<<<<<<<<<<<<",
            " L898902C36UT07408I22F12O4159ZE184226B<<<<<1O ",
        ];
        assert_eq!(correct_by_class(&damaged), TD3);
        // The document number may hold letters and digits: an `O` there stays.
        let number = [
            "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
            "L8989O2C36UTO7408122F1204159ZE184226B<<<<<10",
        ];
        assert_eq!(correct_by_class(&number), number);
        // No format: trimmed, otherwise untouched.
        assert_eq!(correct_by_class(&[" 0O "]), ["0O"]);
    }

    #[test]
    fn visa_layout_is_chosen_from_the_corrected_code() {
        let visa = crate::mrz::tests::MRV_A;
        let mut ocr = certain(&visa);
        // Optional data in a visa is alphanumeric up to the end: a `B` there stays.
        set(&mut ocr, 2, 44, &[('B', 1.0)]);
        let mrz = resolve_mrz(&ocr, today()).unwrap();
        assert!(mrz.lines[1].ends_with('B'));
        assert!(mrz
            .check_digits
            .iter()
            .all(|c| c.field != MrzField::Composite));
    }

    /// TD3 specimen with a smudge read as a letter at the end of the name field, where the
    /// OCR also saw a filler: the filler wins; without that alternative, the letter stays.
    #[test]
    fn trailing_name_positions_after_three_fillers_are_fillers() {
        let mut ocr = certain(&TD3);
        ocr[0][43] = vec![('B', 0.6), ('<', 0.4)];
        let mrz = resolve_mrz(&ocr, today()).unwrap();
        assert!(mrz.lines[0].ends_with("<<<<<"), "{}", mrz.lines[0]);
        ocr[0][43] = vec![('B', 0.99)];
        let mrz = resolve_mrz(&ocr, today()).unwrap();
        assert!(mrz.lines[0].ends_with('B'));
    }

    /// A document number read with a runner-up the check digits cannot tell from it (`C`
    /// and `M` count 12 and 22): every check digit verifies either way, so the reading is
    /// uncertain. A runner-up they can tell apart (`C` and `G`, 12 and 16) is settled by
    /// them, and one too unlikely is noise.
    #[test]
    fn a_runner_up_no_check_digit_can_see_is_a_doubt() {
        let mut ocr = certain(&TD3);
        // L898902C3: `C` at column 8 of line 2.
        set(&mut ocr, 2, 8, &[('C', 0.6), ('M', 0.35)]);
        let mrz = resolve_mrz(&ocr, today()).unwrap();
        assert_eq!(mrz.lines, TD3);
        assert!(mrz.all_check_digits_valid());
        assert_eq!(mrz.uncertain, [doubt(2, 8, 'C', 'M')]);
        // `M` first with `C` close behind verifies too, and is as much in doubt.
        set(&mut ocr, 2, 8, &[('M', 0.6), ('C', 0.35)]);
        let mrz = resolve_mrz(&ocr, today()).unwrap();
        assert!(mrz.all_check_digits_valid());
        assert_eq!(mrz.uncertain.len(), 1, "{:?}", mrz.uncertain);
        // A filler read as `0` in the optional data (both count 0).
        let mut ocr = certain(&TD3);
        set(&mut ocr, 2, 30, &[('<', 0.7), ('0', 0.3)]);
        assert_eq!(resolve_mrz(&ocr, today()).unwrap().uncertain.len(), 1);
        // In a digit's place the filler and `0` (or the `O` its class makes a `0`) are
        // such a pair; a doubt names the character as the recognizer offered it, never
        // the one its class made of it (the fuzz target found a `0` reported for an `O`).
        for alts in [[('<', 0.6), ('O', 0.4)], [('O', 0.6), ('<', 0.4)]] {
            let mut ocr = certain(&TD3);
            set(&mut ocr, 2, 44, &alts);
            let uncertain = resolve_mrz(&ocr, today()).unwrap().uncertain;
            assert_eq!(uncertain.len(), 1, "{alts:?}: {uncertain:?}");
            assert!(
                uncertain
                    .iter()
                    .all(|u| alts.iter().any(|&(c, _)| c == u.alternative)),
                "{alts:?}: {uncertain:?}"
            );
        }
        for alts in [[('C', 0.6), ('G', 0.4)], [('C', 0.9), ('M', 0.1)]] {
            let mut ocr = certain(&TD3);
            set(&mut ocr, 2, 8, &alts);
            let mrz = resolve_mrz(&ocr, today()).unwrap();
            assert_eq!(mrz.lines, TD3);
            assert!(mrz.uncertain.is_empty(), "{alts:?}: {:?}", mrz.uncertain);
        }
    }

    /// The Dutch specimen ID card's name line as our recognizer read it: the `<` between
    /// surname and given names read as `K`, with `<` the runner-up (names have no check
    /// digit, so this was a silent misread). Every doubtful position is reported, the
    /// reading stays as the recognizer preferred it, and a confident reading reports none.
    #[test]
    fn a_name_character_read_with_a_close_alternative_is_uncertain() {
        let mut ocr = certain(&TD1);
        // ERIKSSON<<ANNA<MARIA: the second `<` of `<<` (column 10) read as `K`, and the
        // one between ANNA and MARIA (column 15) a filler with `K` close behind.
        set(&mut ocr, 3, 10, &[('K', 0.58), ('<', 0.35), ('S', 0.02)]);
        set(&mut ocr, 3, 15, &[('<', 0.54), ('K', 0.33)]);
        let mrz = resolve_mrz(&ocr, today()).unwrap();
        assert_eq!(mrz.lines[2], "ERIKSSON<KANNA<MARIA<<<<<<<<<<");
        assert_eq!(
            mrz.uncertain,
            [doubt(3, 10, 'K', '<'), doubt(3, 15, '<', 'K'),]
        );
        // An alternative less than a quarter as likely is the recognizer's noise, not a
        // doubt; nor is anything in the fillers after the names' end.
        let mut ocr = certain(&TD1);
        set(&mut ocr, 3, 10, &[('<', 0.9), ('K', 0.1)]);
        set(&mut ocr, 3, 2, &[('R', 0.95), ('P', 0.05)]);
        set(&mut ocr, 3, 25, &[('<', 0.5), ('K', 0.5)]);
        // Nor a digit behind a letter (OCR-B's `0` and `O` are near twins): ICAO's UTO strip.
        set(&mut ocr, 3, 7, &[('O', 0.69), ('0', 0.23), ('2', 0.03)]);
        let mrz = resolve_mrz(&ocr, today()).unwrap();
        assert_eq!(mrz.lines, TD1);
        assert!(mrz.uncertain.is_empty(), "{:?}", mrz.uncertain);
        // A letter-for-letter doubt counts as well: `N` or `M` make two valid names.
        let mut ocr = certain(&TD3);
        set(&mut ocr, 1, 18, &[('N', 0.6), ('M', 0.4)]);
        let mrz = resolve_mrz(&ocr, today()).unwrap();
        assert_eq!(mrz.uncertain.len(), 1, "{:?}", mrz.uncertain);
        assert_eq!((mrz.uncertain[0].line, mrz.uncertain[0].column), (1, 18));
    }

    /// `UTO` read as `UT0`... is class-corrected; `OTO` (not a code) becomes `UTO` when the
    /// OCR offered `U`; a known code is never changed.
    #[test]
    fn unknown_country_codes_take_the_known_alternative() {
        let mut ocr = certain(&TD3);
        ocr[0][2] = vec![('O', 0.7), ('U', 0.3)];
        ocr[1][10] = vec![('O', 0.7), ('U', 0.3)];
        let mrz = resolve_mrz(&ocr, today()).unwrap();
        assert_eq!(mrz.fields.issuer.as_deref(), Some("UTO"));
        assert_eq!(mrz.fields.nationality.as_deref(), Some("UTO"));
        // `CAN` is known; an alternative never replaces it.
        let lines: Vec<String> = TD3.iter().map(|l| l.replace("UTO", "CAN")).collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let mut ocr = certain(&refs);
        ocr[0][2] = vec![('C', 0.6), ('U', 0.4)];
        let mrz = resolve_mrz(&ocr, today()).unwrap();
        assert_eq!(mrz.fields.issuer.as_deref(), Some("CAN"));
    }

    /// Digits read in a nationality that no known code explains (a specimen printing
    /// `132`) are mapped to letters by the field's class, but the unknown code they make is
    /// a guess no check digit confirms: the reading is uncertain, not silently `ISZ`.
    #[test]
    fn digits_mapped_into_an_unknown_code_are_uncertain() {
        let mut ocr = certain(&TD3);
        for (col, digit) in [(10, '1'), (11, '5'), (12, '2')] {
            ocr[1][col] = vec![(digit, 0.99)];
        }
        let mrz = resolve_mrz(&ocr, today()).unwrap();
        assert_eq!(mrz.fields.nationality.as_deref(), Some("ISZ"));
        let places: Vec<(usize, usize)> =
            mrz.uncertain.iter().map(|u| (u.line, u.column)).collect();
        assert_eq!(places, [(2, 11), (2, 12), (2, 13)]);
        // `0` for `O` is not in doubt: OCR-B draws them nearly alike (a fictional `EOL`).
        let lines: Vec<String> = TD3.iter().map(|l| l.replace("UTO", "EOL")).collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let mut ocr = certain(&refs);
        ocr[1][11] = vec![('0', 0.99)];
        let mrz = resolve_mrz(&ocr, today()).unwrap();
        assert_eq!(mrz.fields.nationality.as_deref(), Some("EOL"));
        assert!(mrz.uncertain.is_empty(), "{:?}", mrz.uncertain);
        // Read as printed, a code the list does not hold is left alone and not in doubt.
        let lines: Vec<String> = TD3.iter().map(|l| l.replace("UTO", "XYQ")).collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let mrz = resolve_mrz(&certain(&refs), today()).unwrap();
        assert!(mrz.uncertain.is_empty(), "{:?}", mrz.uncertain);
    }
}
