//! Output geometry and the provincial byte limits, which are profile settings.

/// Kilobyte bounds as the provinces state them ("9-20 KB"). The forms never say whether a
/// KB is 1000 or 1024 bytes, so [`ByteLimits::kb`] takes the stricter reading at each end:
/// the lower bound in 1024s, the upper in 1000s. A file inside satisfies either reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteLimits {
    /// Smallest accepted file, in bytes.
    pub min: usize,
    /// Largest accepted file, in bytes.
    pub max: usize,
}

impl ByteLimits {
    /// 9-20 KB, the tightest provincial range seen.
    pub const KB_9_20: ByteLimits = ByteLimits::kb(9, 20);
    /// 14-40 KB.
    pub const KB_14_40: ByteLimits = ByteLimits::kb(14, 40);
    /// Under 100 KB, no lower bound.
    pub const UNDER_100KB: ByteLimits = ByteLimits { min: 0, max: 100 * 1000 - 1 };

    /// `min_kb`-`max_kb` read strictly (see the type's doc).
    pub const fn kb(min_kb: usize, max_kb: usize) -> Self {
        ByteLimits { min: min_kb * 1024, max: max_kb * 1000 }
    }

    /// Whether `bytes` lies inside the bounds.
    pub const fn contains(&self, bytes: usize) -> bool {
        bytes >= self.min && bytes <= self.max
    }
}

/// The file a province accepts: pixel size, JFIF density and byte limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhotoSpec {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Dots per inch written into the JFIF header.
    pub dpi: u16,
    /// Smallest accepted file, in bytes.
    pub min_bytes: usize,
    /// Largest accepted file, in bytes.
    pub max_bytes: usize,
}

impl PhotoSpec {
    /// The card photo: 358 x 441 px, 26 x 32 mm at 350 dpi.
    pub const fn card(limits: ByteLimits) -> Self {
        PhotoSpec { width: 358, height: 441, dpi: 350, min_bytes: limits.min, max_bytes: limits.max }
    }

    /// The 1-inch form some provinces (Fujian) ask for: 295 x 413 px at 300 dpi.
    pub const fn one_inch(limits: ByteLimits) -> Self {
        PhotoSpec { width: 295, height: 413, dpi: 300, min_bytes: limits.min, max_bytes: limits.max }
    }

    /// The byte bounds alone.
    pub const fn limits(&self) -> ByteLimits {
        ByteLimits { min: self.min_bytes, max: self.max_bytes }
    }
}

impl Default for PhotoSpec {
    fn default() -> Self {
        PhotoSpec::card(ByteLimits::KB_14_40)
    }
}

/// The photo part of a provincial profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhotoPolicy {
    /// The file to produce.
    pub spec: PhotoSpec,
    /// Applicants younger than this many full years may be issued a card without a photo.
    pub photo_optional_under_age: u8,
}

impl PhotoPolicy {
    /// Whether an applicant of `age_years` full years must have a photo on the card.
    pub fn photo_required(&self, age_years: u32) -> bool {
        age_years >= u32::from(self.photo_optional_under_age)
    }
}

impl Default for PhotoPolicy {
    fn default() -> Self {
        // "Children under about 7 may have no photo": the province sets the exact age.
        PhotoPolicy { spec: PhotoSpec::default(), photo_optional_under_age: 7 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kb_limits_take_the_strict_reading_at_both_ends() {
        let l = ByteLimits::KB_9_20;
        assert_eq!((l.min, l.max), (9216, 20000));
        assert!(l.contains(9216) && l.contains(20000));
        assert!(!l.contains(9215) && !l.contains(20001));
        assert!(ByteLimits::UNDER_100KB.contains(0) && !ByteLimits::UNDER_100KB.contains(100_000));
    }

    #[test]
    fn forms() {
        let c = PhotoSpec::card(ByteLimits::KB_9_20);
        assert_eq!((c.width, c.height, c.dpi), (358, 441, 350));
        let f = PhotoSpec::one_inch(ByteLimits::KB_14_40);
        assert_eq!((f.width, f.height, f.dpi), (295, 413, 300));
        assert_eq!(f.limits(), ByteLimits::KB_14_40);
    }

    #[test]
    fn young_children_may_have_no_photo() {
        let p = PhotoPolicy::default();
        assert!(!p.photo_required(0));
        assert!(!p.photo_required(6));
        assert!(p.photo_required(7));
        let strict = PhotoPolicy { photo_optional_under_age: 0, ..p };
        assert!(strict.photo_required(0));
    }
}
