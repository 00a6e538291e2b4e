//! Errors, one enum per stage, so the station can tell a bad template (fix the profile
//! area) from a missing font (install a package) from data that does not fit (ask the
//! operator).

use std::path::PathBuf;

/// A face template that cannot be used. Every variant names the file, and those about a
/// value name the field as a TOML path (`text[2].size_pt`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// The file could not be read.
    #[error("{file}: cannot read the face template: {source}")]
    Read {
        /// The template file.
        file: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not TOML, an unknown key, or a value of the wrong type (the message quotes the line).
    #[error("{file}: {message}")]
    Syntax {
        /// The template file.
        file: String,
        /// The parser's message.
        message: String,
    },
    /// A value the face cannot be printed with.
    #[error("{file}: {field}: {message}")]
    Invalid {
        /// The template file.
        file: String,
        /// The field, as a TOML path.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// No template of that name ships with the crate.
    #[error("no built-in face template {0:?} (built in: ssc-2g, ssc-3g)")]
    UnknownBuiltin(String),
}

/// The CJK font cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FontError {
    /// The font file is not there: the Debian package is not installed or the path is wrong.
    #[error(
        "CJK font {path} not found: install the Debian package {package} \
         (apt-get install {package}) or set the font path"
    )]
    Missing {
        /// The path looked at.
        path: PathBuf,
        /// The Debian package that ships it.
        package: String,
    },
    /// The file exists but could not be read.
    #[error("{path}: cannot read the font: {source}")]
    Read {
        /// The font file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a font, or the collection has no such face.
    #[error("{path}: face {index} is not a usable TrueType/OpenType font")]
    Invalid {
        /// The font file.
        path: PathBuf,
        /// The face index in the collection.
        index: u32,
    },
}

/// Why a face could not be rendered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FaceError {
    /// See [`TemplateError`].
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// See [`FontError`].
    #[error(transparent)]
    Font(#[from] FontError),
    /// The template prints a field the data does not have.
    #[error("{field}: the template {template} prints it but no value was given")]
    MissingValue {
        /// The template id.
        template: String,
        /// The field.
        field: &'static str,
    },
    /// A value that cannot be printed as given (a malformed date, a control character).
    #[error("{field}: {value:?}: {message}")]
    BadValue {
        /// The field.
        field: &'static str,
        /// The value given.
        value: String,
        /// What is wrong with it.
        message: String,
    },
    /// The font has no glyph for a character of the value (a rare character in a name):
    /// printing a blank box on an identity card is worse than stopping.
    #[error("{field}: the font has no glyph for {ch:?} (U+{code:04X})", code = u32::from(*ch))]
    MissingGlyph {
        /// The field.
        field: &'static str,
        /// The character.
        ch: char,
    },
    /// The value does not fit where the template puts it (even condensed), or would run into
    /// the chip, the photo or off the card.
    #[error("{field}: {message}")]
    DoesNotFit {
        /// The field.
        field: &'static str,
        /// Where it runs into.
        message: String,
    },
    /// The photo could not be decoded.
    #[error("photo: {0}")]
    Photo(String),
}
