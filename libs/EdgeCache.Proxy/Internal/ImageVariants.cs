using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using EdgeCache.Engine;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;

namespace EdgeCache.Proxy.Internal;

/// <summary>What making one image variant came to: the variant, or why the original is served instead.</summary>
internal readonly record struct ImageOutcome(CachedResponse? Variant, string? Refusal);

/// <summary>
/// Makes image variants (<see cref="ImageRequest"/>) from stored originals, a derived representation as
/// compression's (<see cref="Representation.DeriveImage"/>): checks what the node can check without
/// decoding (size, type by the bytes, SVG, animation, the per-original cap), hands the rest to an
/// <see cref="ImageWorkers"/> process, and owns the <c>edgecache.images.*</c> counters. Collapsing is the
/// flight table's: one request per variant key gets here at a time.
/// </summary>
internal sealed class ImageVariants : IDisposable
{
    /// <summary>The reasons a variant is not made (each exported from the start, at 0).</summary>
    internal static readonly string[] Reasons =
    [
        "svg", "type-mismatch", "not-an-image", "pixel-limit", "byte-limit", "decode", "encode", "animated", "animated-format",
        "variant-limit", "no-transform", "encoded", "status", "busy", "timeout", "worker-crashed", "memory",
    ];

    private readonly ImageWorkers _workers;
    private readonly ILogger _logger;

    public ImageVariants(ImageWorkers workers, ILogger logger)
    {
        _workers = workers;
        _logger = logger;
        foreach (var r in Reasons) _refusals[r] = 0;
    }

    /// <summary>Formats counted.</summary>
    private static readonly string[] Made = ["jpeg", "png", "gif", "webp", "avif"];

    /// <summary>Originals whose variants are counted for the cap; past it the table starts again (a bound, not a ledger).</summary>
    private const int MaxTrackedOriginals = 100_000;

    private readonly long[] _made = new long[Made.Length];
    private long _freshened;
    private readonly long[] _bytesIn = new long[Made.Length];
    private readonly long[] _bytesOut = new long[Made.Length];
    private readonly ConcurrentDictionary<string, long> _refusals = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, VariantSet> _perOriginal = new(StringComparer.Ordinal);

    /// <summary>Seconds per transformation (in the worker, the round trip included), by format; set by <see cref="CacheMetrics"/>.</summary>
    public Histogram<double>? Duration { get; set; }

    public ImageWorkers Workers => _workers;

    public IEnumerable<Measurement<long>> Variants => Measure(_made);

    public IEnumerable<Measurement<long>> BytesIn => Measure(_bytesIn);

    public IEnumerable<Measurement<long>> BytesOut => Measure(_bytesOut);

    public IEnumerable<Measurement<long>> Refusals
    {
        get
        {
            foreach (var (reason, n) in _refusals) yield return new Measurement<long>(n, new KeyValuePair<string, object?>("edgecache.reason", reason));
        }
    }

    /// <summary>Stale variants freshened from their unchanged original, without a transformation.</summary>
    public long Freshened => Interlocked.Read(ref _freshened);

    /// <summary>Variants made in <paramref name="format"/> so far.</summary>
    public long MadeIn(string format) => Interlocked.Read(ref _made[Array.IndexOf(Made, format)]);

    /// <summary>Refusals for <paramref name="reason"/> so far.</summary>
    public long RefusedFor(string reason) => _refusals.TryGetValue(reason, out var n) ? n : 0;

