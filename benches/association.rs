//! P-DATA throughput: through an in-memory initiator/responder pair (no I/O: encode, frame,
//! decode, reassemble), and through the tokio adapter on loopback beside a plain TCP loopback
//! copy of the same bytes. Run: `cargo bench --bench association --features tokio`. Figures are
//! in BENCHMARKS.md.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use osi_stack::association::{
    AcceptResponse, AssociateRequest, Association, Config, Dispatch, Event,
};
use osi_stack::presentation::ContextId;
use osi_stack::tokio::{Dialer, Listener};

/// The MMS context `AssociateRequest::mms` proposes.
const MMS: ContextId = ContextId::new(3).unwrap();
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An octet string of `n` content octets: one BER value, as send_data wants.
fn message(n: usize) -> Vec<u8> {
    let mut v = vec![0x04, 0x83, (n >> 16) as u8, (n >> 8) as u8, n as u8];
    v.extend((0..n).map(|i| i as u8));
    v
}

fn pump(from: &mut Association, to: &mut Association, now: Instant) {
    while let Some(b) = from.poll_transmit() {
        to.handle_input(&b, now);
    }
}

fn associated_pair() -> (Association, Association) {
    let now = Instant::now();
    let mut c = Association::initiator(Config::default());
    let mut s = Association::responder(Config::default(), Dispatch::default(), None);
    c.associate(AssociateRequest::mms(), now).unwrap();
    pump(&mut c, &mut s, now);
    pump(&mut s, &mut c, now);
    pump(&mut c, &mut s, now);
    while s.poll_event().is_some() {}
    s.accept(AcceptResponse::default(), now).unwrap();
    pump(&mut s, &mut c, now);
    while s.poll_event().is_some() {}
    while c.poll_event().is_some() {}
    (c, s)
}

fn in_memory(c: &mut Criterion) {
    let mut g = c.benchmark_group("association/in-memory");
    for size in [1024usize, 64 * 1024] {
        let msg = message(size);
        let (mut client, mut server) = associated_pair();
        let now = Instant::now();
        g.throughput(Throughput::Bytes(msg.len() as u64));
        g.bench_with_input(BenchmarkId::new("p-data", size), &msg, |b, msg| {
            b.iter(|| {
                client.send_data(MMS, black_box(msg), now).unwrap();
                pump(&mut client, &mut server, now);
                match server.poll_event() {
                    Some(Event::Data(d)) => black_box(d.value.len()),
                    other => panic!("{other:?}"),
                }
            })
        });
    }
    g.finish();
}

fn loopback(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let size = 64 * 1024;
    let msg = message(size);
    let mut g = c.benchmark_group("association/loopback");
    g.throughput(Throughput::Bytes(msg.len() as u64));
    g.measurement_time(Duration::from_secs(5));

    // osi-stack: a responder that counts P-DATA indications.
    let (mut conn, mut got) = rt.block_on(async {
        let mut listener = Listener::bind("127.0.0.1:0", Config::default(), Dispatch::default())
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<usize>();
        tokio::spawn(async move {
            let mut server = listener.accept().await.unwrap();
            while let Ok(Some(ev)) = server.next_event().await {
                match ev {
                    Event::AssociateIndication(_) => {
                        server.accept(AcceptResponse::default()).await.unwrap()
                    }
                    Event::Data(d) => {
                        let _ = tx.send(d.value.len());
                    }
                    _ => {}
                }
            }
        });
        let (conn, _) = Dialer::new()
            .associate(addr, Config::default(), AssociateRequest::mms())
            .await
            .unwrap();
        (conn, rx)
    });
    g.bench_function(BenchmarkId::new("osi-stack p-data", size), |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    conn.send_data(MMS, &msg).await.unwrap();
                }
                for _ in 0..iters {
                    got.recv().await.unwrap();
                }
                start.elapsed()
            })
        })
    });

    // Plain TCP: the same octets, read back in messages of the same size.
    let (mut stream, mut got) = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<usize>();
        let len = msg.len();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            s.set_nodelay(true).unwrap();
            let mut buf = vec![0u8; len];
            while s.read_exact(&mut buf).await.is_ok() {
                let _ = tx.send(buf.len());
            }
        });
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        (stream, rx)
    });
    g.bench_function(BenchmarkId::new("plain tcp", size), |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    stream.write_all(&msg).await.unwrap();
                }
                for _ in 0..iters {
                    got.recv().await.unwrap();
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

criterion_group!(benches, in_memory, loopback);
criterion_main!(benches);
