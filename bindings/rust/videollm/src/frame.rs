use videollm_sys as sys;

use crate::error::{Error, Result};

/// Pixel layouts `push_frame` accepts (`vllm_pixel_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    /// Packed R,G,B.
    Rgb24,
    /// Packed R,G,B,A (alpha ignored).
    Rgba,
    /// Packed B,G,R,A (alpha ignored).
    Bgra,
    /// Y plane, then interleaved U,V at half resolution.
    Nv12,
    /// Y, U, V planes; chroma at half resolution.
    Yuv420p,
}

impl PixelFormat {
    fn raw(self) -> sys::vllm_pixel_format {
        match self {
            PixelFormat::Rgb24 => sys::VLLM_PIXFMT_RGB24,
            PixelFormat::Rgba => sys::VLLM_PIXFMT_RGBA,
            PixelFormat::Bgra => sys::VLLM_PIXFMT_BGRA,
            PixelFormat::Nv12 => sys::VLLM_PIXFMT_NV12,
            PixelFormat::Yuv420p => sys::VLLM_PIXFMT_YUV420P,
        }
    }

    /// (bytes per row, rows) of each plane of a width x height frame.
    pub fn plane_shapes(self, width: u32, height: u32) -> Vec<(usize, usize)> {
        let (w, h) = (width as usize, height as usize);
        let (cw, ch) = ((w + 1) / 2, (h + 1) / 2);
        match self {
            PixelFormat::Rgb24 => vec![(3 * w, h)],
            PixelFormat::Rgba | PixelFormat::Bgra => vec![(4 * w, h)],
            PixelFormat::Nv12 => vec![(w, h), (2 * cw, ch)],
            PixelFormat::Yuv420p => vec![(w, h), (cw, ch), (cw, ch)],
        }
    }
}

/// Largest width/height the library accepts.
pub const MAX_DIM: u32 = 16384;

/// A borrowed raw video frame, checked on construction: every row the
/// library will read lies inside the given slices.
#[derive(Debug, Clone)]
pub struct Frame<'a> {
    format: PixelFormat,
    width: u32,
    height: u32,
    planes: Vec<(&'a [u8], usize)>,
    pts: f64,
}

impl<'a> Frame<'a> {
    /// A tightly packed frame in one buffer, planes one after the other
    /// (the usual layout of RGB24/RGBA/BGRA/NV12/YUV420P files).
    pub fn new(format: PixelFormat, width: u32, height: u32, data: &'a [u8], pts: f64) -> Result<Frame<'a>> {
        check_dims(width, height)?;
        let mut planes = Vec::new();
        let mut rest = data;
        for (i, (row, rows)) in format.plane_shapes(width, height).into_iter().enumerate() {
            let need = row * rows;
            if rest.len() < need {
                return Err(Error::invalid(format!(
                    "{:?} {}x{} frame: plane {} needs {} bytes, {} left of a {}-byte buffer",
                    format,
                    width,
                    height,
                    i,
                    need,
                    rest.len(),
                    data.len()
                )));
            }
            planes.push((&rest[..need], row));
            rest = &rest[need..];
        }
        Ok(Frame { format, width, height, planes, pts })
    }

    /// A frame from one (slice, stride in bytes) per plane.
    pub fn with_planes(
        format: PixelFormat,
        width: u32,
        height: u32,
        planes: &[(&'a [u8], usize)],
        pts: f64,
    ) -> Result<Frame<'a>> {
        check_dims(width, height)?;
        let shapes = format.plane_shapes(width, height);
        if planes.len() != shapes.len() {
            return Err(Error::invalid(format!("{:?} has {} planes, {} given", format, shapes.len(), planes.len())));
        }
        for (i, ((row, rows), (data, stride))) in shapes.iter().zip(planes.iter()).enumerate() {
            if *stride < *row || *stride > i32::MAX as usize {
                return Err(Error::invalid(format!("{:?} plane {}: stride {} is less than the row's {} bytes", format, i, stride, row)));
            }
            let need = stride * (rows - 1) + row;
            if data.len() < need {
                return Err(Error::invalid(format!(
                    "{:?} plane {}: {} rows of {} bytes with stride {} need {} bytes, the slice has {}",
                    format,
                    i,
                    rows,
                    row,
                    stride,
                    need,
                    data.len()
                )));
            }
        }
        Ok(Frame { format, width, height, planes: planes.to_vec(), pts })
    }

    pub fn format(&self) -> PixelFormat {
        self.format
    }
    pub fn width(&self) -> u32 {
        self.width
    }
    pub fn height(&self) -> u32 {
        self.height
    }
    pub fn pts(&self) -> f64 {
        self.pts
    }

    pub(crate) fn to_raw(&self) -> sys::vllm_frame {
        let mut f = sys::vllm_frame {
            struct_size: std::mem::size_of::<sys::vllm_frame>(),
            format: self.format.raw(),
            width: self.width as i32,
            height: self.height as i32,
            planes: [std::ptr::null(); 3],
            strides: [0; 3],
            pts: self.pts,
        };
        for (i, (data, stride)) in self.planes.iter().enumerate() {
            f.planes[i] = data.as_ptr();
            f.strides[i] = *stride as i32;
        }
        f
    }
}

fn check_dims(width: u32, height: u32) -> Result<()> {
    if width == 0 || height == 0 || width > MAX_DIM || height > MAX_DIM {
        return Err(Error::invalid(format!("frame size {}x{} is outside 1..{}", width, height, MAX_DIM)));
    }
    Ok(())
}
