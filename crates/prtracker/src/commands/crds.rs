//! `prtracker crds`: the CRDs as generated from the Rust types.

use std::{io::Write, path::Path};

use anyhow::Context;

pub fn run(out_dir: Option<&Path>) -> anyhow::Result<()> {
    match out_dir {
        None => {
            let yaml = prtracker_api::crds_yaml().context("rendering the CRDs")?;
            std::io::stdout()
                .write_all(yaml.as_bytes())
                .context("writing to stdout")
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            for crd in prtracker_api::crds() {
                let path = dir.join(prtracker_api::crd_file_name(&crd));
                let yaml = prtracker_api::crd_yaml(&crd).context("rendering a CRD")?;
                std::fs::write(&path, yaml)
                    .with_context(|| format!("writing {}", path.display()))?;
                eprintln!("wrote {}", path.display());
            }
            Ok(())
        }
    }
}
