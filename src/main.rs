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
    about = "A Kafka-compatible broker in one small binary",
    after_help = "Settings use Kafka's names. Besides --config and --override KEY=VALUE, any \
setting can come from the environment as VLTAVA_ + the key in upper case with _ for . \
(VLTAVA_LOG_DIRS=/data sets log.dirs); a VLTAVA_ variable that names no setting is reported. \
VLTAVA_LOG sets the log filter (error, warn, info, debug, trace; default info)."
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
    /// Create, list, describe or delete topics.
    #[command(subcommand)]
    Topic(TopicCommand),
    /// Produce one record per line of standard input (acks=all).
    Produce {
        #[command(flatten)]
        broker: BrokerArgs,
        topic: String,
        /// Split each line into key and value at the first occurrence of this text.
        #[arg(short = 'k', long)]
        key_separator: Option<String>,
        /// Send every record to this partition (default: Kafka's partition for the key;
        /// keyless records round-robin per request).
        #[arg(short, long)]
        partition: Option<i32>,
    },
    /// Print records: by default from the beginning of every partition up to its end when
    /// the command started.
    Consume {
        #[command(flatten)]
        broker: BrokerArgs,
        topic: String,
        /// Only these partitions (repeatable).
        #[arg(short, long)]
        partition: Vec<i32>,
        /// Where to start: `beginning`, `end` or an offset.
        #[arg(short, long, default_value = "beginning")]
        offset: String,
        /// Stop after this many records.
        #[arg(short = 'n', long)]
        num: Option<u64>,
        /// Keep waiting for new records instead of stopping at the end.
        #[arg(short, long)]
        follow: bool,
        /// `%k` key, `%v` value, `%p` partition, `%o` offset, `%t` timestamp, `%T` topic,
        /// `\n`, `\t`.
        #[arg(long, default_value = "%v\\n")]
        format: String,
    },
    /// List or describe consumer groups.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Wait until a broker answers (one ApiVersions round trip), for scripts that start one in
    /// the background. Exits 0 once it answers, 1 if --timeout-ms passes first.
    Ready {
        /// The broker to ask.
        #[arg(long, default_value = "127.0.0.1:9092")]
        bootstrap_server: String,
        /// How long to keep trying.
        #[arg(long, default_value_t = 30_000)]
        timeout_ms: u64,
    },
}

/// Where the client commands connect.
#[derive(clap::Args)]
struct BrokerArgs {
    /// The broker to talk to.
    #[arg(short = 'b', long, default_value = "127.0.0.1:9092")]
    bootstrap_server: String,
    /// How long one request may take.
    #[arg(long, default_value_t = 30_000)]
    timeout_ms: u64,
}

#[derive(Subcommand)]
enum TopicCommand {
    /// Create a topic.
    Create {
        #[command(flatten)]
        broker: BrokerArgs,
        topic: String,
        #[arg(short, long, default_value_t = 1)]
        partitions: i32,
        #[arg(short, long, default_value_t = 1)]
        replication_factor: i16,
        /// A topic config, repeatable: -c cleanup.policy=compact.
        #[arg(short, long = "config", value_name = "KEY=VALUE")]
        configs: Vec<String>,
    },
    /// List topics with their partition counts.
    List {
        #[command(flatten)]
        broker: BrokerArgs,
    },
    /// Partitions (leader, offsets, record counts) and the configs set on the topic.
    Describe {
        #[command(flatten)]
        broker: BrokerArgs,
        topic: String,
    },
    /// Delete topics.
    Delete {
        #[command(flatten)]
        broker: BrokerArgs,
        #[arg(required = true)]
        topics: Vec<String>,
    },
}

