//! The documents themselves: an ID card (TD1, MRZ on the back), a TD2 card, a passport
//! data page (TD3), and a US driving licence (AAMVA PDF417 on the back). Sizes are the
//! real ones at 300 dots per inch; the MRZ is OCR-B at the ICAO pitch of 2.54 mm.

use image::{Rgb, RgbImage};
use reclaim_document::aamva::{encode_aamva, AamvaInput, Country};
use reclaim_document::mrz::{encode_mrz, MrzInput};
use reclaim_document::{Date, DocumentFields, DocumentKind, Sex};

use crate::barcode;
use crate::draw::{self, Fonts};

/// Pixels per millimetre at 300 dpi.
const PX_PER_MM: f32 = 300.0 / 25.4;
/// MRZ character pitch (2.54 mm) and line spacing (4.23 mm, six lines to the inch).
const MRZ_PITCH: f32 = 2.54 * PX_PER_MM;
const MRZ_LINE: f32 = 4.23 * PX_PER_MM;
const MRZ_CAP: f32 = 2.4 * PX_PER_MM;

const INK: [u8; 3] = [28, 28, 40];
const LABEL: [u8; 3] = [70, 80, 120];

/// Which document to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocKind {
    /// ID-1 card; MRZ of 3 x 30 on the back, a QR code beside it.
    Td1,
    /// 105 x 74 mm card; MRZ of 2 x 36 on the front.
    Td2,
    /// Passport data page, 125 x 88 mm; MRZ of 2 x 44 under the portrait.
    Td3,
    /// US driving licence, ID-1; AAMVA PDF417 on the back, no MRZ.
    Aamva,
}

impl DocKind {
    pub const ALL: [DocKind; 4] = [DocKind::Td1, DocKind::Td2, DocKind::Td3, DocKind::Aamva];

    pub fn name(self) -> &'static str {
        match self {
            DocKind::Td1 => "td1",
            DocKind::Td2 => "td2",
            DocKind::Td3 => "td3",
            DocKind::Aamva => "aamva",
        }
    }

    fn size_mm(self) -> (f32, f32) {
        match self {
            DocKind::Td1 | DocKind::Aamva => (85.6, 54.0),
            DocKind::Td2 => (105.0, 74.0),
            DocKind::Td3 => (125.0, 88.0),
        }
    }

    fn document_kind(self) -> DocumentKind {
        match self {
            DocKind::Td1 => DocumentKind::Td1,
            DocKind::Td2 => DocumentKind::Td2,
            DocKind::Td3 => DocumentKind::Td3,
            DocKind::Aamva => DocumentKind::Aamva,
        }
    }
}

/// The person the document is about.
#[derive(Debug, Clone)]
pub struct Holder {
    pub surname: String,
    pub given_names: String,
    pub birth_date: Date,
    pub sex: Sex,
    /// Three-letter code (ICAO) for MRZ documents.
    pub nationality: String,
}

/// Everything printed on a document.
#[derive(Debug, Clone)]
pub struct DocumentSpec {
    pub kind: DocKind,
    pub holder: Holder,
    /// Issuing state: three letters for ICAO documents, the state for a US licence.
    pub issuer: String,
    pub document_number: String,
    pub issue_date: Date,
    pub expiry_date: Date,
    /// The printed portrait (see [`crate::portrait::printed_portrait`]), 35:45.
    pub portrait: RgbImage,
    /// Print these MRZ lines instead of the correct ones (a forged or misprinted card).
    pub mrz_override: Option<Vec<String>>,
}

/// A rendered document and what is really on it.
#[derive(Debug, Clone)]
pub struct RenderedDocument {
    pub front: RgbImage,
    pub back: Option<RgbImage>,
    /// The MRZ lines as printed, and whether they are on the back.
    pub mrz: Option<Vec<String>>,
    pub mrz_on_back: bool,
    /// The AAMVA payload in the PDF417 on the back.
    pub aamva: Option<Vec<u8>>,
    /// The data in the QR code on the back.
    pub qr: Option<Vec<u8>>,
    /// Where the portrait is on the front: left, top, width, height.
    pub portrait_box: [f32; 4],
    /// The fields as printed in words on the front.
    pub truth: DocumentFields,
}

#[derive(Debug, thiserror::Error)]
pub enum DocgenError {
    #[error("fonts: {0}")]
    Font(String),
    #[error("MRZ: {0}")]
    Mrz(String),
    #[error("barcode: {0}")]
    Barcode(String),
}

fn mm(v: f32) -> f32 {
    v * PX_PER_MM
}

fn blank(kind: DocKind, tint: [u8; 3], phase: f32) -> RgbImage {
    let (w, h) = kind.size_mm();
    let mut img = RgbImage::from_pixel(mm(w).round() as u32, mm(h).round() as u32, Rgb(tint));
    draw::guilloche(&mut img, [150, 170, 200], phase, mm(9.0));
    img
}

fn date_text(d: Date) -> String {
    const MONTHS: [&str; 12] = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ];
    format!(
        "{:02} {} {}",
        d.day(),
        MONTHS[usize::from(d.month() - 1)],
        d.year()
    )
}

