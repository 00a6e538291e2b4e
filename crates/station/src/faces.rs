//! The card face for the issuance job: the card-face layout of the profile's generation, the
//! photo read from the station's photo directory; card-face's panels handed to the printer as
//! its job, and the job put back together for the page's preview.

use std::path::PathBuf;

use card_face::{FaceData, Panels, Photo, Renderer};
use issuance::FaceText;
use printer::{JobError, Plane, PrintJob};

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
        let panels = self.renderer.panels(&data).map_err(|e| e.to_string())?;
        print_job(panels).map_err(|e| e.to_string())
    }
}

/// The printer's job for a face's panels: the same planes, by the printer's names.
pub fn print_job(panels: Panels) -> Result<PrintJob, JobError> {
    let planes = panels.into_planes().into_iter().map(|(panel, dots)| {
        let panel = match panel {
            card_face::Panel::Y => printer::Panel::Y,
            card_face::Panel::M => printer::Panel::M,
            card_face::Panel::C => printer::Panel::C,
            card_face::Panel::K => printer::Panel::K,
            card_face::Panel::O => printer::Panel::O,
        };
        Plane::new(panel, dots)
    });
    PrintJob::new(planes.collect::<Result<_, _>>()?)
}

/// The face a job prints, composited as card-face sees it (white stock, the dyes, black
/// resin), as PNG.
pub fn preview_png(job: &PrintJob) -> Option<Vec<u8>> {
    let mut panels = Panels::blank();
    for plane in job.panels() {
        let panel = match plane.panel() {
            printer::Panel::Y => card_face::Panel::Y,
            printer::Panel::M => card_face::Panel::M,
            printer::Panel::C => card_face::Panel::C,
            printer::Panel::K => card_face::Panel::K,
            printer::Panel::O => card_face::Panel::O,
        };
        panels.plane_mut(panel).copy_from_slice(plane.dots());
    }
    let mut png = Vec::new();
    card_face::composite(&panels)
        .write_to(&mut std::io::Cursor::new(&mut png), card_face::image::ImageFormat::Png)
        .ok()?;
    Some(png)
}
