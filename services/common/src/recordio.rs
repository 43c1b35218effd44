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

/// Longest length prefix: the digits of `u64::MAX`.
const MAX_PREFIX: usize = 20;

/// Reads a length prefix: 1 to 20 ASCII digits (no sign, no spaces), as a number that fits in `usize`.
fn parse_length(prefix: &[u8]) -> Result<usize, DecodeError> {
    if prefix.is_empty() || prefix.len() > MAX_PREFIX || !prefix.iter().all(u8::is_ascii_digit) {
        return Err(DecodeError::BadLength);
    }
    std::str::from_utf8(prefix).ok().and_then(|s| s.parse().ok()).ok_or(DecodeError::BadLength)
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
                if self.buffer.len() > MAX_PREFIX {
                    return Err(DecodeError::BadLength);
                }
                return Ok(records);
            };
            let length = parse_length(&self.buffer[..newline])?;
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
        for bad in [&b"\n"[..], b"+5\nabcde", b" 5\nabcde", b"-1\n", b"123456789012345678901\n"] {
            assert_eq!(Decoder::new(10).feed(bad), Err(DecodeError::BadLength), "{bad:?}");
        }
    }

    #[test]
    fn a_huge_length_prefix_errors_without_allocating() {
        let mut d = Decoder::new(1024);
        assert_eq!(d.feed(b"18446744073709551615\n{"), Err(DecodeError::TooLarge(usize::MAX)));
        assert!(d.buffer.capacity() < 1024);
        assert_eq!(Decoder::new(1024).feed(b"99999999999999999999\n"), Err(DecodeError::BadLength));
        // A prefix that never ends is refused once it is longer than any valid one.
        assert_eq!(Decoder::new(1024).feed(&[b'7'; 21]), Err(DecodeError::BadLength));
    }
}

/// A subscription opened with a POST whose answer is an endless chunked RecordIO stream (the v1 scheduler
/// API's SUBSCRIBE, the agent link's REGISTER): follows a standby master's 307 to the leader, keeps the
/// `Mesos-Stream-Id`, and hands out whole records.
pub struct Subscription {
    /// `http://host:port` of the master that accepted the subscription.
    pub base_url: String,
    /// The stream id to present on later calls.
    pub stream_id: String,
    body: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<Bytes>> + Send>>,
    decoder: Decoder,
}

/// Why a subscription could not be opened.
#[derive(Debug)]
pub enum SubscribeError {
    /// The master answered with this non-success status and body.
    Refused(reqwest::StatusCode, String),
    /// The request failed or the answer was unusable.
    Failed(String),
}

impl std::fmt::Display for SubscribeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SubscribeError::Refused(status, body) => write!(f, "refused: {status} {body}"),
            SubscribeError::Failed(e) => f.write_str(e),
        }
    }
}

impl Subscription {
    /// POSTs `call` as JSON to `<base_url><path>` (following up to three 307 redirects) and opens the stream.
    pub async fn open<T: serde::Serialize>(
        client: &reqwest::Client,
        base_url: &str,
        path: &str,
        call: &T,
        max_record: usize,
    ) -> Result<Subscription, SubscribeError> {
        let mut target = base_url.to_string();
        for _ in 0..3 {
            let response = client
                .post(format!("{target}{path}"))
                .header("Content-Type", "application/json")
                .header("Accept", "application/json")
                .json(call)
                .send()
                .await
                .map_err(|e| SubscribeError::Failed(e.to_string()))?;
            let status = response.status();
            if status == reqwest::StatusCode::TEMPORARY_REDIRECT {
                let location = response.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or_default();
                target = crate::http::redirect_base_url(location);
                continue;
            }
            if !status.is_success() {
                return Err(SubscribeError::Refused(status, response.text().await.unwrap_or_default()));
            }
            let stream_id = response
                .headers()
                .get("mesos-stream-id")
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| SubscribeError::Failed("no Mesos-Stream-Id header in the answer".into()))?
                .to_string();
            return Ok(Subscription {
                base_url: target,
                stream_id,
                body: Box::pin(response.bytes_stream()),
                decoder: Decoder::new(max_record),
            });
        }
        Err(SubscribeError::Failed("too many redirects".into()))
    }

    /// The next complete records; `Ok(None)` when the stream ended, an error when it broke or stayed silent
    /// for `silence`.
    pub async fn next_records(&mut self, silence: std::time::Duration) -> Result<Option<Vec<Bytes>>, String> {
        use futures::StreamExt;
        loop {
            let chunk = match tokio::time::timeout(silence, self.body.next()).await {
                Err(_) => return Err(format!("nothing received for {silence:?}")),
                Ok(None) => return Ok(None),
                Ok(Some(Err(e))) => return Err(e.to_string()),
                Ok(Some(Ok(chunk))) => chunk,
            };
            let records = self.decoder.feed(&chunk).map_err(|e| e.to_string())?;
            if !records.is_empty() {
                return Ok(Some(records));
            }
        }
    }
}