fn sex_text(s: Sex) -> &'static str {
    match s {
        Sex::Female => "F",
        Sex::Male => "M",
        Sex::Unspecified => "X",
    }
}

/// Prints labelled fields in a column from (x, y), each value no wider than `width` (a
/// long name is set smaller, as issuers do, rather than run into the next column);
/// returns the y after the last one.
fn fields(
    img: &mut RgbImage,
    fonts: &Fonts,
    (x, mut y): (f32, f32),
    width: f32,
    rows: &[(&str, String)],
    size: f32,
) -> f32 {
    for (label, value) in rows {
        draw::text(img, &fonts.sans, size * 0.55, x, y, label, LABEL);
        y += size * 1.0;
        let natural = draw::text_width(&fonts.bold, size, value);
        let fitted = if natural > width && natural > 0.0 {
            size * width / natural
        } else {
            size
        };
        draw::text(img, &fonts.bold, fitted, x, y, value, INK);
        y += size * 0.75;
    }
    y
}

fn mrz_input(spec: &DocumentSpec) -> MrzInput {
    let code = match spec.kind {
        DocKind::Td3 => "P",
        _ => "ID",
    };
    MrzInput {
        kind: spec.kind.document_kind(),
        document_code: code.into(),
        issuer: spec.issuer.clone(),
        document_number: spec.document_number.clone(),
        surname: spec.holder.surname.clone(),
        given_names: spec.holder.given_names.clone(),
        nationality: spec.holder.nationality.clone(),
        birth_date: spec.holder.birth_date,
        sex: spec.holder.sex,
        expiry_date: spec.expiry_date,
        optional_data: Vec::new(),
    }
}

fn print_mrz(img: &mut RgbImage, fonts: &Fonts, lines: &[String]) {
    let n = lines.len() as f32;
    let width = lines.first().map_or(0, |l| l.len()) as f32 * MRZ_PITCH;
    let x = (img.width() as f32 - width) / 2.0;
    let bottom = img.height() as f32 - mm(3.5);
    // A plain band behind the MRZ, as documents keep the zone free of background print.
    let top = bottom - n * MRZ_LINE - mm(1.0);
    draw::rect(
        img,
        0,
        top as u32,
        img.width(),
        (img.height() as f32 - top) as u32,
        [240, 240, 236],
    );
    for (i, line) in lines.iter().enumerate() {
        let baseline = bottom - (n - 1.0 - i as f32) * MRZ_LINE;
        draw::monospace(
            img,
            &fonts.ocrb,
            draw::Grid {
                pitch: MRZ_PITCH,
                cap_height: MRZ_CAP,
            },
            x,
            baseline,
            line,
            [16, 16, 16],
        );
    }
}

