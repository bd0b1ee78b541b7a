using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading.Tasks.Sources;
using EdgeCache.Engine;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace EdgeCache.Proxy.Internal;

/// <summary>
/// The fast hit path (<c>EdgeCache:Listen:FastHits</c>): a Kestrel connection middleware on the
/// HTTP/1.1 traffic endpoints, plain and TLS. For each request already in the connection's buffer it answers, without
/// ASP.NET Core's HTTP layer, a plain <c>GET</c>/<c>HEAD</c> for a fresh 200 (the Vary variant it selects) held in the
/// memory tier, writing the stored body straight from memory to the socket (no copy), or over TLS to the
/// connection's <see cref="SslStream"/> (registered after <c>UseHttps</c>, Kestrel runs it on the decrypted
/// stream; connections that negotiated HTTP/2 by ALPN go straight to Kestrel). Everything else
/// (a miss, any conditional, range, credential or cache directive, any header or syntax it does not
/// fully understand, a partly received request) is handed to Kestrel, unread, and the connection
/// stays with Kestrel from then on. What it sends is what <see cref="ResponseWriter"/> sends for the
/// same hit: the same stored fields, Age, Via, Cache-Status, Accept-Ranges and Content-Length.
/// </summary>
internal sealed partial class FastHits(IServiceProvider services, KestrelServerLimits limits)
{
    private TimeSpan KeepAliveTimeout() => limits.KeepAliveTimeout;

    /// <summary>How long an idle connection is kept: Kestrel's keep-alive timeout plus its heartbeat
    /// interval (1 s), which is when Kestrel itself would close it.</summary>
    private TimeSpan IdleTimeout() => limits.KeepAliveTimeout + TimeSpan.FromSeconds(1);

    /// <summary>Request heads longer than this go to Kestrel (its limits and errors apply there).</summary>
    private const int MaxHead = 8 * 1024;

    private const int MaxHeaderLines = 64;

    /// <summary>Response heads longer than this (a copy with huge stored fields) take the full path.</summary>
    private const int MaxResponseHead = 16 * 1024;

    internal const int ScratchBytes = MaxResponseHead + MaxHead;

    private Dependencies? _deps;

    public ConnectionDelegate Wrap(ConnectionDelegate next) => connection => OnConnectionAsync(connection, next);

    /// <summary>Called by the full path when a request without a body has been answered: the connection's
    /// next read is the start of the next request, which the fast path may answer again.</summary>
    public static void RequestEnded(IDictionary<object, object?> connectionItems)
    {
        if (connectionItems.TryGetValue(typeof(BoundaryGate), out var gate)) ((BoundaryGate)gate!).Arm();
    }

    internal sealed record Dependencies(CacheEngine Engine, RoutedHosts Routes, TrafficRecorder Traffic)
    {
        public RequestKeys Keys { get; } = new("http");

        /// <summary>Keys for requests that came over TLS: the full path keys them by the https scheme.</summary>
        public RequestKeys TlsKeys { get; } = new("https");
    }

    private Dependencies Deps => _deps ??= new(services.GetRequiredService<CacheEngine>(), services.GetRequiredService<RoutedHosts>(), services.GetRequiredService<TrafficRecorder>());

    private async Task OnConnectionAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        // Over TLS (this middleware runs after UseHttps) the answer goes to the SslStream, never the
        // socket, and only on HTTP/1.1: an HTTP/2 connection (ALPN h2) is Kestrel's from its first byte.
        Socket? socket = null;
        SslStream? ssl = null;
        if (connection.Features.Get<ITlsHandshakeFeature>() is not null)
        {
            if (IsHttp11(connection.Features.Get<ITlsApplicationProtocolFeature>())) ssl = connection.Features.Get<ISslStreamFeature>()?.SslStream;
            else if (connection.Features.Get<ISslStreamFeature>()?.SslStream is { } h2)
            {
                await Http2OverFullRecordsAsync(connection, next, h2).ConfigureAwait(false);
                return;
            }
        }
        else
        {
            socket = connection.Features.Get<IConnectionSocketFeature>()?.Socket;
        }

        if (socket is null && ssl is null)
        {
            await next(connection).ConfigureAwait(false);
            return;
        }

