//! One module a command.

mod crds;
mod dev;

use crate::cli::{Command, DevCommand};

pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Crds { out_dir } => crds::run(out_dir.as_deref()),
        Command::Dev(DevCommand::ControlPlane { clusters, no_crds }) => {
            dev::control_plane(clusters, !no_crds)
        }
    }
}