    /// <summary>
    /// The variant <paramref name="request"/> asks for, made from <paramref name="original"/> (a complete,
    /// fresh 200 stored under <paramref name="originalKey"/>), with <paramref name="accept"/> the negotiated
    /// Accept of a <c>format=auto</c> request; or the reason none is made.
    /// </summary>
    public async Task<ImageOutcome> MakeAsync(string originalKey, CachedResponse original, ImageRequest request, string? accept, ImagePolicy policy)
    {
        if (Check(originalKey, original, request, accept, policy, out var target, out var input) is { } refusal) return Refuse(refusal);
        var started = Stopwatch.GetTimestamp();
        var job = new ImageJob(request.PixelWidth ?? 0, request.PixelHeight ?? 0, request.Fit, policy.EncoderQuality(target!, request.Quality), target!, policy.Animated == AnimatedImages.Keep, policy.MaxPixels, input);
        var result = await _workers.RunAsync(job, policy.Timeout).ConfigureAwait(false);
        if (!result.Ok) return Refuse(result.Reason ?? "decode");
        if (result.Output.Length == 0) return Refuse("encode");
        var i = Array.IndexOf(Made, target);
        Interlocked.Increment(ref _made[i]);
        Interlocked.Add(ref _bytesIn[i], input.Length);
        Interlocked.Add(ref _bytesOut[i], result.Output.Length);
        Duration?.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, new KeyValuePair<string, object?>("edgecache.format", target));
        Log.ImageMade(_logger, target!, result.Width, result.Height, input.Length, result.Output.Length);
        var body = CacheBody.FromBytes(result.Output);
        return new ImageOutcome(Representation.DeriveImage(original, body, ImageFormats.ContentType(target!), request.ETagSuffix(target!), accept, request.OriginalPathAndQuery), null);
    }

    /// <summary>
    /// <paramref name="stale"/> (a stored variant <paramref name="request"/> selected) freshened from
    /// <paramref name="original"/> (a complete, fresh 200: revalidated, fetched or stored since) without a
    /// transformation, when the original is the one it was made from: the variant derived again from this
    /// original with the stale variant's bytes has the same validators (the entity-tag derived from the
    /// original's, and Last-Modified; an original with neither cannot be matched). It then carries the
    /// original's current fields and freshness, as a variant made now would. Null when the variant must be made again.
    /// </summary>
    public CachedResponse? Freshen(CachedResponse stale, CachedResponse original, ImageRequest request, string? accept)
    {
        if (stale.StatusCode != 200 || stale.IsPartial || !stale.Body.IsCompleted || (stale.ETag is null && stale.LastModified is null)) return null;
        if (ImageFormats.OfContentType(stale.GetHeader(HeaderNames.ContentType) is { Count: > 0 } ct ? ct[0] : null) is not { } format) return null;
        var tag = Representation.DerivedFromTag + request.OriginalPathAndQuery;
        if (Array.IndexOf(stale.Tags, tag) < 0) return null;
        var again = Representation.DeriveImage(original, stale.Body, ImageFormats.ContentType(format), request.ETagSuffix(format), accept, request.OriginalPathAndQuery);
        if (again.ETag != stale.ETag || again.LastModified != stale.LastModified) return null;
        Interlocked.Increment(ref _freshened);
        return again;
    }

    /// <summary>Counts a refusal (also those decided by the caller: an original that is not a 200, say).</summary>
    public ImageOutcome Refuse(string reason)
    {
        _refusals.AddOrUpdate(reason, 1, static (_, n) => n + 1);
        Log.ImageRefused(_logger, reason);
        return new ImageOutcome(null, reason);
    }

    /// <summary>Everything decided without a decoder: null when the job may run, else the refusal.</summary>
    private string? Check(string originalKey, CachedResponse original, ImageRequest request, string? accept, ImagePolicy policy, out string? target, out System.Buffers.ReadOnlySequence<byte> input)
    {
        target = null;
        input = default;
        if (original.Directives.NoTransform) return "no-transform";
        if (original.GetHeader(HeaderNames.ContentEncoding) is { Count: > 0 } ce && !string.Equals(ce[0], "identity", StringComparison.OrdinalIgnoreCase)) return "encoded";
        if (original.Body.Length > policy.MaxInputBytes) return "byte-limit";
        input = original.Body.AsSequence();
        Span<byte> head = stackalloc byte[32];
        var n = (int)Math.Min(head.Length, input.Length);
        input.Slice(0, n).CopyTo(head);
        var sniffed = ImageFormats.Sniff(head[..n]);
        var declared = ImageFormats.OfContentType(original.GetHeader(HeaderNames.ContentType) is { Count: > 0 } ct ? ct[0] : null);

        // SVG is never rasterised, whatever it claims to be or is labelled.
        if (sniffed == "svg" || declared == "svg") return "svg";
        if (sniffed is null) return "not-an-image";
        if (declared != sniffed) return "type-mismatch";
        if (sniffed == "gif" && !ImageFormats.IsCompleteGif(input)) return "decode";
        var animated = ImageFormats.IsAnimated(input, sniffed);
        target = request.TargetFormat(sniffed, animated, ImageRequest.Chosen(accept), policy, out var refusal);
        if (target is null) return refusal;
        return Admit(originalKey, original, request.Options + "|" + target, policy.MaxVariantsPerOriginal) ? null : "variant-limit";
    }

    /// <summary>True when one more variant of this original may be made: it was made before, or fewer than the cap
    /// were. A new copy of the original (refetched, changed) starts a new count.</summary>
    private bool Admit(string originalKey, CachedResponse original, string variant, int max)
    {
        if (_perOriginal.Count > MaxTrackedOriginals) _perOriginal.Clear();
        var stamp = original.ResponseTime;
        var set = _perOriginal.AddOrUpdate(originalKey, _ => new VariantSet(stamp), (_, old) => old.Stamp == stamp ? old : new VariantSet(stamp));
        lock (set)
        {
            if (set.Names.Contains(variant)) return true;
            if (set.Names.Count >= max) return false;
            set.Names.Add(variant);
            return true;
        }
    }

    private static IEnumerable<Measurement<long>> Measure(long[] values)
    {
        for (var i = 0; i < Made.Length; i++)
        {
            yield return new Measurement<long>(Interlocked.Read(ref values[i]), new KeyValuePair<string, object?>("edgecache.format", Made[i]));
        }
    }

    public void Dispose() => _workers.Dispose();

    private sealed class VariantSet(DateTimeOffset stamp)
    {
        public DateTimeOffset Stamp { get; } = stamp;

        public HashSet<string> Names { get; } = new(StringComparer.Ordinal);
    }
}
