//! Where each field sits in each ICAO 9303 layout, which characters it may hold, and which
//! positions each check digit covers. Parser, resolver and encoder all read these tables, so
//! they cannot disagree about a position.

use super::{check_value, CheckDigitResult, MrzError, MrzField};
use crate::fields::DocumentKind;

/// The filler character.
pub(crate) const FILLER: u8 = b'<';

/// A line and column, both from 0.
pub(crate) type Pos = (usize, usize);

/// A run of positions on one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub line: usize,
    pub start: usize,
    pub len: usize,
}

impl Span {
    /// Written as ICAO 9303 numbers positions (from 1, both ends included) so the tables
    /// below can be checked against the specification by eye.
    const fn icao(line: usize, first: usize, last: usize) -> Span {
        Span {
            line: line - 1,
            start: first - 1,
            len: last + 1 - first,
        }
    }

    pub fn positions(self) -> impl Iterator<Item = Pos> {
        (self.start..self.start + self.len).map(move |col| (self.line, col))
    }

    fn contains(self, (line, col): Pos) -> bool {
        line == self.line && (self.start..self.start + self.len).contains(&col)
    }

    pub fn first(self) -> Pos {
        (self.line, self.start)
    }
}

/// The composite check digit and the spans it covers, in order.
#[derive(Debug)]
pub(crate) struct Composite {
    pub check: Span,
    pub spans: &'static [Span],
}

#[derive(Debug)]
pub(crate) struct Layout {
    pub kind: DocumentKind,
    pub width: usize,
    pub height: usize,
    pub document_code: Span,
    pub issuer: Span,
    pub names: Span,
    pub document_number: Span,
    pub document_number_check: Span,
    pub nationality: Span,
    pub birth_date: Span,
    pub birth_date_check: Span,
    pub sex: Span,
    pub expiry_date: Span,
    pub expiry_date_check: Span,
    /// Optional data fields in document order (TD1 has two).
    pub optional: &'static [Span],
    /// TD3 passports protect their one optional field, the personal number.
    pub personal_number_check: Option<Span>,
    /// Index into `optional` of the field that continues document numbers longer than
    /// nine characters (TD1 and TD2; ICAO 9303 parts 5 and 6, note j).
    pub overflow: Option<usize>,
    /// Visas (MRV-A and MRV-B) have none.
    pub composite: Option<Composite>,
}

const TD1: Layout = Layout {
    kind: DocumentKind::Td1,
    width: 30,
    height: 3,
    document_code: Span::icao(1, 1, 2),
    issuer: Span::icao(1, 3, 5),
    document_number: Span::icao(1, 6, 14),
    document_number_check: Span::icao(1, 15, 15),
    optional: &[Span::icao(1, 16, 30), Span::icao(2, 19, 29)],
    birth_date: Span::icao(2, 1, 6),
    birth_date_check: Span::icao(2, 7, 7),
    sex: Span::icao(2, 8, 8),
    expiry_date: Span::icao(2, 9, 14),
    expiry_date_check: Span::icao(2, 15, 15),
    nationality: Span::icao(2, 16, 18),
    names: Span::icao(3, 1, 30),
    personal_number_check: None,
    overflow: Some(0),
    composite: Some(Composite {
        check: Span::icao(2, 30, 30),
        spans: &[
            Span::icao(1, 6, 30),
            Span::icao(2, 1, 7),
            Span::icao(2, 9, 15),
            Span::icao(2, 19, 29),
        ],
    }),
};

const TD2: Layout = Layout {
    kind: DocumentKind::Td2,
    width: 36,
    height: 2,
    document_code: Span::icao(1, 1, 2),
    issuer: Span::icao(1, 3, 5),
    names: Span::icao(1, 6, 36),
    document_number: Span::icao(2, 1, 9),
    document_number_check: Span::icao(2, 10, 10),
    nationality: Span::icao(2, 11, 13),
    birth_date: Span::icao(2, 14, 19),
    birth_date_check: Span::icao(2, 20, 20),
    sex: Span::icao(2, 21, 21),
    expiry_date: Span::icao(2, 22, 27),
    expiry_date_check: Span::icao(2, 28, 28),
    optional: &[Span::icao(2, 29, 35)],
    personal_number_check: None,
    overflow: Some(0),
    composite: Some(Composite {
        check: Span::icao(2, 36, 36),
        spans: &[
            Span::icao(2, 1, 10),
            Span::icao(2, 14, 20),
            Span::icao(2, 22, 35),
        ],
    }),
};

/// MRV-B visas: TD2 geometry, optional data up to the end of the line, no composite.
const MRV_B: Layout = Layout {
    optional: &[Span::icao(2, 29, 36)],
    overflow: None,
    composite: None,
    ..TD2
};

