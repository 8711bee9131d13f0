//! Reading the directory record: the structured fields, or the display name in either
//! order, titles and suffixes set aside.

use super::*;

#[derive(Debug)]
pub(super) struct Reading {
    pub(super) family: Vec<Token>,
    pub(super) given: Vec<Token>,
    /// The record says which part is the family name, so a swap is a finding.
    pub(super) explicit_order: bool,
    pub(super) from_display: bool,
    pub(super) family_first: bool,
}

pub(super) fn strip_suffixes(tokens: &mut Vec<Token>, keep: usize, notes: &mut Notes) {
    while tokens.len() > keep && tokens.last().is_some_and(Token::is_suffix) {
        tokens.pop();
        notes.push(NameNote::SuffixIgnored);
    }
}

/// Leading titles of a display name (`Dr. Anna Eriksson`), keeping at least `keep` tokens.
pub(super) fn strip_titles(tokens: &mut Vec<Token>, keep: usize, notes: &mut Notes) {
    let titles = tokens.iter().take_while(|t| t.is_title()).count();
    let titles = titles.min(tokens.len().saturating_sub(keep));
    if titles > 0 {
        tokens.drain(..titles);
        notes.push(NameNote::TitleIgnored);
    }
}

/// A structured field's tokens, or `None` when absent, empty or unusable (noted).
pub(super) fn structured_field(value: Option<&str>, notes: &mut Notes) -> Option<Vec<Token>> {
    match tokenize(value?, NameSource::Directory) {
        Ok(field) => {
            if field.ignored {
                notes.push(NameNote::DirectoryTokenIgnored);
            }
            (!field.tokens.is_empty()).then_some(field.tokens)
        }
        Err(problem) => {
            notes.push(problem.note());
            None
        }
    }
}

pub(super) fn directory_readings(
    dir: &DirectoryName<'_>,
    notes: &mut Notes,
) -> Result<Vec<Reading>, NameNote> {
    let given = structured_field(dir.given_name, notes);
    let family = structured_field(dir.family_name, notes).map(|mut family| {
        strip_suffixes(&mut family, 1, notes);
        family
    });
    if let (Some(family), Some(given)) = (&family, &given) {
        return Ok(vec![Reading {
            family: family.clone(),
            given: given.clone(),
            explicit_order: true,
            from_display: false,
            family_first: false,
        }]);
    }

    let mut readings = display_readings(dir.display_name, notes)?;
    if family.is_none() && given.is_none() {
        return Ok(readings);
    }
    // One structured field: keep the display-name readings that agree with it. The given
    // name field may hold only the first of the display name's given names.
    let pairwise = |a: &[Token], b: &[Token]| {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| equivalent(x, y))
    };
    readings.retain(|r| {
        family.as_ref().is_none_or(|f| pairwise(f, &r.family))
            && given
                .as_ref()
                .is_none_or(|g| r.given.len() >= g.len() && pairwise(g, &r.given[..g.len()]))
    });
    if readings.is_empty() {
        return Err(NameNote::DirectoryNameInconsistent);
    }
    Ok(readings)
}

pub(super) fn display_readings(display: &str, notes: &mut Notes) -> Result<Vec<Reading>, NameNote> {
    let field = |s: &str, notes: &mut Notes| match tokenize(s, NameSource::Directory) {
        Ok(field) => {
            if field.ignored {
                notes.push(NameNote::DirectoryTokenIgnored);
            }
            Ok(field.tokens)
        }
        Err(problem) => Err(problem.note()),
    };

    // `Family, Given` is the LDAP/AD convention, unless all after the comma is a suffix
    // (`John Smith, Jr.`).
    let mut whole = display;
    if let Some((before, after)) = display.split_once(',') {
        let mut family = field(before, notes)?;
        let mut given = field(after, notes)?;
        if !given.is_empty() && given.iter().all(Token::is_suffix) {
            notes.push(NameNote::SuffixIgnored);
            whole = before;
        } else if !family.is_empty() && !given.is_empty() {
            strip_suffixes(&mut family, 1, notes);
            strip_suffixes(&mut given, 1, notes);
            strip_titles(&mut given, 1, notes);
            return Ok(vec![Reading {
                family,
                given,
                explicit_order: true,
                from_display: true,
                family_first: false,
            }]);
        }
    }

    let mut tokens = field(whole, notes)?;
    if tokens.is_empty() {
        return Err(NameNote::EmptyName);
    }
    strip_suffixes(&mut tokens, 2, notes);
    strip_titles(&mut tokens, 2, notes);
    // The order is unknown, so every contiguous split is a candidate: family last first
    // (`Anna Maria Eriksson`), then family first (`ERIKSSON Anna`, `Zhang Wei`). A hyphen
    // binds (`Jean-Pierre`, `Müller-Lüdenscheidt`), so no split falls there.
    let n = tokens.len();
    let splits_at = |k: usize| !tokens[k - 1].hyphen_after;
    let mut readings = Vec::with_capacity(2 * (n - 1));
    for k in (1..n).filter(|&k| splits_at(n - k)) {
        readings.push(Reading {
            family: tokens[n - k..].to_vec(),
            given: tokens[..n - k].to_vec(),
            explicit_order: false,
            from_display: true,
            family_first: false,
        });
    }
    for k in (1..n).filter(|&k| splits_at(k)) {
        readings.push(Reading {
            family: tokens[..k].to_vec(),
            given: tokens[k..].to_vec(),
            explicit_order: false,
            from_display: true,
            family_first: true,
        });
    }
    // One token (a username) or one hyphenated name: nothing to tell family from given.
    if readings.is_empty() {
        return Err(NameNote::DirectoryNameIncomplete);
    }
    Ok(readings)
}
