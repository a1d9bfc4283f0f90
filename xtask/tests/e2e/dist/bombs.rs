//! Hostile dists whose manifest and `SHA256SUMS` match them (an unsigned dist can be made so by
//! anyone, and `verify URL` reads what a network serves): each package bomb is refused naming
//! its member, with peak memory measured by GNU time and bounded; a bomb whose digest
//! disagrees is reported and not opened.

use super::*;
use crate::common::*;

/// The most memory `verify` may take on any input (the issue's bound; it peaks far below).
const MAX_PEAK_KIB: u64 = 256 * 1024;

/// Writes hostile packages from their published formats (tar, xz, gzip, zip, ar), not from
/// the tooling's writers. 136 MiB of zeros: just past what a release file may hold, a few
/// hundred KB packed.
const BOMB: &str = r#"
import io, lzma, struct, sys, tarfile, zipfile
path, kind, name = sys.argv[1:4]
size = 136 << 20
class Zeros(io.RawIOBase):
    def readable(self): return True
    def readinto(self, b):
        b[:] = bytes(len(b)); return len(b)
def tar_xz(member):
    out = io.BytesIO()
    info = tarfile.TarInfo(member)
    info.size, info.mode = size, 0o755
    with tarfile.open(fileobj=out, mode="w:xz", preset=0) as tar:
        tar.addfile(info, io.BufferedReader(Zeros()))
    return out.getvalue()
if kind == "whl":
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        with z.open(name, "w", force_zip64=True) as out:
            chunk = bytes(1 << 20)
            for _ in range(size >> 20): out.write(chunk)
elif kind == "zip-declared":
    # Ten real bytes whose local and central headers declare 4 GiB (APPNOTE 4.3.7, 4.3.12).
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(name, b"0123456789")
    data = bytearray(open(path, "rb").read())
    huge = struct.pack("<I", 0xF0000000)
    data[22:26] = huge
    central = data.rfind(b"PK\x01\x02")
    data[central + 24:central + 28] = huge
    open(path, "wb").write(bytes(data))
elif kind == "deb":
    # The package's own debian-binary and control.tar.xz, and a data.tar.xz bomb (ar: the
    # common format, 60-byte headers, members padded to even sizes).
    raw = open(path, "rb").read()
    members, at = [], 8
    while at < len(raw):
        header = raw[at:at + 60]
        member_size = int(header[48:58])
        members.append((header[:16].decode().strip().rstrip("/"), raw[at + 60:at + 60 + member_size]))
        at += 60 + member_size + (member_size % 2)
    members = [(n, d if n != "data.tar.xz" else tar_xz(name)) for n, d in members]
    with open(path, "wb") as out:
        out.write(b"!<arch>\n")
        for member, data in members:
            out.write(f"{member:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode())
            out.write(data + (b"\n" if len(data) % 2 else b""))
else:
    info = tarfile.TarInfo(name)
    info.size, info.mode = size, 0o755
    options = {"preset": 0} if kind == "xz" else {"compresslevel": 1}
    with tarfile.open(path, "w:" + kind, **options) as tar:
        tar.addfile(info, io.BufferedReader(Zeros()))
"#;

fn make_bomb(dir: &Path, file: &str, kind: &str, member: &str) {
    checked(
        Command::new("python3")
            .args(["-c", BOMB])
            .arg(dir.join(file))
            .args([kind, member]),
    );
}

/// `verify TARGET` under GNU time: it must refuse (exit 1, not a crash); its stderr and peak
/// resident set in KiB.
pub fn verify_measured(workspace: &Path, target: &str, env: &[(&str, &Path)]) -> (String, u64) {
    let mut cmd = Command::new(XTASK);
    cmd.args(["verify", target])
        .current_dir(workspace)
        .env("NO_COLOR", "1");
    for (name, value) in env {
        cmd.env(name, value);
    }
    let (output, peak) = run_measured(&mut cmd);
    assert_eq!(
        output.status.code(),
        Some(1),
        "verify must refuse, not crash:\n{}",
        stderr(&output)
    );
    (stderr(&output), peak)
}

/// On the app-shaped fixture's host and musl dist (what is checked is `verify`, not the app's
/// binaries; its small packages keep each of the eleven runs quick).
#[test]
fn decompression_bombs_are_refused_with_memory_bounded() {
    let fixture = crate::common::builds::dist(crate::common::builds::Build::FixtureHostMusl);
    let (copy, dist) = (&fixture.workspace, &fixture.dist);
    let manifest = read_manifest(dist);
    let archive = archive_name(&manifest);
    let fallback = archive.replace(".tar.xz", ".tar.gz");
    let wheel = artifact_name(&manifest, "wheel");
    let deb = artifact_name(&manifest, "deb");
    let top = archive.trim_end_matches(".tar.xz").to_owned();
    let pep440_top = wheel.split('-').take(2).collect::<Vec<_>>().join("-");
    let script = format!("{pep440_top}.data/scripts/jimini");
    let cases = [
        (
            archive.as_str(),
            "xz",
            format!("{top}/jimini"),
            "declares more than 128 MiB",
        ),
        (
            fallback.as_str(),
            "gz",
            format!("{top}/jimini"),
            "declares more than 128 MiB",
        ),
        (
            wheel.as_str(),
            "whl",
            script.clone(),
            "declares more than 128 MiB",
        ),
        (
            wheel.as_str(),
            "zip-declared",
            script,
            "declares more than 128 MiB",
        ),
        (
            deb.as_str(),
            "deb",
            "./usr/bin/jimini".to_owned(),
            "declares more than 128 MiB",
        ),
    ];
    for (file, kind, member, refusal) in cases {
        let hostile = copy_dist(dist, &format!("bomb-{kind}"));
        make_bomb(&hostile, file, kind, &member);
        let bomb = std::fs::read(hostile.join(file)).unwrap();
        rechecksum(&hostile, file);
        let (said, peak) = verify_measured(copy, hostile.to_str().unwrap(), &[]);
        eprintln!("{kind} bomb in {file}: refused, peak RSS {peak} KiB");
        assert!(
            said.contains(&format!(
                "{file}: {member} {refusal}, more than a release may hold"
            )),
            "{kind}: {file}:\n{said}"
        );
        assert!(peak < MAX_PEAK_KIB, "{kind}: peak RSS {peak} KiB");
        if kind == "xz" {
            // The same bomb with the manifest left as it was: reported by its digest, not
            // opened (one format shows it: which files are opened does not depend on it).
            let unopened = copy_dist(dist, "bomb-xz-unopened");
            std::fs::write(unopened.join(file), &bomb).unwrap();
            let (said, _) = verify_measured(copy, unopened.to_str().unwrap(), &[]);
            assert!(said.contains(&format!("{file}: size ")), "{said}");
            assert!(said.contains("(not opened)"), "{said}");
            assert!(!said.contains("declares more than"), "{said}");
            // Served over HTTPS, as `verify URL` reads it: the same refusal, memory as flat.
            let tls = https::loopback_certificate("bomb-tls");
            let server = https::HttpsServer::start(&hostile, &tls, None);
            let url = format!("https://127.0.0.1:{}/", server.port);
            let ca = tls.join("cert.pem");
            let (said, peak) = verify_measured(copy, &url, &[("CURL_CA_BUNDLE", &ca)]);
            eprintln!("xz bomb served over HTTPS: refused, peak RSS {peak} KiB");
            assert!(
                said.contains(&format!("{file}: {member} {refusal}")),
                "{said}"
            );
            assert!(peak < MAX_PEAK_KIB, "URL: peak RSS {peak} KiB");
        }
    }
}