const TD3: Layout = Layout {
    kind: DocumentKind::Td3,
    width: 44,
    height: 2,
    names: Span::icao(1, 6, 44),
    optional: &[Span::icao(2, 29, 42)],
    personal_number_check: Some(Span::icao(2, 43, 43)),
    overflow: None,
    composite: Some(Composite {
        check: Span::icao(2, 44, 44),
        spans: &[
            Span::icao(2, 1, 10),
            Span::icao(2, 14, 20),
            Span::icao(2, 22, 43),
        ],
    }),
    ..TD2
};

/// MRV-A visas: TD3 geometry, optional data up to the end of the line, no composite.
const MRV_A: Layout = Layout {
    optional: &[Span::icao(2, 29, 44)],
    personal_number_check: None,
    composite: None,
    ..TD3
};

impl Layout {
    /// The layout of a `kind` whose document code starts with `first` (`V` marks a visa).
    pub fn of(kind: DocumentKind, first: u8) -> Option<&'static Layout> {
        let visa = first == b'V';
        match kind {
            DocumentKind::Td1 => Some(&TD1),
            DocumentKind::Td2 if visa => Some(&MRV_B),
            DocumentKind::Td2 => Some(&TD2),
            DocumentKind::Td3 if visa => Some(&MRV_A),
            DocumentKind::Td3 => Some(&TD3),
            DocumentKind::Aamva | DocumentKind::Unknown => None,
        }
    }

    /// Which characters the position may hold.
    pub fn class_at(&self, pos: Pos) -> Class {
        let letters = [
            self.document_code,
            self.issuer,
            self.names,
            self.nationality,
            self.sex,
        ];
        let digits = [
            self.document_number_check,
            self.birth_date,
            self.birth_date_check,
            self.expiry_date,
            self.expiry_date_check,
        ];
        let extra_digits = self
            .personal_number_check
            .into_iter()
            .chain(self.composite.as_ref().map(|c| c.check));
        if letters.iter().any(|s| s.contains(pos)) {
            Class::Letter
        } else if digits
            .into_iter()
            .chain(extra_digits)
            .any(|s| s.contains(pos))
        {
            Class::Digit
        } else {
            Class::Any
        }
    }
}

/// The format a block of lines has, from the number of lines and their lengths alone.
pub(crate) fn detect(lengths: &[usize]) -> Result<DocumentKind, MrzError> {
    let kind = match lengths {
        [_, _, _] => DocumentKind::Td1,
        // Either line may be the damaged one, so either may name the format.
        [a, b] if *a == TD2.width || (*a != TD3.width && *b == TD2.width) => DocumentKind::Td2,
        [a, b] if *a == TD3.width || *b == TD3.width => DocumentKind::Td3,
        _ => return Err(unknown_format(lengths)),
    };
    let width = Layout::of(kind, 0).map_or(0, |l| l.width);
    for (i, &found) in lengths.iter().enumerate() {
        if found != width {
            return Err(MrzError::WrongLength {
                line: i + 1,
                expected: width,
                found,
            });
        }
    }
    Ok(kind)
}

pub(crate) fn unknown_format(lengths: &[usize]) -> MrzError {
    MrzError::UnknownFormat {
        lines: lengths.len(),
        length: lengths.first().copied().unwrap_or(0),
    }
}

/// Which characters a position may hold, and the OCR confusions that may be undone in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Dates and check digits (and filler, for unknown dates and empty fields).
    Digit,
    /// Codes, names, nationality, sex (and filler).
    Letter,
    /// Document numbers and optional data: any MRZ character, so nothing can be corrected.
    Any,
}

impl Class {
    /// `c` as it must read in this class, or `None` if it cannot belong here.
    pub fn correct(self, c: u8) -> Option<u8> {
        match (self, c) {
            (_, FILLER) => Some(c),
            (Class::Digit | Class::Any, b'0'..=b'9')
            | (Class::Letter | Class::Any, b'A'..=b'Z') => Some(c),
            (Class::Digit, b'O' | b'Q' | b'D') => Some(b'0'),
            (Class::Digit, b'I' | b'L' | b'T') => Some(b'1'),
            (Class::Digit, b'Z') => Some(b'2'),
            (Class::Digit, b'S') => Some(b'5'),
            (Class::Digit, b'G') => Some(b'6'),
            (Class::Digit, b'B') => Some(b'8'),
            (Class::Digit, b'A') => Some(b'4'),
            (Class::Letter, b'0') => Some(b'O'),
            (Class::Letter, b'1') => Some(b'I'),
            (Class::Letter, b'2') => Some(b'Z'),
            (Class::Letter, b'5') => Some(b'S'),
            (Class::Letter, b'8') => Some(b'B'),
            (Class::Letter, b'6') => Some(b'G'),
            (Class::Letter, b'4') => Some(b'A'),
            _ => None,
        }
    }
}

/// The characters of an MRZ whose geometry matches its layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Grid {
    rows: Vec<Vec<u8>>,
}

impl Grid {
    /// Rows must be MRZ characters only, in the layout's geometry.
    pub fn new(rows: Vec<Vec<u8>>) -> Grid {
        Grid { rows }
    }

