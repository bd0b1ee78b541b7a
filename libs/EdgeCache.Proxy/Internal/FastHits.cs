using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading.Tasks.Sources;
using EdgeCache.Engine;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace EdgeCache.Proxy.Internal;

/// <summary>
/// The fast hit path (<c>EdgeCache:Listen:FastHits</c>): a Kestrel connection middleware on plain
/// HTTP/1.1 traffic endpoints. For each request already in the connection's buffer it answers, without
/// ASP.NET Core's HTTP layer, a plain <c>GET</c>/<c>HEAD</c> for a fresh 200 (the Vary variant it selects) held in the
/// memory tier, writing the stored body straight from memory to the socket (no copy). Everything else
/// (a miss, any conditional, range, credential or cache directive, any header or syntax it does not
/// fully understand, a partly received request) is handed to Kestrel, unread, and the connection
/// stays with Kestrel from then on. What it sends is what <see cref="ResponseWriter"/> sends for the
/// same hit: the same stored fields, Age, Via, Cache-Status, Accept-Ranges and Content-Length.
/// </summary>
internal sealed class FastHits(IServiceProvider services, KestrelServerLimits limits)
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
        public RequestKeys Keys { get; } = new();
    }

    /// <summary>
    /// Recently seen (Host, target) byte strings and the key strings built from them, so a hot URL's
    /// hit allocates nothing: a direct-mapped table indexed by a hash of the bytes, compared byte for
    /// byte, and valid only under the host policies it was built with.
    /// </summary>
    internal sealed class RequestKeys
    {
        private const int Slots = 4096;
        private readonly Entry?[] _slots = new Entry?[Slots];

        public sealed class Entry(byte[] raw, int hostLength, string host, string hostName, string target, string key, object policies)
        {
            public string Host { get; } = host;

            public string HostName { get; } = hostName;

            public string Target { get; } = target;

            public string Key { get; } = key;

            public object Policies { get; } = policies;

            public bool Matches(ReadOnlySpan<byte> hostBytes, ReadOnlySpan<byte> targetBytes) =>
                hostLength == hostBytes.Length && raw.Length == hostBytes.Length + targetBytes.Length
                && raw.AsSpan(0, hostLength).SequenceEqual(hostBytes) && raw.AsSpan(hostLength).SequenceEqual(targetBytes);
        }

        public Entry Get(CacheEngine engine, ReadOnlySpan<byte> hostBytes, ReadOnlySpan<byte> targetBytes)
        {
            var hash = new HashCode();
            hash.AddBytes(hostBytes);
            hash.AddBytes(targetBytes);
            ref var slot = ref _slots[(uint)hash.ToHashCode() % Slots];
            var policies = engine.Options.HostPoliciesVersion;
            if (Volatile.Read(ref slot) is { } known && ReferenceEquals(known.Policies, policies) && known.Matches(hostBytes, targetBytes)) return known;

            var host = Encoding.ASCII.GetString(hostBytes);
            var colon = host.IndexOf(':');
            var hostName = colon < 0 ? host : host[..colon];
            var target = Encoding.ASCII.GetString(targetBytes);
            var key = CacheKey.Build("http", host, target, engine.Options.PolicyFor(host));
            var entry = new Entry([.. hostBytes, .. targetBytes], hostBytes.Length, host, hostName, target, key, policies);
            Volatile.Write(ref slot, entry);
            return entry;
        }
    }

    private Dependencies Deps => _deps ??= new(services.GetRequiredService<CacheEngine>(), services.GetRequiredService<RoutedHosts>(), services.GetRequiredService<TrafficRecorder>());

    private async Task OnConnectionAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        if (connection.Features.Get<IConnectionSocketFeature>()?.Socket is not { } socket)
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

                if (result.IsCanceled || !TryFind(deps, connection, buffer, scratch, allowClose: true, out var consumed, out var hit))
                {
                    // Not ours: Kestrel reads this request from where it starts.
                    input.AdvanceTo(buffer.Start, buffer.Start);
                    handOff = true;
                    break;
                }

                input.AdvanceTo(consumed);
                var reply = Stage(hit, scratch, segments);
                if (!await SendAsync(socket, sender, scratch, reply, segments, slowReader, deps.Engine.Options.Listen.HitDataRate ?? limits.MinResponseDataRate).ConfigureAwait(false))
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
        var transport = connection.Transport;
        var gate = new BoundaryGate(deps, connection, transport.Input, transport.Output, KeepAliveTimeout);
        connection.Items[typeof(BoundaryGate)] = gate;
        connection.Transport = new GatedPipe(gate, transport.Output);
        try
        {
            await next(connection).ConfigureAwait(false);
        }
        finally
        {
            connection.Transport = transport;
        }
    }

    private sealed class GatedPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input => input;

        public PipeWriter Output => output;
    }

    /// <summary>
    /// The input Kestrel reads once a connection has left the fast loop. After the full path answered
    /// a request without a body (<see cref="RequestEnded"/>), Kestrel's next read is the start of the
    /// next request: while that request is a fast hit, the gate answers it itself, into the output pipe
    /// after Kestrel's own response; the first request it does not answer goes to Kestrel unread, as
    /// every read in between does.
    /// </summary>
    private sealed class BoundaryGate(Dependencies deps, ConnectionContext connection, PipeReader inner, PipeWriter output, Func<TimeSpan> keepAliveTimeout) : PipeReader
    {
        private volatile bool _armed;

        public void Arm() => _armed = true;

        public override bool TryRead(out ReadResult result)
        {
            if (_armed)
            {
                // Kestrel then reads asynchronously, where the gate looks at the request first.
                result = default;
                return false;
            }

            return inner.TryRead(out result);
        }

        public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default) =>
            _armed ? ReadAtBoundaryAsync(cancellationToken) : inner.ReadAsync(cancellationToken);

        private async ValueTask<ReadResult> ReadAtBoundaryAsync(CancellationToken cancellationToken)
        {
            // Kestrel started its keep-alive timer when it began this read, and only a request it parses
            // resets it. So the gate answers for half the timeout at most, then leaves a request to
            // Kestrel (one full-path hit per half timeout, on a busy connection), which re-arms it after.
            var waitingSince = Stopwatch.GetTimestamp();
            var limit = keepAliveTimeout() / 2;
            while (true)
            {
                var result = await inner.ReadAsync(cancellationToken).ConfigureAwait(false);
                if (result.IsCanceled || result.IsCompleted || Stopwatch.GetElapsedTime(waitingSince) >= limit
                    || !TryFind(deps, connection, result.Buffer, scratch: null, allowClose: false, out var consumed, out var hit))
                {
                    _armed = false;
                    return result;
                }

                inner.AdvanceTo(consumed);
                output.Write(hit.Wire.Fixed);
                output.Write(hit.Tail.Bytes);
                output.Write("\r\n"u8);
                if (!hit.IsHead)
                {
                    foreach (var part in hit.Wire.Body) output.Write(part);
                }

                await output.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        public override void AdvanceTo(SequencePosition consumed) => inner.AdvanceTo(consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => inner.AdvanceTo(consumed, examined);

        public override void CancelPendingRead() => inner.CancelPendingRead();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);
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

    /// <summary>One connection's gathered sends (sendmsg with several buffers), through one reused
    /// SocketAsyncEventArgs: no Task per send, as Kestrel's own socket sender does it.</summary>
    private sealed class GatherSender() : SocketAsyncEventArgs(unsafeSuppressExecutionContextFlow: true), IValueTaskSource<int>
    {
        private ManualResetValueTaskSourceCore<int> _core;

        public ValueTask<int> SendAsync(Socket socket, IList<ArraySegment<byte>> buffers)
        {
            _core.Reset();
            BufferList = buffers;
            if (socket.SendAsync(this)) return new ValueTask<int>(this, _core.Version);
            var result = SocketError == SocketError.Success ? new ValueTask<int>(BytesTransferred) : ValueTask.FromException<int>(new SocketException((int)SocketError));
            BufferList = null;
            return result;
        }

        protected override void OnCompleted(SocketAsyncEventArgs e)
        {
            BufferList = null;
            if (SocketError == SocketError.Success) _core.SetResult(BytesTransferred);
            else _core.SetException(new SocketException((int)SocketError));
        }

        public int GetResult(short token) => _core.GetResult(token);

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
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
    internal static bool TryFind(Dependencies deps, ConnectionContext connection, ReadOnlySequence<byte> buffer, byte[]? scratch, bool allowClose, out SequencePosition consumed, out Hit hit)
    {
        consumed = default;
        hit = default;
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

        var parsed = deps.Keys.Get(engine, request.Host, request.Target);
        var (host, hostName, target, key) = (parsed.Host, parsed.HostName, parsed.Target, parsed.Key);
        if (!deps.Routes.Covers(hostName)) return false;
        HeaderDictionary? fields = null;
        var entry = engine.Memory.GetUnvaried(key);
        string? acceptEncoding = null;
        if (entry is null)
        {
            // Variants (Vary): selected by the request's fields, as the full path selects them;
            // Vary: Accept-Encoding alone (the usual case) without building the fields.
            if (!engine.Memory.Contains(key)) return false;
            var decided = false;
            if (NormalizedAcceptEncoding(head) is { } normalized)
            {
                acceptEncoding = normalized;
                entry = engine.Memory.GetBySingleField(key, "accept-encoding", normalized, out decided);
            }

            if (!decided) entry = engine.Memory.Get(key, fields = RequestHead.Fields(head), out _);
            if (entry is null) return false;
        }

        if (entry.NeedsRuleCheck(engine.Rules) && !ReferenceEquals(engine.CheckRules(key, entry, stored: true), entry)) return false;
        if (entry.StatusCode != 200 || !entry.Body.IsCompleted || entry.Body.Length > int.MaxValue - MaxHead) return false;

        // The one hit decision, for a request with no directives (the parser refused those). Only a
        // copy with a content coding needs the request's Accept-Encoding.
        var accepts = entry.ContentCoding is null
            || ((acceptEncoding ??= NormalizedAcceptEncoding(head)) is { } ae
                ? HitDecision.ClientAcceptsNormalized(entry, ae)
                : HitDecision.ClientAccepts(entry, (fields ??= RequestHead.Fields(head))[HeaderNames.AcceptEncoding]));
        var decision = HitDecision.Evaluate(entry, default, forced: false, engine.IsCurrent, accepts, engine.Time.GetUtcNow());
        if (decision.Kind != HitKind.Fresh) return false;
        if (WireHead.For(entry, engine) is not { } wire) return false;

        // Head: the entry's fixed fields, then Age and Cache-Status, which change with the clock.
        var tail = wire.Tail(Freshness.AgeSeconds(decision.Age), decision.Ttl, engine.Options.CacheName);
        if (wire.Fixed.Length + tail.Bytes.Length + 64 > MaxResponseHead) return false;
        hit = new Hit(entry, wire, tail, request.IsHead, request.Close);

        consumed = buffer.GetPosition(head.Length);
        engine.CountFastHit();
        traffic.Record(hostName, hit: true, entry.Body.Length, request.IsHead);
        if (traffic.AccessLogEnabled)
        {
            var path = target;
            if (!traffic.AccessLogQueries && target.IndexOf('?') is >= 0 and var q) path = target[..q];
            var client = (connection.RemoteEndPoint as IPEndPoint)?.Address.ToString() ?? "-";
            traffic.Access(client, request.IsHead ? "HEAD" : "GET", host, path, "HTTP/1.1", 200, entry.Body.Length, Stopwatch.GetElapsedTime(started).TotalMilliseconds, tail.CacheStatus);
        }

        return true;
    }

    /// <summary>A request head the fast path can answer: <c>GET</c> or <c>HEAD</c>, origin-form target,
    /// HTTP/1.1, one plain Host, and no field that changes what a hit returns or how the request is framed.</summary>
    /// <summary>The request's Accept-Encoding, normalised as Vary compares it, read from the head's bytes
    /// without allocating; null when the head has it more than once or it is too long (then the
    /// caller uses the head's fields).</summary>
    private static string? NormalizedAcceptEncoding(ReadOnlySpan<byte> head)
    {
        switch (RequestHead.FindField(head, "Accept-Encoding"u8, out var value))
        {
            case 0:
                return Vary.NormalizeAcceptEncoding(ReadOnlySpan<char>.Empty);
            case 1 when value.Length <= 256:
                Span<char> chars = stackalloc char[value.Length];
                for (var i = 0; i < value.Length; i++) chars[i] = (char)value[i];
                return Vary.NormalizeAcceptEncoding(chars);
            default:
                return null;
        }
    }

    internal ref struct RequestHead
    {
        /// <summary>How many times the field <paramref name="name"/> occurs in a head <see cref="TryParse"/>
        /// accepted, and the (trimmed) value of its first occurrence.</summary>
        public static int FindField(ReadOnlySpan<byte> head, ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
        {
            value = default;
            var found = 0;
            var rest = head[(head.IndexOf("\r\n"u8) + 2)..];
            while (rest.IndexOf("\r\n"u8) is > 0 and var eol)
            {
                var field = rest[..eol];
                rest = rest[(eol + 2)..];
                var colon = field.IndexOf((byte)':');
                if (colon != name.Length || !Ascii.EqualsIgnoreCase(field[..colon], name)) continue;
                if (found++ == 0) value = field[(colon + 1)..].Trim(" \t"u8);
            }

            return found;
        }

        public bool IsHead;

        /// <summary>The client sent <c>Connection: close</c>: the answer says so and the connection ends.</summary>
        public bool Close;
        public ReadOnlySpan<byte> Target;
        public ReadOnlySpan<byte> Host;

        /// <param name="head">The head, through the blank line that ends it.</param>
        public static bool TryParse(ReadOnlySpan<byte> head, out RequestHead request)
        {
            request = default;
            var lineEnd = head.IndexOf("\r\n"u8);
            if (lineEnd < 0) return false;
            var line = head[..lineEnd];
            if (line.StartsWith("GET "u8)) line = line[4..];
            else if (line.StartsWith("HEAD "u8))
            {
                line = line[5..];
                request.IsHead = true;
            }
            else
            {
                return false;
            }

            var space = line.IndexOf((byte)' ');
            if (space <= 0 || !line[(space + 1)..].SequenceEqual("HTTP/1.1"u8)) return false;
            var target = line[..space];
            if (target[0] != '/') return false;
            foreach (var b in target)
            {
                if (b is <= 0x20 or >= 0x7F or (byte)'#') return false;
            }

            request.Target = target;
            var hosts = 0;
            var rest = head[(lineEnd + 2)..];
            for (var lines = 0; ; lines++)
            {
                var eol = rest.IndexOf("\r\n"u8);
                if (eol < 0 || lines > MaxHeaderLines) return false;
                if (eol == 0) break;
                var field = rest[..eol];
                rest = rest[(eol + 2)..];
                var colon = field.IndexOf((byte)':');
                if (colon <= 0) return false;
                var name = field[..colon];
                foreach (var b in name)
                {
                    if (!IsTokenChar(b)) return false;
                }

                var value = field[(colon + 1)..].Trim(" \t"u8);
                foreach (var b in value)
                {
                    if (b is (< 0x20 and not (byte)'\t') or >= 0x7F) return false;
                }

                switch (Classify(name, value))
                {
                    case Field.Close:
                        request.Close = true;
                        break;
                    case Field.Host:
                        if (++hosts > 1 || !IsPlainHost(value)) return false;
                        request.Host = value;
                        break;
                    case Field.Refused:
                        return false;
                }
            }

            return hosts == 1;
        }

        /// <summary>The head's fields as a header collection (for Vary), from a head <see cref="TryParse"/> accepted.</summary>
        public static HeaderDictionary Fields(ReadOnlySpan<byte> head)
        {
            var fields = new HeaderDictionary();
            var rest = head[(head.IndexOf("\r\n"u8) + 2)..];
            while (rest.IndexOf("\r\n"u8) is > 0 and var eol)
            {
                var field = rest[..eol];
                rest = rest[(eol + 2)..];
                var colon = field.IndexOf((byte)':');
                fields.Append(Encoding.ASCII.GetString(field[..colon]), Encoding.ASCII.GetString(field[(colon + 1)..].Trim(" \t"u8)));
            }

            return fields;
        }

        private enum Field
        {
            Other,
            Host,
            Close,
            Refused,
        }

        private static Field Classify(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
        {
            if (Ascii.EqualsIgnoreCase(name, "Host"u8)) return Field.Host;
            if (Ascii.EqualsIgnoreCase(name, "Connection"u8))
            {
                return Ascii.EqualsIgnoreCase(value, "keep-alive"u8) ? Field.Other : Ascii.EqualsIgnoreCase(value, "close"u8) ? Field.Close : Field.Refused;
            }


            // What rules out a plain hit for cache reasons (HitDecision's list), and upgrades and body
            // framing, which guard against request smuggling: the full path decides these.
            if (name.Length >= ConditionalPrefix.Length && Ascii.EqualsIgnoreCase(name[..ConditionalPrefix.Length], ConditionalPrefix)) return Field.Refused;
            foreach (var refused in RefusedNames)
            {
                if (Ascii.EqualsIgnoreCase(name, refused)) return Field.Refused;
            }

            return Field.Other;
        }

        private static readonly byte[] ConditionalPrefix = Encoding.ASCII.GetBytes(HitDecision.ConditionalPrefix);

        private static readonly byte[][] RefusedNames =
        [
            .. HitDecision.PlainHitExclusions.Select(Encoding.ASCII.GetBytes),
            "Upgrade"u8.ToArray(), "Transfer-Encoding"u8.ToArray(), "Content-Length"u8.ToArray(), "Expect"u8.ToArray(),
            "HTTP2-Settings"u8.ToArray(), "Max-Forwards"u8.ToArray(),
        ];

        private static bool IsPlainHost(ReadOnlySpan<byte> host)
        {
            // reg-name or IPv4 with an optional port; IPv6 literals and anything odd go to Kestrel.
            if (host.IsEmpty) return false;
            var colon = host.IndexOf((byte)':');
            var name = colon < 0 ? host : host[..colon];
            if (name.IsEmpty) return false;
            foreach (var b in name)
            {
                if (!(char.IsAsciiLetterOrDigit((char)b) || b is (byte)'-' or (byte)'.')) return false;
            }

            if (colon < 0) return true;
            var port = host[(colon + 1)..];
            if (port.IsEmpty || port.Length > 5) return false;
            foreach (var b in port)
            {
                if (!char.IsAsciiDigit((char)b)) return false;
            }

            return true;
        }

        private static bool IsTokenChar(byte b) =>
            char.IsAsciiLetterOrDigit((char)b) || b is (byte)'!' or (byte)'#' or (byte)'$' or (byte)'%' or (byte)'&' or (byte)'\'' or (byte)'*'
                or (byte)'+' or (byte)'-' or (byte)'.' or (byte)'^' or (byte)'_' or (byte)'`' or (byte)'|' or (byte)'~';
    }

    /// <summary>
    /// A stored copy's response head as bytes: the status line and every field that does not change
    /// between hits (the same ones <see cref="ResponseWriter"/> sends), and the last Age/Cache-Status
    /// lines built for it (they change once a second at most).
    /// </summary>
    internal sealed class WireHead
    {
        private static readonly WireHead Unsupported = new([], []);

        private TailLines? _tail;

        private WireHead(byte[] fixedPart, ArraySegment<byte>[] body) => (Fixed, Body) = (fixedPart, body);

        public byte[] Fixed { get; }

        /// <summary>The stored body's arrays, in order (a complete body never changes).</summary>
        public ArraySegment<byte>[] Body { get; }

        /// <summary>The Age and Cache-Status lines for one (age, ttl), and the Cache-Status member itself.</summary>
        public sealed record TailLines(long Age, long Ttl, string CacheStatus, byte[] Bytes);

        /// <summary>The entry's head, built once; null when it has a field the fast path will not write
        /// (anything but visible ASCII: the full path and Kestrel's own checks handle those).</summary>
        public static WireHead? For(CachedResponse entry, CacheEngine engine)
        {
            if (Volatile.Read(ref entry.EncodedHead) is not WireHead wire)
            {
                wire = Build(entry, engine) ?? Unsupported;
                Volatile.Write(ref entry.EncodedHead, wire);
            }

            return ReferenceEquals(wire, Unsupported) ? null : wire;
        }

        public TailLines Tail(long age, long ttl, string cacheName)
        {
            if (Volatile.Read(ref _tail) is { } t && t.Age == age && t.Ttl == ttl) return t;
            var status = CacheStatus.Format(cacheName, hit: true, fwd: null, fwdStatus: null, stored: false, collapsed: false, ttl, "memory");
            var text = new StringBuilder(64);
            var lines = new StoredHead.Lines(text);
            StoredHead.WriteAgeAndStatus(ref lines, age, status);
            var tail = new TailLines(age, ttl, status, Encoding.ASCII.GetBytes(text.ToString()));
            Volatile.Write(ref _tail, tail);
            return tail;
        }

        private static WireHead? Build(CachedResponse entry, CacheEngine engine)
        {
            var body = new List<ArraySegment<byte>>();
            foreach (var part in entry.Body.AsSequence())
            {
                if (!MemoryMarshal.TryGetArray(part, out var array)) return null;
                body.Add(array);
            }

            var text = new StringBuilder("HTTP/1.1 200 OK\r\n");
            var lines = new StoredHead.Lines(text);
            StoredHead.WriteFields(ref lines, entry, engine, StatusCodes.Status200OK, contentRange: null, entry.Body.Length);
            var s = text.ToString();
            foreach (var c in s)
            {
                if (c is (< ' ' and not '\t' and not '\r' and not '\n') or > '~') return null;
            }

            return new WireHead(Encoding.ASCII.GetBytes(s), [.. body]);
        }

    }
}
