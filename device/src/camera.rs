//! A V4L2 camera (`v4l` crate): MJPEG when the camera offers it (small
//! frames over USB, decoded here), else YUYV converted to RGB.

use image::RgbImage;
use v4l::buffer::Type;
use v4l::io::mmap::Stream;
use v4l::io::traits::CaptureStream;
use v4l::prelude::*;
use v4l::video::Capture;
use v4l::{Format, FourCC};

use crate::source::{Camera, Lost, SourceError};

/// A V4L2 capture device.
pub(crate) struct V4lCamera {
    path: String,
    mode: (u32, u32, u32),
    stream: Option<(Stream<'static>, Format)>,
}

impl std::fmt::Debug for V4lCamera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("V4lCamera").field("path", &self.path).field("mode", &self.mode).finish()
    }
}

impl V4lCamera {
    /// A camera at `path` asked for `width x height @ fps` (it may pick the
    /// nearest it supports).
    pub(crate) fn new(path: &str, mode: (u32, u32, u32)) -> Self {
        V4lCamera { path: path.to_string(), mode, stream: None }
    }

    fn open_stream(&self) -> std::io::Result<(Stream<'static>, Format)> {
        let dev = Device::with_path(&self.path)?;
        let offered: Vec<FourCC> = dev.enum_formats()?.into_iter().map(|d| d.fourcc).collect();
        let mjpg = FourCC::new(b"MJPG");
        let yuyv = FourCC::new(b"YUYV");
        let fourcc = if offered.contains(&mjpg) {
            mjpg
        } else if offered.contains(&yuyv) {
            yuyv
        } else {
            return Err(std::io::Error::other(format!("offers neither MJPEG nor YUYV (offers {offered:?})")));
        };
        let (w, h, fps) = self.mode;
        let fmt = dev.set_format(&Format::new(w, h, fourcc))?;
        if fmt.fourcc != fourcc {
            return Err(std::io::Error::other(format!("asked for {fourcc}, got {}", fmt.fourcc)));
        }
        if let Err(e) = dev.set_params(&v4l::video::capture::Parameters::with_fps(fps)) {
            tracing::warn!("{}: cannot set {fps} fps: {e}", self.path);
        }
        let stream = Stream::with_buffers(&dev, Type::VideoCapture, 4)?;
        Ok((stream, fmt))
    }
}

impl Camera for V4lCamera {
    fn open(&mut self) -> Result<(), SourceError> {
        let (stream, fmt) = self.open_stream().map_err(|source| SourceError::Open { device: self.path.clone(), source })?;
        tracing::info!("{}: {}x{} {}", self.path, fmt.width, fmt.height, fmt.fourcc);
        self.stream = Some((stream, fmt));
        Ok(())
    }

    fn grab(&mut self) -> Result<RgbImage, SourceError> {
        let lost = |source: Lost| SourceError::Lost { device: self.path.clone(), source };
        let (stream, fmt) = self.stream.as_mut().ok_or_else(|| lost(Lost::NotOpen))?;
        let (buf, meta) = stream.next().map_err(|e| lost(Lost::Read(e)))?;
        let data = &buf[..(meta.bytesused as usize).min(buf.len())];
        let (w, h) = (fmt.width as usize, fmt.height as usize);
        if fmt.fourcc == FourCC::new(b"MJPG") {
            rollcall_models::decode::decode_rgb(data, std::path::Path::new(&self.path)).map_err(|e| lost(Lost::Decode(e)))
        } else {
            let short = || lost(Lost::Short { got: data.len(), width: w, height: h });
            let rgb = crate::yuyv::to_rgb(data, w, h).ok_or_else(short)?;
            RgbImage::from_raw(w as u32, h as u32, rgb).ok_or_else(short)
        }
    }

    fn close(&mut self) {
        self.stream = None;
    }
}
