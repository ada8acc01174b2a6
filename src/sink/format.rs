//! Which file format an output is, and what its name says about it.
//!
//! GDAL users expect the format to follow the extension (GDAL ≥ 3 tools
//! pick the driver from it), so `-o x.png` must never leave a GeoTIFF under
//! a `.png` name. The rule: `.tif`/`.tiff` is GTiff (or COG when asked),
//! `.png` is PNG, `.jpg`/`.jpeg` is JPEG; an `--of` (or recipe `format`)
//! that disagrees with the name is refused, and so is an extension another
//! GDAL driver owns (`.img`, `.vrt`, ...), since tilerun cannot write it.
//! Any other name (no extension, `.out`) takes the format given, else GTiff.
//!
//! PNG and JPEG are CreateCopy-only drivers: the windows go into a temp
//! GTiff as for COG and GDAL copies it into the final file
//! (`crate::sink::copy`). Their limits are checked before any work.

use std::path::Path;

use crate::ops::OutType;

/// Output container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde_with::DeserializeFromStr)]
pub enum Format {
    #[default]
    GTiff,
    Cog,
    Png,
    Jpeg,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "gtiff" => Ok(Format::GTiff),
            "cog" => Ok(Format::Cog),
            "png" => Ok(Format::Png),
            "jpeg" | "jpg" => Ok(Format::Jpeg),
            _ => Err(format!(
                "unknown format '{s}' (expected GTiff, COG, PNG or JPEG)"
            )),
        }
    }
}

impl Format {
    /// The GDAL driver that writes (or, for a copy, finishes) the file.
    pub fn driver(self) -> &'static str {
        match self {
            Format::GTiff => "GTiff",
            Format::Cog => "COG",
            Format::Png => "PNG",
            Format::Jpeg => "JPEG",
        }
    }

    /// Formats GDAL can only produce by copying a finished dataset.
    pub fn is_picture(self) -> bool {
        matches!(self, Format::Png | Format::Jpeg)
    }

    /// The format `path`'s name implies, checked against the one `given`
    /// (`--of` or a recipe's `format`).
    pub fn for_output(path: &Path, given: Option<Format>) -> Result<Format, String> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let implied: &[Format] = match ext.as_str() {
            "tif" | "tiff" => &[Format::GTiff, Format::Cog],
            "png" => &[Format::Png],
            "jpg" | "jpeg" => &[Format::Jpeg],
            _ => {
                if let Some(driver) = owner_of(&ext) {
                    return Err(format!(
                        "'.{ext}' is the extension of GDAL's {driver} format, which tilerun does \
                         not write; name the output .tif (GTiff, COG), .png or .jpg"
                    ));
                }
                return Ok(given.unwrap_or_default());
            }
        };
        match given {
            None => Ok(implied[0]),
            Some(f) if implied.contains(&f) => Ok(f),
            Some(f) => Err(format!(
                "format {} does not match the output name '.{ext}' (which means {}); \
                 drop the format or rename the output",
                f.driver(),
                implied[0].driver()
            )),
        }
    }

    /// What the format can hold: JPEG is 8-bit with 1 or 3 bands, PNG 8 or
    /// 16-bit with 1 to 4; neither holds overviews.
    pub fn check_fits(self, t: OutType, bands: usize, overviews: bool) -> Result<(), String> {
        let (types, band_counts): (&[OutType], &[usize]) = match self {
            Format::Png => (&[OutType::Byte, OutType::UInt16], &[1, 2, 3, 4]),
            Format::Jpeg => (&[OutType::Byte], &[1, 3]),
            Format::GTiff | Format::Cog => return Ok(()),
        };
        let d = self.driver();
        if !types.contains(&t) {
            let names: Vec<&str> = types.iter().map(|t| t.name()).collect();
            return Err(format!(
                "{d} holds only {} samples, the output type is {} (use --ot {}, or a .tif output)",
                names.join(" or "),
                t.name(),
                names[0]
            ));
        }
        if !band_counts.contains(&bands) {
            return Err(format!(
                "{d} holds {:?} bands, the op gives {bands} (use a .tif output)",
                band_counts
            ));
        }
        if overviews {
            return Err(format!(
                "{d} cannot hold overviews (use a .tif or --of COG)"
            ));
        }
        Ok(())
    }
}

/// The GDAL raster driver that declares `ext` as its extension, if any.
fn owner_of(ext: &str) -> Option<String> {
    use gdal::Metadata;
    if ext.is_empty() {
        return None;
    }
    gdal::DriverManager::register_all();
    (0..gdal::DriverManager::count())
        .filter_map(|i| gdal::DriverManager::get_driver(i).ok())
        .filter(|d| d.metadata_item("DCAP_RASTER", "").is_some())
        .find(|d| {
            d.metadata_item("DMD_EXTENSIONS", "")
                .is_some_and(|list| list.split_whitespace().any(|e| e.eq_ignore_ascii_case(ext)))
        })
        .map(|d| format!("{} ({})", d.short_name(), d.long_name()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_picks_the_format_and_a_disagreeing_one_is_refused() {
        let f = |p: &str, g: Option<Format>| Format::for_output(Path::new(p), g);
        assert_eq!(f("a.tif", None), Ok(Format::GTiff));
        assert_eq!(f("a.TIFF", Some(Format::Cog)), Ok(Format::Cog));
        assert_eq!(f("a.png", None), Ok(Format::Png));
        assert_eq!(f("a.JPG", None), Ok(Format::Jpeg));
        assert_eq!(f("a", Some(Format::Cog)), Ok(Format::Cog));
        assert_eq!(f("a.out", None), Ok(Format::GTiff));
        let e = f("a.png", Some(Format::GTiff)).unwrap_err();
        assert!(e.contains("GTiff") && e.contains("'.png'"), "{e}");
        assert!(f("a.tif", Some(Format::Png)).is_err());
        let e = f("a.img", None).unwrap_err();
        assert!(e.contains("HFA"), "{e}");
    }

    #[test]
    fn png_and_jpeg_limits() {
        assert!(Format::Png.check_fits(OutType::UInt16, 1, false).is_ok());
        assert!(Format::Png.check_fits(OutType::Float32, 1, false).is_err());
        assert!(Format::Jpeg.check_fits(OutType::UInt16, 1, false).is_err());
        assert!(Format::Jpeg.check_fits(OutType::Byte, 2, false).is_err());
        assert!(Format::Jpeg.check_fits(OutType::Byte, 3, true).is_err());
        assert!(Format::GTiff.check_fits(OutType::Float64, 9, true).is_ok());
    }
}
