//! CSV text as Excel has it: read as UTF-8 whatever Excel saved it as (on Chinese Windows
//! "CSV" means GBK, and a roster read as UTF-8 then would turn every name into replacement
//! characters), and written as UTF-8 with a BOM, so Excel shows the Chinese headers.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

use crate::RosterError;

/// Passes UTF-8 through and decodes GB 18030 (a superset of GBK) to UTF-8, deciding from
/// the first 64 KiB.
pub struct Utf8Reader<R> {
    inner: R,
    prefix: Vec<u8>,
    prefix_pos: usize,
    decoder: Option<encoding_rs::Decoder>,
    inbuf: Vec<u8>,
    in_len: usize,
    out: Vec<u8>,
    out_pos: usize,
    out_len: usize,
    eof: bool,
}

const SNIFF: usize = 64 * 1024;

impl<R: Read> Utf8Reader<R> {
    /// Sniffs the encoding.
    pub fn new(mut inner: R) -> io::Result<Utf8Reader<R>> {
        let prefix = read_prefix(&mut inner, SNIFF)?;
        let utf8 = match std::str::from_utf8(&prefix) {
            Ok(_) => true,
            // Cut inside a character at the end of the sniffed block: still UTF-8.
            Err(e) => e.error_len().is_none(),
        };
        let decoder = (!utf8).then(|| encoding_rs::GB18030.new_decoder_without_bom_handling());
        Ok(Utf8Reader {
            inner,
            prefix,
            prefix_pos: 0,
            decoder,
            inbuf: vec![0; SNIFF],
            in_len: 0,
            out: vec![0; SNIFF * 2],
            out_pos: 0,
            out_len: 0,
            eof: false,
        })
    }

    /// True when the input was not UTF-8 and is being decoded as GB 18030.
    #[cfg(test)]
    pub fn is_gbk(&self) -> bool {
        self.decoder.is_some()
    }

    fn raw_read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.prefix_pos < self.prefix.len() {
            let n = buf.len().min(self.prefix.len() - self.prefix_pos);
            buf[..n].copy_from_slice(&self.prefix[self.prefix_pos..self.prefix_pos + n]);
            self.prefix_pos += n;
            return Ok(n);
        }
        self.inner.read(buf)
    }
}

impl<R: Read> Read for Utf8Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.decoder.is_none() {
            return self.raw_read(buf);
        }
        loop {
            if self.out_pos < self.out_len {
                let n = buf.len().min(self.out_len - self.out_pos);
                buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
                self.out_pos += n;
                return Ok(n);
            }
            if self.eof && self.in_len == 0 {
                return Ok(0);
            }
            if !self.eof && self.in_len < self.inbuf.len() {
                let mut tmp = std::mem::take(&mut self.inbuf);
                let n = self.raw_read(&mut tmp[self.in_len..])?;
                self.inbuf = tmp;
                self.in_len += n;
                self.eof = n == 0;
            }
            let Some(dec) = self.decoder.as_mut() else { return Ok(0) };
            let (_, read, written, _) =
                dec.decode_to_utf8(&self.inbuf[..self.in_len], &mut self.out, self.eof);
            self.inbuf.copy_within(read..self.in_len, 0);
            self.in_len -= read;
            self.out_pos = 0;
            self.out_len = written;
            if self.eof && read == 0 && written == 0 {
                self.in_len = 0;
            }
        }
    }
}

/// Reads up to `n` bytes; used to sniff encodings.
fn read_prefix(r: &mut impl Read, n: usize) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(n);
    r.take(n as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

/// A CSV writer that starts with a UTF-8 BOM, so Excel shows the Chinese headers.
pub fn csv_out(path: &Path) -> Result<csv::Writer<BufWriter<File>>, RosterError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| RosterError::io(dir.display().to_string(), e))?;
    }
    let mut f = BufWriter::with_capacity(
        1 << 20,
        File::create(path).map_err(|e| RosterError::io(path.display().to_string(), e))?,
    );
    f.write_all("\u{feff}".as_bytes()).map_err(|e| RosterError::io(path.display().to_string(), e))?;
    Ok(csv::Writer::from_writer(f))
}

/// Maps a CSV writer's error to the output file it was writing.
pub fn csv_err(path: &Path) -> impl Fn(csv::Error) -> RosterError + '_ {
    move |e| RosterError::Output { path: path.to_path_buf(), message: e.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> (String, bool) {
        let mut r = Utf8Reader::new(bytes).expect("sniff");
        let mut s = String::new();
        r.read_to_string(&mut s).expect("utf-8 out");
        (s, r.is_gbk())
    }

    #[test]
    fn utf8_passes_and_gbk_is_decoded() {
        assert_eq!(decode("姓名,身份证号\n张三,1\n".as_bytes()), ("姓名,身份证号\n张三,1\n".into(), false));
        let (gbk, _, _) = encoding_rs::GBK.encode("姓名,身份证号\n张三,1\n");
        assert_eq!(decode(&gbk), ("姓名,身份证号\n张三,1\n".into(), true));
        // Longer than one buffer, so decoding crosses block boundaries.
        let long = "李四,汉族,泗水镇\n".repeat(20_000);
        let (gbk, _, _) = encoding_rs::GBK.encode(&long);
        assert_eq!(decode(&gbk).0, long);
    }
}
