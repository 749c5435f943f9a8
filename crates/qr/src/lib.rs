//! The QR code of a ticket as a PNG image: what the tickets endpoint serves and what the
//! tickets email shows, the same pixels for the same code.

use qrcode::{Color, EcLevel, QrCode};

/// Pixels per QR module: large enough for a phone camera at arm's length.
pub const PIXELS_PER_MODULE: usize = 8;
/// The white border the QR standard asks for, in modules.
pub const QUIET_ZONE_MODULES: usize = 4;

/// Renders `text` as a black-on-white QR code (medium error correction) in a grayscale PNG.
pub fn png(text: &str) -> anyhow::Result<Vec<u8>> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)?;
    let modules = code.width();
    let colors = code.to_colors();
    let side_modules = modules + 2 * QUIET_ZONE_MODULES;
    let side = side_modules * PIXELS_PER_MODULE;
    let mut pixels = vec![255u8; side * side];
    for (index, color) in colors.iter().enumerate() {
        if *color != Color::Dark {
            continue;
        }
        let (x, y) = (index % modules + QUIET_ZONE_MODULES, index / modules + QUIET_ZONE_MODULES);
        for row in y * PIXELS_PER_MODULE..(y + 1) * PIXELS_PER_MODULE {
            let start = row * side + x * PIXELS_PER_MODULE;
            pixels[start..start + PIXELS_PER_MODULE].fill(0);
        }
    }
    let mut out = Vec::new();
    let side_u32 = u32::try_from(side)?;
    let mut encoder = png::Encoder::new(&mut out, side_u32, side_u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&pixels)?;
    writer.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_png_decodes_back_to_the_text() {
        let text = "AZ2m3Q8yR9-7xYt4bWq0Lk_ZfQ2mV6nR8sT1uW3xY5zA7bC9dE1fG3hJ5kL7mN9p";
        let bytes = png(text).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buffer = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buffer).unwrap();
        let (width, height) = (info.width as usize, info.height as usize);
        let mut image =
            rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| buffer[y * width + x]);
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1);
        let (_, content) = grids[0].decode().unwrap();
        assert_eq!(content, text);
    }
}
