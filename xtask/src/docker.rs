//! `cargo xtask docker`: see issue 8.

use crate::flags;

impl flags::Docker {
    pub fn run(self, _sh: &xshell::Shell) -> anyhow::Result<()> {
        anyhow::bail!("docker is not built yet")
    }
}
