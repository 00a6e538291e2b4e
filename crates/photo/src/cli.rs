//! `station photo capture` and `station photo check`: clap arguments and runners the station
//! binary calls. Output goes to the writer given, so the station decides where it shows.

use std::io::Write;
use std::path::PathBuf;

use crate::detect::ModelError;
use crate::process::{PhotoError, PhotoProcessor};
use crate::reject::Rejections;
use crate::selector::open_with_fallback;
use crate::source::SourceError;
use crate::spec::{ByteLimits, PhotoSpec};

/// Which photo form the province wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Form {
    /// The card photo, 358 x 441 px at 350 dpi.
    Card,
    /// The 1-inch form photo, 295 x 413 px at 300 dpi.
    OneInch,
}

/// The profile's photo settings on the command line.
#[derive(Debug, Clone, clap::Args)]
pub struct SpecArgs {
    /// Photo form.
    #[arg(long, value_enum, default_value = "card")]
    pub form: Form,
    /// Smallest file the province accepts, in KB (read as 1024 bytes, the strict side).
    #[arg(long, default_value_t = 14)]
    pub min_kb: usize,
    /// Largest file the province accepts, in KB (read as 1000 bytes, the strict side).
    #[arg(long, default_value_t = 40)]
    pub max_kb: usize,
}

impl SpecArgs {
    /// The spec these arguments name.
    pub fn spec(&self) -> PhotoSpec {
        let limits = ByteLimits::kb(self.min_kb, self.max_kb);
        match self.form {
            Form::Card => PhotoSpec::card(limits),
            Form::OneInch => PhotoSpec::one_inch(limits),
        }
    }
}

/// `station photo capture`.
#[derive(Debug, Clone, clap::Args)]
pub struct CaptureArgs {
    /// Where frames come from: webcam or webcam:N (camera index), file:PATH (a file or a
    /// folder of frames), synthetic or synthetic:WxH, synthetic:pattern.
    #[arg(long, default_value = "webcam")]
    pub source: String,
    /// Used when the camera is absent or fails, e.g. file:/path/to/upload.jpg.
    #[arg(long)]
    pub fallback: Option<String>,
    /// The JPEG to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Frames to try before giving up (a file source stops after its last file).
    #[arg(long, default_value_t = 30)]
    pub frames: usize,
    /// Photo settings.
    #[command(flatten)]
    pub spec: SpecArgs,
}

/// `station photo check`.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// The photo file to judge.
    pub file: PathBuf,
    /// Photo settings.
    #[command(flatten)]
    pub spec: SpecArgs,
}

/// Why a command did not produce an accepted photo.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The source could not be opened or read.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The face model could not be loaded.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// No frame passed; the reasons are the last frame's.
    #[error("no acceptable photo after {frames} frame(s): {reasons}")]
    NoGoodFrame {
        /// Frames tried.
        frames: usize,
        /// The last frame's reasons.
        reasons: Rejections,
    },
    /// The photo passed but cannot be encoded within the byte limits.
    #[error(transparent)]
    Photo(#[from] PhotoError),
    /// The checked file fails the checks.
    #[error("photo refused: {0}")]
    Refused(Rejections),
    /// Reading or writing a file or the output.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Capture: open the source (falling back if the camera is unavailable), try frames until one
/// passes, write it. Each refused frame's reasons are printed so the operator can act.
pub fn run_capture(args: &CaptureArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let spec = args.spec.spec();
    let (mut source, camera_error) = open_with_fallback(&args.source, args.fallback.as_deref())?;
    if let Some(e) = camera_error {
        writeln!(out, "{e}")?;
        writeln!(out, "using {}", source.describe())?;
    }
    let mut processor = PhotoProcessor::new(spec)?;
    let tries = source.frame_count().map_or(args.frames, |n| n.min(args.frames)).max(1);
    let mut last = Rejections(Vec::new());
    for i in 1..=tries {
        let frame = source.next_frame()?;
        match processor.process(&frame) {
            Ok(photo) => {
                std::fs::write(&args.out, &photo.jpeg)?;
                writeln!(
                    out,
                    "wrote {}: {}x{} px, {} dpi, {} bytes (quality {}), from {} frame {i}",
                    args.out.display(),
                    spec.width,
                    spec.height,
                    spec.dpi,
                    photo.jpeg.len(),
                    photo.quality,
                    source.describe(),
                )?;
                return Ok(());
            }
            Err(PhotoError::Rejected(r)) => {
                writeln!(out, "frame {i}: {r}")?;
                last = r;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(CliError::NoGoodFrame { frames: tries, reasons: last })
}

/// Check a photo file against the spec; prints the measures and every reason, and fails when
/// there is any.
pub fn run_check(args: &CheckArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let bytes = std::fs::read(&args.file)?;
    let mut processor = PhotoProcessor::new(args.spec.spec())?;
    let report = processor.check(&bytes);
    let size = report.size.map_or("?".to_string(), |(w, h)| format!("{w}x{h}"));
    let dpi = report.dpi.map_or("no".to_string(), |d| d.to_string());
    writeln!(out, "{}: {size} px, {dpi} dpi, {} bytes", args.file.display(), report.bytes)?;
    if let Some(m) = report.measures {
        writeln!(
            out,
            "face luminance {:.0}, sharpness {:.0}, background {:.0} (deviation {:.1}), head {:.0}% of height",
            m.face_luma,
            m.sharpness,
            m.background_luma,
            m.background_std,
            m.head_fraction * 100.0
        )?;
    }
    if report.passed() {
        writeln!(out, "合格 / OK")?;
        Ok(())
    } else {
        for r in &report.rejections {
            writeln!(out, "- {r}")?;
        }
        Err(CliError::Refused(Rejections(report.rejections)))
    }
}
