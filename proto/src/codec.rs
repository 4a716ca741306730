//! Length-prefixed MessagePack frames: [`MessageCodec`].
//!
//! A frame is a 4-byte big-endian length followed by that many bytes of MessagePack with named
//! fields (`rmp_serde::to_vec_named`). Framing is tokio-util's `LengthDelimitedCodec`; this wrapper
//! adds what it lacks for a stream that crosses `sudo` and a login shell:
//!
//! - **Text instead of frames.** `sudo: a password is required`, a MOTD or `command not found` on
//!   stdout would otherwise be read as a 1.9 GB length. No valid length starts with a non-zero byte
//!   (frames are at most [`MAX_FRAME_LEN`] = 1 MiB), so a stream whose next byte is not 0 is not a
//!   frame: printable bytes are collected up to a newline and reported as
//!   [`FrameError::UnexpectedText`], anything else as [`FrameError::Garbage`].
//! - **Bounded memory.** A length above the maximum is refused from the 4-byte header, before
//!   anything is reserved for it.
//! - **Clean ends.** EOF between frames is the end of the stream; EOF inside one is
//!   [`FrameError::Truncated`].

use std::io;
use std::marker::PhantomData;

use bytes::{Buf, BytesMut};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec};

/// Largest frame either side sends or accepts. Progress messages are ~100 bytes and a 1,000-unit
/// summary ~150 KiB, so this is generous while keeping a hostile length harmless.
pub const MAX_FRAME_LEN: usize = 1024 * 1024;

const HEADER_LEN: usize = 4;
/// How much text to collect before reporting it when no newline arrives.
const MAX_TEXT_LEN: usize = 4096;