/// Renders `spec`.
pub fn render(spec: &DocumentSpec) -> Result<RenderedDocument, DocgenError> {
    let fonts = Fonts::load().map_err(|e| DocgenError::Font(e.to_string()))?;
    let h = &spec.holder;
    let truth = DocumentFields {
        document_code: Some(match spec.kind {
            DocKind::Td3 => "P".into(),
            DocKind::Aamva => "DL".into(),
            _ => "ID".into(),
        }),
        issuer: Some(spec.issuer.clone()),
        document_number: Some(spec.document_number.clone()),
        surname: Some(h.surname.to_uppercase()),
        given_names: Some(h.given_names.to_uppercase()),
        nationality: Some(if spec.kind == DocKind::Aamva {
            "USA".into()
        } else {
            h.nationality.clone()
        }),
        birth_date: Some(h.birth_date),
        sex: Some(h.sex),
        expiry_date: Some(spec.expiry_date),
        issue_date: Some(spec.issue_date),
        optional_data: Vec::new(),
    };
    let mrz = match spec.kind {
        DocKind::Aamva => None,
        _ => Some(match &spec.mrz_override {
            Some(lines) => lines.clone(),
            None => encode_mrz(&mrz_input(spec)).map_err(|e| DocgenError::Mrz(e.to_string()))?,
        }),
    };

    let (tint, title) = match spec.kind {
        DocKind::Td1 | DocKind::Td2 => ([232, 238, 230], "IDENTITY CARD"),
        DocKind::Td3 => ([236, 230, 222], "PASSPORT"),
        DocKind::Aamva => ([226, 234, 242], "DRIVER LICENSE"),
    };
    let mut front = blank(spec.kind, tint, spec.document_number.len() as f32);
    let (fw, fh) = (front.width() as f32, front.height() as f32);
    let width = front.width();
    draw::rect(&mut front, 0, 0, width, mm(8.0) as u32, [40, 70, 120]);
    draw::text(
        &mut front,
        &fonts.bold,
        mm(4.2),
        mm(4.0),
        mm(6.0),
        &format!("{}  {title}", spec.issuer),
        [250, 250, 250],
    );

    // Portrait: 35:45, a third of the card's height and more on the small cards.
    let portrait_h = match spec.kind {
        DocKind::Td3 => mm(40.0),
        DocKind::Td2 => mm(36.0),
        _ => mm(30.0),
    };
    let portrait_w = portrait_h * 35.0 / 45.0;
    let portrait = image::imageops::resize(
        &spec.portrait,
        portrait_w as u32,
        portrait_h as u32,
        image::imageops::FilterType::Triangle,
    );
    let (px, py) = (mm(4.0), mm(11.0));
    draw::paste(&mut front, &portrait, px as u32, py as u32);
    let portrait_box = [
        px.floor(),
        py.floor(),
        portrait.width() as f32,
        portrait.height() as f32,
    ];

    let size = match spec.kind {
        DocKind::Td3 => mm(3.6),
        DocKind::Td2 => mm(3.2),
        _ => mm(2.9),
    };
    let column = px + portrait_w + mm(5.0);
    let mut rows = vec![
        ("Surname / Nom", h.surname.to_uppercase()),
        ("Given names / Prénoms", h.given_names.to_uppercase()),
        ("Date of birth", date_text(h.birth_date)),
        ("Sex", sex_text(h.sex).to_string()),
        ("Document no.", spec.document_number.clone()),
        ("Date of expiry", date_text(spec.expiry_date)),
    ];
    if spec.kind != DocKind::Aamva {
        rows.insert(4, ("Nationality", h.nationality.clone()));
    }
    if matches!(spec.kind, DocKind::Td1 | DocKind::Aamva) {
        // The small card holds fewer rows in one column: two columns.
        let (left, right) = rows.split_at(4);
        let half = (fw - column) / 2.0;
        fields(
            &mut front,
            &fonts,
            (column, mm(13.0)),
            half - mm(2.0),
            left,
            size,
        );
        fields(
            &mut front,
            &fonts,
            (column + half, mm(13.0)),
            half - mm(3.0),
            right,
            size,
        );
    } else {
        fields(
            &mut front,
            &fonts,
            (column, mm(14.0)),
            fw - column - mm(3.0),
            &rows,
            size,
        );
    }
    draw::text(
        &mut front,
        &fonts.sans,
        mm(2.0),
        column,
        fh - mm(26.0).min(fh * 0.3),
        &format!("Issued {}", date_text(spec.issue_date)),
        LABEL,
    );

    let mut back = None;
    let mut aamva = None;
    let mut qr = None;
    let mut mrz_on_back = false;
    match spec.kind {
        DocKind::Td2 | DocKind::Td3 => {
            if let Some(lines) = &mrz {
                print_mrz(&mut front, &fonts, lines);
            }
        }
        DocKind::Td1 => {
            let mut b = blank(spec.kind, tint, 2.0);
            let data = format!(
                "{};{};{}",
                spec.issuer,
                spec.document_number,
                h.surname.to_uppercase()
            )
            .into_bytes();
            let code = barcode::qr(&data, 5).map_err(DocgenError::Barcode)?;
            let code = image::DynamicImage::ImageLuma8(code).into_rgb8();
            let x = b.width().saturating_sub(code.width() + mm(4.0) as u32);
            draw::paste(&mut b, &code, x, mm(4.0) as u32);
            draw::text(
                &mut b,
                &fonts.sans,
                mm(2.2),
                mm(4.0),
                mm(8.0),
                "Address: 1 Main Street, Utopia City",
                INK,
            );
            if let Some(lines) = &mrz {
                print_mrz(&mut b, &fonts, lines);
            }
            mrz_on_back = true;
            qr = Some(data);
            back = Some(b);
        }
        DocKind::Aamva => {
            let mut b = blank(spec.kind, tint, 3.0);
            let input = AamvaInput::from_fields(&truth, Country::Usa)
                .map_err(|e| DocgenError::Barcode(e.to_string()))?;
            let payload = encode_aamva(&input).map_err(|e| DocgenError::Barcode(e.to_string()))?;
            let text = String::from_utf8(payload.clone())
                .map_err(|e| DocgenError::Barcode(e.to_string()))?;
            let symbol = barcode::pdf417(&text, 3).map_err(DocgenError::Barcode)?;
            let symbol = image::DynamicImage::ImageLuma8(symbol).into_rgb8();
            // Fit the symbol to 90% of the card's width.
            let target_w = (b.width() as f32 * 0.9) as u32;
            let target_h =
                (symbol.height() as f32 * target_w as f32 / symbol.width() as f32) as u32;
            let symbol = image::imageops::resize(
                &symbol,
                target_w,
                target_h.min(b.height() - mm(12.0) as u32),
                image::imageops::FilterType::Nearest,
            );
            let x = b.width().saturating_sub(symbol.width()) / 2;
            draw::paste(&mut b, &symbol, x, mm(10.0) as u32);
            draw::text(
                &mut b,
                &fonts.sans,
                mm(2.2),
                mm(4.0),
                mm(6.5),
                "This card is the property of the issuing state.",
                INK,
            );
            aamva = Some(payload);
            back = Some(b);
        }
    }
    Ok(RenderedDocument {
        front,
        back,
        mrz,
        mrz_on_back,
        aamva,
        qr,
        portrait_box,
        truth,
    })
}
