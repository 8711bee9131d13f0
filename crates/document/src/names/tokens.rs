//! Names as tokens: folded letters, with the transliterations that may be skipped, and
//! the fields split into them.

use super::*;

/// One folded letter. `optional` letters come from transliteration alternatives: `Ü` is
/// `U` then an optional `E`, so it equals both `U` and `UE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Ch {
    pub(super) c: char,
    pub(super) optional: bool,
}

pub(super) const fn fixed(c: char) -> Ch {
    Ch { c, optional: false }
}
pub(super) const fn opt(c: char) -> Ch {
    Ch { c, optional: true }
}

/// How far a token's letters were folded from what was written, for the notes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Fold {
    None,
    /// Accents or strokes removed.
    Marks,
    /// A letter replaced by a different spelling (`ß` → `SS`).
    Transliterated,
}

#[derive(Debug, Clone)]
pub(super) struct Token {
    pub(super) chars: Vec<Ch>,
    pub(super) fold: Fold,
    /// Has letters outside A-Z after folding.
    pub(super) non_latin: bool,
    /// A hyphen joins it to the next token: `Jean-Pierre` is one first name. (MRZ `<`
    /// loses this; barcodes and directories keep it.)
    pub(super) hyphen_after: bool,
}

impl Token {
    pub(super) fn plain(&self) -> impl Iterator<Item = char> + '_ {
        self.chars.iter().filter(|ch| !ch.optional).map(|ch| ch.c)
    }

    /// Letters in the stripped form (optional ones not counted).
    pub(super) fn letters(&self) -> usize {
        self.plain().count()
    }

    pub(super) fn initial(&self) -> Option<char> {
        self.chars.first().map(|ch| ch.c)
    }

    pub(super) fn is_initial(&self) -> bool {
        self.letters() == 1
    }

    pub(super) fn is_one_of(&self, words: &[&str]) -> bool {
        !self.chars.iter().any(|ch| ch.optional) && words.iter().any(|w| w.chars().eq(self.plain()))
    }

    pub(super) fn is_suffix(&self) -> bool {
        self.is_one_of(&SUFFIXES)
    }

    pub(super) fn is_title(&self) -> bool {
        self.is_one_of(&TITLES)
    }

    pub(super) fn joined(tokens: &[Token]) -> Token {
        Token {
            chars: tokens
                .iter()
                .flat_map(|t| t.chars.iter().copied())
                .collect(),
            fold: tokens.iter().map(|t| t.fold).max().unwrap_or(Fold::None),
            non_latin: tokens.iter().any(|t| t.non_latin),
            hyphen_after: tokens.last().is_some_and(|t| t.hyphen_after),
        }
    }
}

/// ICAO 9303 Part 3 transliterations (and their stripped forms), applied to composed
/// characters before decomposition, since decomposition would lose the `E` of `Ä`.
pub(super) fn transliteration(c: char) -> Option<(&'static [Ch], Fold)> {
    const A_E: &[Ch] = &[fixed('A'), opt('E')];
    const O_E: &[Ch] = &[fixed('O'), opt('E')];
    const U_E: &[Ch] = &[fixed('U'), opt('E')];
    const A_A: &[Ch] = &[fixed('A'), opt('A')];
    const SS: &[Ch] = &[fixed('S'), fixed('S')];
    const AE: &[Ch] = &[fixed('A'), fixed('E')];
    const OE: &[Ch] = &[fixed('O'), fixed('E')];
    const TH: &[Ch] = &[fixed('T'), fixed('H')];
    const IJ: &[Ch] = &[fixed('I'), fixed('J')];
    const D: &[Ch] = &[fixed('D')];
    const L: &[Ch] = &[fixed('L')];
    const H: &[Ch] = &[fixed('H')];
    Some(match c {
        'Ä' | 'ä' => (A_E, Fold::Marks),
        'Ö' | 'ö' => (O_E, Fold::Marks),
        'Ü' | 'ü' => (U_E, Fold::Marks),
        'Å' | 'å' => (A_A, Fold::Marks),
        'Ø' | 'ø' => (O_E, Fold::Marks),
        'Ð' | 'ð' | 'Đ' | 'đ' => (D, Fold::Marks),
        'Ł' | 'ł' => (L, Fold::Marks),
        'Ħ' | 'ħ' => (H, Fold::Marks),
        'ß' | 'ẞ' => (SS, Fold::Transliterated),
        'Æ' | 'æ' => (AE, Fold::Transliterated),
        'Œ' | 'œ' => (OE, Fold::Transliterated),
        'Þ' | 'þ' => (TH, Fold::Transliterated),
        'Ĳ' | 'ĳ' => (IJ, Fold::Transliterated),
        _ => return None,
    })
}

pub(super) fn is_hyphen(c: char) -> bool {
    matches!(
        c,
        '-' | '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}'
    )
}

pub(super) fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '<' | ',') || is_hyphen(c)
}

