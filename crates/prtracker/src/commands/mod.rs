//! One module a command.

mod crds;
mod demo;
mod dev;
mod run;

use crate::cli::{Command, DevCommand};

pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Run(args) => run::run(&args),
        Command::Demo { keep } => demo::demo(keep),
        Command::Crds { out_dir } => crds::run(out_dir.as_deref()),
        Command::Dev(DevCommand::ControlPlane { clusters, no_crds }) => {
            dev::control_plane(clusters, !no_crds)
        }
        Command::Dev(DevCommand::Github {
            listen,
            repos,
            token,
            webhook_url,
            webhook_secret_file,
        }) => dev::github(dev::GithubOptions {
            listen,
            repos,
            token,
            webhook_url,
            webhook_secret_file,
        }),
    }
}
