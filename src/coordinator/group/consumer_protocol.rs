//! Just enough of the consumer embedded protocol (`ConsumerProtocolSubscription`) to learn which
//! topics a `consumer` group subscribes to. Kafka needs the same thing for two decisions:
//! OffsetDelete refuses topics the group is subscribed to (GROUP_SUBSCRIBED_TO_TOPIC), and
//! offsets of a Stable group expire only for topics nobody subscribes to any more.
//!
//! Every version of the subscription starts with the v0 layout after its 2-byte version:
//! `topics: [string]`, `user_data: nullable bytes`; later versions only append fields. Like
//! Kafka, the v0 prefix is all that is read, so future versions parse too. Member metadata
//! otherwise passes through the broker untouched.

use std::collections::BTreeSet;

/// The topics named in one member's subscription, or `None` if the bytes are not a consumer
/// subscription.
pub fn subscribed_topics(metadata: &[u8]) -> Option<Vec<String>> {
    let mut pos = 0usize;
    let mut take = |n: usize| -> Option<&[u8]> {
        let out = metadata.get(pos..pos.checked_add(n)?)?;
        pos += n;
        Some(out)
    };
    let _version = i16::from_be_bytes(take(2)?.try_into().ok()?);
    let count = i32::from_be_bytes(take(4)?.try_into().ok()?);
    let count = usize::try_from(count).ok()?;
    // Each topic takes at least its 2-byte length: bound the loop by the bytes present.
    if count > metadata.len() / 2 {
        return None;
    }
    let mut topics = Vec::with_capacity(count);
    for _ in 0..count {
        let len = i16::from_be_bytes(take(2)?.try_into().ok()?);
        let len = usize::try_from(len).ok()?;
        let name = std::str::from_utf8(take(len)?).ok()?;
        topics.push(name.to_string());
    }
    Some(topics)
}

/// The union of every member's subscribed topics; `None` if any member's metadata does not
/// parse (Kafka then treats the group's subscriptions as unknown).
pub fn union_of<'a>(metadata: impl Iterator<Item = &'a [u8]>) -> Option<BTreeSet<String>> {
    let mut all = BTreeSet::new();
    for m in metadata {
        all.extend(subscribed_topics(m)?);
    }
    Some(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A v1 subscription as the Java consumer writes it: topics, user data, owned partitions.
    fn subscription(topics: &[&str]) -> Vec<u8> {
        let mut b = vec![0, 1];
        b.extend_from_slice(&(topics.len() as i32).to_be_bytes());
        for t in topics {
            b.extend_from_slice(&(t.len() as i16).to_be_bytes());
            b.extend_from_slice(t.as_bytes());
        }
        b.extend_from_slice(&(-1i32).to_be_bytes()); // null user data
        b.extend_from_slice(&0i32.to_be_bytes()); // no owned partitions
        b
    }

    #[test]
    fn reads_the_topics_of_any_version() {
        assert_eq!(
            subscribed_topics(&subscription(&["a", "bb"])),
            Some(vec!["a".to_string(), "bb".to_string()])
        );
        let union = union_of(
            [subscription(&["a"]), subscription(&["b", "a"])]
                .iter()
                .map(|v| v.as_slice()),
        )
        .unwrap();
        assert_eq!(union.into_iter().collect::<Vec<_>>(), vec!["a", "b"]);
    }

    #[test]
    fn garbage_is_not_a_subscription() {
        assert_eq!(subscribed_topics(b""), None);
        assert_eq!(subscribed_topics(&[0, 0, 0x7f, 0xff, 0xff, 0xff]), None);
        assert_eq!(subscribed_topics(&[0, 0, 0, 0, 0, 1, 0, 9, b'x']), None);
        assert!(union_of([b"junk".as_slice()].into_iter()).is_none());
    }
}
