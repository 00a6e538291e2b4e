//! The CJK font. It comes from a Debian package rather than the repository (a CJK font is
//! 20 MB or more); the path is configurable and a missing file names the package to install.

use std::path::{Path, PathBuf};

use ab_glyph::{Font, FontVec, GlyphId};

use crate::{FontError, Template};

/// The Debian package of the shipped templates' font (AR PL UMing, a Ming/Song style).
pub const DEBIAN_FONT_PACKAGE: &str = "fonts-arphic-uming";
/// Where that package puts it.
pub const DEFAULT_FONT_PATH: &str = "/usr/share/fonts/truetype/arphic/uming.ttc";

/// A loaded font face; load once and render many faces with it.
pub struct FaceFont {
    font: FontVec,
    path: PathBuf,
    index: u32,
}

impl std::fmt::Debug for FaceFont {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaceFont").field("path", &self.path).field("index", &self.index).finish()
    }
}

impl FaceFont {
    /// Loads face `index` of the font file at `path`; `package` is named in the error when
    /// the file is missing.
    pub fn load(path: &Path, index: u32, package: &str) -> Result<Self, FontError> {
        let data = match std::fs::read(path) {
            Ok(data) => data,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(FontError::Missing { path: path.to_owned(), package: package.to_owned() })
            }
            Err(source) => return Err(FontError::Read { path: path.to_owned(), source }),
        };
        let font = FontVec::try_from_vec_and_index(data, index)
            .map_err(|_| FontError::Invalid { path: path.to_owned(), index })?;
        Ok(Self { font, path: path.to_owned(), index })
    }

    /// The font the template names, or the one at `path_override` (a station setting).
    pub fn for_template(template: &Template, path_override: Option<&Path>) -> Result<Self, FontError> {
        let spec = template.font();
        let path = path_override.map_or_else(|| PathBuf::from(&spec.path), Path::to_path_buf);
        Self::load(&path, spec.index, &spec.debian_package)
    }

    /// The file it came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the font can draw `ch` (blanks need no glyph).
    pub fn has_glyph(&self, ch: char) -> bool {
        ch.is_whitespace() || self.font.glyph_id(ch) != GlyphId(0)
    }

    pub(crate) fn font(&self) -> &FontVec {
        &self.font
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_font_names_the_package() {
        let err = FaceFont::load(Path::new("/nonexistent/uming.ttc"), 0, DEBIAN_FONT_PACKAGE)
            .expect_err("no such file");
        assert!(matches!(err, FontError::Missing { .. }));
        let text = err.to_string();
        assert!(text.contains("apt-get install fonts-arphic-uming"), "{text}");
        assert!(text.contains("/nonexistent/uming.ttc"), "{text}");
    }

    #[test]
    fn not_a_font() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("junk.ttc");
        std::fs::write(&path, b"not a font at all").expect("write");
        let err = FaceFont::load(&path, 0, DEBIAN_FONT_PACKAGE).expect_err("junk");
        assert!(matches!(err, FontError::Invalid { index: 0, .. }), "{err}");
    }

    #[test]
    fn the_debian_font_has_the_glyphs() {
        let font = FaceFont::load(Path::new(DEFAULT_FONT_PATH), 0, DEBIAN_FONT_PACKAGE)
            .unwrap_or_else(|e| panic!("{e}"));
        for ch in "张三姓名社会保障号码卡发日期性别民族有效限年月汉男女·X0123456789 ".chars()
        {
            assert!(font.has_glyph(ch), "{ch}");
        }
        assert!(!font.has_glyph('\u{1F600}'));
    }
}
