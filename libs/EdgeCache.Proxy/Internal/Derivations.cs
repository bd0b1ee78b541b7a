using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.IO.Pipelines;
using EdgeCache.Engine;
using Microsoft.Extensions.Logging;

namespace EdgeCache.Proxy.Internal;

/// <summary>
/// Makes derived representations (<see cref="Representation"/>): one encoding of one stored original,
/// produced once however many requests want it at the same time (the one in flight is shared, as a miss
/// is collapsed), off the hit path, while the original is still streaming in. The owner of the encode
/// counters (<c>edgecache.compression.*</c>).
/// </summary>
internal sealed class Derivations(ILogger logger, Recompressions recompressions)
{
    /// <summary>Codings counted (the last is identity: an origin's coding decoded).</summary>
    private static readonly string[] Counted = ["br", "zstd", "gzip", AcceptEncodingNegotiation.Identity];

    private readonly ConcurrentDictionary<(string Key, string Negotiated), CachedResponse> _inFlight = new();
    private readonly long[] _objects = new long[Counted.Length];
    private readonly long[] _bytesIn = new long[Counted.Length];
    private readonly long[] _bytesOut = new long[Counted.Length];

    /// <summary>Seconds spent encoding (and decoding) per object, by coding; set by <see cref="CacheMetrics"/>.</summary>
    public Histogram<double>? Duration { get; set; }

    /// <summary>Objects encoded, by coding.</summary>
    public IEnumerable<Measurement<long>> Objects => Measure(_objects);

    /// <summary>Identity bytes read by the encoders, by coding.</summary>
    public IEnumerable<Measurement<long>> BytesIn => Measure(_bytesIn);

    /// <summary>Bytes the encoders wrote, by coding.</summary>
    public IEnumerable<Measurement<long>> BytesOut => Measure(_bytesOut);

    /// <summary>Objects encoded in <paramref name="coding"/> so far (identity: decoded).</summary>
    public long ObjectsFor(string coding) => Interlocked.Read(ref _objects[Array.IndexOf(Counted, coding)]);

    /// <summary>
    /// The representation of <paramref name="original"/> (in <paramref name="source"/>, null for identity)
    /// in <paramref name="target"/> (null: identity), keyed by <paramref name="negotiated"/>: the one being
    /// made for the same key and coding if there is one, else a new one whose body fills while the
    /// original's arrives. <paramref name="started"/> is true for the caller that started it.
    /// </summary>
    public CachedResponse Derive(string key, CachedResponse original, string? source, string? target, string negotiated, CompressionPolicy policy, out bool started)
    {
        started = false;
        var slot = (key, negotiated);
        if (_inFlight.TryGetValue(slot, out var running)) return running;
        var body = new CacheBody();
        var level = target is null ? 0 : policy.LevelFor(target);
        var derived = Representation.Derive(original, target, negotiated, body, level);
        if (!_inFlight.TryAdd(slot, derived)) return _inFlight.TryGetValue(slot, out running) ? running : derived;
        started = true;
        if (target is not null) recompressions.Watch(key, derived, target, level, policy);
        _ = Task.Run(() => RunAsync(slot, original.Body, source, target, level, body));
        return derived;
    }

    private async Task RunAsync((string Key, string Negotiated) slot, CacheBody original, string? source, string? target, int level, CacheBody body)
    {
        var counted = Array.IndexOf(Counted, target ?? AcceptEncodingNegotiation.Identity);
        long busy = 0;
        long read = 0;
        try
        {
            var pipe = new Pipe();
            var copy = CopyAsync(original, pipe.Writer);
            await using var input = source is null ? pipe.Reader.AsStream() : Codecs.Decoder(source, pipe.Reader.AsStream());
            var sink = new CacheBodyStream(body);
            var output = target is null ? sink : Codecs.Encoder(target, sink, level);
            var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(64 * 1024);
            try
            {
                int n;
                while ((n = await input.ReadAsync(buffer).ConfigureAwait(false)) > 0)
                {
                    var t = Stopwatch.GetTimestamp();
                    output.Write(buffer, 0, n);
                    busy += Stopwatch.GetTimestamp() - t;
                    read += n;
                }

                var end = Stopwatch.GetTimestamp();
                output.Dispose();
                busy += Stopwatch.GetTimestamp() - end;
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            }

            await copy.ConfigureAwait(false);
            body.Complete();
            Interlocked.Increment(ref _objects[counted]);
            Interlocked.Add(ref _bytesIn[counted], read);
            Interlocked.Add(ref _bytesOut[counted], body.Length);
            Duration?.Record(Stopwatch.GetElapsedTime(0, busy).TotalSeconds, new KeyValuePair<string, object?>("edgecache.encoding", Counted[counted]));
            Log.Encoded(logger, Counted[counted], read, body.Length);
        }
#pragma warning disable CA1031 // a failed derivation is never stored and never the client's problem: its body fails, the transfer is cut
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.EncodeFailed(logger, Counted[counted], ex.Message);
            body.Fail(ex);
        }
        finally
        {
            _inFlight.TryRemove(slot, out _);
        }
    }

    private static async Task CopyAsync(CacheBody original, PipeWriter writer)
    {
        try
        {
            await original.CopyToAsync(writer, 0, -1, CancellationToken.None).ConfigureAwait(false);
            await writer.CompleteAsync().ConfigureAwait(false);
        }
#pragma warning disable CA1031 // handed to the reader, which fails the derived body
        catch (Exception ex)
#pragma warning restore CA1031
        {
            await writer.CompleteAsync(ex).ConfigureAwait(false);
        }
    }

    private static IEnumerable<Measurement<long>> Measure(long[] values)
    {
        for (var i = 0; i < Counted.Length; i++)
        {
            yield return new Measurement<long>(Interlocked.Read(ref values[i]), new KeyValuePair<string, object?>("edgecache.encoding", Counted[i]));
        }
    }
}
