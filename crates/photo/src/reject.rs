//! Why a photo was refused, in words the operator at the counter can act on.

use std::fmt;

/// Which edge of the frame the applicant's head is too near.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// The head is cut by the left edge of the camera frame.
    Left,
    /// The head is cut by the right edge.
    Right,
    /// Not enough room above the head.
    Top,
    /// Not enough room below the chin for the shoulders.
    Bottom,
}

/// One reason a photo is refused. Each has a message in Chinese and English that says what to
/// do ([`Rejection::message`]), so the operator never has to interpret a number.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Rejection {
    /// No face found.
    NoFace,
    /// More than one face (the count).
    TwoFaces(usize),
    /// The face is too small for the output size: it would be blown up and soft.
    FaceTooSmall,
    /// The head and shoulders do not fit in the frame at the card's proportions.
    TooClose,
    /// The head is too near an edge of the frame to be centred.
    OffCentre(Edge),
    /// In a finished photo: the head is less than about 2/3 of the height.
    HeadTooSmall,
    /// In a finished photo: the head is more than about 2/3 of the height.
    HeadTooLarge,
    /// The face is underexposed.
    TooDark,
    /// The face is overexposed.
    TooBright,
    /// The face is not sharp (motion or focus).
    Blurred,
    /// The background beside and above the head has texture, objects or shadows.
    BackgroundNotPlain,
    /// The background is grey, dark or coloured rather than white.
    BackgroundNotLight,
    /// A file that is not a JPEG.
    NotJpeg,
    /// A JPEG that is not 24-bit colour.
    NotColour,
    /// Pixel size other than the profile's.
    WrongSize {
        /// Width found.
        width: u32,
        /// Height found.
        height: u32,
    },
    /// JFIF density missing or other than the profile's (dpi found, if any).
    WrongDensity(Option<u16>),
    /// File larger than the profile allows.
    FileTooLarge {
        /// Size of the file.
        bytes: usize,
        /// The profile's maximum.
        max: usize,
    },
    /// File smaller than the profile allows.
    FileTooSmall {
        /// Size of the file.
        bytes: usize,
        /// The profile's minimum.
        min: usize,
    },
}

