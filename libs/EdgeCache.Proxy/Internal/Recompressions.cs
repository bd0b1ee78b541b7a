using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.IO.Pipelines;
using System.Threading.Channels;
using EdgeCache.Engine;
using Microsoft.Extensions.Logging;

namespace EdgeCache.Proxy.Internal;

/// <summary>
/// The background re-encode of hot representations: one this node made at a fast level (the first copy,
/// made while the original streamed in) is watched (<see cref="Watch"/>), and so is one an edge stored as its
/// shield made it at a fast level (<see cref="WatchFetched"/>: hot at the edge, it is never hot at the shield,
/// whose hits are the edges' misses); the hit that makes it hot
/// (<see cref="CompressionPolicy.RecompressAfterHits"/>) queues it once, and a worker makes it again at the
/// host's high level from its own bytes (decoded, so the original need not still be held) and puts the
/// result in its place in the memory tier, and on disk. Never on a request's path: the queue is bounded
/// (<see cref="RecompressOptions.QueueLength"/>; a full queue drops the job, counted, and the copy asks
/// again after as many hits more) and the work runs on <see cref="RecompressOptions.Concurrency"/> threads
/// of their own. A copy purged, evicted, stored anew or changed by a rule while it was being re-encoded is
/// not replaced (<see cref="MemoryTier.Replace"/>), and a result a purge covers is not stored. The owner of
/// the <c>edgecache.compression.recompressions</c> counters.
/// </summary>
internal sealed class Recompressions : IDisposable
{
    /// <summary>The codings counted.</summary>
    private static readonly string[] Codings = ["br", "zstd", "gzip"];

    /// <summary>What became of a hot copy (<c>edgecache.outcome</c>).</summary>
    internal enum Outcome
    {
        /// <summary>Made again and put in the fast copy's place.</summary>
        Replaced,

        /// <summary>The fast copy was gone or changed by the time its turn came or its result was ready
        /// (purged, evicted, stored anew, a rule applied): nothing stored.</summary>
        Superseded,

        /// <summary>The high level made no fewer bytes: the fast copy stays.</summary>
        NotSmaller,

        /// <summary>The encoder or decoder failed: the fast copy stays.</summary>
        Failed,

        /// <summary>The queue was full: not queued; the copy asks again after as many hits more.</summary>
        Dropped,
    }

    private static readonly string[] OutcomeTags = ["replaced", "superseded", "not-smaller", "failed", "dropped"];

    private readonly CacheEngine _engine;
    private readonly RecompressOptions _options;
    private readonly ILogger _logger;
    private readonly Channel<Ticket> _queue;
    private readonly long[] _counts = new long[Codings.Length * OutcomeTags.Length];
    private readonly long[] _saved = new long[Codings.Length];
    private readonly object _startLock = new();
    private Thread[]? _workers;
    private int _running;

