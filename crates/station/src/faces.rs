//! The card face for the issuance job: the card-face layout of the profile's generation, the
//! photo read from the station's photo directory; card-face's panels handed to the printer as
//! its job, and the job put back together for the page's preview.

use std::path::{Path, PathBuf};

use card_face::{FaceData, Panels, Photo, Renderer};
use issuance::FaceText;
use printer::{JobError, Plane, PrintJob};

use crate::counter::{FaceProblem, FaceRenderer};

/// Renders faces with a card-face template; photo paths of applicants are relative to
/// `photo_dir` (the data directory: `photos/...`).
pub struct CardFaceRenderer {
    renderer: Renderer,
    photo_dir: PathBuf,
    files: Option<archive::at_rest::FileKey>,
}

impl CardFaceRenderer {
    /// The built-in template of the cards' generation, photos in `photo_dir`, sealed under
    /// `files` (the local archive's [`archive::local::LocalArchive::file_key`]).
    pub fn builtin(
        generation: firmware_profile::Generation,
        photo_dir: PathBuf,
        files: Option<archive::at_rest::FileKey>,
    ) -> Result<CardFaceRenderer, card_face::FaceError> {
        let id = match generation {
            firmware_profile::Generation::Second => "ssc-2g",
            _ => "ssc-3g",
        };
        let template = card_face::Template::builtin(id)?;
        Ok(CardFaceRenderer { renderer: Renderer::new(template, None)?, photo_dir, files })
    }
}

/// The largest photo file the station reads (a card photo at 350 dpi is some tens of kB).
pub const MAX_PHOTO_BYTES: u64 = 2 * 1024 * 1024;

/// Reads an applicant's photo `photos/NAME` from the data directory: a plain name (the
/// applicant crate's rule), a regular file (not a link), not over [`MAX_PHOTO_BYTES`], opened
/// with the files' key `files` when sealed. The answer never says whether some other file
/// exists on the counter PC.
pub fn read_photo(
    data_dir: &Path,
    photo: &str,
    files: Option<&archive::at_rest::FileKey>,
) -> Result<Vec<u8>, FaceProblem> {
    let name = applicant::photo_name(photo).ok_or_else(|| {
        FaceProblem::Photo("not a file name of the photo directory (photos/NAME.jpg)".into())
    })?;
    let path = data_dir.join("photos").join(name);
    let unusable = || FaceProblem::Photo(format!("photos/{name} is missing or not a plain photo file"));
    let meta = std::fs::symlink_metadata(&path).map_err(|_| unusable())?;
    if !meta.file_type().is_file() {
        return Err(unusable());
    }
    if meta.len() > MAX_PHOTO_BYTES {
        return Err(FaceProblem::Photo(format!("photos/{name} is over {} MiB", MAX_PHOTO_BYTES >> 20)));
    }
    daemon::files::read_sealed(&path, files).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidData => FaceProblem::Photo(format!("photos/{e}: take the photo again")),
        _ => unusable(),
    })
}

impl FaceRenderer for CardFaceRenderer {
    fn render(&self, face: &FaceText) -> Result<PrintJob, FaceProblem> {
        let photo =
            face.photo.as_deref().map(|p| read_photo(&self.photo_dir, p, self.files.as_ref())).transpose()?;
        self.render_with_photo(face, photo)
    }
}

impl CardFaceRenderer {
    /// The face with the photo given as its encoded bytes (an outreach kit carries them sealed
    /// in its store, never as a file).
    pub fn render_with_photo(
        &self,
        face: &FaceText,
        photo: Option<Vec<u8>>,
    ) -> Result<PrintJob, FaceProblem> {
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
        let panels = self.renderer.panels(&data).map_err(|e| match e {
            card_face::FaceError::Photo(why) => FaceProblem::Photo(why),
            other => FaceProblem::Layout(other.to_string()),
        })?;
        print_job(panels).map_err(|e| FaceProblem::Layout(e.to_string()))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_photo_is_read_only_as_a_plain_file_of_the_photo_directory() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir(dir.path().join("photos")).expect("photos");
        std::fs::write(dir.path().join("photos/p0.jpg"), b"jpeg").expect("photo");
        std::fs::write(dir.path().join("secret.db"), b"applicants").expect("db");
        std::os::unix::fs::symlink(dir.path().join("secret.db"), dir.path().join("photos/link.jpg"))
            .expect("link");
        std::fs::write(dir.path().join("photos/big.jpg"), vec![0u8; (MAX_PHOTO_BYTES + 1) as usize])
            .expect("big");
        assert_eq!(read_photo(dir.path(), "photos/p0.jpg", None).expect("read"), b"jpeg");
        let refused = |p: &str| match read_photo(dir.path(), p, None) {
            Err(FaceProblem::Photo(why)) => why,
            other => panic!("{p}: {other:?}"),
        };
        assert!(refused("photos/../secret.db").contains("not a file name"));
        assert!(refused("../../../../etc/ssl/certs/ca-certificates.crt").contains("not a file name"));
        assert!(refused("photos/big.jpg").contains("over 2 MiB"));
        // A link and a missing file get the same answer: no oracle of what exists on the PC.
        let link = refused("photos/link.jpg");
        let missing = refused("photos/none.jpg");
        assert_eq!(link.replace("link", "none"), missing);
        // A photo the station sealed reads with its key only; a plain one of before with it.
        let key = archive::at_rest::DataKey::generate().expect("random").files();
        daemon::files::write_sealed(&dir.path().join("photos"), "p1.jpg", b"\xFF\xD8 jpeg", Some(&key))
            .expect("sealed");
        assert_eq!(read_photo(dir.path(), "photos/p1.jpg", Some(&key)).expect("read"), b"\xFF\xD8 jpeg");
        assert_eq!(read_photo(dir.path(), "photos/p0.jpg", Some(&key)).expect("plain"), b"jpeg");
        assert!(refused("photos/p1.jpg").contains("take the photo again"));
    }
}
