//! One face to print, in no printer's format: a plane of ink densities a ribbon panel, over
//! the landscape face. Each driver turns it into its own commands (the Evolis driver into
//! `Pr` and `Db` downloads).

/// Dots across the face: the card's long side with bleed, at 300 dpi.
pub const FACE_WIDTH: usize = 1016;
/// Dots down the face: the card's short side with bleed.
pub const FACE_HEIGHT: usize = 648;

/// A ribbon panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Panel {
    /// Yellow dye.
    Y,
    /// Magenta dye.
    M,
    /// Cyan dye.
    C,
    /// Resin black: text and barcodes.
    K,
    /// Overlay varnish, with a hole over the chip.
    O,
}

impl Panel {
    /// Its letter, as ribbons name panels (`ymcko`).
    pub fn letter(self) -> char {
        match self {
            Self::Y => 'y',
            Self::M => 'm',
            Self::C => 'c',
            Self::K => 'k',
            Self::O => 'o',
        }
    }

    /// Whether it is a dye panel, printed in grades; resin black and overlay print a dot or
    /// none (from a density of 128).
    pub fn is_dye(self) -> bool {
        matches!(self, Self::Y | Self::M | Self::C)
    }
}

/// Why a print job cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// No panel at all.
    #[error("a print job needs at least one panel")]
    Empty,
    /// The same panel twice.
    #[error("panel {0} given twice")]
    Duplicate(char),
    /// A plane without one density a dot of the face.
    #[error("panel {panel}: {expected} dots expected, {actual} given")]
    Size {
        /// The panel letter.
        panel: char,
        /// Dots of the face.
        expected: usize,
        /// Densities given.
        actual: usize,
    },
}

/// One panel of a face: a density 0 (no ink) to 255 a dot, row after row from the face's
/// top-left corner ([`FACE_WIDTH`] x [`FACE_HEIGHT`]).
#[derive(Clone, PartialEq, Eq)]
pub struct Plane {
    panel: Panel,
    dots: Vec<u8>,
}

impl std::fmt::Debug for Plane {
    // Hundreds of kilobytes; how much is inked says enough.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plane")
            .field("panel", &self.panel)
            .field("inked", &self.dots.iter().filter(|&&d| d != 0).count())
            .finish()
    }
}

impl Plane {
    /// A panel's densities, checked to cover the face.
    pub fn new(panel: Panel, dots: Vec<u8>) -> Result<Self, JobError> {
        let expected = FACE_WIDTH * FACE_HEIGHT;
        if dots.len() != expected {
            return Err(JobError::Size { panel: panel.letter(), expected, actual: dots.len() });
        }
        Ok(Self { panel, dots })
    }

    /// The panel.
    pub fn panel(&self) -> Panel {
        self.panel
    }

    /// The densities, row after row.
    pub fn dots(&self) -> &[u8] {
        &self.dots
    }
}

/// One face, rendered and separated (the card-face crate does that): the panels in the order
/// they are printed, e.g. Y, M, C, K and the overlay O. The overlay is the printer's laminate:
/// its plane leaves the chip uncovered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintJob {
    panels: Vec<Plane>,
}

impl PrintJob {
    /// A front face from its panels; the ribbon panels are selected in their order.
    pub fn new(panels: Vec<Plane>) -> Result<Self, JobError> {
        let mut letters = String::new();
        for plane in &panels {
            let letter = plane.panel().letter();
            if letters.contains(letter) {
                return Err(JobError::Duplicate(letter));
            }
            letters.push(letter);
        }
        if panels.is_empty() {
            return Err(JobError::Empty);
        }
        Ok(Self { panels })
    }

    /// The panels in print order.
    pub fn panels(&self) -> &[Plane] {
        &self.panels
    }

    /// The panels' letters in print order (`ymcko` for a whole face).
    pub fn letters(&self) -> String {
        self.panels.iter().map(|p| p.panel().letter()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blank(panel: Panel) -> Plane {
        Plane::new(panel, vec![0; FACE_WIDTH * FACE_HEIGHT]).expect("a whole face")
    }

    #[test]
    fn a_job_is_whole_planes_each_panel_once() {
        let job = PrintJob::new(vec![blank(Panel::Y), blank(Panel::K), blank(Panel::O)]).expect("job");
        assert_eq!(job.letters(), "yko");
        assert_eq!(format!("{:?}", job.panels()[1]), "Plane { panel: K, inked: 0 }");
        assert_eq!(PrintJob::new(Vec::new()), Err(JobError::Empty));
        assert_eq!(PrintJob::new(vec![blank(Panel::K), blank(Panel::K)]), Err(JobError::Duplicate('k')));
        assert_eq!(
            Plane::new(Panel::M, vec![0; 10]),
            Err(JobError::Size { panel: 'm', expected: 1016 * 648, actual: 10 })
        );
        assert!(Panel::C.is_dye() && !Panel::O.is_dye());
    }
}
