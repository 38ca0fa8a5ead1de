//! `vltava serve`: the command-line front end.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::{Parser, Subcommand};
use vltava::broker::Broker;
use vltava::config::{self, BrokerConfig};
use vltava::net::connection::FileTransfer;
use vltava::net::memory::RequestBudget;

#[derive(Parser)]
#[command(
    name = "vltava",
    version,
    about = "A Kafka-compatible broker in one small binary"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a broker.
    Serve(ServeArgs),
    /// Check stored data offline: every batch's CRC, the offset chain, every index entry.
    /// Takes a data directory (log.dirs) or partition directories; changes nothing.
    /// Exits with 1 when anything is damaged.
    Verify {
        /// A data directory or partition directories.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    /// A Kafka-style properties file (server.properties).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Keep everything in memory (memfd segments); nothing is written to disk.
    #[arg(long)]
    memory: bool,
    /// `listeners`, e.g. PLAINTEXT://127.0.0.1:9092.
    #[arg(long)]
    listeners: Option<String>,
    /// `advertised.listeners`.
    #[arg(long)]
    advertised_listeners: Option<String>,
    /// `log.dirs`: where partition logs live.
    #[arg(long)]
    log_dirs: Option<String>,
    /// `node.id`.
    #[arg(long)]
    node_id: Option<String>,
    /// Any setting by its Kafka name, repeatable: --override num.partitions=3.
    #[arg(long = "override", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Copy file bytes through user space instead of sendfile (what TLS listeners always do).
    #[arg(long)]
    no_sendfile: bool,
}

fn main() -> std::process::ExitCode {
    let started = Instant::now();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VLTAVA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = match Cli::parse().command {
        Command::Serve(args) => run(args, started),
        Command::Verify { dirs } => return verify(&dirs),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `vltava verify DIR...`: one line per partition, then a summary; status 1 on any damage.
fn verify(dirs: &[PathBuf]) -> std::process::ExitCode {
    use vltava::log::{dirs as log_dirs, verify};
    let mut partitions = Vec::new();
    for dir in dirs {
        let holds_segments = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with(".log"));
        if holds_segments {
            partitions.push(dir.clone());
            continue;
        }
        let Ok(entries) = std::fs::read_dir(dir) else {
            println!("{}: cannot read the directory", dir.display());
            return std::process::ExitCode::FAILURE;
        };
        let mut found: Vec<PathBuf> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                !name.ends_with("-delete")
                    && (name.ends_with("-stray")
                        || log_dirs::parse_partition_dir_name(&name).is_some())
            })
            .map(|e| e.path())
            .collect();
        found.sort();
        partitions.extend(found);
    }
    let (mut damaged, mut batches, mut records) = (0usize, 0u64, 0u64);
    for dir in &partitions {
        let name = dir.file_name().unwrap_or_default().to_string_lossy();
        match verify::verify_partition_dir(dir) {
            Ok(r) if r.problems.is_empty() => {
                batches += r.batches;
                records += r.records;
                println!(
                    "{name}: ok  {} segments, {} batches, {} records, {} bytes, offsets {}..{}",
                    r.segments,
                    r.batches,
                    r.records,
                    r.bytes,
                    r.first_offset.unwrap_or(r.next_offset),
                    r.next_offset
                );
            }
            Ok(r) => {
                damaged += 1;
                println!("{name}: DAMAGED");
                for p in &r.problems {
                    println!("  {p}");
                }
            }
            Err(e) => {
                damaged += 1;
                println!("{name}: DAMAGED (cannot read: {e})");
            }
        }
    }
    println!(
        "{} partitions checked, {} damaged; {batches} batches and {records} records verified",
        partitions.len(),
        damaged
    );
    if damaged > 0 {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}

fn settings(args: &ServeArgs) -> Result<BTreeMap<String, String>, String> {
    let mut map = BTreeMap::new();
    if let Some(path) = &args.config {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        map.extend(config::parse_properties(&text));
    }
    map.extend(config::from_env(std::env::vars()));
    let flags = [
        ("listeners", &args.listeners),
        ("advertised.listeners", &args.advertised_listeners),
        ("log.dirs", &args.log_dirs),
        ("node.id", &args.node_id),
    ];
    for (key, value) in flags {
        if let Some(v) = value {
            map.insert(key.to_string(), v.clone());
        }
    }
    for o in &args.overrides {
        let (k, v) = o
            .split_once('=')
            .ok_or_else(|| format!("--override expects KEY=VALUE, got {o:?}"))?;
        map.insert(k.trim().to_string(), v.trim().to_string());
    }
    for key in map.keys() {
        if !config::is_known(key) {
            tracing::warn!("ignoring unknown config {key}");
        }
    }
    Ok(map)
}

/// Every partition keeps a few files open; like Kafka's start scripts, ask for as many file
/// descriptors as the hard limit allows.
fn raise_open_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

fn run(args: ServeArgs, started: Instant) -> Result<(), String> {
    raise_open_file_limit();
    let mut config = BrokerConfig::from_map(settings(&args)?).map_err(|e| e.to_string())?;
    config.in_memory = args.memory;
    let transfer = if args.no_sendfile {
        FileTransfer::Copy
    } else {
        FileTransfer::Sendfile
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let listeners = vltava::net::server::bind(&mut config)
            .await
            .map_err(|e| e.to_string())?;
        let broker = Broker::open(config)?;
        let local = listeners
            .bound
            .iter()
            .filter_map(|b| {
                Some(format!(
                    "{}://{}",
                    b.name,
                    listeners.local_addr_of(&b.name)?
                ))
            })
            .collect::<Vec<_>>()
            .join(", ");
        tracing::info!(
            "broker ready on {local} (node {}, cluster {}, {}, {} topics, {:.1} ms)",
            broker.config.node_id,
            broker.cluster_id,
            if broker.config.in_memory {
                "in memory".to_string()
            } else {
                format!("data in {}", broker.config.log_dir.display())
            },
            broker.topics.all().len(),
            started.elapsed().as_secs_f64() * 1000.0
        );
        let budget = Arc::new(RequestBudget::new(broker.config.queued_max_request_bytes));
        vltava::net::server::serve(broker, listeners, transfer, budget, shutdown_signal()).await;
        Ok(())
    })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
}
