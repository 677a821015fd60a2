//! `osi`: the command line of `osi-stack` (contract: `docs/cli.md`).
//!
//! `osi dump` prints what [`osi_stack::dissect`] makes of pcap/pcapng captures and hex byte
//! streams (TPKT, COTP, TSDU reassembly, session and the upper layers); `osi connect` and `osi listen`
//! open and accept associations over the tokio adapter and report each event.

#![forbid(unsafe_code)]

mod args;
mod connect;
mod dump;
mod events;
mod json;
mod listen;
mod output;
mod probe;
mod replay;
mod rts_cmd;
mod stack;
mod transport_cmd;
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
    Connect(Box<connect::ConnectArgs>),
    Listen(listen::ListenArgs),
    Replay(replay::ReplayArgs),
    Probe(Box<probe::ProbeArgs>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Dump(args) => dump::run(&args),
        Command::Connect(args) => connect::run(&args),
        Command::Listen(args) => listen::run(&args),
        Command::Replay(args) => replay::run(&args),
        Command::Probe(args) => probe::run(&args),
    }
}
