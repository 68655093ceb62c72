//! One module a command. `demo` and `dev` are in the development build only (the `dev` feature):
//! the binary that ships links neither the test control plane nor the GitHub simulator.

mod crds;
#[cfg(feature = "dev")]
mod demo;
#[cfg(feature = "dev")]
mod dev;
mod run;

use crate::cli::Command;

pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Run(args) => run::run(&args),
        Command::Crds { out_dir } => crds::run(out_dir.as_deref()),
        Command::Demo { keep } => demo(keep),
        Command::Dev(dev) => dev_tools(dev),
    }
}

#[cfg(feature = "dev")]
fn demo(keep: bool) -> anyhow::Result<()> {
    demo::demo(keep)
}

#[cfg(feature = "dev")]
fn dev_tools(command: crate::cli::DevCommand) -> anyhow::Result<()> {
    use crate::cli::DevCommand;
    match command {
        DevCommand::ControlPlane { clusters, no_crds } => dev::control_plane(clusters, !no_crds),
        DevCommand::Github {
            listen,
            repos,
            token,
            webhook_url,
            webhook_secret_file,
        } => dev::github(dev::GithubOptions {
            listen,
            repos,
            token,
            webhook_url,
            webhook_secret_file,
        }),
    }
}

/// What the shipped binary says where the development build would act.
#[cfg(not(feature = "dev"))]
const NOT_IN_THIS_BUILD: &str = "is in the development build only, which links the test control \
     plane and the GitHub simulator: in the repository, `cargo run -p prtracker --features dev --`";

#[cfg(not(feature = "dev"))]
fn demo(_keep: bool) -> anyhow::Result<()> {
    anyhow::bail!("`prtracker demo` {NOT_IN_THIS_BUILD} demo")
}

#[cfg(not(feature = "dev"))]
fn dev_tools(_command: crate::cli::DevCommand) -> anyhow::Result<()> {
    anyhow::bail!("`prtracker dev` {NOT_IN_THIS_BUILD} dev ...")
}
