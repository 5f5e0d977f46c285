//! The HTTP/1.1 response parser of the IMDS client: status line, headers, and a body by
//! Content-Length or chunked. Pure (no I/O), so the fuzz target compiles it on its own; every
//! length it reads is checked before use, whatever the bytes say.

/// Why a response could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("connection closed before the headers ended")]
    NoHeaders,
    #[error("bad status line {0:?}")]
    StatusLine(String),
    #[error("bad Content-Length {0:?}")]
    Length(String),
    #[error("body cut short: {got} of {want} bytes")]
    Short { got: usize, want: usize },
    #[error("bad chunked encoding: {0}")]
    Chunk(&'static str),
}

/// A response: status and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Parses status line, headers (Content-Length or chunked) and body.
pub fn parse_response(raw: &[u8]) -> Result<Response, ParseError> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or(ParseError::NoHeaders)?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .filter(|s| s.len() == 3)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ParseError::StatusLine(status_line.chars().take(80).collect()))?;
    let mut length = None;
    let mut chunked = false;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            let k = k.trim().to_ascii_lowercase();
            let v = v.trim();
            if k == "content-length" {
                let n = v
                    .parse::<usize>()
                    .map_err(|_| ParseError::Length(v.chars().take(40).collect()))?;
                length = Some(n);
            } else if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
                chunked = true;
            }
        }
    }
    let rest = raw.get(end + 4..).unwrap_or_default();
    let body = if chunked {
        dechunk(rest)?
    } else if let Some(n) = length {
        match rest.get(..n) {
            Some(b) => b.to_vec(),
            None => {
                return Err(ParseError::Short {
                    got: rest.len(),
                    want: n,
                });
            }
        }
    } else {
        rest.to_vec()
    };
    Ok(Response { status, body })
}

/// The body of a chunked response: size lines in hex (extensions after `;` ignored), each chunk
/// followed by CRLF, ended by a chunk of size 0.
fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, ParseError> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or(ParseError::Chunk("no chunk size line"))?;
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let digits = size_text.split(';').next().unwrap_or("").trim();
        if digits.is_empty() || digits.len() > 16 {
            return Err(ParseError::Chunk("bad chunk size"));
        }
        let size =
            usize::from_str_radix(digits, 16).map_err(|_| ParseError::Chunk("bad chunk size"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        // No arithmetic on the size: a huge one must not overflow, only fail.
        let chunk = data
            .get(..size)
            .ok_or(ParseError::Chunk("chunk cut short"))?;
        let after = &data[size..];
        if !after.starts_with(b"\r\n") {
            return Err(ParseError::Chunk("chunk not followed by CRLF"));
        }
        out.extend_from_slice(chunk);
        data = &after[2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_are_parsed() {
        let r = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"hello"[..]));
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.body, b"abcde");
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort").is_err());
        assert!(parse_response(b"garbage").is_err());
    }

    #[test]
    fn malformed_chunked_bodies_are_errors_not_panics() {
        let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for body in [
            &b"ffffffffffffffff\r\nx"[..],
            b"fffffffffffffffe\r\n",
            b"10000000000000000\r\n",
            b"3\r\nabc",
            b"3\r\nabcXY0\r\n\r\n",
            b"-1\r\n",
            b"\r\n",
            b"2",
        ] {
            let mut raw = head.clone();
            raw.extend_from_slice(body);
            assert!(
                matches!(parse_response(&raw), Err(ParseError::Chunk(_))),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
        assert!(matches!(
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\n"),
            Err(ParseError::Length(_))
        ));
    }
}