impl Rejection {
    /// A short stable name for logs and scripts (`too_dark`, `no_face`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::NoFace => "no_face",
            Rejection::TwoFaces(_) => "two_faces",
            Rejection::FaceTooSmall => "face_too_small",
            Rejection::TooClose => "too_close",
            Rejection::OffCentre(_) => "off_centre",
            Rejection::HeadTooSmall => "head_too_small",
            Rejection::HeadTooLarge => "head_too_large",
            Rejection::TooDark => "too_dark",
            Rejection::TooBright => "too_bright",
            Rejection::Blurred => "blurred",
            Rejection::BackgroundNotPlain => "background_not_plain",
            Rejection::BackgroundNotLight => "background_not_light",
            Rejection::NotJpeg => "not_jpeg",
            Rejection::NotColour => "not_colour",
            Rejection::WrongSize { .. } => "wrong_size",
            Rejection::WrongDensity(_) => "wrong_density",
            Rejection::FileTooLarge { .. } => "file_too_large",
            Rejection::FileTooSmall { .. } => "file_too_small",
        }
    }

    /// The message in Chinese.
    pub fn message_zh(&self) -> String {
        match self {
            Rejection::NoFace => "未检测到人脸：请申请人正对镜头".into(),
            Rejection::TwoFaces(n) => format!("画面中有{n}张人脸：请其他人离开画面"),
            Rejection::FaceTooSmall => "人脸太小：请靠近镜头或拉近画面".into(),
            Rejection::TooClose => "离镜头太近：请后退一点，露出双耳和肩膀".into(),
            Rejection::OffCentre(Edge::Left) => "人脸太靠画面左边：请调整镜头或申请人位置".into(),
            Rejection::OffCentre(Edge::Right) => "人脸太靠画面右边：请调整镜头或申请人位置".into(),
            Rejection::OffCentre(Edge::Top) => "头顶空间不足：请降低镜头或让申请人坐低".into(),
            Rejection::OffCentre(Edge::Bottom) => "肩膀未入画：请抬高镜头或让申请人坐直".into(),
            Rejection::HeadTooSmall => "头部太小（应约占照片高度的2/3）：请重新裁剪或重拍".into(),
            Rejection::HeadTooLarge => "头部太大（应约占照片高度的2/3）：请重新裁剪或重拍".into(),
            Rejection::TooDark => "光线太暗：请开灯或补光".into(),
            Rejection::TooBright => "曝光过度：请减弱灯光或避开直射光".into(),
            Rejection::Blurred => "照片模糊：请保持不动并重新对焦".into(),
            Rejection::BackgroundNotPlain => {
                "背景不纯净：请使用白色背景布，移开背景中的物品，避免阴影".into()
            }
            Rejection::BackgroundNotLight => "背景不是白色：请使用白色背景布并照亮背景".into(),
            Rejection::NotJpeg => "文件不是JPEG格式".into(),
            Rejection::NotColour => "照片不是24位彩色".into(),
            Rejection::WrongSize { width, height } => format!("照片尺寸为{width}×{height}像素，不符合要求"),
            Rejection::WrongDensity(Some(d)) => format!("照片分辨率为{d} dpi，不符合要求"),
            Rejection::WrongDensity(None) => "照片缺少分辨率（dpi）信息".into(),
            Rejection::FileTooLarge { bytes, max } => format!("文件太大（{bytes}字节，上限{max}）"),
            Rejection::FileTooSmall { bytes, min } => format!("文件太小（{bytes}字节，下限{min}）"),
        }
    }

    /// The message in English.
    pub fn message_en(&self) -> String {
        match self {
            Rejection::NoFace => "no face: ask the applicant to face the camera".into(),
            Rejection::TwoFaces(n) => format!("{n} faces in the frame: ask others to step out of view"),
            Rejection::FaceTooSmall => "face too small: move the applicant closer or zoom in".into(),
            Rejection::TooClose => "too close: step back so both ears and the shoulders show".into(),
            Rejection::OffCentre(Edge::Left) => {
                "face too near the left edge: re-aim the camera or move the applicant".into()
            }
            Rejection::OffCentre(Edge::Right) => {
                "face too near the right edge: re-aim the camera or move the applicant".into()
            }
            Rejection::OffCentre(Edge::Top) => "no room above the head: lower the camera".into(),
            Rejection::OffCentre(Edge::Bottom) => {
                "shoulders cut off: raise the camera or ask the applicant to sit up".into()
            }
            Rejection::HeadTooSmall => {
                "head too small (should be about 2/3 of the height): re-crop or retake".into()
            }
            Rejection::HeadTooLarge => {
                "head too large (should be about 2/3 of the height): re-crop or retake".into()
            }
            Rejection::TooDark => "too dark: add light or move to the window".into(),
            Rejection::TooBright => "too bright: dim the light or avoid direct light on the face".into(),
            Rejection::Blurred => "blurred: ask the applicant to keep still and refocus".into(),
            Rejection::BackgroundNotPlain => {
                "background not plain: use the white backdrop, move objects away, avoid shadows".into()
            }
            Rejection::BackgroundNotLight => {
                "background not white: use the white backdrop and light it".into()
            }
            Rejection::NotJpeg => "not a JPEG file".into(),
            Rejection::NotColour => "not a 24-bit colour photo".into(),
            Rejection::WrongSize { width, height } => format!("{width} x {height} px: wrong pixel size"),
            Rejection::WrongDensity(Some(d)) => format!("{d} dpi: wrong resolution"),
            Rejection::WrongDensity(None) => "no resolution (dpi) in the file".into(),
            Rejection::FileTooLarge { bytes, max } => format!("file too large ({bytes} bytes, max {max})"),
            Rejection::FileTooSmall { bytes, min } => format!("file too small ({bytes} bytes, min {min})"),
        }
    }

    /// Both languages, as the operator screen shows them.
    pub fn message(&self) -> String {
        format!("{} / {}", self.message_zh(), self.message_en())
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// All the reasons one photo was refused, most fundamental first.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct Rejections(pub Vec<Rejection>);

impl Rejections {
    /// Whether `r` is among the reasons.
    pub fn contains(&self, r: &Rejection) -> bool {
        self.0.contains(r)
    }

    /// The reasons' codes, for tests and logs.
    pub fn codes(&self) -> Vec<&'static str> {
        self.0.iter().map(Rejection::code).collect()
    }
}

impl fmt::Display for Rejections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_bilingual_and_say_what_to_do() {
        let m = Rejection::TooDark.to_string();
        assert_eq!(m, "光线太暗：请开灯或补光 / too dark: add light or move to the window");
        assert!(Rejection::TwoFaces(3).message_en().starts_with("3 faces"));
        let all = Rejections(vec![Rejection::TooDark, Rejection::Blurred]);
        assert_eq!(all.codes(), ["too_dark", "blurred"]);
        assert!(all.to_string().contains("; "));
    }
}
