using System.Diagnostics.Metrics;
using Yarp.ReverseProxy;

namespace EdgeCache.Proxy;

/// <summary>
/// The node's cache instruments (meter <c>EdgeCache</c>): tier sizes, evictions, the disk tier's
/// health and failures. Observable instruments read the tiers when a collector asks, so the hit
/// path pays nothing. Exported in the Prometheus format at the admin endpoint's /metrics.
/// </summary>
internal static class CacheMetrics
{
    private static IEnumerable<Measurement<int>> Upstreams(IProxyStateLookup proxyState)
    {
        foreach (var cluster in proxyState.GetClusters())
        {
            foreach (var d in cluster.DestinationsState.AllDestinations)
            {
                yield return new Measurement<int>(
                    Internal.StatusPage.IsUnhealthy(d) ? 0 : 1,
                    new KeyValuePair<string, object?>("cluster", cluster.ClusterId),
                    new KeyValuePair<string, object?>("destination", d.DestinationId));
            }
        }
    }

    public const string MeterName = "EdgeCache";

    private static IEnumerable<Measurement<long>> DroppedWrites(CacheTiers tiers)
    {
        yield return new Measurement<long>(tiers.DroppedDiskWritesFor(Internal.DiskWriteDrop.QueueFull), new KeyValuePair<string, object?>("edgecache.reason", "queue_full"));
        yield return new Measurement<long>(tiers.DroppedDiskWritesFor(Internal.DiskWriteDrop.Unavailable), new KeyValuePair<string, object?>("edgecache.reason", "unavailable"));
    }

    /// <summary>Buckets for the invalidation latencies, in seconds: a purge takes milliseconds, so the exporter's
    /// default buckets (0, 5, 10 … 10,000, made for milliseconds) would put every one in the first.</summary>
    private static readonly InstrumentAdvice<double> InvalidationLatency = new()
    {
        HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    };

    /// <summary>Seconds each certificate in force has left, tagged with its first name and its setting.</summary>
    private static IEnumerable<Measurement<double>> CertificateExpiry(Tls.ServerCertificates certificates)
    {
        var now = TimeProvider.System.GetUtcNow();
        foreach (var c in certificates.Current)
        {
            yield return new Measurement<double>(
                Math.Round((c.NotAfter - now).TotalSeconds),
                new KeyValuePair<string, object?>("edgecache.certificate", c.PrimaryName),
                new KeyValuePair<string, object?>("edgecache.setting", c.Source.Setting));
        }
    }

