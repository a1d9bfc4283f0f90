//! An outside check of a Mach-O binary's code signature, written from Apple's published layout
//! (`<mach-o/loader.h>` for the load commands, `cscdefs.h`/`CSCommon.h` of Security.framework
//! and TN3126 for the blobs), not from the code that makes the dist: it recomputes the hash of
//! every page the CodeDirectory covers, and of every special slot whose blob the signature
//! carries, and checks that the signature covers every byte before it.
//!
//! Layout: the 64-bit Mach-O header (little-endian) lists load commands; `LC_CODE_SIGNATURE`
//! (0x1d) is a `linkedit_data_command { cmd, cmdsize, dataoff, datasize }` pointing at an
//! embedded-signature SuperBlob (big-endian: magic 0xfade0cc0, length, count, then `count`
//! index entries `{type, offset}`). The CodeDirectory (slot 0, magic 0xfade0c02) holds
//! `version, flags, hashOffset, identOffset, nSpecialSlots, nCodeSlots, codeLimit, hashSize,
//! hashType, platform, pageSize (log2)`; code slot `i` is the hash of bytes
//! `[i << pageSize, min((i + 1) << pageSize, codeLimit))`, at `hashOffset + i * hashSize`;
//! special slot `-n` sits at `hashOffset - n * hashSize` and is the hash of the blob of type `n`
//! (2: requirements, 5: entitlements, 7: DER entitlements), or zeros when there is none.

use sha2::Digest;

const MH_MAGIC_64: u32 = 0xfeed_facf;
const LC_CODE_SIGNATURE: u32 = 0x1d;
const CSMAGIC_EMBEDDED_SIGNATURE: u32 = 0xfade_0cc0;
const CSMAGIC_CODEDIRECTORY: u32 = 0xfade_0c02;
const CSSLOT_CODEDIRECTORY: u32 = 0;
const CS_HASHTYPE_SHA256: u8 = 2;

fn le32(bytes: &[u8], at: usize) -> Result<u32, String> {
    bytes
        .get(at..at + 4)
        .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
        .ok_or_else(|| format!("truncated at {at}"))
}

fn be32(bytes: &[u8], at: usize) -> Result<u32, String> {
    bytes
        .get(at..at + 4)
        .map(|b| u32::from_be_bytes(b.try_into().unwrap()))
        .ok_or_else(|| format!("truncated at {at}"))
}

/// What a valid signature says, for the test's own assertions.
#[derive(Debug)]
pub struct Signature {
    pub identifier: String,
    pub code_limit: usize,
    pub pages: usize,
    pub page_size: usize,
    pub flags: u32,
}

/// Checks `binary`'s embedded code signature; `Err` names the first thing that does not hold.
pub fn check(binary: &[u8]) -> Result<Signature, String> {
    if le32(binary, 0)? != MH_MAGIC_64 {
        return Err("not a 64-bit little-endian Mach-O file".into());
    }
    let ncmds = le32(binary, 16)?;
    let mut at = 32;
    let mut signature = None;
    for _ in 0..ncmds {
        let (cmd, size) = (le32(binary, at)?, le32(binary, at + 4)? as usize);
        if cmd == LC_CODE_SIGNATURE {
            signature = Some((
                le32(binary, at + 8)? as usize,
                le32(binary, at + 12)? as usize,
            ));
        }
        if size < 8 {
            return Err(format!("a load command of size {size}"));
        }
        at += size;
    }
    let (offset, size) = signature.ok_or("no LC_CODE_SIGNATURE load command")?;
    let blob = binary
        .get(offset..offset + size)
        .ok_or("the signature lies outside the file")?;
    if be32(blob, 0)? != CSMAGIC_EMBEDDED_SIGNATURE {
        return Err("the signature is not an embedded-signature SuperBlob".into());
    }
    let count = be32(blob, 8)? as usize;
    let mut blobs = std::collections::BTreeMap::new();
    for i in 0..count {
        let (kind, start) = (be32(blob, 12 + 8 * i)?, be32(blob, 16 + 8 * i)? as usize);
        let length = be32(blob, start + 4)? as usize;
        let bytes = blob
            .get(start..start + length)
            .ok_or_else(|| format!("blob {kind} lies outside the signature"))?;
        blobs.insert(kind, bytes);
    }
    let cd = *blobs
        .get(&CSSLOT_CODEDIRECTORY)
        .ok_or("the SuperBlob holds no CodeDirectory")?;
    if be32(cd, 0)? != CSMAGIC_CODEDIRECTORY {
        return Err("slot 0 is not a CodeDirectory".into());
    }
    let flags = be32(cd, 12)?;
    let hash_offset = be32(cd, 16)? as usize;
    let ident_offset = be32(cd, 20)? as usize;
    let special_slots = be32(cd, 24)? as usize;
    let code_slots = be32(cd, 28)? as usize;
    let code_limit = be32(cd, 32)? as usize;
    let (hash_size, hash_type, page_shift) = (cd[36] as usize, cd[37], cd[39]);
    let hash = |data: &[u8]| -> Result<Vec<u8>, String> {
        match (hash_type, hash_size) {
            (CS_HASHTYPE_SHA256, 32) => Ok(sha2::Sha256::digest(data).to_vec()),
            // SHA-1 (type 1) only in signatures for macOS before 10.11, older than any floor.
            _ => Err(format!(
                "hash type {hash_type} of size {hash_size}, not SHA-256 (type {CS_HASHTYPE_SHA256})"
            )),
        }
    };
    if code_limit != offset {
        return Err(format!(
            "the signature covers {code_limit} bytes, but it starts at {offset}: bytes before it \
             are not covered"
        ));
    }
    let page_size = if page_shift == 0 {
        code_limit
    } else {
        1usize << page_shift
    };
    let pages = code_limit.div_ceil(page_size);
    if code_slots != pages {
        return Err(format!(
            "{code_slots} code slots for {pages} pages of {page_size} bytes"
        ));
    }
    for page in 0..pages {
        let data = &binary[page * page_size..((page + 1) * page_size).min(code_limit)];
        let slot = hash_offset + page * hash_size;
        let stored = cd
            .get(slot..slot + hash_size)
            .ok_or("the code slots run past the CodeDirectory")?;
        if hash(data)? != stored {
            return Err(format!(
                "page {page} (bytes {}..) does not match its hash",
                page * page_size
            ));
        }
    }
    for n in 1..=special_slots {
        let slot = hash_offset
            .checked_sub(n * hash_size)
            .ok_or("the special slots run before the CodeDirectory")?;
        let stored = &cd[slot..slot + hash_size];
        match blobs.get(&(n as u32)) {
            Some(special) if hash(special)? != stored => {
                return Err(format!("special slot -{n} does not match blob {n}"));
            }
            None if [2, 5, 7].contains(&n) && stored.iter().any(|b| *b != 0) => {
                return Err(format!(
                    "special slot -{n} names a blob the signature lacks"
                ));
            }
            _ => {}
        }
    }
    let identifier = cd
        .get(ident_offset..)
        .and_then(|rest| rest.split(|b| *b == 0).next())
        .map(|id| String::from_utf8_lossy(id).into_owned())
        .ok_or("no identifier")?;
    Ok(Signature {
        identifier,
        code_limit,
        pages,
        page_size,
        flags,
    })
}