        var deps = Deps;
        var input = connection.Transport.Input;
        var scratch = ArrayPool<byte>.Shared.Rent(ScratchBytes);
        var segments = new List<ArraySegment<byte>>(4);
        using var sender = new GatherSender();

        // A client that does not read its answer is cut off as Kestrel's MinResponseDataRate would cut
        // it, at Listen:MinHitDataRate.
        using var slowReader = new CancellationTokenSource();
        using var cut = slowReader.Token.Register(static s => ((ConnectionContext)s!).Abort(new ConnectionAbortedException("The client read a fast hit too slowly (Listen:MinHitDataRate).")), connection);
        using var idle = new CancellationTokenSource();
        using var closing = connection.Features.Get<IConnectionLifetimeNotificationFeature>() is { } lifetime
            ? lifetime.ConnectionClosedRequested.Register(static s => ((CancellationTokenSource)s!).Cancel(), idle)
            : default;
        var handOff = false;
        try
        {
            while (true)
            {
                if (!input.TryRead(out var result))
                {
                    // Waiting for the next request on a kept-alive connection: Kestrel's keep-alive
                    // timeout applies, and a server shutdown closes the idle connection.
                    idle.CancelAfter(IdleTimeout());
                    try
                    {
                        result = await input.ReadAsync(idle.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }

                    if (!idle.TryReset()) return;
                }

                var buffer = result.Buffer;
                if (buffer.IsEmpty && result.IsCompleted)
                {
                    input.AdvanceTo(buffer.End);
                    return;
                }

                SequencePosition consumed = default;
                Hit hit = default;
                DiskProbe? probe = null;
                var found = !result.IsCanceled && TryFind(deps, connection, buffer, scratch, allowClose: true, out consumed, out hit, ssl is not null, out probe);
                if (!found && probe is not null && deps.Engine.Disk is { } disk)
                {
                    // Not in memory: an L2 hit is answered here too. The request stays unread in the pipe
                    // while the store looks, so a miss still goes to Kestrel from where it starts.
                    (found, hit) = await TryDiskAsync(deps, connection, disk, probe).ConfigureAwait(false);
                    if (found) consumed = buffer.GetPosition(probe.Info.HeadLength);
                }

                if (!found)
                {
                    // Not ours: Kestrel reads this request from where it starts (after its 103, if it has one).
                    if (!result.IsCanceled && EarlyHintsFor(deps, connection, buffer, ssl is not null) is { } hints && !await SendHintsAsync(socket, ssl, hints).ConfigureAwait(false))
                    {
                        input.AdvanceTo(buffer.Start, buffer.Start);
                        return;
                    }

                    input.AdvanceTo(buffer.Start, buffer.Start);
                    handOff = true;
                    break;
                }

                input.AdvanceTo(consumed);
                var minRate = deps.Engine.HitDataRate ?? limits.MinResponseDataRate;
                var reply = Stage(hit, scratch, segments);
                bool sent;
                try
                {
                    sent = ssl is not null
                        ? await SendTlsAsync(ssl, scratch, reply, segments, slowReader, minRate).ConfigureAwait(false)
                        : await SendAsync(socket!, sender, scratch, reply, segments, slowReader, minRate).ConfigureAwait(false);
                }
                finally
                {
                    // An L2 hit no tier keeps was read into a pooled array: the socket (or SslStream) has it now.
                    hit.Entry.Body.ReturnRented();
                }

                if (!sent)
                {
                    deps.Engine.CountFastHitCut();
                    return;
                }

                if (hit.Close) return;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }

        if (!handOff) return;

        // From here Kestrel owns the connection, and it writes to the transport's pipe: fast answers
        // between its requests go into that pipe too (after what Kestrel wrote), no longer to the socket.
        // Over TLS that output goes to the SslStream in 16 KiB writes, as on HTTP/2 (see
        // Http2OverFullRecordsAsync): Kestrel's own TLS pipe would cut a 100 KiB full-path answer into
        // 25 records of 4 KiB.
        var transport = connection.Transport;
        var output = ssl is null ? transport.Output : PipeWriter.Create(ssl, new StreamPipeWriterOptions(minimumBufferSize: TlsRecordBytes, leaveOpen: true));
        var gate = new BoundaryGate(deps, connection, transport.Input, output, KeepAliveTimeout, tls: ssl is not null);
        connection.Items[typeof(BoundaryGate)] = gate;
        connection.Transport = new GatedPipe(gate, output);
        try
        {
            await next(connection).ConfigureAwait(false);
        }
        finally
        {
            connection.Transport = transport;
            if (ssl is not null) await output.CompleteAsync().ConfigureAwait(false);
        }
    }

    private static async ValueTask<bool> SendAsync(Socket socket, GatherSender sender, byte[] scratch, Reply reply, List<ArraySegment<byte>> segments, CancellationTokenSource slowReader, MinDataRate? minRate)
    {
        var armed = false;
        try
        {
            var send = reply.Copied ? socket.SendAsync(scratch.AsMemory(0, reply.Length), SocketFlags.None) : sender.SendAsync(socket, segments);
            if (!send.IsCompleted && minRate is not null)
            {
                // The socket's buffer is full: the client has this long (grace period, then the rate) to take the rest.
                slowReader.CancelAfter(minRate.GracePeriod + TimeSpan.FromSeconds(reply.Length / minRate.BytesPerSecond));
                armed = true;
            }

            var sent = await send.ConfigureAwait(false);

            // Stream sockets complete a send only when all of it went (Kestrel's own sender relies on
            // this too); anything else would leave the client with a truncated response.
            return sent == reply.Length && (!armed || slowReader.TryReset());
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            segments.Clear();
        }
    }

    /// <summary>
    /// HTTP/2 over TLS stays Kestrel's, but its output goes to the SslStream in 16 KiB writes: Kestrel's
    /// own TLS pipe hands SslStream one 4 KiB pool block at a time, so a 100 KiB answer became 25 TLS
    /// records, 25 encryptions and 25 writes to the socket pipe instead of 7.
    /// </summary>
    private static async Task Http2OverFullRecordsAsync(ConnectionContext connection, ConnectionDelegate next, SslStream ssl)
    {
        var transport = connection.Transport;
        var output = PipeWriter.Create(ssl, new StreamPipeWriterOptions(minimumBufferSize: TlsRecordBytes, leaveOpen: true));
        connection.Transport = new GatedPipe(transport.Input, output);
        try
        {
            await next(connection).ConfigureAwait(false);
        }
        finally
        {
            connection.Transport = transport;
            await output.CompleteAsync().ConfigureAwait(false);
        }
    }

    /// <summary>ALPN chose HTTP/1.1, or nothing (then Kestrel speaks HTTP/1.1 on a TLS endpoint).</summary>
    private static bool IsHttp11(ITlsApplicationProtocolFeature? alpn) =>
        alpn is null || alpn.ApplicationProtocol.IsEmpty || alpn.ApplicationProtocol.Span.SequenceEqual(SslApplicationProtocol.Http11.Protocol.Span);

    /// <summary>TLS record payload: 16 KiB of plaintext at most (RFC 8446 §5.1).</summary>
    private const int TlsRecordBytes = 16 * 1024;

    /// <summary>Over TLS: the head and the body's first bytes coalesced into one record (one encryption, one
    /// write to the socket pipe, one packet for a small object), then the rest of the body straight from the
    /// stored arrays, which SslStream cuts into full records.</summary>
    private static async ValueTask<bool> SendTlsAsync(SslStream ssl, byte[] scratch, Reply reply, List<ArraySegment<byte>> segments, CancellationTokenSource slowReader, MinDataRate? minRate)
    {
        var armed = false;
        try
        {
            if (reply.Copied)
            {
                var write = ssl.WriteAsync(scratch.AsMemory(0, reply.Length));
                if (!write.IsCompleted) armed = Arm(slowReader, minRate, reply.Length);
                await write.ConfigureAwait(false);
                return !armed || slowReader.TryReset();
            }

            // segments[0] is the head in the scratch buffer; fill its record with the body's first bytes.
            var filled = segments[0].Count;
            var index = 1;
            var offset = 0;
            while (index < segments.Count && filled < TlsRecordBytes)
            {
                var part = segments[index];
                var n = Math.Min(part.Count - offset, TlsRecordBytes - filled);
                part.AsSpan(offset, n).CopyTo(scratch.AsSpan(filled));
                filled += n;
                offset += n;
                if (offset == part.Count) (index, offset) = (index + 1, 0);
            }

            var first = ssl.WriteAsync(scratch.AsMemory(0, filled));
            if (!first.IsCompleted) armed = Arm(slowReader, minRate, reply.Length);
            await first.ConfigureAwait(false);
            for (; index < segments.Count; index++, offset = 0)
            {
                var part = segments[index];
                var write = ssl.WriteAsync(part.AsMemory(offset));
                if (!write.IsCompleted && !armed) armed = Arm(slowReader, minRate, reply.Length);
                await write.ConfigureAwait(false);
            }

            return !armed || slowReader.TryReset();
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException or SocketException)
        {
            return false;
        }
        finally
        {
            segments.Clear();
        }
    }

    /// <summary>The send waits for the client: it has the grace period, then the rate, to take the rest.</summary>
    private static bool Arm(CancellationTokenSource slowReader, MinDataRate? minRate, int length)
    {
        if (minRate is null) return false;
        slowReader.CancelAfter(minRate.GracePeriod + TimeSpan.FromSeconds(length / minRate.BytesPerSecond));
        return true;
    }

    /// <summary>What to send: <see cref="Length"/> bytes, all in the scratch buffer when <see cref="Copied"/>
    /// (a head alone), else the scratch head followed by the body's own arrays (in the segment list).</summary>
    internal readonly record struct Reply(int Length, bool Copied);

    /// <summary>A fast hit found: the stored copy, its encoded head and the Age/Cache-Status lines for now.</summary>
    internal readonly record struct Hit(CachedResponse Entry, WireHead Wire, WireHead.TailLines Tail, bool IsHead, bool Close);

    /// <summary>Puts the response head in the scratch buffer and lists it with the body's own arrays for
    /// one gathered write: the body is never copied (measured: copying a 1 KiB body into the head's
    /// buffer instead was no faster, within the bench's noise).</summary>
    internal static Reply Stage(Hit hit, byte[] scratch, List<ArraySegment<byte>> segments)
    {
        ReadOnlySpan<byte> closeLine = hit.Close ? "Connection: close\r\n"u8 : [];
        var fixedPart = hit.Wire.Fixed;
        var tail = hit.Tail.Bytes;
        var headLength = fixedPart.Length + tail.Length + closeLine.Length + 2;
        fixedPart.CopyTo(scratch, 0);
        tail.CopyTo(scratch, fixedPart.Length);
        closeLine.CopyTo(scratch.AsSpan(fixedPart.Length + tail.Length));
        "\r\n"u8.CopyTo(scratch.AsSpan(headLength - 2));

        var bodyLength = hit.IsHead ? 0 : (int)hit.Entry.Body.Length;
        if (bodyLength == 0) return new Reply(headLength, Copied: true);

        segments.Add(new ArraySegment<byte>(scratch, 0, headLength));
        foreach (var part in hit.Wire.Body) segments.Add(part);

        return new Reply(headLength + bodyLength, Copied: false);
    }

    /// <summary>Finds whether the request at the start of <paramref name="buffer"/> is a fast hit and, when
    /// it is, counts and logs it. <paramref name="scratch"/> (when given) takes a head split across segments.</summary>
    internal static bool TryFind(Dependencies deps, ConnectionContext connection, ReadOnlySequence<byte> buffer, byte[]? scratch, bool allowClose, out SequencePosition consumed, out Hit hit, bool tls = false) =>
        TryFind(deps, connection, buffer, scratch, allowClose, out consumed, out hit, tls, out _);

    /// <summary>As above; when the memory tier holds no copy the request selects, and the fast path could
    /// answer it, <paramref name="probe"/> says what to look up on disk (see <see cref="TryDiskAsync"/>).</summary>
    internal static bool TryFind(Dependencies deps, ConnectionContext connection, ReadOnlySequence<byte> buffer, byte[]? scratch, bool allowClose, out SequencePosition consumed, out Hit hit, bool tls, out DiskProbe? probe)
    {
        consumed = default;
        hit = default;
        probe = null;
        var traffic = deps.Traffic;
        var started = traffic.AccessLogEnabled ? Stopwatch.GetTimestamp() : 0;

        // The request head, whole and in one span (copied to the end of the scratch buffer when the
        // transport split it across segments).
        ReadOnlySpan<byte> head;
        int end;
        if (buffer.FirstSpan is var first && (end = first.IndexOf("\r\n\r\n"u8)) >= 0)
        {
            head = first[..(end + 4)];
        }
        else
        {
            if (buffer.IsSingleSegment || scratch is null) return false;
            var window = scratch.AsSpan(MaxResponseHead, (int)Math.Min(buffer.Length, MaxHead));
            buffer.Slice(0, window.Length).CopyTo(window);
            if ((end = window.IndexOf("\r\n\r\n"u8)) < 0) return false;
            head = window[..(end + 4)];
        }

        if (head.Length > MaxHead || !RequestHead.TryParse(head, out var request) || (request.Close && !allowClose)) return false;
        var engine = deps.Engine;
        if (!engine.IsCurrent) return false;

        var parsed = (tls ? deps.TlsKeys : deps.Keys).Get(engine, request.Host, request.Target);
        var (host, hostName, target, key) = (parsed.Host, parsed.HostName, parsed.Target, parsed.Key);
        if (!deps.Routes.Covers(hostName) || parsed.Image == ImageParse.Invalid) return false;

        // Over TLS, a Host the connection's certificate does not cover is the full path's 421 (RFC 9110 §15.5.20).
        if (tls && connection.Features.Get<TlsConnectionNames>() is { } names && !names.Covers(hostName)) return false;
        var info = new RequestInfo(head.Length, request.IsHead, request.Close, host, hostName, target, started, parsed.Policy);
        HeaderDictionary? fields = null;
        var entry = engine.Memory.GetUnvaried(key);
        string? acceptEncoding = null;
        if (entry is null)
        {
            // Variants (Vary): selected by the request's fields, as the full path selects them;
            // Vary: Accept-Encoding alone (the usual case) without building the fields.
            var decided = false;
            if (engine.Memory.Contains(key))
            {
                if (parsed.ImageAuto)
                {
                    // A format=auto image variant: Vary: Accept alone, by the one of three values negotiation picks.
                    if (NegotiatedAccept(head, parsed.Policy) is { } accept) entry = engine.Memory.GetBySingleField(key, "accept", accept, out decided);
                }
                else if (NormalizedAcceptEncoding(head, parsed.Policy) is { } normalized)
                {
                    acceptEncoding = normalized;
                    entry = engine.Memory.GetBySingleField(key, "accept-encoding", normalized, out decided);
                }

                if (!decided) entry = engine.Memory.Get(key, fields = Fields(head, parsed), out _);
            }

            if (entry is null)
            {
                // What the full path would do next: look on disk.
                if (engine.Disk is not null) probe = new DiskProbe(key, fields ?? Fields(head, parsed), info);
                return false;
            }
        }

        // Only a copy with a content coding needs the request's Accept-Encoding.
        var accepts = entry.ContentCoding is null
            || ((acceptEncoding ??= NormalizedAcceptEncoding(head, parsed.Policy)) is { } ae
                ? HitDecision.ClientAcceptsNormalized(entry, ae)
                : HitDecision.ClientAccepts(entry, (fields ??= Fields(head, parsed))[HeaderNames.AcceptEncoding]));
        if (entry.NeedsRuleCheck(engine.Rules) && !ReferenceEquals(engine.CheckRules(key, entry, stored: true), entry)) return false;
        if (!TryServe(deps, connection, entry, accepts, info, "memory", out hit)) return false;
        consumed = buffer.GetPosition(head.Length);
        return true;
    }

    /// <summary>What the fast path read from a request head, for answering it after the head's span is gone.</summary>
    internal readonly record struct RequestInfo(int HeadLength, bool IsHead, bool Close, string Host, string HostName, string Target, long Started, HostCachePolicy Policy);

    /// <summary>A fast-path request the memory tier has no copy for: its key and fields, to look up on disk.</summary>
    internal sealed record DiskProbe(string Key, HeaderDictionary Fields, RequestInfo Info);

    /// <summary>
    /// Answers a memory miss from the disk tier as the full path would (<see cref="CacheLookupMiddleware"/>):
    /// the same lookup, rules check and promotion to memory, then the same hit decision as a memory hit.
    /// An object not promoted (<see cref="CacheEngine.DiskRentAbove"/>) comes in a pooled array, returned once it is sent. False
    /// when it is not a fresh 200 the fast path can write (Kestrel then takes the request); when the
    /// store holds nothing, the full path is told so, and does not look again.
    /// </summary>
    internal static async ValueTask<(bool Found, Hit Hit)> TryDiskAsync(Dependencies deps, ConnectionContext connection, IDiskTier disk, DiskProbe probe)
    {
        var engine = deps.Engine;
        CachedResponse? entry;
        try
        {
            entry = await disk.GetAsync(probe.Key, probe.Fields, CacheLookupMiddleware.WholeDiskReadBytes(engine), connection.ConnectionClosed, rentAboveBytes: engine.DiskRentAbove(probe.Key)).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return (false, default);
        }

        if (entry is null)
        {
            connection.Items[DiskMissKey] = probe.Key;
            return (false, default);
        }

        engine.DiskHit(probe.Key);
        if (!entry.Body.IsCompleted)
        {
            // Larger than a whole read: it streams, which is the full path's.
            entry.Body.Fail(new OperationCanceledException("The disk read was not needed."));
            return (false, default);
        }

        var current = entry.NeedsRuleCheck(engine.Rules) ? engine.CheckRules(probe.Key, entry, stored: true) : entry;
        if (current is not null && !current.Body.IsRented) engine.Memory.Set(probe.Key, current);
        if (current is not null && TryServe(deps, connection, current, HitDecision.ClientAccepts(current, probe.Fields[HeaderNames.AcceptEncoding]), probe.Info, "disk", out var hit))
        {
            return (true, hit);
        }

        entry.Body.ReturnRented();
        return (false, default);
    }

    /// <summary>Connection item: the key of the request handed to Kestrel after the store held nothing for it.</summary>
    private static readonly object DiskMissKey = new();

    /// <summary>True when the fast path has just looked this request's key up on disk and found nothing
    /// (the request Kestrel is now serving on this connection): the full path need not look again.</summary>
    public static bool DiskMissedJustNow(IDictionary<object, object?>? connectionItems, string key) =>
        connectionItems is not null && connectionItems.Remove(DiskMissKey, out var missed) && string.Equals((string?)missed, key, StringComparison.Ordinal);

    /// <summary>The one hit decision for a fast-path request (no directives: the parser refused those) on a
    /// copy the caller found and checked against the purge and TTL rules; counts and logs it when it is a
    /// fresh hit the fast path can write.</summary>
    private static bool TryServe(Dependencies deps, ConnectionContext connection, CachedResponse entry, bool accepts, RequestInfo info, string detail, out Hit hit)
    {
        hit = default;
        var engine = deps.Engine;
        if (entry.StatusCode != 200 || !entry.Body.IsCompleted || entry.Body.Length > int.MaxValue - MaxHead) return false;

        // The first hit on a warmed copy is the full path's, which says so in Cache-Status (detail=warmed).
        if (entry.IsWarmed) return false;

        var decision = HitDecision.Evaluate(entry, default, forced: false, engine.IsCurrent, accepts, engine.Time.GetUtcNow());
        if (decision.Kind != HitKind.Fresh) return false;
        if (WireHead.For(entry, engine, info.Policy) is not { } wire) return false;

        // Head: the entry's fixed fields, then Age and Cache-Status, which change with the clock.
        var tail = wire.Tail(Freshness.AgeSeconds(decision.Age), decision.Ttl, engine.Options.CacheName, detail);
        if (wire.Fixed.Length + tail.Bytes.Length + 64 > MaxResponseHead) return false;
        hit = new Hit(entry, wire, tail, info.IsHead, info.Close);

        engine.CountFastHit(detail);
        entry.CountHit();
        var traffic = deps.Traffic;
        traffic.Record(info.HostName, hit: true, entry.Body.Length, info.IsHead);
        if (traffic.AccessLogEnabled)
        {
            var path = info.Target;
            if (!traffic.AccessLogQueries && info.Target.IndexOf('?') is >= 0 and var q) path = info.Target[..q];
            var client = (connection.RemoteEndPoint as IPEndPoint)?.Address.ToString() ?? "-";
            traffic.Access(client, info.IsHead ? "HEAD" : "GET", info.Host, path, "HTTP/1.1", 200, entry.Body.Length, Stopwatch.GetElapsedTime(info.Started).TotalMilliseconds, tail.CacheStatus);
        }

        return true;
    }

    /// <summary>The request's Accept-Encoding, normalised as Vary compares it (for a host that compresses,
    /// the one coding negotiation picks, as the full path rewrites it), read from the head's bytes
    /// without allocating; null when the head has it more than once or it is too long (then the
    /// caller uses the head's fields).</summary>
    private static string? NormalizedAcceptEncoding(ReadOnlySpan<byte> head, HostCachePolicy policy)
    {
        var negotiated = policy.Compression.Enabled;
        switch (RequestHead.FindField(head, "Accept-Encoding"u8, out var value))
        {
            case 0:
                return negotiated ? AcceptEncodingNegotiation.Identity : Vary.NormalizeAcceptEncoding(ReadOnlySpan<char>.Empty);
            case 1 when value.Length <= 256:
                Span<char> chars = stackalloc char[value.Length];
                for (var i = 0; i < value.Length; i++) chars[i] = (char)value[i];
                return negotiated ? policy.Compression.Negotiation.Negotiate(chars) : Vary.NormalizeAcceptEncoding(chars);
            default:
                return null;
        }
    }

    /// <summary>The head's fields, with Accept-Encoding negotiated for a host that compresses and Accept for a
    /// <c>format=auto</c> image variant (as the full path rewrites them, <see cref="CacheLookupMiddleware"/>).</summary>
    private static HeaderDictionary Fields(ReadOnlySpan<byte> head, RequestKeys.Entry parsed)
    {
        var fields = RequestHead.Fields(head);
        var policy = parsed.Policy;
        if (policy.Compression.Enabled) fields[HeaderNames.AcceptEncoding] = policy.Compression.Negotiation.Negotiate(fields[HeaderNames.AcceptEncoding]);
        if (parsed.ImageAuto) fields[HeaderNames.Accept] = ImageRequest.NegotiateAccept(fields[HeaderNames.Accept], policy.Images.Avif);
        return fields;
    }

    /// <summary>The variant key's Accept value (as Vary stores it) for a <c>format=auto</c> image variant: the
    /// one of three values negotiation picks from the request's Accept (<see cref="ImageRequest.NegotiateAccept(ReadOnlySpan{char}, bool)"/>),
    /// read from the head's bytes without allocating; null when the head has it more than once or it is too
    /// long (then the caller uses the head's fields).</summary>
    private static string? NegotiatedAccept(ReadOnlySpan<byte> head, HostCachePolicy policy)
    {
        switch (RequestHead.FindField(head, "Accept"u8, out var value))
        {
            case 0:
                return StoredAccept(ImageRequest.AcceptAny);
            case 1 when value.Length <= 512:
                Span<char> chars = stackalloc char[value.Length];
                for (var i = 0; i < value.Length; i++) chars[i] = (char)value[i];
                return StoredAccept(ImageRequest.NegotiateAccept(chars, policy.Images.Avif));
            default:
                return null;
        }
    }

    private static readonly string[] StoredAccepts =
        [Vary.Normalize("accept", ImageRequest.AcceptAvif), Vary.Normalize("accept", ImageRequest.AcceptWebp), Vary.Normalize("accept", ImageRequest.AcceptAny)];

    /// <summary>A negotiated Accept as Vary normalises it for the stored variant's selection (computed once).</summary>
    private static string StoredAccept(string negotiated) => negotiated switch
    {
        ImageRequest.AcceptAvif => StoredAccepts[0],
        ImageRequest.AcceptWebp => StoredAccepts[1],
        _ => StoredAccepts[2],
    };

}