    public static void Register(IMeterFactory factory, CacheEngine engine, EdgeCache.Proxy.Invalidation.InvalidationService invalidation, IProxyStateLookup proxyState, Tls.ServerCertificates certificates)
    {
        var meter = factory.Create(MeterName);
        if (certificates.Configured)
        {
            meter.CreateObservableGauge("edgecache.tls.certificate.expiry", () => CertificateExpiry(certificates), "s", "Time each TLS certificate in force has left before it expires (negative once it has). Tagged by the certificate's first name and its setting.");
            meter.CreateObservableCounter("edgecache.tls.certificate.reloads", () => certificates.Reloads, "{reload}", "Certificates reloaded because their files changed.");
            meter.CreateObservableCounter("edgecache.tls.certificate.refused", () => certificates.RefusedReloads, "{change}", "Changes to certificate files refused (unreadable, a key that does not match, expired); the certificate in force stayed.");
            meter.CreateObservableCounter("edgecache.tls.handshakes.refused", () => certificates.RefusedHandshakes, "{handshake}", "TLS handshakes refused: no certificate for the server name asked for (or none asked and no default).");
        }

        meter.CreateObservableCounter("edgecache.compression.objects", () => engine.Derivations.Objects, "{object}", "Representations made, by edgecache.encoding (br, zstd, gzip; identity: an origin's coding decoded).");
        meter.CreateObservableCounter("edgecache.compression.bytes.in", () => engine.Derivations.BytesIn, "By", "Identity bytes read to make representations, by edgecache.encoding.");
        meter.CreateObservableCounter("edgecache.compression.bytes.out", () => engine.Derivations.BytesOut, "By", "Bytes of the representations made, by edgecache.encoding.");
        engine.Derivations.Duration = meter.CreateHistogram<double>("edgecache.compression.duration", "s", "Time spent encoding (and decoding) one representation, by edgecache.encoding; waiting for the original's bytes not included.", advice: InvalidationLatency);
        meter.CreateObservableCounter("edgecache.compression.recompressions", () => engine.Recompressions.Counts, "{object}", "Hot representations made again at the high level, by edgecache.encoding and edgecache.outcome (replaced, superseded: purged or changed meanwhile, not-smaller, failed, dropped: the queue was full).");
        meter.CreateObservableCounter("edgecache.compression.recompress.bytes.saved", () => engine.Recompressions.BytesSaved, "By", "Bytes the re-encoded representations are smaller by than the first copies they replaced, by edgecache.encoding.");
        engine.Recompressions.Duration = meter.CreateHistogram<double>("edgecache.compression.recompress.duration", "s", "Time one background re-encode took (decoding the first copy and encoding again), by edgecache.encoding.", advice: InvalidationLatency);
        meter.CreateObservableCounter("edgecache.images.variants", () => engine.Images.Variants, "{variant}", "Image variants made, by edgecache.format (jpeg, png, gif, webp, avif).");
        meter.CreateObservableCounter("edgecache.images.freshened", () => engine.Images.Freshened, "{variant}", "Stale image variants freshened from their revalidated, unchanged original, without a transformation.");
        meter.CreateObservableCounter("edgecache.images.bytes.in", () => engine.Images.BytesIn, "By", "Bytes of the originals variants were made from, by edgecache.format (the variant's).");
        meter.CreateObservableCounter("edgecache.images.bytes.out", () => engine.Images.BytesOut, "By", "Bytes of the variants made, by edgecache.format.");
        meter.CreateObservableCounter("edgecache.images.refused", () => engine.Images.Refusals, "{request}", "Variants not made (the original was served), by edgecache.reason: svg, type-mismatch, not-an-image, pixel-limit, byte-limit, decode, animated, animated-format, variant-limit, no-transform, encoded, status, busy, timeout, worker-crashed, memory.");
        meter.CreateObservableCounter("edgecache.images.workers.started", () => engine.Images.Workers.Started, "{process}", "Image worker processes started (the first ones, and one after each crash or time-out).");
        meter.CreateObservableGauge("edgecache.images.workers.busy", () => engine.Images.Workers.Busy, "{job}", "Jobs running in image worker processes now (at most EdgeCache:ImageWorkers:Count).");
        engine.Images.Duration = meter.CreateHistogram<double>("edgecache.images.duration", "s", "Time one image transformation took (in its worker process, the round trip included), by edgecache.format.", advice: InvalidationLatency);
        meter.CreateObservableGauge("edgecache.upstream.healthy", () => Upstreams(proxyState), null, "Each upstream destination (shields, on an edge) as this node's health checks see it: 1 healthy or not yet checked, 0 unhealthy. Tagged by cluster and destination.");
        meter.CreateObservableCounter("edgecache.upstream.retries", () => engine.Upstream.Retries, "{request}", "Upstream requests retried once on the next destination, by edgecache.reason: connection (the first could not be sent), shield-down (the first shield's health checks marked it down before it sent a response head).");
        meter.CreateObservableCounter("edgecache.upstream.abandoned", () => engine.Upstream.Abandoned, "{request}", "Requests to a shield given up before its response head because its health checks marked it down meanwhile (each retried on the next shield unless it was already the retry).");
        if (engine.Options.Role == NodeRole.Shield && engine.Options.Replication.Enabled)
        {
            meter.CreateObservableCounter("edgecache.replication.pushes", () => engine.Replication.Pushes, "{object}", "Objects this shield fetched from the origin and asked its peer (the key's next shield) to hold, by outcome: stored (the peer filled it from here), present (it had it), missing (it could not fill it from here: evicted or purged meanwhile), failed (no live peer, an error, a timeout), dropped (the queue was full).");
            meter.CreateObservableCounter("edgecache.replication.fills", () => engine.Replication.Fills, "{request}", "Misses (and replication requests) this shield asked its peer to answer from its cache before the origin, by outcome: hit (filled from the peer, the origin not asked), miss (the peer had none), failed (no answer in Replication:PeerFillTimeout, or an error).");
            meter.CreateObservableCounter("edgecache.replication.fills.served", () => engine.Replication.FillsServed, "{request}", "Peers' fills this shield answered, by outcome: hit (from its cache), miss (504: it held none).");
        }

        if (engine.Options.Invalidation.Enabled)
        {
            meter.CreateObservableCounter("edgecache.invalidation.events", () => invalidation.EventsApplied, "{event}", "Purge and TTL events applied from the invalidation stream.");
            meter.CreateObservableCounter("edgecache.invalidation.purged", () => engine.PurgedObjects, "{object}", "Stored objects dropped because a purge covered them.");
            meter.CreateObservableCounter("edgecache.invalidation.gaps", () => invalidation.Gaps, "{gap}", "Times events were missing from the stream (past its retention), so everything stored before them was dropped.");
            meter.CreateObservableCounter("edgecache.invalidation.resets", () => invalidation.Resets, "{reset}", "Times the stream was found deleted and made again, so both tiers were emptied.");
            meter.CreateObservableGauge("edgecache.invalidation.sequence", () => (long)engine.AppliedSeq, "{sequence}", "The last invalidation-stream sequence this node applied.");
            meter.CreateObservableGauge("edgecache.invalidation.rules", () => engine.Rules.Count, "{rule}", "Selector rules held for logical invalidation.");
            meter.CreateObservableGauge("edgecache.invalidation.current", () => engine.IsCurrent ? 1 : 0, null, "1 while the node has confirmed within its lease that it applied every event; 0 while it revalidates stored objects.");
            meter.CreateObservableGauge("edgecache.nats.connected", () => invalidation.Degraded is null ? 1 : 0, null, "1 while the node is connected to NATS.");
            invalidation.LagHistogram = meter.CreateHistogram<double>("edgecache.invalidation.lag", "s", "Time from an event's publication (JetStream's timestamp) to this node applying it.", advice: InvalidationLatency);
            invalidation.DeliveryLagHistogram = meter.CreateHistogram<double>("edgecache.invalidation.delivery.lag", "s", "Time from an event's publication (JetStream's timestamp) to this node's NATS consumer handing it over, before it is applied.", advice: InvalidationLatency);
            invalidation.AckLagHistogram = meter.CreateHistogram<double>("edgecache.invalidation.ack.lag", "s", "Time from an event's publication (JetStream's timestamp) to this node handing its acknowledgement to NATS.", advice: InvalidationLatency);
            meter.CreateObservableGauge("edgecache.invalidation.delivered", () => (long)invalidation.DeliveredSeq, "{sequence}", "The last invalidation-stream sequence this node's consumer handed over to be applied.");
            meter.CreateObservableGauge("edgecache.invalidation.pending", () => invalidation.Pending, "{event}", "Events in the stream this node has not applied yet: delivered and waiting, plus those its consumer reported pending after the last delivered one.");
            meter.CreateObservableCounter("edgecache.invalidation.consumer.restarts", () => invalidation.ConsumerRestarts, "{restart}", "Times this node started its consumer of the stream again (after an error, a disconnect or a suspected stream reset).");
        }

        engine.RequestCounter = meter.CreateCounter<long>("edgecache.requests", "{request}", "Requests by cache outcome (hit, stale, revalidated, miss, pass, error), tier and, for hits, the tier that held the object (memory, disk).");
        meter.CreateObservableUpDownCounter("edgecache.memory.size", () => engine.Memory.Bytes, "By", "Bytes held by the memory tier.");
        meter.CreateObservableUpDownCounter("edgecache.memory.objects", () => engine.Memory.Count, "{object}", "URLs held by the memory tier.");
        meter.CreateObservableCounter("edgecache.memory.evictions", () => engine.Memory.Evictions, "{object}", "URLs evicted from the memory tier.");
        meter.CreateObservableCounter("edgecache.requests.fast", () => engine.FastHits, "{request}", "Hits (memory or disk) answered by the fast hit path (EdgeCache:Listen:FastHits); they are also counted in edgecache.requests.");
        meter.CreateObservableCounter("edgecache.early_hints.sent", () => engine.EarlyHintsSent, "{response}", "103 Early Hints responses sent ahead of a request's final response (hosts with EarlyHints).");
        meter.CreateObservableCounter("edgecache.requests.fast.cut", () => engine.FastHitsCut, "{request}", "Fast hits whose connection was cut before the answer was sent: the client went away, or read slower than Listen:MinHitDataRate.");
        meter.CreateObservableCounter("edgecache.requests.collapsed", () => engine.Flights.Collapsed, "{request}", "Requests that joined a fetch already in flight.");
        if (!engine.Options.Disk.Enabled) return;
        meter.CreateObservableGauge("edgecache.disk.healthy", () => engine.Disk is { Healthy: true } ? 1 : 0, null, "1 when the disk tier works, 0 while it fails (the node then serves from memory and upstream).");
        meter.CreateObservableUpDownCounter("edgecache.disk.log.size", () => engine.Disk?.LogBytes ?? 0, "By", "Bytes of log the disk tier holds (bounded by its budget).");
        meter.CreateObservableCounter("edgecache.disk.truncated", () => engine.Tiers.DiskTruncatedBytes, "By", "Bytes dropped from the head of the disk log to keep to the budget.");
        meter.CreateObservableCounter("edgecache.disk.failures", () => engine.Tiers.DiskFailures, "{operation}", "Disk tier operations that failed.");
        meter.CreateObservableCounter("edgecache.disk.writes.dropped", () => DroppedWrites(engine.Tiers), "{object}", "Disk writes not done, by reason: queue_full (the write queue was full and the shield holds the object), unavailable (no store was open).");
        meter.CreateObservableCounter("edgecache.disk.writes.delayed", () => engine.Tiers.DelayedDiskWrites, "{object}", "Disk writes of an object's last copy that waited for room in the write queue (the request that brought it waited with them).");
        meter.CreateObservableUpDownCounter("edgecache.disk.writes.queued", () => engine.Tiers.QueuedDiskWriteBytes, "By", "Bytes of objects waiting for, or in, a disk write (bounded by Disk:WriteQueueBytes).");
    }
}
