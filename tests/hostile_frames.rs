//! Hostile input at the protocol level: every kind of malformed frame closes (or is answered on)
//! its own connection, and a well-behaved client on another connection keeps getting correct
//! answers throughout.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::time::Duration;

use common::{Client, TestBroker, raw_frame};
use kafka_protocol::messages::{ApiKey, MetadataRequest, RequestKind, ResponseKind};

/// A tiny deterministic generator, so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// How many frames of each kind. Enough to shake out races, small enough for a 2-core CI.
const PER_KIND: usize = 1000;

/// Checks the good client still gets exact answers.
async fn assert_healthy(client: &mut Client) {
    let r = client
        .call(3, RequestKind::ApiVersions(common::api_versions_request()))
        .await;
    let ResponseKind::ApiVersions(r) = r else {
        panic!("wrong response")
    };
    assert_eq!(r.error_code, 0);
    assert!(
        r.api_keys
            .iter()
            .any(|k| k.api_key == ApiKey::Fetch as i16 && k.max_version == 18)
    );
    let r = client
        .call(
            12,
            RequestKind::Metadata(MetadataRequest::default().with_topics(None)),
        )
        .await;
    let ResponseKind::Metadata(m) = r else {
        panic!("wrong response")
    };
    assert_eq!(m.brokers.len(), 1);
}

/// Sends each frame on its own connection and requires the broker to close it (or, when
/// `answer_ok`, to at least not crash), while the good client keeps working.
async fn hammer(broker: &TestBroker, good: &mut Client, frames: Vec<Vec<u8>>, must_close: bool) {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, f) in frames.into_iter().enumerate() {
        let addr = broker.addr;
        tasks.spawn(async move {
            let mut c = Client::connect(addr).await;
            // The broker may close before reading everything; a failed write is fine.
            let _ = c.send_raw(&f).await;
            let _ = c.stream.shutdown_write_half();
            (i, c.is_closed_by_broker().await)
        });
        if tasks.len() >= 64 {
            let (i, closed) = tasks.join_next().await.unwrap().unwrap();
            assert!(closed || !must_close, "frame {i} left its connection open");
        }
    }
    while let Some(r) = tasks.join_next().await {
        let (i, closed) = r.unwrap();
        assert!(closed || !must_close, "frame {i} left its connection open");
    }
    assert_healthy(good).await;
}

