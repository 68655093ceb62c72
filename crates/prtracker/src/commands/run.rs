//! `prtracker run`: the operator.

use anyhow::Context;
use prtracker_operator::RunArgs;

pub fn run(args: &RunArgs) -> anyhow::Result<()> {
    // Every flag is checked, and every file read, before anything is contacted.
    let config = args.validate()?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(prtracker_operator::run(config))
}