#[derive(Subcommand)]
enum GroupCommand {
    /// List consumer groups with their states.
    List {
        #[command(flatten)]
        broker: BrokerArgs,
    },
    /// Members, committed offsets and lag per partition.
    Describe {
        #[command(flatten)]
        broker: BrokerArgs,
        group: String,
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
    /// `vltava.http.listener`: host:port for /health, /ready and the other HTTP routes.
    #[arg(long)]
    http_listener: Option<String>,
    /// A fault-injection rule, repeatable (needs vltava.fault.injection.enable=true), e.g.
    /// --fault 'api=Produce,error=NOT_LEADER_OR_FOLLOWER,count=3'; see the README.
    #[arg(long = "fault", value_name = "RULE")]
    faults: Vec<String>,
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
        Command::Ready {
            bootstrap_server,
            timeout_ms,
        } => wait_ready(
            &bootstrap_server,
            std::time::Duration::from_millis(timeout_ms),
        ),
        command => client_command(command),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Runs one of the client commands (`topic`, `produce`, `consume`, `group`) on a small
/// single-threaded runtime.
fn client_command(command: Command) -> Result<(), String> {
    use vltava::client::{Client, ClientError, commands};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    async fn connect(b: &BrokerArgs) -> Result<Client, ClientError> {
        let timeout = std::time::Duration::from_millis(b.timeout_ms);
        Client::connect(&b.bootstrap_server, timeout).await
    }
    let mut out = std::io::stdout().lock();
    runtime
        .block_on(async {
            match command {
                Command::Topic(TopicCommand::Create {
                    broker,
                    topic,
                    partitions,
                    replication_factor,
                    configs,
                }) => {
                    let configs = configs
                        .iter()
                        .map(|c| {
                            c.split_once('=')
                                .map(|(k, v)| (k.to_string(), v.to_string()))
                                .ok_or_else(|| {
                                    ClientError::Usage(format!(
                                        "--config expects KEY=VALUE, got {c:?}"
                                    ))
                                })
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    let mut client = connect(&broker).await?;
                    commands::topic_create(
                        &mut client,
                        &topic,
                        partitions,
                        replication_factor,
                        &configs,
                        &mut out,
                    )
                    .await?;
                }
                Command::Topic(TopicCommand::List { broker }) => {
                    commands::topic_list(&mut connect(&broker).await?, &mut out).await?;
                }
                Command::Topic(TopicCommand::Describe { broker, topic }) => {
                    commands::topic_describe(&mut connect(&broker).await?, &topic, &mut out)
                        .await?;
                }
                Command::Topic(TopicCommand::Delete { broker, topics }) => {
                    commands::topic_delete(&mut connect(&broker).await?, &topics, &mut out).await?;
                }
                Command::Produce {
                    broker,
                    topic,
                    key_separator,
                    partition,
                } => {
                    let started = Instant::now();
                    let mut client = connect(&broker).await?;
                    let mut input = std::io::stdin().lock();
                    let mut progress = std::io::stderr();
                    let n = commands::produce(
                        &mut client,
                        &topic,
                        key_separator.as_deref(),
                        partition,
                        &mut input,
                        &mut progress,
                    )
                    .await?;
                    eprintln!(
                        "produced {n} records to {topic} in {:.1} ms",
                        started.elapsed().as_secs_f64() * 1000.0
                    );
                }
                Command::Consume {
                    broker,
                    topic,
                    partition,
                    offset,
                    num,
                    follow,
                    format,
                } => {
                    let start = match offset.as_str() {
                        "beginning" => commands::Start::Beginning,
                        "end" => commands::Start::End,
                        o => commands::Start::Offset(o.parse().map_err(|_| {
                            ClientError::Usage(format!(
                                "--offset takes beginning, end or a number, not {o:?}"
                            ))
                        })?),
                    };
                    let partitions = (!partition.is_empty()).then_some(partition.as_slice());
                    let mut client = connect(&broker).await?;
                    commands::consume(
                        &mut client,
                        &topic,
                        partitions,
                        start,
                        num,
                        follow,
                        &format,
                        &mut out,
                    )
                    .await?;
                }
                Command::Group(GroupCommand::List { broker }) => {
                    commands::group_list(&mut connect(&broker).await?, &mut out).await?;
                }
                Command::Group(GroupCommand::Describe { broker, group }) => {
                    commands::group_describe(&mut connect(&broker).await?, &group, &mut out)
                        .await?;
                }
                Command::Serve(_) | Command::Verify { .. } | Command::Ready { .. } => {}
            }
            Ok::<(), ClientError>(())
        })
        .map_err(|e| e.to_string())
}

/// `vltava ready`: retries an ApiVersions (v0) round trip until it succeeds or time runs out.
fn wait_ready(address: &str, timeout: std::time::Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match api_versions_round_trip(address, left.max(std::time::Duration::from_millis(1))) {
            Ok(()) => {
                println!("{address} is ready");
                return Ok(());
            }
            Err(e) if Instant::now() >= deadline => {
                return Err(format!(
                    "{address} did not answer within {} ms: {e}",
                    timeout.as_millis()
                ));
            }
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    }
}

/// One ApiVersions v0 request (header v1, client id `vltava-ready`); Ok when the broker answers
/// it with our correlation id and no error.
fn api_versions_round_trip(address: &str, timeout: std::time::Duration) -> std::io::Result<()> {
    use std::io::{Read, Write};
    use std::net::{TcpStream, ToSocketAddrs};
    let addr = address
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other("the address resolves to nothing"))?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    const CORRELATION_ID: i32 = 0x76_6c_74_76;
    let client_id = b"vltava-ready";
    let mut request = Vec::with_capacity(32);
    request.extend_from_slice(&18i16.to_be_bytes()); // ApiVersions
    request.extend_from_slice(&0i16.to_be_bytes()); // version 0
    request.extend_from_slice(&CORRELATION_ID.to_be_bytes());
    request.extend_from_slice(&(client_id.len() as i16).to_be_bytes());
    request.extend_from_slice(client_id);
    let mut frame = (request.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&request);
    stream.write_all(&frame)?;
    let mut head = [0u8; 10]; // size, correlation id, error code
    stream.read_exact(&mut head)?;
    let correlation = i32::from_be_bytes([head[4], head[5], head[6], head[7]]);
    let error = i16::from_be_bytes([head[8], head[9]]);
    if correlation != CORRELATION_ID || error != 0 {
        return Err(std::io::Error::other(format!(
            "unexpected answer (correlation id {correlation}, error {error})"
        )));
    }
    Ok(())
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

/// The settings from every source, later ones winning, with where each value came from
/// (for error messages).
struct Settings {
    values: BTreeMap<String, String>,
    /// key → "the properties file x", "environment variable VLTAVA_X", "--flag".
    sources: BTreeMap<String, String>,
}

fn settings(args: &ServeArgs) -> Result<Settings, String> {
    let mut s = Settings {
        values: BTreeMap::new(),
        sources: BTreeMap::new(),
    };
    let mut set = |key: String, value: String, source: String| {
        s.sources.insert(key.clone(), source);
        s.values.insert(key, value);
    };
    if let Some(path) = &args.config {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        for (k, v) in config::parse_properties(&text) {
            set(k, v, format!("the properties file {}", path.display()));
        }
    }
    let env = config::from_env(std::env::vars());
    for var in &env.unknown {
        let hint = var
            .strip_prefix("VLTAVA_")
            .map(config::env_key)
            .and_then(|key| config::closest_key(&key))
            .map(|k| format!(" (did you mean {}?)", config::env_var_for(k)))
            .unwrap_or_default();
        tracing::warn!(
            "ignoring environment variable {var}: it names no setting{hint}; settings are \
             VLTAVA_ + the Kafka key in upper case with _ for . (VLTAVA_LOG sets the log level)"
        );
    }
    for (key, (value, var)) in env.settings {
        set(key, value, format!("environment variable {var}"));
    }
    let flags = [
        ("listeners", "--listeners", &args.listeners),
        (
            "advertised.listeners",
            "--advertised-listeners",
            &args.advertised_listeners,
        ),
        ("log.dirs", "--log-dirs", &args.log_dirs),
        ("node.id", "--node-id", &args.node_id),
        (
            "vltava.http.listener",
            "--http-listener",
            &args.http_listener,
        ),
    ];
    for (key, flag, value) in flags {
        if let Some(v) = value {
            set(key.to_string(), v.clone(), flag.to_string());
        }
    }
    for o in &args.overrides {
        let (k, v) = o
            .split_once('=')
            .ok_or_else(|| format!("--override expects KEY=VALUE, got {o:?}"))?;
        set(
            k.trim().to_string(),
            v.trim().to_string(),
            format!("--override {o}"),
        );
    }
    for (key, source) in &s.sources {
        if !config::is_known(key) {
            let hint = config::closest_key(key)
                .map(|k| format!(" (did you mean {k}?)"))
                .unwrap_or_default();
            tracing::warn!("ignoring unknown config {key} from {source}{hint}");
        }
    }
    Ok(s)
}

/// A configuration error that says where the bad value came from and what was expected.
fn explain(error: config::ConfigError, sources: &BTreeMap<String, String>) -> String {
    let config::ConfigError::Invalid(key, _) = &error else {
        return error.to_string();
    };
    let source = sources
        .get(key)
        .map(|s| format!(", from {s}"))
        .unwrap_or_default();
    let expected = config::catalogue::find(key)
        .map(|def| match def.ty {
            config::catalogue::ConfigType::Boolean => "; expected true or false".to_string(),
            config::catalogue::ConfigType::String
            | config::catalogue::ConfigType::List
            | config::catalogue::ConfigType::Class
            | config::catalogue::ConfigType::Password => {
                "; see the README's settings table for the values it takes".to_string()
            }
            number => format!("; expected a number of Kafka's type {}", number.name()),
        })
        .unwrap_or_default();
    format!("{error}{source}{expected}")
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
    let settings = settings(&args)?;
    let mut config =
        BrokerConfig::from_map(settings.values).map_err(|e| explain(e, &settings.sources))?;
    config.in_memory = args.memory;
    let fault_rules = args
        .faults
        .iter()
        .map(|f| vltava::fault::Rule::parse_flag(f).map_err(|e| format!("--fault {f:?}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    if !fault_rules.is_empty() && !config.fault_injection_enable {
        return Err("--fault needs vltava.fault.injection.enable=true \
                    (--override vltava.fault.injection.enable=true)"
            .into());
    }
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
        // The HTTP listener comes up before the logs are recovered: /health answers at once,
        // /ready once the broker serves.
        let http = Arc::new(vltava::http::HttpState::default());
        if let Some(address) = config.http_listener {
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .map_err(|e| format!("vltava.http.listener {address}: {e}"))?;
            if let Ok(local) = listener.local_addr() {
                tracing::info!("HTTP listener on http://{local}");
            }
            tokio::spawn(vltava::http::serve(listener, http.clone()));
        }
        let broker = Broker::open(config)?;
        for rule in fault_rules {
            tracing::info!("fault rule from --fault: {rule:?}");
            broker
                .faults
                .add(rule, vltava::log::now_ms())
                .map_err(|e| e.to_string())?;
        }
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
        // Ready before it is announced: whoever waits for the line finds /ready 200 (the Kafka
        // listeners are bound already; connections wait in their backlog for `serve`).
        http.set_ready(broker.clone());
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
