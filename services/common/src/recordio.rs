//! RecordIO framing used by the streaming Mesos APIs: each record is `<decimal length>\n<bytes>`.

use bytes::{Buf, Bytes, BytesMut};

/// Frames one record.
pub fn encode(record: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(record.len() + 12);
    out.extend_from_slice(record.len().to_string().as_bytes());
    out.extend_from_slice(b"\n");
    out.extend_from_slice(record);
    out.freeze()
}

/// Why a stream could not be decoded.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum DecodeError {
    /// The length prefix is not a decimal number.
    #[error("invalid RecordIO length prefix")]
    BadLength,
    /// A record is larger than the decoder allows.
    #[error("RecordIO record of {0} bytes exceeds the limit")]
    TooLarge(usize),
}

/// Incremental decoder: feed it chunks as they arrive, take out whole records.
#[derive(Debug)]
pub struct Decoder {
    buffer: BytesMut,
    max_record: usize,
}

impl Decoder {
    /// A decoder refusing records longer than `max_record` bytes.
    pub fn new(max_record: usize) -> Decoder {
        Decoder { buffer: BytesMut::new(), max_record }
    }

    /// Appends received bytes and returns every record now complete.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<Bytes>, DecodeError> {
        self.buffer.extend_from_slice(chunk);
        let mut records = Vec::new();
        loop {
            let Some(newline) = self.buffer.iter().position(|b| *b == b'\n') else {
                if self.buffer.len() > 20 {
                    return Err(DecodeError::BadLength);
                }
                return Ok(records);
            };
            let length: usize = std::str::from_utf8(&self.buffer[..newline])
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .ok_or(DecodeError::BadLength)?;
            if length > self.max_record {
                return Err(DecodeError::TooLarge(length));
            }
            if self.buffer.len() < newline + 1 + length {
                return Ok(records);
            }
            self.buffer.advance(newline + 1);
            records.push(self.buffer.split_to(length).freeze());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_across_arbitrary_chunks() {
        let mut stream = Vec::new();
        for r in [&b"{\"type\":\"HEARTBEAT\"}"[..], b"x", b"hello world"] {
            stream.extend_from_slice(&encode(r));
        }
        for split in 1..stream.len() {
            let mut d = Decoder::new(1024);
            let mut got = d.feed(&stream[..split]).unwrap();
            got.extend(d.feed(&stream[split..]).unwrap());
            assert_eq!(got.len(), 3);
            assert_eq!(&got[2][..], b"hello world");
        }
    }

    #[test]
    fn rejects_bad_and_huge_frames() {
        assert_eq!(Decoder::new(10).feed(b"abc\n"), Err(DecodeError::BadLength));
        assert_eq!(Decoder::new(10).feed(b"11\n"), Err(DecodeError::TooLarge(11)));
    }
}