trait ShutdownWrite {
    fn shutdown_write_half(&mut self) -> std::io::Result<()>;
}
impl ShutdownWrite for tokio::net::TcpStream {
    fn shutdown_write_half(&mut self) -> std::io::Result<()> {
        // Half-close so a broker waiting for more bytes sees EOF and closes.
        socket2_shutdown(self)
    }
}
fn socket2_shutdown(s: &tokio::net::TcpStream) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: shutdown on our own live socket.
    let rc = unsafe { libc::shutdown(s.as_raw_fd(), libc::SHUT_WR) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_frames_never_hurt_other_clients() {
    let broker = TestBroker::start(&[]).await;
    let mut good = Client::connect(broker.addr).await;
    assert_healthy(&mut good).await;
    let mut rng = Rng(0x9E3779B97F4A7C15);

    // 1. Frames shorter than a request header.
    let frames = (0..PER_KIND)
        .map(|i| {
            let n = i % 8;
            let mut f = (n as i32).to_be_bytes().to_vec();
            f.extend(rng.bytes(n));
            f
        })
        .collect();
    hammer(&broker, &mut good, frames, true).await;

    // 2. Size prefixes beyond socket.request.max.bytes, and negative ones.
    let frames = (0..PER_KIND)
        .map(|i| {
            let size: i32 = if i % 2 == 0 {
                100 * 1024 * 1024 + 1 + i as i32
            } else {
                -(i as i32) - 1
            };
            let mut f = size.to_be_bytes().to_vec();
            f.extend(rng.bytes(16));
            f
        })
        .collect();
    hammer(&broker, &mut good, frames, true).await;

    // 3. Huge array counts: every supported API and version with counts of 0x7fffffff after
    //    the header (the 14-byte Metadata frame among them).
    let mut frames = Vec::new();
    let specs = vltava::handlers::APIS;
    while frames.len() < PER_KIND {
        for s in specs {
            for v in s.min_version..=s.max_version {
                let mut rest = vec![0xff, 0xff]; // null client id
                if s.key.request_header_version(v) >= 2 {
                    rest.push(0); // no tagged fields
                }
                for _ in 0..(frames.len() % 4 + 1) {
                    rest.extend([0x7f, 0xff, 0xff, 0xff]);
                }
                frames.push(raw_frame(s.key as i16, v, 1, &rest));
            }
        }
    }
    // Responses may be errors rather than closes for some APIs (the count can be read as
    // another field); what matters is that nothing crashes and nobody else notices.
    hammer(&broker, &mut good, frames, false).await;

    // 4. Negative lengths for strings, bytes and arrays.
    let mut frames = Vec::new();
    while frames.len() < PER_KIND {
        for s in specs {
            for v in s.min_version..=s.max_version {
                let mut rest = vec![0xff, 0xff];
                if s.key.request_header_version(v) >= 2 {
                    rest.push(0);
                }
                rest.extend([0x80, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xfe]);
                frames.push(raw_frame(s.key as i16, v, 2, &rest));
            }
        }
    }
    hammer(&broker, &mut good, frames, false).await;

    // 5. Unknown API keys and unsupported versions close the connection.
    let frames = (0..PER_KIND)
        .map(|i| {
            let (key, version) = if i % 2 == 0 {
                (200 + (i % 1000) as i16, 0)
            } else {
                (3, 14 + (i % 50) as i16)
            };
            raw_frame(key, version, 3, &[0xff, 0xff])
        })
        .collect();
    hammer(&broker, &mut good, frames, true).await;

    // 6. Garbage after a valid header.
    let mut frames = Vec::new();
    while frames.len() < PER_KIND {
        for s in specs {
            let v = s.max_version;
            let mut rest = vec![0xff, 0xff];
            if s.key.request_header_version(v) >= 2 {
                rest.push(0);
            }
            let n = (rng.next() % 300) as usize;
            rest.extend(rng.bytes(n));
            frames.push(raw_frame(s.key as i16, v, 4, &rest));
        }
    }
    hammer(&broker, &mut good, frames, false).await;

    // 7. Entirely random frames.
    let frames = (0..PER_KIND)
        .map(|_| {
            let n = (rng.next() % 200) as usize;
            let mut f = (n as i32).to_be_bytes().to_vec();
            f.extend(rng.bytes(n));
            f
        })
        .collect();
    hammer(&broker, &mut good, frames, false).await;

    broker.stop().await;
}

#[tokio::test]
async fn apiversions_with_future_version_gets_v0_unsupported_response() {
    let broker = TestBroker::start(&[]).await;
    let mut c = Client::connect(broker.addr).await;
    c.send_raw(&raw_frame(18, 99, 42, &[0xff, 0xff, 0]))
        .await
        .unwrap();
    let mut frame = c.read_frame().await.expect("an answer, not a close");
    assert_eq!(common::get_i32(&mut frame), 42, "correlation id");
    let mut body = frame;
    let r = <kafka_protocol::messages::ApiVersionsResponse as kafka_protocol::protocol::Decodable>::decode(&mut body, 0).unwrap();
    assert_eq!(r.error_code, 35);
    // Only the ApiVersions range, as Kafka answers.
    let ranges: Vec<(i16, i16, i16)> = r
        .api_keys
        .iter()
        .map(|k| (k.api_key, k.min_version, k.max_version))
        .collect();
    assert_eq!(ranges, vec![(18, 0, 4)]);
    // The connection stays usable.
    let r = c
        .call(3, RequestKind::ApiVersions(common::api_versions_request()))
        .await;
    assert!(matches!(r, ResponseKind::ApiVersions(r) if r.error_code == 0));
    broker.stop().await;
}

#[tokio::test]
async fn the_14_byte_metadata_frame_closes_only_its_connection() {
    let broker = TestBroker::start(&[]).await;
    let mut good = Client::connect(broker.addr).await;
    let mut bad = Client::connect(broker.addr).await;
    let frame: Vec<u8> = [
        &14i32.to_be_bytes()[..],
        &[0, 3, 0, 1, 0, 0, 0, 7, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff],
    ]
    .concat();
    bad.send_raw(&frame).await.unwrap();
    assert!(bad.is_closed_by_broker().await);
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_healthy(&mut good).await;
    broker.stop().await;
}
