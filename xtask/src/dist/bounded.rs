//! Reading packages that may come from anyone: `verify` reads what a directory (or, later, a
//! network) holds, so nothing it unpacks may grow without bound. A member is taken whole only
//! up to [`MAX_MEMBER_BYTES`]; a package unpacks to at most [`MAX_UNPACKED_BYTES`] in all; both
//! are checked against what the member says before a byte of it is read, and against what it
//! really holds while reading.
//!
//! **Architecture Invariant:** every reader of a package's members goes through here, so a
//! decompression bomb (a few hundred KB of xz that unpack to gigabytes) is refused with memory
//! flat, naming the member.

use std::io::Read;

use anyhow::bail;

/// The most one file inside a package may hold: far above any binary a release ships (the
/// app's are a few MB), far below what would exhaust a machine's memory when read whole.
pub const MAX_MEMBER_BYTES: u64 = 128 << 20;

/// The most a package may unpack to in all.
pub const MAX_UNPACKED_BYTES: u64 = 1 << 30;

fn too_large(package: &str, member: &str, limit: u64, what: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{package}: {member} {what} more than {} MiB, more than a release may hold: refusing to \
         unpack it (a decompression bomb?)",
        limit >> 20
    )
}

/// What a package has unpacked so far, against [`MAX_UNPACKED_BYTES`].
pub struct Budget<'a> {
    package: &'a str,
    left: u64,
}

impl<'a> Budget<'a> {
    pub fn new(package: &'a str) -> Budget<'a> {
        Budget {
            package,
            left: MAX_UNPACKED_BYTES,
        }
    }

    /// Takes `size` bytes of `member` (its declared size, before reading it) from the budget;
    /// refuses a member above [`MAX_MEMBER_BYTES`] or a package above the total.
    pub fn admit(&mut self, member: &str, size: u64) -> anyhow::Result<()> {
        if size > MAX_MEMBER_BYTES {
            return Err(too_large(
                self.package,
                member,
                MAX_MEMBER_BYTES,
                "declares",
            ));
        }
        match self.left.checked_sub(size) {
            Some(left) => self.left = left,
            None => {
                return Err(too_large(
                    self.package,
                    "its members",
                    MAX_UNPACKED_BYTES,
                    "add up to",
                ));
            }
        }
        Ok(())
    }
}

/// `member` read whole, refused past [`MAX_MEMBER_BYTES`] whatever it declared.
pub fn read_member(package: &str, member: &str, reader: impl Read) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader.take(MAX_MEMBER_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_MEMBER_BYTES {
        bail!(too_large(package, member, MAX_MEMBER_BYTES, "holds"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_and_packages_past_the_limits_are_refused_naming_them() {
        let mut budget = Budget::new("a.tar.xz");
        budget.admit("top/jimini", 3 << 20).unwrap();
        let err = budget
            .admit("top/bomb", MAX_MEMBER_BYTES + 1)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("a.tar.xz: top/bomb declares more than 128 MiB, more than a release"),
            "{err}"
        );
        for i in 0..7 {
            budget.admit(&format!("top/{i}"), MAX_MEMBER_BYTES).unwrap();
        }
        let err = budget
            .admit("top/8", MAX_MEMBER_BYTES)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("its members add up to more than 1024 MiB"),
            "{err}"
        );
    }

    #[test]
    fn a_member_that_holds_more_than_it_declared_is_cut_off() {
        let endless = std::io::repeat(0);
        let err = read_member("a.zip", "top/jimini", endless)
            .unwrap_err()
            .to_string();
        assert!(err.contains("top/jimini holds more than 128 MiB"), "{err}");
        assert_eq!(read_member("a.zip", "x", &b"abc"[..]).unwrap(), b"abc");
    }
}
