//! Resampling methods by GDAL's names. Ops declare the one that suits their
//! values (average for continuous data, mode for class maps), so the type
//! lives with the ops; overviews and coarser inputs both use it.

use std::str::FromStr;

/// The methods GDAL 3.6's `GDALBuildOverviews` implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde_with::DeserializeFromStr)]
pub enum Resampling {
    Nearest,
    Average,
    Rms,
    Bilinear,
    Cubic,
    CubicSpline,
    Lanczos,
    Gauss,
    Mode,
}

impl Resampling {
    pub const ALL: [Resampling; 9] = [
        Resampling::Nearest,
        Resampling::Average,
        Resampling::Rms,
        Resampling::Bilinear,
        Resampling::Cubic,
        Resampling::CubicSpline,
        Resampling::Lanczos,
        Resampling::Gauss,
        Resampling::Mode,
    ];

    /// The name GDAL takes (and `--resampling` accepts, in any case).
    pub fn gdal_name(self) -> &'static str {
        match self {
            Resampling::Nearest => "NEAREST",
            Resampling::Average => "AVERAGE",
            Resampling::Rms => "RMS",
            Resampling::Bilinear => "BILINEAR",
            Resampling::Cubic => "CUBIC",
            Resampling::CubicSpline => "CUBICSPLINE",
            Resampling::Lanczos => "LANCZOS",
            Resampling::Gauss => "GAUSS",
            Resampling::Mode => "MODE",
        }
    }
}

impl FromStr for Resampling {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        // gdalwarp and gdal_translate spell nearest `near`.
        if s.trim().eq_ignore_ascii_case("near") {
            return Ok(Resampling::Nearest);
        }
        Resampling::ALL
            .into_iter()
            .find(|r| r.gdal_name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                // The caller says where the word came from (flag, key, line).
                let names: Vec<String> = Resampling::ALL
                    .iter()
                    .map(|r| r.gdal_name().to_ascii_lowercase())
                    .collect();
                let guess = crate::error::closest(s.trim(), names.iter().map(String::as_str))
                    .map(|g| format!("did you mean '{g}'? "))
                    .unwrap_or_default();
                format!(
                    "unknown resampling method '{s}' ({guess}expected one of {})",
                    names.join(", ")
                )
            })
    }
}