/// Why a stream could not be read as frames.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("read or write on the stream")]
    Io(#[from] io::Error),
    #[error("a frame of {len} bytes exceeds the maximum of {max} bytes")]
    TooLarge { len: usize, max: usize },
    /// Text where a frame should be: usually sudo, the shell or a missing binary talking.
    #[error("expected a frame, got text: {text:?}")]
    UnexpectedText { text: String },
    #[error("expected a frame, got bytes that are neither a frame nor text (starting {preview})")]
    Garbage { preview: String },
    #[error("the stream ended inside a frame ({buffered} of {expected} bytes)")]
    Truncated { buffered: usize, expected: usize },
    #[error("decode a {len}-byte frame as MessagePack")]
    Decode {
        len: usize,
        #[source]
        source: rmp_serde::decode::Error,
    },
    #[error("encode a frame as MessagePack")]
    Encode(#[source] rmp_serde::encode::Error),
}

/// Frames in, messages of type `In` out; any serialisable message in, frames out.
///
/// The type read changes during a session (a [`crate::Hello`] first, then requests or replies):
/// switch with `Framed::map_codec(MessageCodec::retype)`.
#[derive(Debug)]
pub struct MessageCodec<In> {
    frames: LengthDelimitedCodec,
    _in: PhantomData<fn() -> In>,
}

impl<In> Default for MessageCodec<In> {
    fn default() -> Self {
        Self::new()
    }
}

impl<In> MessageCodec<In> {
    pub fn new() -> Self {
        MessageCodec {
            frames: LengthDelimitedCodec::builder()
                .big_endian()
                .length_field_length(HEADER_LEN)
                .max_frame_length(MAX_FRAME_LEN)
                .new_codec(),
            _in: PhantomData,
        }
    }

    /// The same codec (and state) reading messages of another type.
    pub fn retype<T>(self) -> MessageCodec<T> {
        MessageCodec {
            frames: self.frames,
            _in: PhantomData,
        }
    }
}

impl<In: DeserializeOwned> MessageCodec<In> {
    /// Checks the header and returns a complete frame's body, or `None` for "need more bytes".
    fn next_frame(
        &mut self,
        src: &mut BytesMut,
        eof: bool,
    ) -> Result<Option<BytesMut>, FrameError> {
        let Some(&first) = src.first() else {
            return Ok(None);
        };
        if first != 0 {
            return not_a_frame(src, eof);
        }
        if src.len() < HEADER_LEN {
            return if eof {
                Err(FrameError::Truncated {
                    buffered: src.len(),
                    expected: HEADER_LEN,
                })
            } else {
                Ok(None)
            };
        }
        let len = u32::from_be_bytes([src[0], src[1], src[2], src[3]]) as usize;
        if len > MAX_FRAME_LEN {
            return Err(FrameError::TooLarge {
                len,
                max: MAX_FRAME_LEN,
            });
        }
        // Hand the frame to the inner codec only once it is whole: it then never holds a half-read
        // header, so every call here starts at a frame boundary and the checks above stay valid.
        if src.len() < HEADER_LEN + len {
            if eof {
                return Err(FrameError::Truncated {
                    buffered: src.len() - HEADER_LEN,
                    expected: len,
                });
            }
            src.reserve(HEADER_LEN + len - src.len());
            return Ok(None);
        }
        self.frames.decode(src).map_err(FrameError::Io)
    }
}

/// The stream's next byte cannot start a frame: report it as text or as garbage.
fn not_a_frame(src: &mut BytesMut, eof: bool) -> Result<Option<BytesMut>, FrameError> {
    let window = &src[..src.len().min(MAX_TEXT_LEN)];
    let line_end = window.iter().position(|&b| b == b'\n');
    let text_part = &window[..line_end.unwrap_or(window.len())];
    let is_text = looks_like_text(text_part, eof);
    if !is_text {
        let preview: Vec<String> = window.iter().take(16).map(|b| format!("{b:02x}")).collect();
        return Err(FrameError::Garbage {
            preview: preview.join(" "),
        });
    }
    if line_end.is_none() && window.len() < MAX_TEXT_LEN && !eof {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(text_part).trim_end().to_owned();
    src.advance(line_end.map_or(window.len(), |end| end + 1));
    Err(FrameError::UnexpectedText { text })
}

/// Valid UTF-8 without control characters (a multi-byte character cut at the end of what has
/// arrived so far still counts, unless the stream ended).
fn looks_like_text(bytes: &[u8], eof: bool) -> bool {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) if e.error_len().is_none() && !eof => {
            std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return false,
    };
    text.chars()
        .all(|c| !c.is_control() || c == '\t' || c == '\r')
}

impl<In: DeserializeOwned> Decoder for MessageCodec<In> {
    type Item = In;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<In>, FrameError> {
        self.next_frame(src, false)?.map(decode_body).transpose()
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<In>, FrameError> {
        self.next_frame(src, true)?.map(decode_body).transpose()
    }
}

fn decode_body<In: DeserializeOwned>(body: BytesMut) -> Result<In, FrameError> {
    rmp_serde::from_slice(&body).map_err(|source| FrameError::Decode {
        len: body.len(),
        source,
    })
}

impl<In, T: Serialize> Encoder<T> for MessageCodec<In> {
    type Error = FrameError;

    fn encode(&mut self, item: T, dst: &mut BytesMut) -> Result<(), FrameError> {
        let body = encode_body(&item)?;
        if body.len() > MAX_FRAME_LEN {
            return Err(FrameError::TooLarge {
                len: body.len(),
                max: MAX_FRAME_LEN,
            });
        }
        self.frames
            .encode(bytes::Bytes::from(body), dst)
            .map_err(FrameError::Io)
    }
}

/// The MessagePack body of a message: a map with named fields, never the array form (which breaks
/// on the first added field; see the crate's stability policy).
pub fn encode_body<T: Serialize>(item: &T) -> Result<Vec<u8>, FrameError> {
    rmp_serde::to_vec_named(item).map_err(FrameError::Encode)
}

/// One whole frame (header and body) for `item`, for writers that are not a `Framed` (the agent's
/// on-disk event log appends these).
pub fn encode_frame<T: Serialize>(item: &T) -> Result<Vec<u8>, FrameError> {
    let mut dst = BytesMut::new();
    MessageCodec::<()>::new().encode(item, &mut dst)?;
    Ok(dst.to_vec())
}