    public Recompressions(CacheEngine engine, RecompressOptions options, ILogger logger)
    {
        _engine = engine;
        _options = options;
        _logger = logger;
        _queue = Channel.CreateBounded<Ticket>(new BoundedChannelOptions(options.QueueLength)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = options.Concurrency == 1,
            SingleWriter = false,
        });
    }

    /// <summary>Seconds one re-encode took (decoding the fast copy and encoding again), by coding; set by <see cref="CacheMetrics"/>.</summary>
    public Histogram<double>? Duration { get; set; }

    /// <summary>Hot copies by coding and outcome.</summary>
    public IEnumerable<Measurement<long>> Counts
    {
        get
        {
            for (var c = 0; c < Codings.Length; c++)
            {
                for (var o = 0; o < OutcomeTags.Length; o++)
                {
                    yield return new Measurement<long>(
                        Interlocked.Read(ref _counts[c * OutcomeTags.Length + o]),
                        new KeyValuePair<string, object?>("edgecache.encoding", Codings[c]),
                        new KeyValuePair<string, object?>("edgecache.outcome", OutcomeTags[o]));
                }
            }
        }
    }

    /// <summary>Bytes the replaced copies are smaller by than the fast ones they replaced, by coding.</summary>
    public IEnumerable<Measurement<long>> BytesSaved
    {
        get
        {
            for (var c = 0; c < Codings.Length; c++)
            {
                yield return new Measurement<long>(Interlocked.Read(ref _saved[c]), new KeyValuePair<string, object?>("edgecache.encoding", Codings[c]));
            }
        }
    }

    /// <summary>Hot copies in <paramref name="coding"/> that came to <paramref name="outcome"/> so far.</summary>
    public long CountOf(string coding, Outcome outcome) => Interlocked.Read(ref _counts[Array.IndexOf(Codings, coding) * OutcomeTags.Length + (int)outcome]);

    /// <summary>Re-encodes queued or running now.</summary>
    public int Pending => Volatile.Read(ref _running) + _queue.Reader.Count;

    /// <summary>
    /// Watches <paramref name="made"/>, a representation of <paramref name="key"/> this node is making in
    /// <paramref name="coding"/> at <paramref name="level"/>, when the host re-encodes that coding at a higher
    /// level: its hits are counted from now on, and the one that makes it hot queues it. Called before it is stored.
    /// </summary>
    public void Watch(string key, CachedResponse made, string coding, int level, CompressionPolicy policy)
    {
        if (!policy.Recompresses(coding, level)) return;
        made.Hot = new Ticket(this, key, made, coding, policy.RecompressLevelFor(coding), policy.RecompressAfterHits);
    }

    /// <summary>
    /// Watches <paramref name="fetched"/>, a copy of <paramref name="key"/> this node is storing as its upstream sent
    /// it, when that upstream (a shield) made it at a fast level (<see cref="Representation.IsMadeFast"/>) and the host
    /// re-encodes that coding at a higher one: hot here, it is made again here, from its own bytes, with the entity-tag
    /// the shield would give it. A shield's hits are its edges' misses, so a copy the edges hold is never hot there.
    /// The caller has dropped an origin's <see cref="HeaderRules.Encoded"/> (<see cref="CacheEngine.TrustsUpstreamEncoded"/>).
    /// </summary>
    public void WatchFetched(string key, CachedResponse fetched, CompressionPolicy policy)
    {
        if (!policy.Enabled || !Representation.IsMadeFast(fetched, out var coding, out var level)) return;
        Watch(key, fetched, coding, level, policy);
    }

    private void Enqueue(Ticket ticket)
    {
        if (!_queue.Writer.TryWrite(ticket))
        {
            Count(ticket.Coding, Outcome.Dropped);
            ticket.Rearm();
            return;
        }

        StartWorkers();
    }

    private void StartWorkers()
    {
        if (Volatile.Read(ref _workers) is not null) return;
        lock (_startLock)
        {
            if (_workers is not null) return;
            var workers = new Thread[_options.Concurrency];
            for (var i = 0; i < workers.Length; i++)
            {
                workers[i] = new Thread(Work) { IsBackground = true, Name = "edgecache-recompress-" + i, Priority = ThreadPriority.BelowNormal };
                workers[i].Start();
            }

            Volatile.Write(ref _workers, workers);
        }
    }

    private void Work()
    {
        var reader = _queue.Reader;
        while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            while (reader.TryRead(out var ticket))
            {
                Interlocked.Increment(ref _running);
                try
                {
                    Run(ticket);
                }
                finally
                {
                    Interlocked.Decrement(ref _running);
                }
            }
        }
    }

    /// <summary>Makes one hot copy again and puts it in place (the work of one job, on a worker thread); counts the outcome.</summary>
    internal Outcome Run(Ticket ticket)
    {
        var outcome = Remake(ticket);
        Count(ticket.Coding, outcome);
        return outcome;
    }

    private Outcome Remake(Ticket ticket)
    {
        var (key, fast) = (ticket.Key, ticket.Entry);

        // Not worth the CPU when the copy is already gone (purged, evicted, replaced).
        if (!_engine.Memory.Holds(key, fast)) return Outcome.Superseded;
        CacheBody body;
        var started = Stopwatch.GetTimestamp();
        try
        {
            body = Encode(fast.Body, ticket.Coding, ticket.Level);
        }
#pragma warning disable CA1031 // a failed re-encode leaves the fast copy as it is: never the client's problem
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.RecompressFailed(_logger, ticket.Coding, ticket.Level, ex.Message);
            return Outcome.Failed;
        }

        Duration?.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, new KeyValuePair<string, object?>("edgecache.encoding", ticket.Coding));
        if (body.Length >= fast.Body.Length) return Outcome.NotSmaller;

        // The fast copy's freshness, stored sequence and tags: a purge recorded while this ran covers the
        // result (it is not stored), and one recorded later finds it as it would have found the fast copy.
        var remade = Representation.Remade(fast, body, ticket.Level);
        if (_engine.CheckRules(key, remade, stored: false) is not { } current || !ReferenceEquals(current, remade)) return Outcome.Superseded;
        if (!_engine.Memory.Replace(key, fast, remade)) return Outcome.Superseded;
        _ = _engine.Tiers.WriteBehind(key, remade, upstreamHolds: true);
        Interlocked.Add(ref _saved[Array.IndexOf(Codings, ticket.Coding)], fast.Body.Length - body.Length);
        Log.Recompressed(_logger, ticket.Coding, ticket.Level, fast.Body.Length, body.Length);
        return Outcome.Replaced;
    }

    /// <summary>The identity bytes of <paramref name="fast"/> (a complete body in <paramref name="coding"/>),
    /// encoded again in it at <paramref name="level"/>.</summary>
    internal static CacheBody Encode(CacheBody fast, string coding, int level)
    {
        var body = new CacheBody();
        using (var input = Codecs.Decoder(coding, PipeReader.Create(fast.AsSequence()).AsStream()))
        using (var output = Codecs.Encoder(coding, new CacheBodyStream(body), level))
        {
            input.CopyTo(output, 64 * 1024);
        }

        body.Complete();
        return body;
    }

    private void Count(string coding, Outcome outcome) =>
        Interlocked.Increment(ref _counts[Array.IndexOf(Codings, coding) * OutcomeTags.Length + (int)outcome]);

    public void Dispose() => _queue.Writer.TryComplete();

    /// <summary>One watched copy: its hits, and what a worker needs to make it again.</summary>
    internal sealed class Ticket(Recompressions owner, string key, CachedResponse entry, string coding, int level, int threshold) : HotTrigger(threshold)
    {
        public string Key => key;

        public CachedResponse Entry => entry;

        public string Coding => coding;

        /// <summary>The high level it is made again at.</summary>
        public int Level => level;

        protected override void OnHot() => owner.Enqueue(this);
    }
}
