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
    Listen(Box<listen::ListenArgs>),
    Replay(replay::ReplayArgs),
    Probe(Box<probe::ProbeArgs>),
}

/// Diagnostics of the adapter and the commands (`tracing`), on stderr, when `OSI_LOG` names a
/// level (`error`, `warn`, `info`, `debug`, `trace`). Off by default: stderr is written
/// synchronously, so a stderr nobody reads would stall the writer.
fn diagnostics() {
    let Ok(level) = std::env::var("OSI_LOG") else {
        return;
    };
    let Ok(level) = level.trim().parse::<tracing::Level>() else {
        eprintln!("osi: OSI_LOG={level:?} is not a level (error, warn, info, debug, trace)");
        return;
    };
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

/// The single-threaded tokio runtime a command runs on, or `None` once
/// `osi COMMAND: cannot start the runtime: …` is on standard error (the command then exits 1).
fn current_thread_runtime(command: &str) -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => Some(r),
        Err(e) => {
            eprintln!("osi {command}: cannot start the runtime: {e}");
            None
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    diagnostics();
    match cli.command {
        Command::Dump(args) => dump::run(&args),
        Command::Connect(args) => connect::run(&args),
        Command::Listen(args) => listen::run(&args),
        Command::Replay(args) => replay::run(&args),
        Command::Probe(args) => probe::run(&args),
    }
}
