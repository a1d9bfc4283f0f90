//! The Homebrew formula of the whole release list ([`Build::FixtureAll`]): Ruby parses it
//! (`ruby -c`), each `url` and `sha256` is a file of the dist with its digest, and a stand-in
//! for Homebrew's formula DSL (written here from Homebrew's documented Formula API, not from
//! our code) evaluates it as `brew install` does on this Linux x86_64 machine: the right
//! archive, unpacked, `install` into a prefix, then its `test do` block.

use super::*;

const BREW_STANDIN: &str = r##"
require "fileutils"
require "open3"
require "pathname"
$platform = { os: :linux, cpu: :intel }
$chosen = {}
class Formula
  class << self
    attr_reader :test_block
    %i[desc homepage version license].each do |name|
      define_method(name) { |value = nil| value.nil? ? $chosen[name] : ($chosen[name] = value) }
    end
    def url(value) = ($chosen[:url] = value)
    def sha256(value) = ($chosen[:sha256] = value)
    def on_macos = (yield if $platform[:os] == :macos)
    def on_linux = (yield if $platform[:os] == :linux)
    def on_arm = (yield if $platform[:cpu] == :arm)
    def on_intel = (yield if $platform[:cpu] == :intel)
    def test(&block) = (@test_block = block)
  end
  # Homebrew's `bin`, `man1`: Pathnames that can `install` files into themselves.
  class InstallDir < Pathname
    def install(*files)
      FileUtils.mkdir_p(self)
      files.flatten.each { |f| FileUtils.cp(f, self) }
    end
  end
  def initialize(prefix, testpath) = (@prefix, @testpath = Pathname(prefix), Pathname(testpath))
  def bin = InstallDir.new(@prefix / "bin")
  def man1 = InstallDir.new(@prefix / "share/man/man1")
  def testpath = @testpath
  def version = $chosen[:version]
  def shell_output(command, status = 0)
    out, st = Open3.capture2e(command)
    raise "#{command}: exit #{st.exitstatus}, wanted #{status}: #{out}" unless st.exitstatus == status
    out
  end
  def assert_match(pattern, text) = (raise "#{pattern} not in #{text}" unless text.include?(pattern.to_s))
  def run_test = instance_eval(&self.class.test_block)
end
formula, dist, prefix, testpath = ARGV
load formula
klass = Object.const_get(:Jimini)
name = $chosen[:url].split("/").last
archive = File.join(dist, name)
digest = `sha256sum #{archive}`.split.first
raise "sha256 of #{name}: #{digest}, formula: #{$chosen[:sha256]}" unless digest == $chosen[:sha256]
work = File.join(testpath, "unpack")
FileUtils.mkdir_p(work)
system("tar", "-xf", archive, "-C", work, exception: true)
top = Dir.children(work)
raise "one top directory: #{top}" unless top.length == 1
instance = klass.new(prefix, testpath)
Dir.chdir(File.join(work, top.first)) { instance.install }
instance.run_test
puts "installed #{name} and its test passed"
"##;

#[test]
fn the_formula_names_every_archive_and_installs_and_tests_as_brew_would() {
    let built = build(Build::FixtureAll);
    let dist = &built.dist;
    let manifest = read_manifest(dist);
    let formula = artifact_name(&manifest, "homebrew-formula");
    assert_eq!(formula, "jimini.rb");
    let path = dist.join(&formula);
    let syntax = checked(Command::new("ruby").arg("-c").arg(&path));
    assert!(syntax.contains("Syntax OK"), "{syntax}");

    let text = std::fs::read_to_string(&path).unwrap();
    let urls: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("url "))
        .map(|u| u.trim_matches('"'))
        .collect();
    let sums: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("sha256 "))
        .map(|s| s.trim_matches('"'))
        .collect();
    assert_eq!(urls.len(), 4, "macOS and Linux, arm and intel:\n{text}");
    let checksums = std::fs::read_to_string(dist.join("SHA256SUMS")).unwrap();
    for (url, sum) in urls.iter().zip(&sums) {
        let name = url.rsplit('/').next().unwrap();
        assert!(
            url.starts_with("https://github.com/jimini-dev/jimini/releases/download/v"),
            "{url}"
        );
        assert!(
            checksums.contains(&format!("{sum}  {name}\n")),
            "{name} {sum}"
        );
    }

    let scratch = temp_dir("brew");
    let script = scratch.join("brew.rb");
    std::fs::write(&script, BREW_STANDIN).unwrap();
    let prefix = scratch.join("Cellar/jimini");
    let said = checked(
        Command::new("ruby")
            .arg(&script)
            .arg(&path)
            .arg(dist)
            .arg(&prefix)
            .arg(scratch.join("test")),
    );
    assert!(
        said.contains("x86_64-unknown-linux-gnu.tar.xz and its test passed"),
        "{said}"
    );
    for file in ["bin/jimini", "bin/jimini-server", "share/man/man1/jimini.1"] {
        assert!(prefix.join(file).is_file(), "{file} not installed");
    }

    // A formula whose digest was changed: verify names it.
    let tampered = copy_dist(dist, "formula-tampered");
    let changed = text.replacen(sums[0], &"0".repeat(64), 1);
    std::fs::write(tampered.join(&formula), changed).unwrap();
    expect_failure(
        xtask(&built.workspace).arg("verify").arg(&tampered),
        &format!("{formula}: sha256 is"),
    );
}
