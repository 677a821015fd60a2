//! `osi`: the command line of `osi-stack` (contract: `spec/cli.md`).
//!
//! `osi dump` decodes pcap/pcapng captures and hex byte streams layer by layer (TPKT, COTP and
//! TSDU reassembly today; session and the upper layers plug into [`upper`]).

#![forbid(unsafe_code)]

mod capture;
mod dump;
mod json;
mod output;
mod stack;
mod tcp;
mod upper;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// OSI upper layers over TCP (RFC 1006): decode captures, test associations.
#[derive(Debug, Parser)]
#[command(name = "osi", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Dump(dump::DumpArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Dump(args) => dump::run(&args),
    }
}
