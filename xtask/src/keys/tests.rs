use std::io::Cursor;

use super::*;
use crate::signing::Signer;

fn signer() -> Signer {
    let pair = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
    Signer::from_minisign(&pair.sk, pair.pk).unwrap()
}

fn b64(signer: &Signer) -> String {
    signer.public_key().to_base64()
}

fn add(history: &mut Vec<Recorded>, event: Event, by: Option<&Signer>) {
    let entry = Entry::next(history, event, "2026-12-03", "test");
    let text = entry.render();
    let signature = by.map(|s| s.sign(&mut text.as_bytes(), "entry").unwrap());
    history.push(Recorded {
        file: entry.file_name(),
        text,
        signature,
    });
}

/// A history: genesis A, rotate A -> B (signed by A).
fn rotated() -> (Vec<Recorded>, Signer, Signer) {
    let (a, b) = (signer(), signer());
    let mut history = vec![];
    add(&mut history, Event::Genesis { key: b64(&a) }, None);
    let rotate = Event::Rotate {
        from: b64(&a),
        to: b64(&b),
    };
    add(&mut history, rotate, Some(&a));
    (history, a, b)
}

fn release_signature(by: &Signer, data: &[u8]) -> String {
    by.sign(&mut Cursor::new(data), "timestamp:0\tfile:SHA256SUMS")
        .unwrap()
}

#[test]
fn signing_is_deterministic_and_minisign_verifies_it() {
    let a = signer();
    let one = release_signature(&a, b"release");
    assert_eq!(one, release_signature(&a, b"release"));
    let boxed = minisign::SignatureBox::from_string(&one).unwrap();
    assert!(boxed.is_prehashed());
    minisign::verify(
        a.public_key(),
        &boxed,
        Cursor::new(b"release"),
        true,
        false,
        false,
    )
    .unwrap();
    assert!(
        minisign::verify(
            a.public_key(),
            &boxed,
            Cursor::new(b"other"),
            true,
            false,
            false
        )
        .is_err()
    );
    assert_eq!(
        boxed.trusted_comment().unwrap(),
        "timestamp:0\tfile:SHA256SUMS"
    );
}

#[test]
fn after_a_rotation_both_keys_verify_and_the_last_is_current() {
    let (history, a, b) = rotated();
    let keyring = replay(&history, "keys/history").unwrap();
    assert_eq!(keyring.current().id, key_id(b.public_key()));
    for (by, data) in [(&a, &b"one"[..]), (&b, &b"two"[..])] {
        let verified = keyring
            .verify(&release_signature(by, data), &mut Cursor::new(data))
            .unwrap();
        assert_eq!(verified.key_id, key_id(by.public_key()));
    }
    let err = keyring
        .verify(&release_signature(&b, b"two"), &mut Cursor::new(b"altered"))
        .unwrap_err();
    assert!(err.contains("does not verify"), "{err}");
}

#[test]
fn a_revoked_key_is_refused_naming_the_revocation_and_an_unknown_key_naming_itself() {
    let (mut history, a, b) = rotated();
    add(&mut history, Event::Revoke { key: b64(&a) }, Some(&b));
    let keyring = replay(&history, "keys/history").unwrap();
    let err = keyring
        .verify(&release_signature(&a, b"one"), &mut Cursor::new(b"one"))
        .unwrap_err();
    let id = key_id(a.public_key());
    assert!(
        err.contains(&format!("signed by key {id}, which is revoked"))
            && err.contains("0003-revoke.txt"),
        "{err}"
    );
    let stranger = signer();
    let err = keyring
        .verify(&release_signature(&stranger, b"x"), &mut Cursor::new(b"x"))
        .unwrap_err();
    assert!(
        err.contains(&key_id(stranger.public_key())) && err.contains("does not contain"),
        "{err}"
    );
}

#[test]
fn a_broken_or_foreign_link_is_refused() {
    // A transition whose signature is broken.
    let (mut history, _, _) = rotated();
    history[1].text = history[1].text.replace("reason: test", "reason: tset");
    let err = format!("{:#}", replay(&history, "h").unwrap_err());
    assert!(
        err.contains("0002-rotate.txt") && err.contains("signature"),
        "{err}"
    );

    // A rotation signed by a key the history does not hold (someone else's new key).
    let (a, b, mallory) = (signer(), signer(), signer());
    let mut history = vec![];
    add(&mut history, Event::Genesis { key: b64(&a) }, None);
    let rotate = Event::Rotate {
        from: b64(&a),
        to: b64(&b),
    };
    add(&mut history, rotate, Some(&mallory));
    let err = format!("{:#}", replay(&history, "h").unwrap_err());
    assert!(err.contains(&key_id(mallory.public_key())), "{err}");

    // Entries dropped from the middle: `previous` no longer matches.
    let (mut history, _, b) = rotated();
    let c = signer();
    let rotate = Event::Rotate {
        from: b64(&b),
        to: b64(&c),
    };
    add(&mut history, rotate, Some(&b));
    history.remove(1);
    assert!(replay(&history, "h").is_err());

    // The current key cannot be revoked (rotate first); a missing signature is named.
    let (mut history, _, b) = rotated();
    add(&mut history, Event::Revoke { key: b64(&b) }, Some(&b));
    let err = format!("{:#}", replay(&history, "h").unwrap_err());
    assert!(err.contains("rotate to a new key before revoking"), "{err}");
    let (mut history, _, _) = rotated();
    history[1].signature = None;
    let err = format!("{:#}", replay(&history, "h").unwrap_err());
    assert!(err.contains("0002-rotate.txt.minisig is missing"), "{err}");
}

#[test]
fn entries_read_back_exactly_and_refuse_other_spellings() {
    let (history, _, _) = rotated();
    let entry = Entry::parse(&history[1].text).unwrap();
    assert_eq!(entry.render(), history[1].text);
    assert_eq!(entry.file_name(), "0002-rotate.txt");
    let respaced = history[1].text.replace("event: rotate", "event:  rotate");
    assert!(Entry::parse(&respaced).is_err());
    let extra = format!("{}note: x\n", history[1].text);
    assert!(Entry::parse(&extra).is_err());
}
