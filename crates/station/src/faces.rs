//! The card face for the issuance job: the card-face layout of the profile's generation, the
//! photo read from the station's photo directory.

use std::path::PathBuf;

use card_face::{FaceData, Photo, Renderer};
use issuance::FaceText;
use printer::PrintJob;

use crate::counter::FaceRenderer;

/// Renders faces with a card-face template; photo paths of applicants are relative to
/// `photo_dir` (the data directory: `photos/...`).
pub struct CardFaceRenderer {
    renderer: Renderer,
    photo_dir: PathBuf,
}

impl CardFaceRenderer {
    /// The built-in template of the cards' generation, photos in `photo_dir`.
    pub fn builtin(
        generation: firmware_profile::Generation,
        photo_dir: PathBuf,
    ) -> Result<CardFaceRenderer, card_face::FaceError> {
        let id = match generation {
            firmware_profile::Generation::Second => "ssc-2g",
            _ => "ssc-3g",
        };
        let template = card_face::Template::builtin(id)?;
        Ok(CardFaceRenderer { renderer: Renderer::new(template, None)?, photo_dir })
    }
}

impl FaceRenderer for CardFaceRenderer {
    fn render(&self, face: &FaceText) -> Result<PrintJob, String> {
        let photo = match &face.photo {
            None => None,
            Some(p) => {
                let path = self.photo_dir.join(p);
                let bytes = std::fs::read(&path).map_err(|e| {
                    format!("photo {}: {e}: capture it again (station photo capture)", path.display())
                })?;
                Some(bytes)
            }
        };
        self.render_with_photo(face, photo)
    }
}

impl CardFaceRenderer {
    /// The face with the photo given as its encoded bytes (an outreach kit carries them sealed
    /// in its store, never as a file).
    pub fn render_with_photo(&self, face: &FaceText, photo: Option<Vec<u8>>) -> Result<PrintJob, String> {
        let photo = photo.map(Photo::Encoded);
        let data = FaceData {
            name: face.name.clone(),
            ssn: face.ssn.clone(),
            card_number: face.card_number.clone(),
            issue_date: face.issue_date.clone(),
            sex: face.sex.clone(),
            ethnicity: face.ethnicity.clone(),
            expiry_date: face.expiry_date.clone(),
            photo,
        };
        let panels = self.renderer.downloads(&data).map_err(|e| e.to_string())?;
        PrintJob::new(panels).map_err(|e| e.to_string())
    }
}
