//! Ids: random UUIDs from the kernel's generator, and Kafka's textual form of a topic id
//! (URL-safe base64 without padding, as its tools and `partition.metadata` show it).

use uuid::Uuid;

/// A random (version 4) UUID from the kernel's generator, never the reserved zero or one ids.
pub fn random_uuid() -> Uuid {
    loop {
        let mut bytes = [0u8; 16];
        fill_random(&mut bytes);
        let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
        if id.as_u128() > 1 {
            return id;
        }
    }
}

fn fill_random(buf: &mut [u8]) {
    let mut filled = 0;
    while filled < buf.len() {
        // SAFETY: writes at most the remaining length into our own buffer.
        let n =
            unsafe { libc::getrandom(buf[filled..].as_mut_ptr().cast(), buf.len() - filled, 0) };
        if n > 0 {
            filled += n as usize;
        }
    }
}

const BASE64_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Kafka's textual form of an id (URL-safe base64, no padding), as shown by its tools.
pub fn uuid_to_base64(id: &Uuid) -> String {
    let mut out = String::with_capacity(22);
    let mut acc = 0u32;
    let mut bits = 0;
    for b in id.as_bytes() {
        acc = (acc << 8) | u32::from(*b);
        bits += 8;
        while bits >= 6 {
            bits -= 6;
            out.push(BASE64_ALPHABET[((acc >> bits) & 63) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(BASE64_ALPHABET[((acc << (6 - bits)) & 63) as usize] as char);
    }
    out
}

/// The inverse of [`uuid_to_base64`]; `None` for anything that is not 22 such characters.
pub fn uuid_from_base64(text: &str) -> Option<Uuid> {
    if text.len() != 22 {
        return None;
    }
    let mut value: u128 = 0;
    for (i, c) in text.bytes().enumerate() {
        let digit = BASE64_ALPHABET.iter().position(|a| *a == c)? as u128;
        if i == 21 {
            // The last character carries 2 bits (128 = 21 * 6 + 2).
            if digit & 0b1111 != 0 {
                return None;
            }
            value = (value << 2) | (digit >> 4);
        } else {
            value = (value << 6) | digit;
        }
    }
    Some(Uuid::from_u128(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_and_matches_kafka_form() {
        assert_eq!(
            uuid_to_base64(&Uuid::from_u128(0)),
            "AAAAAAAAAAAAAAAAAAAAAA"
        );
        for v in [1u128, u128::MAX, 0x0123_4567_89ab_cdef_0011_2233_4455_6677] {
            let id = Uuid::from_u128(v);
            assert_eq!(uuid_from_base64(&uuid_to_base64(&id)), Some(id));
        }
        assert_eq!(uuid_from_base64("short"), None);
        assert_eq!(uuid_from_base64("AAAAAAAAAAAAAAAAAAAAA!"), None);
    }
}