    pub fn filler(layout: &Layout) -> Grid {
        Grid::new(vec![vec![FILLER; layout.width]; layout.height])
    }

    /// Positions come from the layout the geometry was checked against, so they are always
    /// inside; reading filler otherwise keeps this total without a panic path.
    pub fn get(&self, (line, col): Pos) -> u8 {
        self.rows
            .get(line)
            .and_then(|r| r.get(col))
            .copied()
            .unwrap_or(FILLER)
    }

    pub fn set(&mut self, (line, col): Pos, c: u8) {
        if let Some(cell) = self.rows.get_mut(line).and_then(|r| r.get_mut(col)) {
            *cell = c;
        }
    }

    pub fn text(&self, span: Span) -> String {
        span.positions().map(|p| char::from(self.get(p))).collect()
    }

    /// Writes `value` from the start of `span`; what does not fit is dropped (callers check
    /// lengths first).
    pub fn put(&mut self, span: Span, value: &[u8]) {
        for (p, &c) in span.positions().zip(value) {
            self.set(p, c);
        }
    }

    pub fn lines(&self) -> Vec<String> {
        self.rows
            .iter()
            .map(|r| r.iter().map(|&c| char::from(c)).collect())
            .collect()
    }
}

/// One check digit: where it is and which positions it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Check {
    pub field: MrzField,
    pub covered: Vec<Pos>,
    pub at: Pos,
}

impl Check {
    fn over(field: MrzField, spans: &[Span], at: Span) -> Check {
        Check {
            field,
            covered: spans.iter().flat_map(|s| s.positions()).collect(),
            at: at.first(),
        }
    }

    pub fn result(&self, grid: &Grid) -> CheckDigitResult {
        let expected = grid.get(self.at);
        let computed = check_value(self.covered.iter().map(|&p| grid.get(p)));
        // ICAO 9303 allows filler as the check digit of an empty field (the TD3 personal
        // number says so explicitly); the weighted sum of filler is 0 either way.
        let empty = self.covered.iter().all(|&p| grid.get(p) == FILLER);
        CheckDigitResult {
            field: self.field,
            expected: char::from(expected),
            // The grid holds MRZ characters only, so `computed` is always a digit.
            computed: computed.map_or('?', |d| char::from(b'0' + d)),
            valid: computed.map(|d| b'0' + d) == Some(expected) || (expected == FILLER && empty),
        }
    }
}

/// The document number as the grid shows it, following it into the optional data when the
/// check digit position holds filler (numbers longer than nine characters).
pub(crate) struct DocumentNumber {
    pub value: String,
    pub check: Check,
    /// How many characters of the overflow optional field the number took (continuation,
    /// check digit, terminating filler).
    pub overflow_used: usize,
}

pub(crate) fn document_number(layout: &Layout, grid: &Grid) -> DocumentNumber {
    let principal: Vec<Pos> = layout.document_number.positions().collect();
    let check_at = layout.document_number_check.first();
    let overflow = layout.overflow.and_then(|i| layout.optional.get(i));
    if let (FILLER, Some(over)) = (grid.get(check_at), overflow) {
        let rest: Vec<Pos> = over
            .positions()
            .take_while(|&p| grid.get(p) != FILLER)
            .collect();
        if let Some((&at, continuation)) = rest.split_last() {
            let covered: Vec<Pos> = principal
                .into_iter()
                .chain(continuation.iter().copied())
                .collect();
            return DocumentNumber {
                value: text_of(grid, &covered),
                overflow_used: (rest.len() + 1).min(over.len),
                check: Check {
                    field: MrzField::DocumentNumber,
                    covered,
                    at,
                },
            };
        }
    }
    DocumentNumber {
        value: text_of(grid, &principal),
        overflow_used: 0,
        check: Check {
            field: MrzField::DocumentNumber,
            covered: principal,
            at: check_at,
        },
    }
}

fn text_of(grid: &Grid, positions: &[Pos]) -> String {
    let s: String = positions.iter().map(|&p| char::from(grid.get(p))).collect();
    s.trim_end_matches('<').to_owned()
}

/// Every check digit of the layout in document order, the composite last.
pub(crate) fn checks(layout: &Layout, grid: &Grid) -> Vec<Check> {
    let mut checks = vec![
        document_number(layout, grid).check,
        Check::over(
            MrzField::BirthDate,
            &[layout.birth_date],
            layout.birth_date_check,
        ),
        Check::over(
            MrzField::ExpiryDate,
            &[layout.expiry_date],
            layout.expiry_date_check,
        ),
    ];
    if let Some(at) = layout.personal_number_check {
        checks.push(Check::over(MrzField::PersonalNumber, layout.optional, at));
    }
    if let Some(c) = &layout.composite {
        checks.push(Check::over(MrzField::Composite, c.spans, c.check));
    }
    checks
}