/// Removed without splitting: `O'BRIEN` is one name, `A.` an initial.
pub(super) fn is_removed(c: char) -> bool {
    matches!(
        c,
        '\'' | '`' | '\u{00B4}' | '\u{2018}' | '\u{2019}' | '\u{02BC}' | '.'
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NameSource {
    /// Non-letters make the whole field unreadable.
    Document,
    /// Non-letters drop their token.
    Directory,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FieldProblem {
    TooLong,
    InvalidCharacters,
    Email,
}

impl FieldProblem {
    pub(super) fn note(self) -> NameNote {
        match self {
            FieldProblem::TooLong => NameNote::NameTooLong,
            FieldProblem::InvalidCharacters => NameNote::InvalidCharacters,
            FieldProblem::Email => NameNote::DirectoryNameIsEmail,
        }
    }
}

#[derive(Debug)]
pub(super) struct Field {
    pub(super) tokens: Vec<Token>,
    /// Some directory token was dropped for holding non-letters.
    pub(super) ignored: bool,
}

pub(super) fn tokenize(s: &str, source: NameSource) -> Result<Field, FieldProblem> {
    if s.len() > MAX_FIELD_BYTES {
        return Err(FieldProblem::TooLong);
    }
    // An address is an account identifier, not a person's name, even when its local part
    // spells one.
    if source == NameSource::Directory && s.contains('@') {
        return Err(FieldProblem::Email);
    }
    let mut builder = Builder {
        source,
        tokens: Vec::new(),
        current: Vec::new(),
        fold: Fold::None,
        non_latin: false,
        invalid: false,
        ignored: false,
        scratch: Vec::new(),
    };
    for (n, c) in s.nfc().enumerate() {
        if n >= MAX_FIELD_CHARS {
            return Err(FieldProblem::TooLong);
        }
        builder.push(c)?;
    }
    builder.end_token()?;
    Ok(Field {
        tokens: builder.tokens,
        ignored: builder.ignored,
    })
}

pub(super) struct Builder {
    pub(super) source: NameSource,
    pub(super) tokens: Vec<Token>,
    pub(super) current: Vec<Ch>,
    pub(super) fold: Fold,
    pub(super) non_latin: bool,
    /// The current token holds a non-letter (directory side only).
    pub(super) invalid: bool,
    pub(super) ignored: bool,
    pub(super) scratch: Vec<char>,
}

impl Builder {
    pub(super) fn push(&mut self, c: char) -> Result<(), FieldProblem> {
        if let Some((chars, fold)) = transliteration(c) {
            self.fold = self.fold.max(fold);
            for &ch in chars {
                self.push_ch(ch)?;
            }
            return Ok(());
        }
        self.scratch.clear();
        let scratch = &mut self.scratch;
        decompose_compatible(c, |d| scratch.push(d));
        let decomposed = std::mem::take(&mut self.scratch);
        let changed = decomposed.len() > 1 || decomposed.first() != Some(&c);
        let result = decomposed
            .iter()
            .try_for_each(|&d| self.push_decomposed(d, changed));
        self.scratch = decomposed;
        result
    }

    /// `changed`: `d` comes from decomposing something else (`é`, `ﬁ`), which the notes
    /// report as folding; a no-break space decomposing to a space is not.
    pub(super) fn push_decomposed(&mut self, d: char, changed: bool) -> Result<(), FieldProblem> {
        if is_separator(d) {
            let word_before = !self.current.is_empty() && !self.invalid;
            self.end_token()?;
            if is_hyphen(d) && word_before {
                if let Some(token) = self.tokens.last_mut() {
                    token.hyphen_after = true;
                }
            }
            Ok(())
        } else if is_removed(d) {
            Ok(())
        } else if is_combining_mark(d) {
            self.fold = self.fold.max(Fold::Marks);
            Ok(())
        } else if d.is_alphabetic() {
            if changed {
                self.fold = self.fold.max(Fold::Marks);
            }
            // Upper-casing can emit combining marks (`ǰ` → `J̌`); they go too.
            for u in d.to_uppercase().filter(|&u| !is_combining_mark(u)) {
                self.non_latin |= !u.is_ascii_uppercase();
                self.push_ch(fixed(u))?;
            }
            Ok(())
        } else {
            match self.source {
                NameSource::Document => Err(FieldProblem::InvalidCharacters),
                NameSource::Directory => {
                    self.invalid = true;
                    Ok(())
                }
            }
        }
    }

    pub(super) fn push_ch(&mut self, ch: Ch) -> Result<(), FieldProblem> {
        if self.current.len() >= MAX_TOKEN_CHARS {
            return Err(FieldProblem::TooLong);
        }
        self.current.push(ch);
        Ok(())
    }

    pub(super) fn end_token(&mut self) -> Result<(), FieldProblem> {
        let chars = std::mem::take(&mut self.current);
        let fold = std::mem::replace(&mut self.fold, Fold::None);
        let non_latin = std::mem::take(&mut self.non_latin);
        if std::mem::take(&mut self.invalid) {
            self.ignored = true;
            return Ok(());
        }
        if chars.is_empty() {
            return Ok(());
        }
        if self.tokens.len() >= MAX_TOKENS {
            return Err(FieldProblem::TooLong);
        }
        self.tokens.push(Token {
            chars,
            fold,
            non_latin,
            hyphen_after: false,
        });
        Ok(())
    }
}
